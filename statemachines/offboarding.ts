/** The offboarding workflow: the source of offboarding.asl.json (`npm run workflows` writes it; see asl.ts). */
import { S, STATEMENT_FUNCTION_RETRIES, choice, dynamodb, fail, invoke, isPresent, machine, on, onAny, pass, sdk } from './asl.ts';
import { ACCOUNTS, FAILURE_REASON, NOW, PLANS, USER, retireKeyOwner } from './common.ts';

const KEY_ID = '$.account.Attributes.apiKeyId.S';
/** The key a rotation replaced, still admitted during its overlap (the account's previousKey). */
const PREVIOUS_KEY_ID = '$.account.Attributes.previousKey.M.id.S';
const CLOSING = S('CLOSING');
/** KeyMode (template parameter): in SelfIssued the account's apiKeyId is a key slot id, not an API Gateway key. */
const KEY_MODE = '$.account.keyMode';
const SELF_ISSUED_KEYS = '${SelfIssuedKeysTable}';
const SELF_ISSUED_HASH = '$.slot.Attributes.hash.S';
/** UpdateApiKey enabled=false of the key at `keyPath`; a key already gone counts as done. */
const disableKey = (keyPath: string, comment: string, next: string) =>
  sdk(
    'apigateway',
    'updateApiKey',
    { ApiKey: keyPath, PatchOperations: [{ Op: 'replace', Path: '/enabled', Value: 'false' }] },
    { Comment: comment, ResultPath: null, Catch: [on('ApiGateway.NotFoundException', next, null), onAny('RecordFailure')], Next: next },
  );
const deleteUser = (o: Parameters<typeof sdk>[3]) =>
  sdk('cognitoidentityprovider', 'adminDeleteUser', { UserPoolId: '${UserPoolId}', Username: '$.userId' }, { ResultPath: null, ...o });

