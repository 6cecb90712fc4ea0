// Over 300 lines: both directions of a switch share the stack's resolution, the key and plan reads and the report.
/**
 * `npm run switch-key-mode -- import|restore [--stack-name <name> [--region <r>]]`
 *
 * Switching a running deployment between KeyMode ApiGateway and SelfIssued without breaking customers' keys
 * (README "Switching modes"):
 *
 * - `import` (before and right after `sam deploy --parameter-overrides KeyMode=SelfIssued`): every ACTIVE customer's
 *   API Gateway key value is read once (GetApiKeys with includeValues: 500 a page) and its SHA-256 hash written to the
 *   SelfIssuedKeys table: `KEY#<hash>` { customerId, plan, status active, hint (first 4 characters), importedFrom
 *   ApiGateway } and the customer's slot `CUSTOMER#<sub>` { keyId: the API Gateway key id (= `custom:apiid`, the
 *   account's `apiKeyId`), plan, hash }. KeyAuthorizerFunction then takes the old value as it is (no `tg_live_`
 *   prefix, only for a record marked imported). The period's usage API Gateway counted comes along: the authorizer's
 *   counter `USE#<sub>#<period>` is raised to the plan's quota limit minus the key's `remaining` today (GetUsage per
 *   usage plan, 500 keys a page), so the quota stays what API Gateway enforced. Values stay in this process's memory
 *   for the run: never printed, logged or stored. Idempotent: conditional writes only, a counter only ever raised,
 *   an unchanged customer costs no write; a re-run after keys were rotated in ApiGateway mode moves the slot to the
 *   account's current key and revokes the one it imported before.
 * - `restore` (before `sam deploy --parameter-overrides KeyMode=ApiGateway`): the way back. Self-issued values are
 *   stored only as hashes, so they cannot become API Gateway keys: customers still on an imported key get it back in
 *   its plan's usage plan (a plan change in SelfIssued mode detached it) with the authorizer's count as its usage;
 *   those with a `tg_live_` key must rotate after the switch (`POST /me/api-key/rotate` makes an API Gateway key).
 *   API Gateway keys left behind in SelfIssued mode (rotated away, or of a closed account) are disabled, so the
 *   switch back does not revive them. Refused above API Gateway's 10,000 keys per account and Region.
 *
 * AWS facts (Amazon API Gateway API Reference): GetApiKeys and GetUsagePlanKeys page with `limit` up to 500 and
 * `position`; GetApiKeys `includeValues` returns the values; GetUsage answers per key a list of daily `[used, remaining]`
 * (limit up to 500 keys a page); UpdateUsage `replace /remaining` sets a key's remaining quota. The management API's
 * 10 requests/s is absorbed by the SDK's retries (maxAttempts 10). Errors: any AWS error propagates (the command
 * prints its name and exits 1; a re-run continues where it stopped, since every step is idempotent); `SwitchRefused`.
 *
 * Where: `--stack-name` (and `--region`, else AWS_REGION): the deployed stack, its outputs read with
 * `aws cloudformation describe-stacks` (the AWS CLI, with the credentials `sam deploy` uses); without it, the offline
 * stack of `npm start` (template.yaml's outputs, the default ports or TOLLGATE_PORT_<SERVICE>).
 */
import {
  APIGatewayClient,
  DeleteUsagePlanKeyCommand,
  GetApiKeysCommand,
  GetUsagePlanCommand,
  GetUsagePlanKeysCommand,
} from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { execFileSync } from 'node:child_process';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { ApiGatewayKeyService } from '../functions/account/adapters.ts';
import { quotaPeriod } from '../functions/shared/self-issued-usage.ts';
import type { Account, PlanAccount } from '../functions/shared/accounts.ts';
import { dayKey } from '../functions/shared/dates.ts';
import type { QuotaPeriod } from '../functions/shared/plans.ts';
import { hashKey, isSelfIssuedKeyId, looksLikeImportedKey } from '../functions/shared/self-issued-keys.ts';
import { DynamoAccountReconciler } from '../functions/shared/tables/accounts.ts';
import { selfIssuedKeysStore, type SelfIssuedKeysStore } from '../functions/shared/tables/self-issued-keys.ts';
import { DEFAULT_PORTS, type ServiceName } from '../local/endpoints.ts';
import { loadStackModel } from '../local/model.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/types.ts';

/** API Gateway's API keys per account and Region ("Amazon API Gateway quotas"; cannot be raised). */
export const API_GATEWAY_KEY_LIMIT = 10_000;

