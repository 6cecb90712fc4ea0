/**
 * The two key modes (template parameter KeyMode, README "Key modes") for suites that run once per mode:
 * `describe.each(KEY_MODES)` with `startTestStack(inKeyMode(mode, opts))`, and the few steps whose AWS calls differ by
 * mode (how a customer gets a key value, where a key's state is kept). What a suite expects to differ by mode it states
 * in a table keyed by KeyMode, so each mode's answer is written down, never skipped.
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import { hashKey } from '../../functions/shared/self-issued-keys.ts';
import type { LocalStackOptions } from '../stack.ts';
import type { TestStack } from './stack.ts';

export type KeyMode = 'ApiGateway' | 'SelfIssued';
export const KEY_MODES: readonly KeyMode[] = ['ApiGateway', 'SelfIssued'];

/** startTestStack options for `mode`: `opts` with KeyMode added to its parameterOverrides. */
export function inKeyMode(mode: KeyMode, opts: Partial<LocalStackOptions> = {}): Partial<LocalStackOptions> {
  return { ...opts, parameterOverrides: { ...opts.parameterOverrides, KeyMode: mode } };
}

/** The KeyMode the stack was started with (the template's default when not overridden). */
export function keyModeOf(t: TestStack): KeyMode {
  return t.stack.model.parameters.KeyMode === 'SelfIssued' ? 'SelfIssued' : 'ApiGateway';
}

/** The SelfIssuedKeys table's physical name (KeyMode SelfIssued). */
export function selfIssuedKeysTable(t: TestStack): string {
  const table = t.stack.model.tables.find((x) => x.logicalId === 'SelfIssuedKeysTable');
  if (!table) throw new Error('no SelfIssuedKeysTable in the template');
  return table.name;
}

/**
 * A SelfIssued customer's first key value: `POST /me/api-key/rotate` from the key slot onboarding made (`slotKeyId`),
 * the only way this mode shows a value (once). Answers the new key's id and value. Throws with the status and body
 * when the rotation is not 200.
 */
export async function issueFirstSelfIssuedKey(t: TestStack, idToken: string, slotKeyId: string): Promise<{ id: string; value: string }> {
  const res = await fetch(`${t.stack.apiUrl}/me/api-key/rotate`, {
    method: 'POST',
    headers: { Authorization: idToken, 'Content-Type': 'application/json' },
    body: JSON.stringify({ keyId: slotKeyId }),
  });
  const body = (await res.json()) as { id?: string; value?: string; previousKeyId?: string };
  if (res.status !== 200 || !body.id || !body.value || body.previousKeyId !== slotKeyId) {
    throw new Error(`the first rotation of key slot ${slotKeyId} answered ${res.status} ${JSON.stringify({ ...body, value: body.value ? '(hidden)' : undefined })}`);
  }
  return { id: body.id, value: body.value };
}

/**
 * Where the key stands in the mode's own store: API Gateway's key by id (GetApiKey: `absent` when NotFoundException,
 * `disabled` when not enabled), or the SelfIssuedKeys table's record of the value's hash (`revoked`, `disabled` when `suspended`, or `absent`
 * when none). The key value is only hashed here, never sent anywhere in SelfIssued mode.
 */
export async function storedKeyState(t: TestStack, key: { id: string; value: string }): Promise<'active' | 'disabled' | 'revoked' | 'absent'> {
  if (keyModeOf(t) === 'ApiGateway') {
    try {
      const found = await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: key.id }));
      return found.enabled ? 'active' : 'disabled';
    } catch (error) {
      if ((error as Error).name === 'NotFoundException') return 'absent';
      throw error;
    }
  }
  const { Item } = await t.clients.dynamodb.send(
    new GetItemCommand({ TableName: selfIssuedKeysTable(t), Key: { pk: { S: `KEY#${hashKey(key.value)}` } }, ConsistentRead: true }),
  );
  if (!Item) return 'absent';
  return Item.status?.S === 'revoked' ? 'revoked' : Item.status?.S === 'suspended' ? 'disabled' : 'active';
}
