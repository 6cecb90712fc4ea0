/** The key-retirement workflow: the source of key-retirement.asl.json (`npm run workflows` writes it; see asl.ts). */
import { TRANSIENT, choice, fail, invoke, isPresent, isString, machine, onAny, pass, retry } from './asl.ts';

/**
 * A rotation's overlap, then the old key's retirement. Started by AccountFunction after a rotation with an overlap,
 * named `retire-<rotation id>` (functions/shared/workflows.ts), so each rotation retires its old key once. The Wait
 * state holds the execution until `rotation.retireAt` (TimestampPath: "Timestamp … must conform to the RFC3339
 * profile of ISO 8601", https://docs.aws.amazon.com/step-functions/latest/dg/state-wait.html); an overlap is at most
 * 24 h, far below a Standard execution's one year. The retirement goes through KeyRetirementFunction (disable, keep
 * the usage, detach, delete, forget): UpdateApiKey's answer is the key resource, and Step Functions keeps every task's
 * raw result in the execution history, so no API Gateway key call is made from here.
 */
export default machine(
  "Rotation overlap: wait until the rotated-away key's overlap ends, then retire it (disable, keep its usage, detach, delete). Once per rotation (execution name retire-<rotation id>); a retirement cancelled early finds nothing left to do.",
  'ValidateInput',
  {
    ValidateInput: choice(
      [{ And: [isString('$.userId'), isPresent('$.rotation.previousKeyId'), isString('$.rotation.retireAt')], Next: 'WaitForOverlapEnd' }],
      'InvalidInput',
      'Input is { userId, rotation: { id, previousKeyId, plan, usagePlanId, quotaCarriedOver, retireAt } }.',
    ),
    InvalidInput: fail('KeyRetirement.InvalidInput', 'Input must be {"userId": string, "rotation": {…, "retireAt": ISO 8601}}'),
    WaitForOverlapEnd: { Type: 'Wait', Comment: 'The old key keeps working until then.', TimestampPath: '$.rotation.retireAt', Next: 'RetireOldKey' },
    RetireOldKey: invoke(
      '${KeyRetirementFunctionArn}',
      { 'userId.$': '$.userId', 'rotation.$': '$.rotation' },
      [retry([...TRANSIENT.lambda, 'Sandbox.Timedout', 'KeyRetirement.NotRetired'], { MaxAttempts: 10 })],
      {
        Comment: 'Through KeyRetirementFunction: each step is safe to repeat, so every failure but a malformed event is retried.',
        ResultSelector: { 'retired.$': '$.Payload.retired' },
        ResultPath: '$.result',
        Catch: [onAny('Failed')],
        Next: 'Retired',
      },
    ),
    Retired: pass({ Parameters: { userId: '$.userId', retiredKeyId: '$.result.retired', rotationId: '$.rotation.id' } }),
    Failed: fail(),
  },
);