/** The deployed stack as the switch sees it: clients and the outputs it needs. */
export interface SwitchTarget {
  apigateway: APIGatewayClient;
  documents: DynamoDBDocumentClient;
  accountsTable: string;
  keysTable: string;
  /** Plan name (`free`, `basic`, `pro`) → usage plan id, from the outputs `<Plan>UsagePlanId`. */
  usagePlanIds: Record<string, string>;
}

/** The stack outputs the switch reads (template.yaml Outputs). Throws naming a missing one. */
export function targetFromOutputs(outputs: Record<string, string>, apigateway: APIGatewayClient, documents: DynamoDBDocumentClient): SwitchTarget {
  const need = (name: string): string => {
    const value = outputs[name];
    if (!value) throw new Error(`The stack has no output ${name}: deploy the current template.yaml first`);
    return value;
  };
  const usagePlanIds = Object.fromEntries(
    Object.entries(outputs)
      .filter(([name]) => /^[A-Z][a-z]+UsagePlanId$/.test(name))
      .map(([name, id]) => [name.slice(0, -'UsagePlanId'.length).toLowerCase(), id]),
  );
  return { apigateway, documents, accountsTable: need('AccountsTableName'), keysTable: need('SelfIssuedKeysTableName'), usagePlanIds };
}

interface PlanQuota {
  name: string;
  usagePlanId: string;
  limit: number;
  period: QuotaPeriod;
}

interface KnownKey {
  id: string;
  enabled: boolean;
  /** Only during an import, in memory: never printed, logged or stored. */
  value?: string;
  owner?: string;
}

/** Each plan's quota, as its usage plan has it (the template sets the plan catalog and the usage plans alike). */
async function planQuotas(target: SwitchTarget): Promise<Map<string, PlanQuota>> {
  const plans = new Map<string, PlanQuota>();
  for (const [name, usagePlanId] of Object.entries(target.usagePlanIds)) {
    const plan = await target.apigateway.send(new GetUsagePlanCommand({ usagePlanId }));
    plans.set(name, { name, usagePlanId, limit: plan.quota?.limit ?? Number.MAX_SAFE_INTEGER, period: (plan.quota?.period ?? 'MONTH') as QuotaPeriod });
  }
  return plans;
}

/** Every API key of the account and Region (GetApiKeys, 500 a page), with values only when asked. */
async function apiKeys(target: SwitchTarget, includeValues: boolean): Promise<Map<string, KnownKey>> {
  const keys = new Map<string, KnownKey>();
  let position: string | undefined;
  do {
    const page = await target.apigateway.send(new GetApiKeysCommand({ includeValues, limit: 500, ...(position ? { position } : {}) }));
    for (const key of page.items ?? []) {
      if (!key.id) continue;
      const owner = key.tags?.['tollgate:userId'];
      keys.set(key.id, { id: key.id, enabled: key.enabled ?? false, ...(includeValues && key.value ? { value: key.value } : {}), ...(owner ? { owner } : {}) });
    }
    position = page.position;
  } while (position);
  return keys;
}

/** Key id → the plans' usage plans it is in (GetUsagePlanKeys, 500 a page, per plan). */
async function planMembers(target: SwitchTarget, plans: Map<string, PlanQuota>): Promise<Map<string, string[]>> {
  const members = new Map<string, string[]>();
  for (const { usagePlanId } of plans.values()) {
    let position: string | undefined;
    do {
      const page = await target.apigateway.send(new GetUsagePlanKeysCommand({ usagePlanId, limit: 500, ...(position ? { position } : {}) }));
      for (const key of page.items ?? []) if (key.id) members.set(key.id, [...(members.get(key.id) ?? []), usagePlanId]);
      position = page.position;
    } while (position);
  }
  return members;
}

async function openAccounts(target: SwitchTarget): Promise<Account[]> {
  const accounts: Account[] = [];
  for await (const page of new DynamoAccountReconciler(target.accountsTable, target.documents).openAccounts()) accounts.push(...page);
  return accounts;
}

/** What API Gateway counted against each key's quota this period: the plan's limit minus the key's remaining today. */
async function countedByApiGateway(target: SwitchTarget, plans: Map<string, PlanQuota>, now: Date): Promise<Map<string, number>> {
  const counted = new Map<string, number>();
  const keys = new ApiGatewayKeyService(target.apigateway);
  const today = dayKey(now);
  for (const plan of plans.values()) {
    for (const [keyId, days] of await keys.planUsage(plan.usagePlanId, today, today)) {
      const remaining = days.at(-1)?.remaining;
      if (remaining !== undefined) counted.set(keyId, Math.max(counted.get(keyId) ?? 0, plan.limit - remaining));
    }
  }
  return counted;
}

