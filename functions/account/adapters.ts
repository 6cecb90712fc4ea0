import {
  CreateApiKeyCommand,
  CreateUsagePlanKeyCommand,
  DeleteApiKeyCommand,
  DeleteUsagePlanKeyCommand,
  GetApiKeyCommand,
  GetUsageCommand,
  UpdateApiKeyCommand,
  UpdateUsageCommand,
  type APIGatewayClient,
} from '@aws-sdk/client-api-gateway';
import { AdminUpdateUserAttributesCommand, type CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DescribeExecutionCommand, type SFNClient } from '@aws-sdk/client-sfn';
import { isExecutionDoesNotExist, isNotFound, unless } from '#shared/aws-errors';
import { retirementExecutionName, startExecution, type KeyRetirementInput } from '#shared/workflows';
import { KeyValueCache } from './caches.ts';
import type { ApiKeyDetails, DailyUsage, KeyRetirement, KeyService, Rotation, UserDirectory } from './domain.ts';
import type { PlanChangeExecution, PlanChangeInput, PlanChangeStatus, PlanChangeWorkflow } from './plan-change.ts';

/**
 * The account routes' adapters to services other than DynamoDB (whose tables have theirs under shared/tables): API
 * keys, usage plan keys and usage through API Gateway's control plane, the user's `custom:apiid` in Cognito, and the
 * plan-change workflow in Step Functions.
 */

/** A key or membership that is gone already counts as done. */
async function ignoreNotFound(call: Promise<unknown>): Promise<void> {
  await unless(isNotFound, undefined, call);
}

/** GetUsage's `[used, remaining]` for one day. */
const dailyUsage = ([used, remaining]: number[]): DailyUsage => ({
  used: used ?? 0,
  ...(remaining !== undefined ? { remaining } : {}),
});

/**
 * API keys, usage plan keys and usage through the API Gateway control plane. Key values go into `values` (memory of
 * this execution environment only): the value CreateApiKey answers with, and any GetApiKey, so a reveal right after a
 * rotation costs no management API call.
 */
export class ApiGatewayKeyService implements KeyService {
  constructor(
    private readonly client: APIGatewayClient,
    private readonly values: KeyValueCache = new KeyValueCache(),
  ) {}

  async getKey(id: string): Promise<ApiKeyDetails | undefined> {
    const cached = this.values.get(id);
    if (cached !== undefined) return { id, value: cached, enabled: true };
    const key = await unless(isNotFound, undefined, this.client.send(new GetApiKeyCommand({ apiKey: id, includeValue: true })));
    if (key === undefined) return undefined;
    if (key.value !== undefined && key.enabled) this.values.set(id, key.value);
    return {
      id: key.id ?? id,
      ...(key.value !== undefined ? { value: key.value } : {}),
      ...(key.name !== undefined ? { name: key.name } : {}),
      enabled: key.enabled ?? false,
      ...(key.createdDate ? { createdDate: key.createdDate.toISOString() } : {}),
    };
  }

  async createKey(name: string, tags: Record<string, string>): Promise<string> {
    // The response carries the value: only the id leaves this method.
    const { id, value } = await this.client.send(
      new CreateApiKeyCommand({ name, description: 'Tollgate API key', enabled: true, tags }),
    );
    if (!id) throw new Error('CreateApiKey answered without an id');
    if (value !== undefined) this.values.set(id, value);
    return id;
  }

  async attachKey(usagePlanId: string, keyId: string): Promise<void> {
    await this.client.send(new CreateUsagePlanKeyCommand({ usagePlanId, keyId, keyType: 'API_KEY' }));
  }

  async usage(usagePlanId: string, keyId: string, from: string, to: string): Promise<DailyUsage[]> {
    const { items } = await this.client.send(new GetUsageCommand({ usagePlanId, keyId, startDate: from, endDate: to }));
    return (items?.[keyId] ?? []).map(dailyUsage);
  }

  async planUsage(usagePlanId: string, from: string, to: string): Promise<Map<string, DailyUsage[]>> {
    const byKey = new Map<string, DailyUsage[]>();
    let position: string | undefined;
    do {
      const page = await this.client.send(
        new GetUsageCommand({ usagePlanId, startDate: from, endDate: to, limit: 500, ...(position ? { position } : {}) }),
      );
      for (const [keyId, days] of Object.entries(page.items ?? {})) byKey.set(keyId, days.map(dailyUsage));
      position = page.position;
    } while (position);
    return byKey;
  }

