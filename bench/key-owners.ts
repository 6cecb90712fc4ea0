/**
 * Bench section 8, the key-only owner lookup (DataApiAuth=ApiKey, issue 14): how the data functions learn a request's
 * customer from its API key id. Standalone: `npx tsx bench/key-owners.ts [--customers N] [--rounds R]` (defaults 40,
 * 10); also run by bench/run.ts (`--only key-owners` runs this section alone).
 *
 * On its own offline stack with DataApiAuth=ApiKey: N customers onboarded through real sign-ups, half of them rotated
 * (`POST /me/api-key/rotate` with an overlap of OVERLAP_SECONDS), so there are N current keys and N/2 keys in their
 * rotation overlap. Then:
 * (a) Both lookups against the same offline DynamoDB, uncached (no CachedKeyOwners in front), one at a time, in
 *     `rounds` interleaved rounds (each round runs both lookups over every key, the first lookup alternating), so
 *     background load on a shared machine falls on both alike:
 *       - new: RecordedKeyOwners as the functions build it (functions/shared/data-api.ts): the key's KeyOwners record,
 *         one strongly consistent GetItem, with DynamoKeyOwners behind it for a key without a record;
 *       - baseline: DynamoKeyOwners alone (the lookup before the KeyOwners table): a Query of the Accounts table's
 *         ApiKeyIndex, then for a key that is not current a second Query, of PreviousApiKeyIndex.
 *     Per lookup: DynamoDB calls (counted by client middleware, as bench/scaled-keys.ts does), read request units, and
 *     latency p50/p99; ratios new / baseline. Units two ways: what dynalite answers with ReturnConsumedCapacity TOTAL
 *     (added to each call by the middleware), and DynamoDB's documented charge, which is the same except that a read
 *     costs at least its minimum even when nothing is found (1 RRU per strongly consistent read ≤ 4 KB, 0.5 per
 *     eventually consistent read ≤ 4 KB, a Query's items summed and rounded up to 4 KB; "If you perform a read
 *     operation on an item that doesn't exist, DynamoDB will still consume read throughput": DynamoDB Developer Guide,
 *     "DynamoDB read and write operations", https://docs.aws.amazon.com/amazondynamodb/latest/developerguide/read-write-operations.html).
 *     dynalite answers 0 for a Query that finds nothing, so its figure for the baseline's overlap keys is low.
 *     Both lookups must name the customer the bench onboarded for every key (checked, counted as disagreements).
 * (b) The real request path: `GET /links` with `X-Api-Key` alone through the offline API Gateway and Lambda service,
 *     the first call per key (so no Lambda environment has the key's owner cached), one request at a time; the owner
 *     lookup's DynamoDB calls are LinksFunction's calls on the KeyOwners and Accounts tables, counted from the offline
 *     IAM's decisions (`t.stack.iam.onDecision`, as tests/integration/key-owner-reads.test.ts does). Also for a few
 *     keys whose KeyOwners records the bench deleted (a stack from before the table: the fallback through the indexes).
 *
 * What transfers to AWS: the calls and read units per lookup (the same requests DynamoDB would get). What does not: the
 * latencies, which are dynalite's (a LevelDB-backed emulator on this machine), not DynamoDB's.
 */
import { randomUUID } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { DeleteItemCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KeyOwners } from '../functions/shared/caller.ts';
import { DynamoKeyOwners } from '../functions/shared/tables/accounts.ts';
import { DynamoKeyOwnerRecords, RecordedKeyOwners } from '../functions/shared/tables/key-owners.ts';
import type { Customer, TestStack } from '../local/harness/stack.ts';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/types.ts';
import { DYNAMODB_PER_MILLION_RRU } from './prices.ts';
import { onboardUser, startBenchStack, waitForIdle } from './setup.ts';
import { fmt, heading, median, percentile, pool, positiveOption as option, table, usd, verdict } from './util.ts';

/** The rotated customers' overlap: long enough to outlast the section. */
const OVERLAP_SECONDS = 3_600;
/** Customers onboarded at once (sign-up, workflow, sign-in). */
const ONBOARD_CONCURRENCY = 4;
/** Customers whose KeyOwners records are deleted for (b)'s fallback rows, half of them rotated. */
const NO_RECORD_CUSTOMERS = 4;
/** The issue's figure: owner-lookup reads per uncached request, for a current key and a key in its overlap alike. */
const TARGET_READS_PER_REQUEST = 1;