export default machine(
  'Offboarding (user deleted by an administrator or by themselves): mark the account CLOSING, disable the API key and a key in its rotation overlap (they stop working at once; KeyMode SelfIssued: revoke the customer\'s self-issued key instead), record ACCOUNT_CLOSED and the final statement prorated to the closing, detach the key from every plan, delete it and any other key named after the user and retire their KeyOwners records (ApiGateway mode), delete the Cognito user, mark the account CLOSED. Exactly once per user by execution name offboard-<sub>; every step tolerates \'already done\'. Input: {"userId": "<sub>", "reason": "USER_DELETED" | "SELF_SERVICE"}.',
  'LoadAccount',
  {
    LoadAccount: dynamodb('getItem', { TableName: ACCOUNTS, Key: USER, ConsistentRead: true }, { ResultPath: '$.loaded', Next: 'CheckAccount' }),
    CheckAccount: choice(
      [
        { Variable: '$.loaded.Item', IsPresent: false, Next: 'DeleteUserOnly' },
        { Variable: '$.loaded.Item.status.S', StringEquals: 'CLOSED', Next: 'DeleteUserOnly' },
      ],
      'MarkClosing',
      'No account (never onboarded) or one already CLOSED: only make sure the Cognito user is gone.',
    ),
    DeleteUserOnly: deleteUser({ Catch: [on('CognitoIdentityProvider.UserNotFoundException', 'NothingToClose', null)], Next: 'NothingToClose' }),
    NothingToClose: { Type: 'Succeed' },
    MarkClosing: dynamodb(
      'updateItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        UpdateExpression:
          'SET #status = :closing, closingAt = if_not_exists(closingAt, :now), closeReason = if_not_exists(closeReason, :reason), updatedAt = :now',
        ConditionExpression: 'attribute_exists(userId) AND #status <> :closed',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':closing': CLOSING, ':closed': S('CLOSED'), ':now': NOW, ':reason': S('$.reason') },
        ReturnValues: 'ALL_NEW',
      },
      {
        Comment:
          'From here plan changes and period closes leave the account alone (they need ACTIVE). closingAt is fixed by the first attempt: it is the moment the final statement is prorated to.',
        ResultSelector: { Attributes: '$.Attributes', keyMode: '${KeyMode}' },
        ResultPath: '$.account',
        Catch: [on('DynamoDB.ConditionalCheckFailedException', 'DeleteUserOnly', null), onAny('OffboardingFailed')],
        Next: 'HasKey',
      },
    ),
    HasKey: choice(
      [
        { Variable: KEY_MODE, StringEquals: 'SelfIssued', Next: 'CloseSelfIssuedSlot' },
        { ...isPresent(KEY_ID), Next: 'DisableKey' },
      ],
      'HasPreviousKey',
    ),
    CloseSelfIssuedSlot: dynamodb(
      'updateItem',
      {
        TableName: SELF_ISSUED_KEYS,
        Key: { pk: S("States.Format('CUSTOMER#{}', $.userId)") },
        UpdateExpression: 'SET #status = :closed',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':closed': S('closed') },
        ReturnValues: 'ALL_NEW',
      },
      {
        Comment:
          "KeyMode SelfIssued: no API Gateway key to disable. Closes the customer's key slot and reads the hash of their current key (never its value) in one write: a rotation swaps a key into an active slot only, so one that raced this either committed first (this reads its new hash) or fails. Safe to repeat; no slot (never onboarded) counts as done.",
        ResultPath: '$.slot',
        Catch: [on('DynamoDB.ConditionalCheckFailedException', 'FinalStatement', null), onAny('RecordFailure')],
        Next: 'HasSelfIssuedKey',
      },
    ),
    HasSelfIssuedKey: choice([{ ...isPresent(SELF_ISSUED_HASH), Next: 'RevokeSelfIssuedKey' }], 'FinalStatement', 'No value was ever issued (no rotation yet): nothing to revoke.'),
    RevokeSelfIssuedKey: dynamodb(
      'updateItem',
      {
        TableName: SELF_ISSUED_KEYS,
        Key: { pk: S(`States.Format('KEY#{}', ${SELF_ISSUED_HASH})`) },
        UpdateExpression: 'SET #status = :revoked',
        ConditionExpression: 'attribute_exists(pk)',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':revoked': S('revoked') },
      },
      {
        Comment: 'The key stops working at once (the key authorizer refuses a revoked key with 401). Setting revoked again is a no-op, so a retry or re-drive is safe; a key record already gone counts as done.',
        ResultPath: null,
        Catch: [on('DynamoDB.ConditionalCheckFailedException', 'FinalStatement', null), onAny('RecordFailure')],
        Next: 'FinalStatement',
      },
    ),
    DisableKey: disableKey(KEY_ID, 'First: the key stops working at once (API Gateway refuses a disabled key with 403).', 'HasPreviousKey'),
    HasPreviousKey: choice([{ ...isPresent(PREVIOUS_KEY_ID), Next: 'DisablePreviousKey' }], 'FinalStatement'),
    DisablePreviousKey: disableKey(
      PREVIOUS_KEY_ID,
      "A key in its rotation overlap stops working at once too; its retirement (the key-retirement workflow, at the overlap's end) still keeps its usage, detaches and deletes it.",
      'FinalStatement',
    ),
    FinalStatement: invoke(
      '${StatementFunctionArn}',
      { action: 'final', userId: '$.userId', closedAt: '$.account.Attributes.closingAt.S' },
      STATEMENT_FUNCTION_RETRIES,
      {
        Comment: 'ACCOUNT_CLOSED and the last statements, once; before the key is deleted, so its usage can still be read.',
        ResultPath: null,
        Catch: [onAny('RecordFailure')],
        Next: 'KeyToDelete',
      },
    ),
    KeyToDelete: choice(
      [
        { Variable: KEY_MODE, StringEquals: 'SelfIssued', Next: 'DeleteUser' },
        { ...isPresent(KEY_ID), Next: 'UsagePlans' },
      ],
      'LeftoverKeys',
      'KeyMode SelfIssued: no API Gateway key or usage plan key to remove (the revoked key record stays, as after a rotation).',
    ),
    UsagePlans: pass({
      Comment: 'Every plan, not just the recorded one: a plan change racing the closing may have moved the key.',
      Result: PLANS.map((p) => p.usagePlanId),
      ResultPath: '$.usagePlanIds',
      Next: 'DetachFromPlans',
    }),
    DetachFromPlans: {
      Type: 'Map',
      ItemsPath: '$.usagePlanIds',
      MaxConcurrency: 1,
      ItemSelector: { 'UsagePlanId.$': '$$.Map.Item.Value', 'KeyId.$': KEY_ID },
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'DetachFromPlan',
        States: {
          DetachFromPlan: sdk(
            'apigateway',
            'deleteUsagePlanKey',
            { UsagePlanId: '$.UsagePlanId', KeyId: '$.KeyId' },
            { ResultPath: null, Catch: [on('ApiGateway.NotFoundException', 'NotInPlan', null)], End: true },
          ),
          NotInPlan: { Type: 'Pass', End: true },
        },
      },
      ResultPath: null,
      Catch: [onAny('RecordFailure')],
      Next: 'DeleteKey',
    },
    DeleteKey: sdk(
      'apigateway',
      'deleteApiKey',
      { ApiKey: KEY_ID },
      { ResultPath: null, Catch: [on('ApiGateway.NotFoundException', 'RetireKeyOwner', null), onAny('RecordFailure')], Next: 'RetireKeyOwner' },
    ),
    RetireKeyOwner: retireKeyOwner('$.userId', KEY_ID, {
      Comment:
        "The deleted key's KeyOwners record becomes a tombstone with its TTL (the key-only data API refuses it even before API Gateway stops knowing the key). A key in its rotation overlap is retired by its own key-retirement workflow, or below if it is among the leftover keys.",
      Catch: [onAny('RecordFailure')],
      Next: 'LeftoverKeys',
    }),
    LeftoverKeys: sdk(
      'apigateway',
      'getApiKeys',
      // IncludeValues false: key values never enter the execution's data or history.
      { NameQuery: '$.userId', IncludeValues: false, Limit: 500 },
      {
        Comment:
          "Every other key named after the user (onboarding and rotations name keys <sub>): one a rotation created after its lock but could not commit once MarkClosing had landed, whose own clean-up (DeleteApiKey in its compensation) failed or has not run yet. NameQuery is a prefix: each key's name is compared exactly below.",
        // The whole answer (ids, names, tags; no values): a ResultSelector on `$.Items` would fail when there are none.
        ResultPath: '$.leftover',
        Catch: [onAny('RecordFailure')],
        Next: 'HasLeftoverKeys',
      },
    ),
    HasLeftoverKeys: choice([{ ...isPresent('$.leftover.Items[0]'), Next: 'DeleteLeftoverKeys' }], 'DeleteUser'),
    DeleteLeftoverKeys: {
      Type: 'Map',
      ItemsPath: '$.leftover.Items',
      MaxConcurrency: 1,
      ItemSelector: { 'KeyId.$': '$$.Map.Item.Value.Id', 'Name.$': '$$.Map.Item.Value.Name', 'UserId.$': '$.userId' },
      ItemProcessor: {
        ProcessorConfig: { Mode: 'INLINE' },
        StartAt: 'IsTheUsers',
        States: {
          IsTheUsers: choice([{ Variable: '$.Name', StringEqualsPath: '$.UserId', Next: 'DeleteLeftoverKey' }], 'NotTheUsers'),
          DeleteLeftoverKey: sdk(
            'apigateway',
            'deleteApiKey',
            { ApiKey: '$.KeyId' },
            { ResultPath: null, Catch: [on('ApiGateway.NotFoundException', 'RetireLeftoverKeyOwner', null)], Next: 'RetireLeftoverKeyOwner' },
          ),
          RetireLeftoverKeyOwner: retireKeyOwner('$.UserId', '$.KeyId', { End: true }),
          NotTheUsers: { Type: 'Pass', End: true },
        },
      },
      ResultPath: null,
      Catch: [onAny('RecordFailure')],
      Next: 'DeleteUser',
    },
    DeleteUser: deleteUser({
      Comment: "A self-service deletion deletes the user here; after an administrator's deletion the user is gone already.",
      Catch: [on('CognitoIdentityProvider.UserNotFoundException', 'MarkClosed', null), onAny('RecordFailure')],
      Next: 'MarkClosed',
    }),
    MarkClosed: dynamodb(
      'updateItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        UpdateExpression: 'SET #status = :closed, closedAt = closingAt, updatedAt = :now REMOVE apiKeyId, previousApiKeyId, failureReason',
        ConditionExpression: '#status = :closing',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':closing': CLOSING, ':closed': S('CLOSED'), ':now': NOW },
      },
      {
        Comment:
          'The commit point: CLOSED, no key (apiKeyId and previousApiKeyId leave the key-only lookup indexes; previousKey stays for its retirement). Later period closes skip the account.',
        ResultPath: null,
        Catch: [on('DynamoDB.ConditionalCheckFailedException', 'Closed', null), onAny('RecordFailure')],
        Next: 'Closed',
      },
    ),
    Closed: { Type: 'Succeed' },
    RecordFailure: dynamodb(
      'updateItem',
      {
        TableName: ACCOUNTS,
        Key: USER,
        UpdateExpression: 'SET failureReason = :reason, updatedAt = :now',
        ConditionExpression: '#status = :closing',
        ExpressionAttributeNames: { '#status': 'status' },
        ExpressionAttributeValues: { ':closing': CLOSING, ':reason': FAILURE_REASON, ':now': NOW },
      },
      {
        Comment:
          'Compensation fails closed: the account stays CLOSING (no plan change, no period close) and a disabled key stays disabled; every step is safe to repeat, so a re-drive under a new name finishes the job.',
        ResultPath: null,
        Catch: [onAny('OffboardingFailed', '$.compensation.recordFailure')],
        Next: 'OffboardingFailed',
      },
    ),
    OffboardingFailed: fail(
      'Offboarding.Failed',
      'Offboarding did not finish; the account is CLOSING with failureReason, its key disabled. Start the workflow again under a new name.',
    ),
  },
);