  async setRemaining(usagePlanId: string, keyId: string, remaining: number): Promise<void> {
    await this.client.send(
      new UpdateUsageCommand({
        usagePlanId,
        keyId,
        patchOperations: [{ op: 'replace', path: '/remaining', value: String(remaining) }],
      }),
    );
  }

  disableKey(id: string): Promise<void> {
    this.values.delete(id);
    return ignoreNotFound(
      this.client.send(
        new UpdateApiKeyCommand({ apiKey: id, patchOperations: [{ op: 'replace', path: '/enabled', value: 'false' }] }),
      ),
    );
  }

  detachKey(usagePlanId: string, keyId: string): Promise<void> {
    return ignoreNotFound(this.client.send(new DeleteUsagePlanKeyCommand({ usagePlanId, keyId })));
  }

  deleteKey(id: string): Promise<void> {
    this.values.delete(id);
    return ignoreNotFound(this.client.send(new DeleteApiKeyCommand({ apiKey: id })));
  }
}

export class CognitoUserDirectory implements UserDirectory {
  constructor(
    private readonly userPoolId: string,
    private readonly client: CognitoIdentityProviderClient,
  ) {}

  async setApiKeyId(userId: string, keyId: string): Promise<void> {
    await this.client.send(
      new AdminUpdateUserAttributesCommand({
        UserPoolId: this.userPoolId,
        Username: userId,
        UserAttributes: [{ Name: 'custom:apiid', Value: keyId }],
      }),
    );
  }
}

const STATUSES: Record<string, PlanChangeStatus> = {
  RUNNING: 'RUNNING',
  SUCCEEDED: 'SUCCEEDED',
  FAILED: 'FAILED',
  TIMED_OUT: 'TIMED_OUT',
  ABORTED: 'ABORTED',
  // A failed execution that may still be redriven: failed, as far as the client is concerned.
  PENDING_REDRIVE: 'FAILED',
};

/** The plan-change state machine through the Step Functions API. */
export class SfnPlanChangeWorkflow implements PlanChangeWorkflow {
  constructor(
    private readonly stateMachineArn: string,
    private readonly client: SFNClient,
  ) {}

  /** `arn:…:stateMachine:<machine>` → `arn:…:execution:<machine>:<name>`. */
  executionArn(name: string): string {
    return `${this.stateMachineArn.replace(':stateMachine:', ':execution:')}:${name}`;
  }

  start(name: string, input: PlanChangeInput): Promise<boolean> {
    return startExecution(this.client, { stateMachineArn: this.stateMachineArn, name, input });
  }

  async describe(name: string): Promise<PlanChangeExecution | undefined> {
    const described = this.client.send(new DescribeExecutionCommand({ executionArn: this.executionArn(name) }));
    const execution = await unless(isExecutionDoesNotExist, undefined, described);
    if (execution === undefined) return undefined;
    return {
      name,
      status: STATUSES[execution.status ?? ''] ?? 'FAILED',
      startedAt: (execution.startDate ?? new Date(0)).toISOString(),
      ...(execution.stopDate ? { stoppedAt: execution.stopDate.toISOString() } : {}),
      ...(execution.input !== undefined ? { input: execution.input } : {}),
      ...(execution.output !== undefined ? { output: execution.output } : {}),
      ...(execution.error !== undefined ? { error: execution.error } : {}),
      ...(execution.cause !== undefined ? { cause: execution.cause } : {}),
    };
  }
}

/**
 * The key-retirement workflow (statemachines/key-retirement.ts): one execution per rotation, named
 * `retire-<rotation id>`, so a replayed rotation starts nothing new (ExecutionAlreadyExists counts as started).
 */
export class SfnKeyRetirement implements KeyRetirement {
  constructor(
    private readonly stateMachineArn: string,
    private readonly client: SFNClient,
  ) {}

  async schedule(userId: string, rotation: Rotation & { retireAt: string }): Promise<void> {
    const input: KeyRetirementInput = { userId, rotation };
    await startExecution(this.client, { stateMachineArn: this.stateMachineArn, name: retirementExecutionName(rotation.id), input });
  }
}