export interface ImportReport {
  /** ACTIVE accounts seen. */
  customers: number;
  /** Customers whose key was written now (slot and key record). */
  imported: number;
  /** Customers already imported, as they are (nothing written). */
  unchanged: number;
  /** Usage counters raised to what API Gateway counted this period. */
  usageCarried: number;
  /** Customers whose key is a self-issued one already (nothing to import). */
  selfIssued: number;
  /** Not imported, by reason (user ids): their slot exists, so they can rotate to a tg_live_ key. */
  notImported: { keyDisabled: string[]; keyMissing: string[]; valueShape: string[]; planChangePending: string[] };
  /** Accounts still ONBOARDING: not imported yet; run again once their onboarding has finished. */
  onboarding: string[];
  /** Customers whose rotated-away key is in its overlap: only the current key is imported, the old one stops at the switch. */
  overlapEnds: string[];
}

/** The ApiGateway → SelfIssued import (see the module comment). Run it as often as needed: it converges. */
export async function importApiGatewayKeys(target: SwitchTarget, now = new Date()): Promise<ImportReport> {
  const store = selfIssuedKeysStore(target.keysTable, target.documents);
  const plans = await planQuotas(target);
  const keys = await apiKeys(target, true);
  const counted = await countedByApiGateway(target, plans, now);
  const report: ImportReport = {
    customers: 0,
    imported: 0,
    unchanged: 0,
    usageCarried: 0,
    selfIssued: 0,
    notImported: { keyDisabled: [], keyMissing: [], valueShape: [], planChangePending: [] },
    onboarding: [],
    overlapEnds: [],
  };
  for (const account of await openAccounts(target)) {
    if (account.status === 'ONBOARDING') report.onboarding.push(account.userId);
    if (account.status !== 'ACTIVE' || !account.apiKeyId || !account.plan) continue;
    report.customers += 1;
    if (account.previousKey !== undefined && Date.parse(account.previousKey.expiresAt) > now.getTime()) report.overlapEnds.push(account.userId);
    const { userId, apiKeyId, plan } = account;
    const key = keys.get(apiKeyId);
    if (key === undefined && isSelfIssuedKeyId(apiKeyId)) {
      report.selfIssued += 1;
      continue;
    }
    // The plan-change workflow is moving this customer: the account's plan is about to change. Next run.
    if ((account as PlanAccount).pendingPlanChange !== undefined) {
      report.notImported.planChangePending.push(userId);
      continue;
    }
    const quota = plans.get(plan);
    const carried = counted.get(apiKeyId);
    if (quota !== undefined && carried !== undefined && carried > 0) {
      const { key: period, expiresAt } = quotaPeriod(quota.period, now);
      if (await store.carryUsage(userId, period, carried, expiresAt)) report.usageCarried += 1;
    }
    const slot = await store.getCustomer(userId);
    const value = key?.enabled ? key.value : undefined;
    if (value === undefined || !looksLikeImportedKey(value)) {
      // No key to honour; the slot lets the customer rotate to a tg_live_ key (POST /me/api-key/rotate).
      if (slot === undefined) await store.findOrCreateCustomer(userId, { keyId: apiKeyId, plan });
      report.notImported[key === undefined ? 'keyMissing' : key.enabled ? 'valueShape' : 'keyDisabled'].push(userId);
      continue;
    }
    report[(await importKey(store, userId, apiKeyId, plan, value, slot, now)) ? 'imported' : 'unchanged'] += 1;
  }
  return report;
}