export type KeyKind = 'current' | 'overlap';
export type Lookup = 'recorded' | 'indexes';
const LOOKUP_LABEL: Record<Lookup, string> = {
  recorded: 'new: RecordedKeyOwners (KeyOwners GetItem)',
  indexes: 'baseline: DynamoKeyOwners (Accounts GSI Queries)',
};

export interface LookupFigures {
  lookup: Lookup;
  kind: KeyKind;
  /** Lookups measured (keys × rounds). */
  lookups: number;
  /** DynamoDB calls per lookup, and by operation (`GetItem KeyOwners`, `Query Accounts/ApiKeyIndex`, …). */
  callsPerLookup: number;
  callsByOperation: Record<string, number>;
  /** Read request units per lookup: as dynalite reports them (ReturnConsumedCapacity), and as DynamoDB charges. */
  unitsReportedPerLookup: number;
  unitsPerLookup: number;
  /** unitsPerLookup priced: USD per million uncached lookups, on-demand (bench/prices.ts, marked unconfirmed there). */
  usdPerMillionLookups: number;
  p50Ms: number;
  p99Ms: number;
  /** Lookups that did not name the customer the key was issued to. */
  disagreements: number;
}

export interface RequestPathFigures {
  keys: string;
  requests: number;
  /** Requests answered 200. */
  ok: number;
  /** LinksFunction's DynamoDB calls on the KeyOwners and Accounts tables per request, and by operation. */
  lookupCallsPerRequest: number;
  lookupCallsByOperation: Record<string, number>;
  maxLookupCallsInARequest: number;
  /** Whole request (gateway + Lambda + handler with its Resources query), ms. */
  p50Ms: number;
}

export interface KeyOwnersResult {
  customers: number;
  rotated: number;
  overlapSeconds: number;
  rounds: number;
  keys: Record<KeyKind, number>;
  lookups: LookupFigures[];
  /** New over baseline, per key kind. */
  ratios: { kind: KeyKind; calls: number; units: number; p50: number; p99: number }[];
  requestPath: RequestPathFigures[];
  targets: { name: string; value: number; limit: string; verdict: 'PASS' | 'MISS' }[];
}

export interface KeyOwnersOptions {
  /** Customers onboarded (default 40); half of them rotated with an overlap. */
  customers?: number;
  /** Interleaved rounds of (a) (default 10). */
  rounds?: number;
}

interface Key {
  id: string;
  value: string;
  userId: string;
  kind: KeyKind;
}

/** `POST /me/api-key/rotate` with an overlap: the new key (id, value); the old one stays the customer's until its end. */
async function rotate(t: TestStack, c: Customer, overlapSeconds: number): Promise<{ id: string; value: string }> {
  const res = await fetch(`${t.stack.apiUrl}/me/api-key/rotate`, {
    method: 'POST',
    headers: { Authorization: c.idToken, 'Content-Type': 'application/json', 'Idempotency-Key': randomUUID() },
    body: JSON.stringify({ keyId: c.keyId, overlapSeconds }),
  });
  const body = (await res.json()) as { id?: string; value?: string; message?: string };
  if (res.status !== 200 || !body.id || !body.value) throw new Error(`POST /me/api-key/rotate answered ${res.status}: ${body.message ?? ''}`);
  return { id: body.id, value: body.value };
}

/** A customer's keys: the current one, and with a rotation the new current one and the old one in its overlap. */
async function keysOf(t: TestStack, c: Customer, rotated: boolean): Promise<Key[]> {
  if (!rotated) return [{ id: c.keyId, value: c.keyValue, userId: c.userId, kind: 'current' }];
  const next = await rotate(t, c, OVERLAP_SECONDS);
  return [
    { id: next.id, value: next.value, userId: c.userId, kind: 'current' },
    { id: c.keyId, value: c.keyValue, userId: c.userId, kind: 'overlap' },
  ];
}

const byOperation = (seen: readonly string[], per: number): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const s of seen) out[s] = (out[s] ?? 0) + 1 / per;
  return out;
};

