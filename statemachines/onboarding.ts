/** The onboarding workflow: the source of onboarding.asl.json (`npm run workflows` writes it; see asl.ts). */
import { N, S, apiKeyFunctionRetries, choice, dynamodb, fail, invoke, isPresent, machine, on, onAny, pass, retry, sdk } from './asl.ts';
import { ACCOUNTS, BILLING, EXECUTION_ID, FAILURE_REASON, NOW, USER, retireKeyOwner } from './common.ts';

const ACTIVE = S('ACTIVE');
const CLOSING = S('CLOSING');
const CLOSED = S('CLOSED');
/** The account may be claimed (or failed) by this execution: not ACTIVE, CLOSING or CLOSED, and no other execution's. */
const CLAIMABLE =
  'attribute_not_exists(userId) OR (NOT #status IN (:active, :closing, :closed) AND (attribute_not_exists(onboardingExecution) OR onboardingExecution = :exec))';
const PLAN_STARTED_ID = S("States.Format('{}#PLAN_STARTED#{}', $$.Execution.StartTime, $$.Execution.Name)");
const KEY_ID = '$.apiKey.Id';
const statusIs = (...values: string[]) => ({
  And: [
    isPresent('$.account.Item.status.S'),
    values.length === 1
      ? { Variable: '$.account.Item.status.S', StringEquals: values[0] }
      : { Or: values.map((v) => ({ Variable: '$.account.Item.status.S', StringEquals: v })) },
  ],
});