/** One customer's key into the table; true when anything was written. */
async function importKey(
  store: SelfIssuedKeysStore,
  userId: string,
  keyId: string,
  plan: string,
  value: string,
  slot: Awaited<ReturnType<SelfIssuedKeysStore['getCustomer']>>,
  now: Date,
): Promise<boolean> {
  const hash = hashKey(value);
  if (slot?.keyId === keyId && slot.hash === hash && slot.plan === plan) return false;
  let wrote = await store.putKey(hash, { customerId: userId, plan, status: 'active', hint: value.slice(0, 4), createdAt: now.toISOString(), importedFrom: 'ApiGateway' });
  if (slot === undefined) {
    await store.findOrCreateCustomer(userId, { keyId, plan, hash });
    wrote = true;
  } else if (slot.keyId !== keyId || slot.hash !== hash) {
    // A slot on a tg_live_ key is newer than the account's record (a SelfIssued rotation commits the slot first):
    // never move it back. Otherwise the slot holds a key an earlier import took, since rotated (and deleted) in API
    // Gateway mode, or no value yet: move it to the current key and revoke the one it held.
    const held = slot.hash === undefined ? undefined : await store.getKey(slot.hash);
    if (slot.keyId !== keyId && (held === undefined ? isSelfIssuedKeyId(slot.keyId) : held.importedFrom !== 'ApiGateway')) return wrote;
    if (await store.swapCustomerKey(userId, slot.keyId, { keyId, hash })) {
      if (slot.hash !== undefined && slot.hash !== hash) await store.revokeKey(slot.hash);
      wrote = true;
    }
  }
  if (slot !== undefined && slot.plan !== plan) wrote = (await store.setPlan(userId, plan)) || wrote;
  return wrote;
}

export interface RestoreReport {
  customers: number;
  /** Customers on an imported API Gateway key: its usage plan membership and usage set for the switch back. */
  restored: number;
  /** Customers on a self-issued key: it stops at the switch back; they rotate to get an API Gateway key. */
  mustRotate: string[];
  /** API Gateway keys left behind in SelfIssued mode (rotated away, closed accounts), disabled now. */
  disabled: number;
}

/** Refusal of a switch back the account's API Gateway key limit cannot hold. */
export class SwitchRefused extends Error {
  override name = 'SwitchRefused';
}

/** The SelfIssued → ApiGateway preparation (see the module comment). Idempotent. */
export async function restoreApiGatewayKeys(target: SwitchTarget, now = new Date()): Promise<RestoreReport> {
  const store = selfIssuedKeysStore(target.keysTable, target.documents);
  const plans = await planQuotas(target);
  const accounts = await openAccounts(target);
  const active = accounts.filter((a) => a.status === 'ACTIVE' && a.apiKeyId && a.plan);
  const keys = await apiKeys(target, false);
  const others = [...keys.values()].filter((k) => k.owner === undefined).length;
  if (active.length + others > API_GATEWAY_KEY_LIMIT) {
    throw new SwitchRefused(
      `${active.length} customers (and ${others} other API keys) do not fit API Gateway's ${API_GATEWAY_KEY_LIMIT} API keys per account and Region; stay in KeyMode SelfIssued`,
    );
  }
  const service = new ApiGatewayKeyService(target.apigateway);
  const report: RestoreReport = { customers: active.length, restored: 0, mustRotate: [], disabled: 0 };
  const keep = new Set<string>();
  for (const account of accounts) {
    if (account.status !== 'ACTIVE' && account.status !== 'ONBOARDING') continue; // CLOSING: its key must not come back
    if (account.apiKeyId) keep.add(account.apiKeyId);
    if (account.previousKey) keep.add(account.previousKey.id);
  }
  const counted = await countedByApiGateway(target, plans, now);
  const members = await planMembers(target, plans);
  for (const account of active) {
    const { userId, apiKeyId, plan } = account as Account & { apiKeyId: string; plan: string };
    const quota = plans.get(plan);
    if (!keys.has(apiKeyId) || quota === undefined) {
      report.mustRotate.push(userId);
      continue;
    }
    // Suspended (the Cognito user is disabled): the key goes back disabled, as the reconciler keeps it in ApiGateway mode.
    if (account.keySuspendedAt !== undefined && keys.get(apiKeyId)?.enabled) {
      await service.disableKey(apiKeyId);
    }
    const memberOf = members.get(apiKeyId) ?? [];
    if (!memberOf.includes(quota.usagePlanId)) await service.attachKey(quota.usagePlanId, apiKeyId);
    for (const other of memberOf) {
      if (other !== quota.usagePlanId) await target.apigateway.send(new DeleteUsagePlanKeyCommand({ usagePlanId: other, keyId: apiKeyId }));
    }
    // The authorizer's count this period, where it is more than API Gateway's (requests since the first switch).
    const [counter] = await store.readCounters(userId, [quotaPeriod(quota.period, now).key]);
    const used = counter?.used ?? 0;
    if (used > (counted.get(apiKeyId) ?? 0)) await service.setRemaining(quota.usagePlanId, apiKeyId, Math.max(0, quota.limit - used));
    report.restored += 1;
  }
  for (const key of keys.values()) {
    if (key.owner === undefined || !key.enabled || keep.has(key.id)) continue;
    await service.disableKey(key.id);
    report.disabled += 1;
  }
  return report;
}