export async function runKeyOwners(opts: KeyOwnersOptions, say: (line: string) => void): Promise<KeyOwnersResult> {
  const customers = opts.customers ?? 40;
  const rounds = opts.rounds ?? 10;
  const rotatedCount = Math.floor(customers / 2);
  // The management API limits off (as on the bench stack): they pace onboarding and rotation, which this section
  // does not measure, and on a loaded machine the onboarding workflow ran out of CreateApiKey retries under them.
  const t = await startBenchStack({ parameterOverrides: { DataApiAuth: 'ApiKey' }, createApiKeyRateLimit: Infinity, managementApiLimits: 'off' });
  const raw = new DynamoDBClient({ endpoint: t.stack.endpoints.dynamodb, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 });
  try {
    const links = t.stack.model.functions.find((f) => f.logicalId === 'LinksFunction');
    const env = links?.environment ?? {};
    const { KEY_OWNERS_TABLE: keyOwnersTable, ACCOUNTS_TABLE: accountsTable, ACCOUNTS_API_KEY_INDEX: currentIndex, ACCOUNTS_PREVIOUS_API_KEY_INDEX: previousIndex } = env;
    if (!keyOwnersTable || !accountsTable || !currentIndex || !previousIndex) throw new Error('LinksFunction lacks KEY_OWNERS_TABLE, ACCOUNTS_TABLE or its index names');
    const tableLabel = (target: string) => target.replace(keyOwnersTable, 'KeyOwners').replace(accountsTable, 'Accounts');

    say(`  onboarding ${customers + NO_RECORD_CUSTOMERS} customers (DataApiAuth=ApiKey), ${ONBOARD_CONCURRENCY} at a time; rotating ${rotatedCount + NO_RECORD_CUSTOMERS / 2} with a ${OVERLAP_SECONDS} s overlap…`);
    const t0 = performance.now();
    const onboarded = await pool(Array.from({ length: customers + NO_RECORD_CUSTOMERS }, (_, i) => i), ONBOARD_CONCURRENCY, async (i) => {
      const c = await onboardUser(t, `owners-${i}`);
      return { customer: c, keys: await keysOf(t, c, i < rotatedCount || (i >= customers && i < customers + NO_RECORD_CUSTOMERS / 2)) };
    });
    await waitForIdle(t, 10_000);
    say(`  onboarded and rotated in ${fmt((performance.now() - t0) / 1000, 1)} s`);
    const measured = onboarded.slice(0, customers).flatMap((x) => x.keys);
    const noRecord = onboarded.slice(customers);

    // (a) both lookups on one client whose every call is counted and asked for its consumed capacity.
    const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
    const seen: string[] = [];
    let reported = 0;
    let charged = 0;
    raw.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as { TableName?: string; IndexName?: string; ConsistentRead?: boolean; ReturnConsumedCapacity?: string };
        input.ReturnConsumedCapacity = 'TOTAL';
        const out = await next(args);
        const units = (out.output as { ConsumedCapacity?: { CapacityUnits?: number } }).ConsumedCapacity?.CapacityUnits ?? 0;
        seen.push(`${context.commandName?.replace(/Command$/, '') ?? '?'} ${tableLabel(`${input.TableName ?? '?'}${input.IndexName ? `/index/${input.IndexName}` : ''}`)}`);
        reported += units;
        // A GSI read is always eventually consistent; every read costs at least its minimum (see the module comment).
        charged += Math.max(units, input.ConsistentRead === true ? 1 : 0.5);
        return out;
      },
      { step: 'initialize', name: 'countOwnerLookupCalls' },
    );
    const indexes = new DynamoKeyOwners(accountsTable, currentIndex, previousIndex, client);
    const lookups: Record<Lookup, KeyOwners> = {
      recorded: new RecordedKeyOwners(new DynamoKeyOwnerRecords(keyOwnersTable, client), indexes),
      indexes,
    };
    const samples = new Map<string, { ms: number[]; calls: string[]; reported: number; charged: number; disagreements: number }>();
    const sample = (lookup: Lookup, kind: KeyKind) => {
      const name = `${lookup} ${kind}`;
      if (!samples.has(name)) samples.set(name, { ms: [], calls: [], reported: 0, charged: 0, disagreements: 0 });
      return samples.get(name)!;
    };
    const pass = async (lookup: Lookup, record: boolean) => {
      for (const key of measured) {
        seen.length = 0;
        reported = 0;
        charged = 0;
        const now = new Date();
        const a0 = performance.now();
        const owner = await lookups[lookup].ownerOf(key.id, now);
        const ms = performance.now() - a0;
        if (!record) continue;
        const s = sample(lookup, key.kind);
        s.ms.push(ms);
        s.calls.push(...seen);
        s.reported += reported;
        s.charged += charged;
        if (owner?.userId !== key.userId) s.disagreements += 1;
      }
    };
    say(`  (a) ${measured.length} keys (${measured.filter((k) => k.kind === 'current').length} current, ${measured.filter((k) => k.kind === 'overlap').length} in their overlap), both lookups, ${rounds} interleaved rounds…`);
    await pass('recorded', false);
    await pass('indexes', false);
    for (let round = 0; round < rounds; round++) {
      const order: Lookup[] = round % 2 === 0 ? ['recorded', 'indexes'] : ['indexes', 'recorded'];
      for (const lookup of order) await pass(lookup, true);
    }
    const figures: LookupFigures[] = [];
    for (const lookup of ['recorded', 'indexes'] as const) {
      for (const kind of ['current', 'overlap'] as const) {
        const s = sample(lookup, kind);
        const n = s.ms.length;
        figures.push({
          lookup,
          kind,
          lookups: n,
          callsPerLookup: s.calls.length / n,
          callsByOperation: byOperation(s.calls, n),
          unitsReportedPerLookup: s.reported / n,
          unitsPerLookup: s.charged / n,
          usdPerMillionLookups: (s.charged / n) * DYNAMODB_PER_MILLION_RRU.usd,
          p50Ms: median(s.ms),
          p99Ms: percentile(s.ms, 99),
          disagreements: s.disagreements,
        });
      }
    }
    const of = (lookup: Lookup, kind: KeyKind) => figures.find((f) => f.lookup === lookup && f.kind === kind)!;
    const ratios = (['current', 'overlap'] as const).map((kind) => {
      const [n, b] = [of('recorded', kind), of('indexes', kind)];
      return { kind, calls: n.callsPerLookup / b.callsPerLookup, units: n.unitsPerLookup / b.unitsPerLookup, p50: n.p50Ms / b.p50Ms, p99: n.p99Ms / b.p99Ms };
    });

    // (b) the real request path, the first call per key. The fallback rows: the records of NO_RECORD_CUSTOMERS deleted.
    for (const key of noRecord.flatMap((x) => x.keys)) await raw.send(new DeleteItemCommand({ TableName: keyOwnersTable, Key: { apiKeyId: { S: key.id } } }));
    const get = async (key: Key) => {
      const calls: string[] = [];
      const stop = t.stack.iam.onDecision((r) => {
        if (r.principal !== 'LinksFunction' || r.service !== 'dynamodb') return;
        const target = r.resource.replace(/^.*:table\//, '');
        if ([keyOwnersTable, accountsTable].some((name) => target === name || target.startsWith(`${name}/`))) calls.push(`${r.operation} ${tableLabel(target)}`);
      });
      try {
        const r0 = performance.now();
        const res = await fetch(`${t.stack.apiUrl}/links`, { headers: { 'X-Api-Key': key.value } });
        await res.text();
        return { status: res.status, calls, ms: performance.now() - r0 };
      } finally {
        stop();
      }
    };
    const requestPath: RequestPathFigures[] = [];
    const groups: [string, Key[]][] = [
      ['current', measured.filter((k) => k.kind === 'current')],
      ['in their overlap', measured.filter((k) => k.kind === 'overlap')],
      ['no record (fallback), current', noRecord.flatMap((x) => x.keys).filter((k) => k.kind === 'current')],
      ['no record (fallback), in their overlap', noRecord.flatMap((x) => x.keys).filter((k) => k.kind === 'overlap')],
    ];
    say(`  (b) GET /links with the key alone, the first call per key, one at a time…`);
    for (const [label, keys] of groups) {
      const shots = [];
      for (const key of keys) shots.push(await get(key));
      const calls = shots.flatMap((s) => s.calls);
      requestPath.push({
        keys: label,
        requests: shots.length,
        ok: shots.filter((s) => s.status === 200).length,
        lookupCallsPerRequest: calls.length / shots.length,
        lookupCallsByOperation: byOperation(calls, shots.length),
        maxLookupCallsInARequest: Math.max(...shots.map((s) => s.calls.length)),
        p50Ms: median(shots.map((s) => s.ms)),
      });
    }

    const path = (keys: string) => requestPath.find((r) => r.keys === keys)!;
    const targets: KeyOwnersResult['targets'] = [];
    for (const [kind, keys] of [['current', 'current'], ['overlap', 'in their overlap']] as const) {
      const r = path(keys);
      const baseline = of('indexes', kind).callsPerLookup;
      const worst = r.ok === r.requests ? r.maxLookupCallsInARequest : Number.NaN;
      targets.push({
        name: `owner-lookup reads in an uncached GET /links, key ${keys} (most in one request; baseline's ${fmt(baseline, 2)} per lookup in (a))`,
        value: worst,
        limit: `≤ ${TARGET_READS_PER_REQUEST}`,
        verdict: verdict(worst <= TARGET_READS_PER_REQUEST),
      });
    }
    const disagreements = figures.reduce((n, f) => n + f.disagreements, 0);
    targets.push({ name: 'lookups naming another customer (or none) for a key, both lookups', value: disagreements, limit: '0', verdict: verdict(disagreements === 0) });
    return {
      customers,
      rotated: rotatedCount,
      overlapSeconds: OVERLAP_SECONDS,
      rounds,
      keys: { current: measured.filter((k) => k.kind === 'current').length, overlap: measured.filter((k) => k.kind === 'overlap').length },
      lookups: figures,
      ratios,
      requestPath,
      targets,
    };
  } finally {
    raw.destroy();
    await t.close();
  }
}

