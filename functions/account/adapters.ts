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
import { isNotFound, unless } from '#shared/aws-errors';
import { KeyValueCache } from './caches.ts';
import type { ApiKeyDetails, DailyUsage, KeyService, UserDirectory } from './domain.ts';

/**
 * The account routes' adapters to services other than DynamoDB (whose tables have theirs under shared/tables): API
 * keys, usage plan keys and usage through API Gateway's control plane, and the user's `custom:apiid` in Cognito.
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