export default machine(
  'Onboarding: find-or-create the API key named by the user sub, attach it to the free plan, write custom:apiid, record the first billing entry and mark the account ACTIVE. Every step is safe to repeat; any permanent failure compensates (no orphan key, no key left in a plan) and records the account as FAILED.',
  'MarkOnboarding',
  {
    MarkOnboarding: dynamodb(
      'updateItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        UpdateExpression:
          'SET email = :email, #status = :onboarding, onboardingExecution = :exec, updatedAt = :now, createdAt = if_not_exists(createdAt, :now), #plan = if_not_exists(#plan, :free), version = if_not_exists(version, :zero) REMOVE failureReason',
        ConditionExpression: CLAIMABLE,
        ExpressionAttributeNames: { '#status': 'status', '#plan': 'plan' },
        ExpressionAttributeValues: {
          ':email': S('$.email'),
          ':onboarding': S('ONBOARDING'),
          ':active': ACTIVE,
          ':now': NOW,
          ':free': S('free'),
          ':zero': N(0),
          ':exec': EXECUTION_ID,
          ':closing': CLOSING,
          ':closed': CLOSED,
        },
      },
      {
        Comment:
          'Claims the onboarding for this execution and creates or resets the account to ONBOARDING. One execution per user holds the claim (onboardingExecution = its ARN), whatever the execution names: another one, started concurrently or by hand, stops at the claim. An ACTIVE account means this user is done. A CLOSING or CLOSED account (offboarded) is never onboarded again.',
        ResultPath: null,
        Catch: [on('DynamoDB.ConditionalCheckFailedException', 'LoadAccount', null), onAny('RecordFailure')],
        Next: 'CreateApiKey',
      },
    ),
    AlreadyActive: { Type: 'Succeed', Comment: 'The account is ACTIVE already: a repeated or late onboarding is a no-op.' },
    AccountClosed: {
      Type: 'Succeed',
      Comment: 'The account was closed (offboarding): a late or repeated onboarding leaves it closed and creates nothing.',
    },
    LoadAccount: dynamodb(
      'getItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        ConsistentRead: true,
        ProjectionExpression: '#status, onboardingExecution',
        ExpressionAttributeNames: { '#status': 'status' },
      },
      {
        Comment: 'The claim was refused: the account is ACTIVE, or another execution holds the claim.',
        ResultPath: '$.account',
        Catch: [onAny('RecordFailure')],
        Next: 'ClaimRefused',
      },
    ),
    ClaimRefused: choice(
      [
        { ...statusIs('ACTIVE'), Next: 'AlreadyActive' },
        { ...statusIs('CLOSING', 'CLOSED'), Next: 'AccountClosed' },
        { ...isPresent('$.account.Item.onboardingExecution.S'), Next: 'DescribeClaimHolder' },
      ],
      'MarkOnboarding',
    ),
    DescribeClaimHolder: sdk(
      'sfn',
      'describeExecution',
      { ExecutionArn: '$.account.Item.onboardingExecution.S' },
      {
        Comment:
          'A claim outlives its execution only if that execution was stopped (StopExecution) or failed to record its failure: then it is released.',
        ResultSelector: { Status: '$.Status' },
        ResultPath: '$.claimHolder',
        Catch: [on('Sfn.ExecutionDoesNotExistException', 'ReleaseStaleClaim', null), onAny('RecordFailure')],
        Next: 'ClaimHolderRunning',
      },
    ),
    ClaimHolderRunning: choice([{ Variable: '$.claimHolder.Status', StringEquals: 'RUNNING', Next: 'OnboardingInProgress' }], 'ReleaseStaleClaim'),
    OnboardingInProgress: pass({
      Comment: 'Another execution is onboarding this user: this one does nothing.',
      Parameters: { userId: '$.userId', status: 'ONBOARDING', onboardingExecution: '$.account.Item.onboardingExecution.S' },
    }),
    ReleaseStaleClaim: dynamodb(
      'updateItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        UpdateExpression: 'REMOVE onboardingExecution',
        ConditionExpression: '#status <> :active AND onboardingExecution = :holder',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':active': ACTIVE, ':holder': S('$.account.Item.onboardingExecution.S') },
      },
      { ResultPath: null, Catch: [on('DynamoDB.ConditionalCheckFailedException', 'LoadAccount', null), onAny('RecordFailure')], Next: 'MarkOnboarding' },
    ),
    CreateApiKey: invoke(
      '${ApiKeyFunctionArn}',
      { action: 'find-or-create', userId: '$.userId' },
      // ApiKey.KeyOwnerNotRecorded: the key's KeyOwners record (DynamoDB) could not be written; the repeat finds the key.
      [...apiKeyFunctionRetries({ IntervalSeconds: 1, MaxAttempts: 10, MaxDelaySeconds: 30 }), retry(['ApiKey.KeyOwnerNotRecorded'])],
      {
        Comment:
          'Finds the key named by the sub, or creates it: a retried or re-driven onboarding reuses the key an earlier attempt made, so even a timed-out invocation (Sandbox.Timedout) is simply retried. ApiKeyFunction records the key\'s owner in the KeyOwners table (the key-only lookup) before it answers, and answers with the id only: CreateApiKey\'s answer holds the key value, and Step Functions keeps every task\'s raw result in the execution history. CreateApiKey is limited to 5 requests/s per account (not raisable), so a burst of sign-ups is throttled here: it gets a longer retry budget (10 attempts, up to 30 s apart) than other steps.',
        ResultSelector: { Id: '$.Payload.Id' },
        ResultPath: '$.apiKey',
        Catch: [onAny('RecordFailure')],
        Next: 'AttachToFreePlan',
      },
    ),
    AttachToFreePlan: invoke(
      '${ApiKeyFunctionArn}',
      { action: 'attach', usagePlanId: '${FreeUsagePlanId}', keyId: KEY_ID },
      apiKeyFunctionRetries(),
      {
        Comment: "Through ApiKeyFunction: CreateUsagePlanKey's answer holds the key value.",
        ResultPath: null,
        Catch: [on('ApiGateway.ConflictException', 'SetApiIdAttribute', null), onAny('Compensate')],
        Next: 'SetApiIdAttribute',
      },
    ),
    SetApiIdAttribute: sdk(
      'cognitoidentityprovider',
      'adminUpdateUserAttributes',
      { UserPoolId: '${UserPoolId}', Username: '$.username', UserAttributes: [{ Name: 'custom:apiid', Value: KEY_ID }] },
      { ResultPath: null, Catch: [onAny('Compensate')], Next: 'RecordPlanStarted' },
    ),
    RecordPlanStarted: dynamodb(
      'putItem',
      {
        TableName: BILLING,
        Item: {
          ...USER,
          entryId: PLAN_STARTED_ID,
          type: S('PLAN_STARTED'),
          plan: S('free'),
          monthlyPrice: N('${FreeMonthlyPrice}'),
          currency: S('USD'),
          effectiveAt: NOW,
          executionId: EXECUTION_ID,
        },
        ConditionExpression: 'attribute_not_exists(entryId)',
      },
      {
        Comment: 'The entry id carries the execution start and name: a repeat of this step writes it once.',
        ResultSelector: {},
        ResultPath: '$.billing',
        Catch: [on('DynamoDB.ConditionalCheckFailedException', 'MarkActive', '$.billing'), onAny('Compensate')],
        Next: 'MarkActive',
      },
    ),
    MarkActive: dynamodb(
      'updateItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        UpdateExpression:
          'SET #status = :active, apiKeyId = :key, #plan = :free, updatedAt = :now, activatedAt = :now, version = version + :one REMOVE onboardingExecution',
        ConditionExpression: '(#status = :onboarding AND onboardingExecution = :exec) OR (#status = :active AND apiKeyId = :key)',
        ExpressionAttributeNames: { '#status': 'status', '#plan': 'plan' },
        ExpressionAttributeValues: {
          ':active': ACTIVE,
          ':onboarding': S('ONBOARDING'),
          ':key': S(KEY_ID),
          ':free': S('free'),
          ':now': NOW,
          ':one': N(1),
          ':exec': EXECUTION_ID,
        },
      },
      {
        Comment: 'The commit point: ACTIVE means key, plan, attribute and billing are all in place; the claim is released.',
        ResultPath: null,
        Catch: [onAny('Compensate')],
        Next: 'Onboarded',
      },
    ),
    Onboarded: pass({ Parameters: { userId: '$.userId', apiKeyId: KEY_ID, plan: 'free', status: 'ACTIVE' } }),
    Compensate: choice(
      [{ ...isPresent(KEY_ID), Next: 'DetachKey' }],
      'RecordFailure',
      'Undo in reverse order what may have been done; each undo tolerates "already undone".',
    ),
    DetachKey: sdk(
      'apigateway',
      'deleteUsagePlanKey',
      { UsagePlanId: '${FreeUsagePlanId}', KeyId: KEY_ID },
      { ResultPath: null, Catch: [onAny('DeleteKey', '$.compensation.detachKey')], Next: 'DeleteKey' },
    ),
    DeleteKey: sdk(
      'apigateway',
      'deleteApiKey',
      { ApiKey: KEY_ID },
      {
        ResultPath: null,
        Catch: [on('ApiGateway.NotFoundException', 'RetireKeyOwner', null), onAny('ClearApiIdAttribute', '$.compensation.deleteKey')],
        Next: 'RetireKeyOwner',
      },
    ),
    RetireKeyOwner: retireKeyOwner('$.userId', KEY_ID, {
      Comment: "Once the key is gone, its KeyOwners record (find-or-create wrote it) becomes a tombstone with its TTL.",
      Catch: [onAny('ClearApiIdAttribute', '$.compensation.retireKeyOwner')],
      Next: 'ClearApiIdAttribute',
    }),
    ClearApiIdAttribute: sdk(
      'cognitoidentityprovider',
      'adminDeleteUserAttributes',
      { UserPoolId: '${UserPoolId}', Username: '$.username', UserAttributeNames: ['custom:apiid'] },
      { ResultPath: null, Catch: [onAny('BillingRecorded', '$.compensation.clearApiId')], Next: 'BillingRecorded' },
    ),
    BillingRecorded: choice([{ ...isPresent('$.billing'), Next: 'RemovePlanStarted' }], 'RecordFailure'),
    RemovePlanStarted: dynamodb(
      'deleteItem',
      { TableName: BILLING, Key: { ...USER, entryId: PLAN_STARTED_ID } },
      { ResultPath: null, Catch: [onAny('RecordFailure', '$.compensation.removeBilling')], Next: 'RecordFailure' },
    ),
    RecordFailure: dynamodb(
      'updateItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        UpdateExpression: 'SET #status = :failed, failureReason = :reason, updatedAt = :now REMOVE apiKeyId, onboardingExecution',
        ConditionExpression: CLAIMABLE,
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: {
          ':failed': S('FAILED'),
          ':active': ACTIVE,
          ':reason': FAILURE_REASON,
          ':now': NOW,
          ':exec': EXECUTION_ID,
          ':closing': CLOSING,
          ':closed': CLOSED,
        },
      },
      {
        Comment:
          'Releases the claim. Never overwrites an ACTIVE, CLOSING or CLOSED account, nor one whose onboarding another execution holds.',
        ResultPath: null,
        Catch: [onAny('OnboardingFailed', '$.compensation.recordFailure')],
        Next: 'OnboardingFailed',
      },
    ),
    OnboardingFailed: fail(),
  },
);