const operations = (x: Record<string, number>): string =>
  Object.entries(x)
    .map(([k, v]) => `${fmt(v, 2)} ${k}`)
    .join(' + ') || '0';

export function printKeyOwners(r: KeyOwnersResult): string {
  return [
    heading('8. Key-only owner lookup (DataApiAuth=ApiKey): KeyOwners record vs the Accounts indexes'),
    `${r.customers} customers onboarded, ${r.rotated} rotated with a ${r.overlapSeconds} s overlap: ${r.keys.current} current keys, ${r.keys.overlap} in their overlap.`,
    `(a) Uncached lookups on the same offline DynamoDB, ${r.rounds} interleaved rounds. Calls and read units transfer to AWS; the latencies are dynalite's, not DynamoDB's.`,
    table(
      ['lookup', 'keys', 'lookups', 'calls per lookup', 'calls by operation', 'RRU (DynamoDB)', 'RRU (dynalite)', '$ per M lookups', 'p50 ms', 'p99 ms', 'wrong owner'],
      r.lookups.map((f) => [
        LOOKUP_LABEL[f.lookup],
        f.kind,
        f.lookups,
        fmt(f.callsPerLookup, 2),
        operations(f.callsByOperation),
        fmt(f.unitsPerLookup, 2),
        fmt(f.unitsReportedPerLookup, 2),
        usd(f.usdPerMillionLookups),
        fmt(f.p50Ms, 2),
        fmt(f.p99Ms, 2),
        f.disagreements,
      ]),
    ),
    table(
      ['new / baseline', 'calls', 'RRU', 'p50', 'p99'],
      r.ratios.map((x) => [`${x.kind} keys`, fmt(x.calls, 2), fmt(x.units, 2), fmt(x.p50, 2), fmt(x.p99, 2)]),
    ),
    'RRU (DynamoDB): each call at least its documented minimum (1 per consistent read ≤ 4 KB, 0.5 per eventually consistent one, found or not); RRU (dynalite): its ReturnConsumedCapacity, 0 for a Query that finds nothing.',
    `$ per M lookups: RRU (DynamoDB) at ${usd(DYNAMODB_PER_MILLION_RRU.usd)} per million (on-demand, US East; bench/prices.ts, unconfirmed there); only uncached lookups pay it, a repeat caller within the 60 s freshness reads nothing.`,
    '(b) GET /links with X-Api-Key alone, through the offline API Gateway and Lambda service, the first call per key (nothing cached); LinksFunction\'s calls on KeyOwners and Accounts from the offline IAM\'s decisions.',
    table(
      ['keys', 'requests', '200', 'owner-lookup reads per request', 'most in one request', 'by operation', 'request p50 ms'],
      r.requestPath.map((x) => [x.keys, x.requests, x.ok, fmt(x.lookupCallsPerRequest, 2), x.maxLookupCallsInARequest, operations(x.lookupCallsByOperation), fmt(x.p50Ms, 1)]),
    ),
    table(
      ['target', 'value', 'limit', 'result'],
      r.targets.map((x) => [x.name, fmt(x.value, 0), x.limit, x.verdict]),
    ),
  ].join('\n');
}

if (require.main === module) {
  runKeyOwners({ customers: option('customers', 40), rounds: option('rounds', 10) }, (line) => console.log(line))
    .then((r) => console.log(printKeyOwners(r)))
    .catch((error: unknown) => {
      console.error(error instanceof Error ? error.stack : error);
      process.exit(1);
    });
}