// ---------------------------------------------------------------------------------------------------- command line

const USAGE = 'Usage: npm run switch-key-mode -- import|restore [--stack-name <name> [--region <region>]]';

/** The stack's outputs: CloudFormation's (AWS CLI) with --stack-name, else the offline stack's from template.yaml. */
function resolveTarget(stackName: string | undefined, region: string | undefined): SwitchTarget {
  const retries = { maxAttempts: 10 }; // the control plane's 10 requests/s: the SDK backs off and retries
  if (stackName !== undefined) {
    const args = ['cloudformation', 'describe-stacks', '--stack-name', stackName, '--query', 'Stacks[0].Outputs', '--output', 'json', ...(region ? ['--region', region] : [])];
    const outputs = JSON.parse(execFileSync('aws', args, { encoding: 'utf8' })) as { OutputKey: string; OutputValue: string }[];
    const config = { ...retries, ...(region ? { region } : {}) };
    const documents = DynamoDBDocumentClient.from(new DynamoDBClient(config), { marshallOptions: { removeUndefinedValues: true } });
    return targetFromOutputs(Object.fromEntries(outputs.map((o) => [o.OutputKey, o.OutputValue])), new APIGatewayClient(config), documents);
  }
  const model = loadStackModel({ templatePath: join(resolve(__dirname, '..'), 'template.yaml'), stackName: 'tollgate', region: LOCAL_REGION, accountId: LOCAL_ACCOUNT_ID });
  const endpoint = (s: ServiceName) => `http://127.0.0.1:${process.env[`TOLLGATE_PORT_${s.toUpperCase()}`] ?? DEFAULT_PORTS[s]}`;
  const config = { ...retries, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS };
  const documents = DynamoDBDocumentClient.from(new DynamoDBClient({ ...config, endpoint: endpoint('dynamodb') }), { marshallOptions: { removeUndefinedValues: true } });
  return targetFromOutputs(model.outputs, new APIGatewayClient({ ...config, endpoint: endpoint('apigateway') }), documents);
}

async function main(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({ args: argv, allowPositionals: true, options: { 'stack-name': { type: 'string' }, region: { type: 'string' }, help: { type: 'boolean', short: 'h' } } });
  const [command] = positionals;
  if (values.help || (command !== 'import' && command !== 'restore') || positionals.length !== 1) {
    console.error(USAGE);
    return values.help ? 0 : 2;
  }
  const target = resolveTarget(values['stack-name'], values.region ?? process.env.AWS_REGION);
  try {
    if (command === 'import') {
      const r = await importApiGatewayKeys(target);
      console.log(`${r.customers} active customers: ${r.imported} keys imported now, ${r.unchanged} already imported, ${r.selfIssued} on self-issued keys; ${r.usageCarried} usage counters carried over.`);
      for (const [reason, users] of Object.entries(r.notImported)) if (users.length > 0) console.log(`  not imported (${reason}; they rotate to get a tg_live_ key, or re-run): ${users.join(' ')}`);
      if (r.onboarding.length > 0) console.log(`  still onboarding (run again once they are ACTIVE): ${r.onboarding.join(' ')}`);
      if (r.overlapEnds.length > 0) console.log(`  rotated-away keys in their overlap stop working in SelfIssued mode (current keys imported): ${r.overlapEnds.join(' ')}`);
    } else {
      const r = await restoreApiGatewayKeys(target);
      console.log(`${r.customers} active customers: ${r.restored} keep their API Gateway key; ${r.disabled} left-behind API Gateway keys disabled.`);
      if (r.mustRotate.length > 0) {
        console.log(`  ${r.mustRotate.length} customers have a tg_live_ key, which stops working in KeyMode ApiGateway: after the switch each rotates (POST /me/api-key/rotate; CreateApiKey allows 5/s per account): ${r.mustRotate.join(' ')}`);
      }
    }
    return 0;
  } catch (error) {
    console.error(error instanceof SwitchRefused ? `Refused: ${error.message}` : `${(error as Error).name}: ${(error as Error).message}`);
    return 1;
  } finally {
    target.apigateway.destroy();
    target.documents.destroy();
  }
}

if (require.main === module) {
  void main(process.argv.slice(2))
    .catch((error: unknown) => {
      console.error(error);
      return 1;
    })
    .then((code) => (process.exitCode = code));
}
