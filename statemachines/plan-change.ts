/** The plan-change workflow: the source of plan-change.asl.json (`npm run workflows` writes it; see asl.ts). */
import { N, S, apiKeyFunctionRetries, choice, dynamodb, fail, invoke, isPresent, isString, machine, on, onAny, pass, sdk, type Retrier, type State } from './asl.ts';
import { ACCOUNTS, BILLING, EXECUTION_ID, NOW, PLANS, USER } from './common.ts';

const EXECUTION_NAME = S('$$.Execution.Name');
const KEY_ID = '$.loaded.Item.apiKeyId.S';
const PLAN_CHANGED_ID = S("States.Format('{}#PLAN_CHANGED#{}', $$.Execution.StartTime, $$.Execution.Name)");

/**
 * `<Role>` looked up in the plan table by the plan name at `variable`, into `$.<role>`: a Choice and one Pass per
 * row, written from PLANS (JSONPath can neither index an object by a value nor filter by another value, and the
 * offline engine has neither variables nor JSONata: https://docs.aws.amazon.com/step-functions/latest/dg/amazon-states-language-paths.html).
 */
function lookUpPlan(role: 'Target' | 'Current', variable: string, next: string): Record<string, State> {
  const stateOf = (plan: string) => `${role}${plan[0]!.toUpperCase()}${plan.slice(1)}`;
  return {
    [`Resolve${role}`]: choice(
      PLANS.map((p) => ({ Variable: variable, StringEquals: p.plan, Next: stateOf(p.plan) })),
      'InvalidPlan',
    ),
    ...Object.fromEntries(PLANS.map((p) => [stateOf(p.plan), pass({ Result: { ...p }, ResultPath: `$.${role.toLowerCase()}`, Next: next })])),
  };
}

/**
 * Moves the key into a usage plan through ApiKeyFunction (CreateUsagePlanKey's answer holds the key value); `carry`
 * adds `userId` and `plan`, so that the function also carries the period's usage over to the plan's quota.
 */
const attachTo = (usagePlanId: string, o: Parameters<typeof invoke>[3], retries = apiKeyFunctionRetries(), carry?: { plan: string }): State =>
  invoke(
    '${ApiKeyFunctionArn}',
    { action: 'attach', usagePlanId, keyId: KEY_ID, ...(carry ? { userId: '$.userId', plan: carry.plan } : {}) },
    retries,
    { ResultPath: null, ...o },
  );

/** ApiKeyFunction's retries when it also reads or writes the account's usage history (DynamoDB): retried like throttling. */
function usageHistoryRetries(): Retrier[] {
  const [throttled, ...others] = apiKeyFunctionRetries();
  return [{ ...throttled!, ErrorEquals: [...throttled!.ErrorEquals, 'ApiKey.UsageNotRecorded'] }, ...others];
}

export default machine(
  'Plan change: move the key from its usage plan to another, update the account under an optimistic lock and append a PLAN_CHANGED billing entry. Exactly once per execution name; concurrent changes for one account fail cleanly with PlanChange.ConcurrentChange and never leave the key in no plan or two.',
  'ValidateInput',
  {
    ValidateInput: choice(
      [{ And: [isString('$.userId'), isString('$.plan'), isString('$.requestId')], Next: 'LoadAccount' }],
      'InvalidInput',
      'Input is { userId, plan, requestId }.',
    ),
    InvalidInput: fail('PlanChange.InvalidInput', 'Input must be {"userId": string, "plan": string, "requestId": string}'),
    LoadAccount: dynamodb('getItem', { TableName: ACCOUNTS, Key: USER, ConsistentRead: true }, { ResultPath: '$.loaded', Next: 'CheckAccount' }),
    CheckAccount: choice(
      [
        {
          And: [
            isPresent('$.loaded.Item.status.S'),
            { Variable: '$.loaded.Item.status.S', StringEquals: 'ACTIVE' },
            isPresent('$.loaded.Item.apiKeyId.S'),
            isPresent('$.loaded.Item.plan.S'),
            isPresent('$.loaded.Item.version.N'),
          ],
          Next: 'ResolveTarget',
        },
      ],
      'AccountNotActive',
    ),
    AccountNotActive: fail('PlanChange.AccountNotActive', 'The account does not exist or is not ACTIVE'),
    ...lookUpPlan('Target', '$.plan', 'ResolveCurrent'),
    InvalidPlan: fail('PlanChange.InvalidPlan', `The plan is not one of ${PLANS.map((p) => p.plan).join(', ')}`),
    ...lookUpPlan('Current', '$.loaded.Item.plan.S', 'CheckDiffers'),
    CheckDiffers: choice([{ Variable: '$.current.plan', StringEqualsPath: '$.target.plan', Next: 'SamePlan' }], 'Lock'),
    SamePlan: fail('PlanChange.SamePlan', 'The account is already on that plan'),
    Lock: dynamodb(
      'updateItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        UpdateExpression: 'SET pendingPlanChange = :exec, updatedAt = :now',
        ConditionExpression: '(#status = :active AND #plan = :from AND version = :version AND attribute_not_exists(pendingPlanChange)) OR pendingPlanChange = :exec',
        ExpressionAttributeNames: { '#status': 'status', '#plan': 'plan' },
        ExpressionAttributeValues: {
          ':exec': EXECUTION_NAME,
          ':now': NOW,
          ':active': S('ACTIVE'),
          ':from': S('$.current.plan'),
          ':version': N('$.loaded.Item.version.N'),
        },
      },
      {
        Comment:
          'Optimistic lock on the version read above; one plan change per account at a time. Re-entrant for this execution (a re-run after a restart).',
        ResultPath: null,
        Catch: [on('DynamoDB.ConditionalCheckFailedException', 'ConcurrentChange'), onAny('Failed')],
        Next: 'RecordUsage',
      },
    ),
    ConcurrentChange: fail(
      'PlanChange.ConcurrentChange',
      'Another plan change for this account is in progress, or the account changed since it was read',
    ),
    RecordUsage: invoke(
      '${ApiKeyFunctionArn}',
      { action: 'record-usage', userId: '$.userId', usagePlanId: '$.current.usagePlanId', keyId: KEY_ID, segmentId: '$$.Execution.Name' },
      usageHistoryRetries(),
      {
        Comment:
          "Through ApiKeyFunction: the key's usage in the current plan, kept in the account's usage history (keyed by this execution) before the key leaves the plan, since GetUsage no longer reports it afterwards.",
        ResultPath: null,
        Catch: [onAny('Unlock')],
        Next: 'DetachFromCurrentPlan',
      },
    ),
    DetachFromCurrentPlan: sdk(
      'apigateway',
      'deleteUsagePlanKey',
      { UsagePlanId: '$.current.usagePlanId', KeyId: KEY_ID },
      {
        Comment: 'A key can sit in only one plan per stage: leave the old plan first.',
        ResultPath: null,
        Catch: [on('ApiGateway.NotFoundException', 'AttachToTargetPlan', null), onAny('Unlock')],
        Next: 'AttachToTargetPlan',
      },
    ),
    AttachToTargetPlan: attachTo(
      '$.target.usagePlanId',
      {
        Comment:
          "Through ApiKeyFunction: CreateUsagePlanKey's answer holds the key value. Also carries the period's usage over to the new plan's quota (UpdateUsage).",
        Catch: [on('ApiGateway.ConflictException', 'RecordPlanChanged', null), onAny('ReattachCurrentPlan')],
        Next: 'RecordPlanChanged',
      },
      usageHistoryRetries(),
      { plan: '$.target.plan' },
    ),
    RecordPlanChanged: dynamodb(
      'putItem',
      {
        TableName: BILLING,
        Item: {
          ...USER,
          entryId: PLAN_CHANGED_ID,
          type: S('PLAN_CHANGED'),
          fromPlan: S('$.current.plan'),
          toPlan: S('$.target.plan'),
          plan: S('$.target.plan'),
          fromPrice: N('$.current.monthlyPrice'),
          toPrice: N('$.target.monthlyPrice'),
          monthlyPrice: N('$.target.monthlyPrice'),
          currency: S('USD'),
          effectiveAt: NOW,
          prorationBasis: S('SECOND'),
          requestId: S('$.requestId'),
          executionId: EXECUTION_ID,
        },
        ConditionExpression: 'attribute_not_exists(entryId)',
      },
      {
        Comment: 'Keyed by execution start and name: a repeat writes it once.',
        ResultSelector: {},
        ResultPath: '$.billing',
        Catch: [on('DynamoDB.ConditionalCheckFailedException', 'CommitPlan', '$.billing'), onAny('DetachFromTargetPlan')],
        Next: 'CommitPlan',
      },
    ),
    CommitPlan: dynamodb(
      'updateItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        UpdateExpression: 'SET #plan = :to, updatedAt = :now, planChangedAt = :now, version = version + :one REMOVE pendingPlanChange',
        ConditionExpression: 'pendingPlanChange = :exec OR (#plan = :to AND attribute_not_exists(pendingPlanChange))',
        ExpressionAttributeNames: { '#plan': 'plan' },
        ExpressionAttributeValues: { ':to': S('$.target.plan'), ':now': NOW, ':one': N(1), ':exec': EXECUTION_NAME },
      },
      {
        Comment: 'The commit point: the account shows the new plan and the lock is released.',
        ResultPath: null,
        Catch: [onAny('DetachFromTargetPlan')],
        Next: 'Changed',
      },
    ),
    Changed: pass({
      Parameters: {
        userId: '$.userId',
        fromPlan: '$.current.plan',
        toPlan: '$.target.plan',
        effectiveAt: '$$.Execution.StartTime',
        requestId: '$.requestId',
      },
    }),
    DetachFromTargetPlan: sdk(
      'apigateway',
      'deleteUsagePlanKey',
      { UsagePlanId: '$.target.usagePlanId', KeyId: KEY_ID },
      {
        Comment: 'Roll back: the key leaves the new plan (NotFound: it is in none there, as always with self-issued keys)…',
        ResultPath: null,
        Catch: [on('ApiGateway.NotFoundException', 'BillingWritten', null), onAny('BillingWritten', '$.rollback.detach')],
        Next: 'BillingWritten',
      },
    ),
    BillingWritten: choice([{ ...isPresent('$.billing'), Next: 'RemovePlanChanged' }], 'ReattachCurrentPlan'),
    RemovePlanChanged: dynamodb(
      'deleteItem',
      { TableName: BILLING, Key: { ...USER, entryId: PLAN_CHANGED_ID } },
      { ResultPath: null, Catch: [onAny('ReattachCurrentPlan', '$.rollback.billing')], Next: 'ReattachCurrentPlan' },
    ),
    ReattachCurrentPlan: attachTo(
      '$.current.usagePlanId',
      {
        Comment:
          "…and returns to the plan it had, so it is never left in no plan. Through ApiKeyFunction: CreateUsagePlanKey's answer holds the key value. With the plan named, the key is back on it in full: the period's usage carried over to the old plan's quota (ApiGateway), the key slot and key record on the old plan (SelfIssued).",
        Catch: [on('ApiGateway.ConflictException', 'Unlock', null), onAny('Unlock', '$.rollback.reattach')],
        Next: 'Unlock',
      },
      apiKeyFunctionRetries({ MaxAttempts: 10 }, { MaxAttempts: 10 }),
      { plan: '$.current.plan' },
    ),
    Unlock: dynamodb(
      'updateItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        UpdateExpression: 'REMOVE pendingPlanChange SET updatedAt = :now',
        ConditionExpression: 'pendingPlanChange = :exec',
        ExpressionAttributeValues: { ':exec': EXECUTION_NAME, ':now': NOW },
      },
      { ResultPath: null, Catch: [onAny('Failed', '$.rollback.unlock')], Next: 'Failed' },
    ),
    Failed: fail(),
  },
);
