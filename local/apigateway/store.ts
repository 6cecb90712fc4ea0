// Over 400 lines: one class owns keys, plan membership, usage and their persistence, so every write is checked and saved in one place.
import { join } from 'node:path';
import type { ApiKeyRecord, TemplateApiKeySpec, UsagePlanSpec } from '../types.ts';
import { ApiGatewayError, MESSAGES, badRequest, conflict, notFound } from './errors.ts';
import { newApiKeyId, newApiKeyValue } from '../ids.ts';
import { DAY_MS, dayKey, dayStart, parseDayKey, periodOf, type Period } from './periods.ts';
import { JsonStateFile, ensureDir, readJsonFile } from './persist.ts';

export interface ApiGatewayStoreOptions {
  /** State directory; files live under `<dir>/apigateway/`. */
  dir: string;
  /** The usage plans of the template (the only source of plans). */
  usagePlans: UsagePlanSpec[];
  now?: () => Date;
  log?: (line: string) => void;
  /** Debounce for state writes, in ms (default 100). `commit()`/`flush()`/`close()` write at once. */
  persistDelayMs?: number;
  /** AWS's fixed limit: 10,000 API keys per account and Region. */
  maxApiKeys?: number;
  /** Daily usage older than this is dropped when the state is loaded (default 400 days). */
  usageRetentionDays?: number;
}

export interface CreateApiKeyInput {
  name?: string;
  description?: string;
  enabled?: boolean;
  value?: string;
  customerId?: string;
  tags?: Record<string, string>;
}

export interface PatchOperation {
  op?: string;
  path?: string;
  value?: string;
  from?: string;
}

/** [used, remaining] for one UTC day, as GetUsage reports it. */
export type DailyUsage = [number, number];

/** One key's usage in one plan over whole UTC days (`startDate`..`endDate`, inclusive): UpdateUsage's answer. */
export interface KeyUsageReport {
  startDate: string;
  endDate: string;
  items: DailyUsage[];
}

interface KeyEntry {
  record: ApiKeyRecord;
  /** Creation order (kept across restarts: keys are saved in this order). */
  seq: number;
  /** Ids of the usage plans holding this key. */
  plans: Set<string>;
  /** apiId+stage → the (single) plan holding this key for that stage: what resolve() needs, in O(1). */
  byStage: Map<string, UsagePlanSpec>;
}

interface KeysFile {
  version: 1;
  keys: ApiKeyRecord[];
  planKeys: Record<string, string[]>;
}

interface UsageFile {
  version: 1 | 2;
  /**
   * Version 2: keyId → planId → day → admitted requests (usage is counted per usage plan key). Version 1 files held
   * keyId → day → count (no plan): those counts are read as the key's usage in the first plan holding it.
   */
  usage: Record<string, Record<string, number>> | Record<string, Record<string, Record<string, number>>>;
  /**
   * UpdateUsage grants: keyId → planId → quota period id (`MONTH:2024-05-01`) → day → offset, the requests counted
   * as used in that period from that day on. Absent in files written before UpdateUsage existed.
   */
  quotaOffsets?: Record<string, Record<string, Record<string, Record<string, number>>>>;
}

/** Offsets of one key+plan+period: day (`YYYY-MM-DD`) → offset from that day on. */
type OffsetSteps = Map<string, number>;

const MIN_VALUE_LENGTH = 20; // AWS: "API Key value should be at least 20 characters"
const MAX_VALUE_LENGTH = 128;

const stageKey = (apiId: string, stage: string): string => `${apiId}\u0000${stage}`;
const offsetKey = (planId: string, periodId: string): string => `${planId}\u0000${periodId}`;
const PERIOD_ID = /^(DAY|WEEK|MONTH):\d{4}-\d{2}-\d{2}$/;

/** Per plan id: day (`YYYY-MM-DD`) → admitted requests. */
type UsageByPlan = Map<string, Map<string, number>>;

/** Keys, usage-plan memberships and daily usage per usage plan key, persisted under `<dir>/apigateway/`. */
export class ApiGatewayStore {
  readonly stateDir: string;
  private readonly now: () => Date;
  private readonly log: (line: string) => void;
  private readonly maxApiKeys: number;

  private readonly keys = new Map<string, KeyEntry>();
  private readonly byValue = new Map<string, KeyEntry>();
  private readonly plans = new Map<string, UsagePlanSpec>();
  private readonly planKeys = new Map<string, Set<string>>();
  /**
   * keyId → planId → YYYY-MM-DD → requests admitted that UTC day under that plan. Per usage plan key, as AWS counts
   * quotas: "Throttling and quota limits apply to requests for individual API keys that are aggregated across all API
   * stages within a usage plan" (Developer Guide, "Usage plans and API keys for REST APIs in API Gateway").
   */
  private readonly usage = new Map<string, UsageByPlan>();
  /** keyId → planId+periodId → UpdateUsage offsets (see quotaOffset). */
  private readonly quotaOffsets = new Map<string, Map<string, OffsetSteps>>();
  private readonly deleteListeners: ((keyId: string) => void)[] = [];

  private readonly keysFile: JsonStateFile;
  private readonly usageFile: JsonStateFile;
  private lastDay = { start: Number.NaN, key: '' };
  private nextSeq = 0;

  private constructor(opts: ApiGatewayStoreOptions) {
    this.stateDir = join(opts.dir, 'apigateway');
    this.now = opts.now ?? (() => new Date());
    this.log = opts.log ?? (() => undefined);
    this.maxApiKeys = opts.maxApiKeys ?? 10_000;
    for (const plan of opts.usagePlans) {
      if (this.plans.has(plan.id)) throw new Error(`apigateway: duplicate usage plan id ${plan.id}`);
      this.plans.set(plan.id, plan);
      this.planKeys.set(plan.id, new Set());
    }
    const delay = opts.persistDelayMs ?? 100;
    const onError = (err: unknown): void => this.log(`could not save state: ${(err as Error).message}`);
    this.keysFile = new JsonStateFile(join(this.stateDir, 'keys.json'), () => this.keysSnapshot(), delay, onError);
    this.usageFile = new JsonStateFile(join(this.stateDir, 'usage.json'), () => this.usageSnapshot(), delay, onError);
  }

  /** Opens (creating if needed) the state under `<dir>/apigateway/`. */
  static async open(opts: ApiGatewayStoreOptions): Promise<ApiGatewayStore> {
    const store = new ApiGatewayStore(opts);
    await ensureDir(store.stateDir);
    await store.load(opts.usageRetentionDays ?? 400);
    return store;
  }

  // ------------------------------------------------------------------ API keys

  get apiKeyCount(): number {
    return this.keys.size;
  }

  /**
   * The template's own API keys (`AWS::ApiGateway::ApiKey` + `AWS::ApiGateway::UsagePlanKey`), as a deploy creates
   * them: created with the template's id when absent (a restart keeps the saved one), and put in their usage plans.
   */
  ensureTemplateApiKey(spec: TemplateApiKeySpec): ApiKeyRecord {
    let entry = this.keys.get(spec.id);
    if (entry === undefined) {
      const { name, enabled } = spec;
      this.createApiKey({ name, enabled, ...(spec.value !== undefined ? { value: spec.value } : {}), ...(spec.description !== undefined ? { description: spec.description } : {}) }, spec.id);
      entry = this.entry(spec.id);
    }
    for (const planId of spec.usagePlanIds) if (!entry.plans.has(planId)) this.addUsagePlanKey(planId, spec.id);
    return entry.record;
  }

  /** CreateApiKey. `fixedId`: the id of a template-declared key (ensureTemplateApiKey); otherwise a new one. */
  createApiKey(input: CreateApiKeyInput, fixedId?: string): ApiKeyRecord {
    if (this.keys.size >= this.maxApiKeys) {
      throw new ApiGatewayError('LimitExceededException', `Cannot exceed the limit of ${this.maxApiKeys} API keys per account and Region`);
    }
    let value = input.value;
    if (value !== undefined) {
      if (value.length < MIN_VALUE_LENGTH) throw badRequest(`API Key value should be at least ${MIN_VALUE_LENGTH} characters`);
      if (value.length > MAX_VALUE_LENGTH) throw badRequest(`API Key value should be at most ${MAX_VALUE_LENGTH} characters`);
      if (this.byValue.has(value)) throw conflict(MESSAGES.apiKeyExists);
    } else {
      do value = newApiKeyValue();
      while (this.byValue.has(value));
    }
    let id = fixedId ?? newApiKeyId();
    while (fixedId === undefined && this.keys.has(id)) id = newApiKeyId();
    const at = this.now().toISOString();
    const record: ApiKeyRecord = {
      id,
      value,
      name: input.name ?? '',
      enabled: input.enabled ?? false, // AWS's default: a key is disabled unless `enabled` is true
      createdDate: at,
      lastUpdatedDate: at,
      tags: { ...(input.tags ?? {}) },
    };
    if (input.description !== undefined) record.description = input.description;
    if (input.customerId !== undefined) record.customerId = input.customerId;
    const entry: KeyEntry = { record, seq: this.nextSeq++, plans: new Set(), byStage: new Map() };
    this.keys.set(id, entry);
    this.byValue.set(value, entry);
    this.keysFile.markDirty();
    return record;
  }

  findApiKey(id: string): ApiKeyRecord | undefined {
    return this.keys.get(id)?.record;
  }

  getApiKey(id: string): ApiKeyRecord {
    return this.entry(id).record;
  }

  /** Keys in creation order; `nameQuery` is a prefix of the name (as in AWS), `customerId` an exact match. */
  listApiKeys(filter: { nameQuery?: string; customerId?: string } = {}): ApiKeyRecord[] {
    const out: ApiKeyRecord[] = [];
    for (const { record } of this.keys.values()) {
      if (filter.nameQuery && !record.name.startsWith(filter.nameQuery)) continue;
      if (filter.customerId !== undefined && record.customerId !== filter.customerId) continue;
      out.push(record);
    }
    return out; // a Map iterates in insertion (= creation) order
  }

  /** Position of the key in creation order (for pagination cursors); -1 if unknown. */
  creationOrder(keyId: string): number {
    return this.keys.get(keyId)?.seq ?? -1;
  }

  /** Applies `replace` operations on /enabled, /name, /description, /customerId; all or nothing. */
  updateApiKey(id: string, operations: PatchOperation[]): ApiKeyRecord {
    const entry = this.entry(id);
    const next: ApiKeyRecord = { ...entry.record };
    for (const operation of operations) {
      const { op, path, value } = operation;
      if (op !== 'replace') throw badRequest(`Invalid patch operation specified. Must be 'replace' for path ${String(path)}`);
      if (value !== undefined && typeof value !== 'string') throw badRequest(`Invalid patch value for ${String(path)}: expected a string`);
      switch (path) {
        case '/enabled':
          if (value !== 'true' && value !== 'false') throw badRequest(`Invalid value for /enabled: '${String(value)}'. Must be 'true' or 'false'`);
          next.enabled = value === 'true';
          break;
        case '/name':
          next.name = value ?? '';
          break;
        case '/description':
          if (value) next.description = value;
          else delete next.description;
          break;
        case '/customerId':
          if (value) next.customerId = value;
          else delete next.customerId;
          break;
        default:
          throw badRequest(`Invalid patch path '${String(path)}' specified for op 'replace'. Must be one of: [/enabled, /name, /description, /customerId]`);
      }
    }
    next.lastUpdatedDate = this.now().toISOString();
    // Mutate in place: resolve() hands out this very object and the value index points at the entry.
    Object.assign(entry.record, next);
    if (next.description === undefined) delete entry.record.description;
    if (next.customerId === undefined) delete entry.record.customerId;
    this.keysFile.markDirty();
    return entry.record;
  }

  /** Deletes the key, its usage-plan memberships and its usage. */
  deleteApiKey(id: string): void {
    const entry = this.entry(id);
    for (const planId of entry.plans) this.planKeys.get(planId)?.delete(id);
    this.keys.delete(id);
    this.byValue.delete(entry.record.value);
    const hadUsage = this.usage.delete(id);
    const hadOffsets = this.quotaOffsets.delete(id);
    this.keysFile.markDirty();
    if (hadUsage || hadOffsets) this.usageFile.markDirty();
    for (const listener of this.deleteListeners) listener(id);
  }

  tagApiKey(id: string, tags: Record<string, string>): void {
    const entry = this.entry(id);
    Object.assign(entry.record.tags, tags);
    this.keysFile.markDirty();
  }

  untagApiKey(id: string, tagKeys: string[]): void {
    const entry = this.entry(id);
    for (const key of tagKeys) delete entry.record.tags[key];
    this.keysFile.markDirty();
  }

  /** Called after a key is deleted (the gate drops its token bucket). */
  onApiKeyDeleted(listener: (keyId: string) => void): void {
    this.deleteListeners.push(listener);
  }

  // ------------------------------------------------------------------ usage plans and their keys

  /** All plans (template order), or those holding `keyId`. */
  listUsagePlans(keyId?: string): UsagePlanSpec[] {
    const all = [...this.plans.values()];
    if (keyId === undefined) return all;
    const entry = this.keys.get(keyId);
    return entry ? all.filter((p) => entry.plans.has(p.id)) : [];
  }

  findUsagePlan(id: string): UsagePlanSpec | undefined {
    return this.plans.get(id);
  }

  getUsagePlan(id: string): UsagePlanSpec {
    const plan = this.plans.get(id);
    if (!plan) throw notFound(MESSAGES.usagePlanNotFound);
    return plan;
  }

  /**
   * Adds an API key to a plan. As in AWS, a key can be in several plans but not in two plans that share an API
   * stage (ConflictException): a plan change must delete the old plan's key before creating the new one.
   */
  addUsagePlanKey(planId: string, keyId: string): ApiKeyRecord {
    const plan = this.getUsagePlan(planId);
    const entry = this.entry(keyId);
    if (entry.plans.has(planId)) throw conflict(`API Key ${keyId} is already associated with Usage Plan ${planId}`);
    for (const { apiId, stage } of plan.apiStages) {
      const holder = entry.byStage.get(stageKey(apiId, stage));
      if (holder) {
        throw conflict(`Usage Plan ${planId} cannot be added because API Key ${keyId} cannot reference multiple Usage Plans with the same API Stage: ${apiId}:${stage}`);
      }
    }
    this.link(entry, plan);
    this.keysFile.markDirty();
    return entry.record;
  }

  getUsagePlanKey(planId: string, keyId: string): ApiKeyRecord {
    this.getUsagePlan(planId);
    const entry = this.entry(keyId);
    if (!entry.plans.has(planId)) throw notFound(`Invalid Usage Plan Key identifier specified`);
    return entry.record;
  }

  removeUsagePlanKey(planId: string, keyId: string): void {
    const plan = this.getUsagePlan(planId);
    const entry = this.entry(keyId);
    if (!entry.plans.has(planId)) throw notFound(`Invalid Usage Plan Key identifier specified`);
    entry.plans.delete(planId);
    this.planKeys.get(planId)?.delete(keyId);
    for (const { apiId, stage } of plan.apiStages) {
      const k = stageKey(apiId, stage);
      if (entry.byStage.get(k) === plan) entry.byStage.delete(k);
    }
    this.keysFile.markDirty();
  }

  /** Keys of a plan in creation order; `nameQuery` is a prefix of the key's name. */
  listUsagePlanKeys(planId: string, nameQuery?: string): ApiKeyRecord[] {
    this.getUsagePlan(planId);
    const out: ApiKeyRecord[] = [];
    for (const keyId of this.planKeys.get(planId) ?? []) {
      const record = this.keys.get(keyId)?.record;
      if (record && (!nameQuery || record.name.startsWith(nameQuery))) out.push(record);
    }
    return out.sort((a, b) => this.creationOrder(a.id) - this.creationOrder(b.id));
  }

  // ------------------------------------------------------------------ hot path

  /** O(1): the enabled key with this value and the plan holding it for apiId/stage. */
  resolve(value: string, apiId: string, stage: string): { key: ApiKeyRecord; plan: UsagePlanSpec } | undefined {
    const entry = this.byValue.get(value);
    if (!entry || !entry.record.enabled) return undefined;
    const plan = entry.byStage.get(stageKey(apiId, stage));
    return plan ? { key: entry.record, plan } : undefined;
  }

  /** Counts one request admitted for the key under plan `planId` on the UTC day of `ms`. Unknown keys are ignored. */
  recordRequest(keyId: string, planId: string, ms: number): void {
    if (!this.keys.has(keyId)) return;
    let byPlan = this.usage.get(keyId);
    if (!byPlan) this.usage.set(keyId, (byPlan = new Map()));
    let days = byPlan.get(planId);
    if (!days) byPlan.set(planId, (days = new Map()));
    const day = this.dayKeyOf(ms);
    days.set(day, (days.get(day) ?? 0) + 1);
    this.usageFile.markDirty();
  }

  /**
   * UpdateUsage's adjustment for the key in the plan, in the quota period `periodId`, on the UTC day of `ms`: the
   * number of requests to count as used on top of the admitted ones (negative when more than the limit was granted).
   * 0 without an UpdateUsage. O(1) for keys that never had one.
   */
  quotaOffset(keyId: string, planId: string, periodId: string, ms: number): number {
    const byPlanPeriod = this.quotaOffsets.get(keyId);
    if (!byPlanPeriod) return 0;
    return offsetOn(byPlanPeriod.get(offsetKey(planId, periodId)), this.dayKeyOf(ms));
  }

  /** Requests counted for the key under plan `planId` in [period.start, period.end). At most 31 map lookups. */
  usedInPeriod(keyId: string, planId: string, period: Pick<Period, 'start' | 'end'>): number {
    return this.sumDays(this.usage.get(keyId)?.get(planId), period.start, period.end);
  }

  /** Requests counted for the key on one UTC day (`YYYY-MM-DD`): under plan `planId`, or under every plan without it. */
  usedOnDay(keyId: string, day: string, planId?: string): number {
    const byPlan = this.usage.get(keyId);
    if (!byPlan) return 0;
    if (planId !== undefined) return byPlan.get(planId)?.get(day) ?? 0;
    let sum = 0;
    for (const days of byPlan.values()) sum += days.get(day) ?? 0;
    return sum;
  }

  /**
   * GetUsage's series for one key: one [used, remaining] per UTC day from `startMs` to `endMs` (inclusive), where
   * remaining = quota.limit − requests counted in that day's quota period up to and including that day − the
   * UpdateUsage offset in force that day (never below 0). Usage is per usage plan key: requests the key made under
   * another plan are not in this plan's series or quota. Without a quota, remaining is 0.
   */
  usageSeries(plan: UsagePlanSpec, keyId: string, startMs: number, endMs: number): DailyUsage[] {
    const days = this.usage.get(keyId)?.get(plan.id);
    const out: DailyUsage[] = [];
    const offsets = this.quotaOffsets.get(keyId);
    let period: Period | undefined;
    let steps: OffsetSteps | undefined;
    let cumulative = 0;
    for (let d = dayStart(startMs); d <= endMs; d += DAY_MS) {
      const day = dayKey(d);
      const used = days?.get(day) ?? 0;
      if (!plan.quota) {
        out.push([used, 0]);
        continue;
      }
      if (!period || d >= period.end) {
        period = periodOf(plan.quota.period, d);
        cumulative = this.sumDays(days, period.start, d);
        steps = offsets?.get(offsetKey(plan.id, period.id));
      }
      cumulative += used;
      out.push([used, Math.max(0, plan.quota.limit - cumulative - offsetOn(steps, day))]);
    }
    return out;
  }

  /**
   * UpdateUsage: `replace` on `/remaining` sets the key's remaining quota in the plan for the current quota period
   * (a temporary grant: the next period starts afresh). Stored as an offset, limit − remaining − used so far, counted
   * as used from today to the end of the period, so the gate and GetUsage agree. Operations are validated first and
   * applied in order (the last one wins); with none, nothing changes. Answers the key's usage from the start of the
   * current quota period to today (today only for a plan without a quota).
   */
  updateUsage(planId: string, keyId: string, operations: PatchOperation[]): KeyUsageReport {
    const plan = this.getUsagePlan(planId);
    const entry = this.entry(keyId);
    if (!entry.plans.has(planId)) throw notFound('Invalid Usage Plan Key identifier specified');
    let remaining: number | undefined;
    for (const { op, path, value } of operations) {
      if (path !== '/remaining') {
        throw badRequest(`Invalid patch path '${String(path)}' specified for op '${String(op)}'. Must be one of: [/remaining]`);
      }
      if (op !== 'replace') throw badRequest(`Invalid patch operation '${String(op)}' specified for path /remaining. Must be 'replace'`);
      if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(Number(value))) {
        throw badRequest(`Invalid value '${String(value)}' for /remaining: must be a non-negative integer`);
      }
      remaining = Number(value);
    }
    const ms = this.now().getTime();
    if (!plan.quota) {
      if (remaining !== undefined) throw badRequest(`Usage Plan ${planId} has no quota, so there is no remaining quota to replace`);
      return { startDate: dayKey(ms), endDate: dayKey(ms), items: this.usageSeries(plan, keyId, ms, ms) };
    }
    const period = periodOf(plan.quota.period, ms);
    if (remaining !== undefined) {
      const offset = plan.quota.limit - remaining - this.usedInPeriod(keyId, planId, period);
      let byPlanPeriod = this.quotaOffsets.get(keyId);
      if (!byPlanPeriod) this.quotaOffsets.set(keyId, (byPlanPeriod = new Map()));
      const k = offsetKey(planId, period.id);
      let steps = byPlanPeriod.get(k);
      if (!steps) byPlanPeriod.set(k, (steps = new Map()));
      steps.set(this.dayKeyOf(ms), offset);
      this.usageFile.markDirty();
    }
    return { startDate: dayKey(period.start), endDate: dayKey(ms), items: this.usageSeries(plan, keyId, period.start, ms) };
  }

  // ------------------------------------------------------------------ persistence

  /** Writes pending changes now. */
  async flush(): Promise<void> {
    await Promise.all([this.keysFile.flush(), this.usageFile.flush()]);
  }

  /**
   * Resolves once every change made so far to keys, memberships, tags and UpdateUsage offsets is on disk: the control
   * plane awaits it before answering a write 2xx. Per-request usage counts (recordRequest) ride along when pending but
   * are otherwise written debounced: the data plane's counting is best-effort in AWS too.
   */
  async commit(): Promise<void> {
    await Promise.all([this.keysFile.save(), this.usageFile.save()]);
  }

  // ------------------------------------------------------------------ internals

  private entry(keyId: string): KeyEntry {
    const entry = this.keys.get(keyId);
    if (!entry) throw notFound(MESSAGES.apiKeyNotFound);
    return entry;
  }

  private link(entry: KeyEntry, plan: UsagePlanSpec): void {
    entry.plans.add(plan.id);
    this.planKeys.get(plan.id)?.add(entry.record.id);
    for (const { apiId, stage } of plan.apiStages) entry.byStage.set(stageKey(apiId, stage), plan);
  }

  private dayKeyOf(ms: number): string {
    const start = dayStart(ms);
    if (start !== this.lastDay.start) this.lastDay = { start, key: dayKey(start) };
    return this.lastDay.key;
  }

  private sumDays(days: Map<string, number> | undefined, startMs: number, endMs: number): number {
    if (!days || days.size === 0) return 0;
    let sum = 0;
    for (let d = startMs; d < endMs; d += DAY_MS) sum += days.get(dayKey(d)) ?? 0;
    return sum;
  }

  private keysSnapshot(): KeysFile {
    const planKeys: Record<string, string[]> = {};
    for (const [planId, keyIds] of this.planKeys) if (keyIds.size > 0) planKeys[planId] = [...keyIds];
    return { version: 1, keys: [...this.keys.values()].map((e) => e.record), planKeys };
  }

  private usageSnapshot(): UsageFile {
    const usage: Record<string, Record<string, Record<string, number>>> = {};
    for (const [keyId, byPlan] of this.usage) {
      usage[keyId] = Object.fromEntries([...byPlan].map(([planId, days]) => [planId, Object.fromEntries(days)]));
    }
    const snapshot: UsageFile = { version: 2, usage };
    if (this.quotaOffsets.size > 0) {
      const quotaOffsets: NonNullable<UsageFile['quotaOffsets']> = {};
      for (const [keyId, byPlanPeriod] of this.quotaOffsets) {
        const byPlan: Record<string, Record<string, Record<string, number>>> = (quotaOffsets[keyId] = {});
        for (const [k, steps] of byPlanPeriod) {
          const [planId = '', periodId = ''] = k.split('\u0000');
          (byPlan[planId] ??= {})[periodId] = Object.fromEntries(steps);
        }
      }
      snapshot.quotaOffsets = quotaOffsets;
    }
    return snapshot;
  }

  private async load(retentionDays: number): Promise<void> {
    const keysPath = join(this.stateDir, 'keys.json');
    const keysData = (await readJsonFile(keysPath)) as Partial<KeysFile> | undefined;
    if (keysData !== undefined) {
      if (!isObject(keysData) || !Array.isArray(keysData.keys)) throw new Error(`apigateway: ${keysPath} is not a keys file`);
      for (const raw of keysData.keys) {
        if (!isObject(raw) || typeof raw.id !== 'string' || typeof raw.value !== 'string') {
          this.log(`skipping a malformed key in ${keysPath}`);
          continue;
        }
        const record: ApiKeyRecord = { ...(raw as ApiKeyRecord), tags: isObject(raw.tags) ? { ...(raw.tags as Record<string, string>) } : {} };
        const entry: KeyEntry = { record, seq: this.nextSeq++, plans: new Set(), byStage: new Map() };
        this.keys.set(record.id, entry);
        this.byValue.set(record.value, entry);
      }
      for (const [planId, keyIds] of Object.entries(isObject(keysData.planKeys) ? keysData.planKeys : {})) {
        const plan = this.plans.get(planId);
        if (!plan) {
          this.log(`usage plan ${planId} is no longer in the template; dropping its ${keyIds.length} key(s)`);
          continue;
        }
        for (const keyId of keyIds) {
          const entry = this.keys.get(keyId);
          if (!entry) continue;
          const clash = plan.apiStages.find(({ apiId, stage }) => entry.byStage.has(stageKey(apiId, stage)));
          if (clash) {
            this.log(`key ${keyId} would be in two plans for ${clash.apiId}:${clash.stage}; dropping it from ${planId}`);
            continue;
          }
          this.link(entry, plan);
        }
      }
    }

    const usagePath = join(this.stateDir, 'usage.json');
    const usageData = (await readJsonFile(usagePath)) as Partial<UsageFile> | undefined;
    if (usageData !== undefined) {
      if (!isObject(usageData) || !isObject(usageData.usage)) throw new Error(`apigateway: ${usagePath} is not a usage file`);
      const oldest = dayKey(this.now().getTime() - retentionDays * DAY_MS);
      const readDays = (days: unknown): Map<string, number> => {
        const map = new Map<string, number>();
        for (const [day, count] of Object.entries(isObject(days) ? days : {})) {
          if (day >= oldest && typeof count === 'number' && count > 0) map.set(day, count);
        }
        return map;
      };
      for (const [keyId, data] of Object.entries(usageData.usage)) {
        const entry = this.keys.get(keyId);
        if (!entry || !isObject(data)) continue;
        const byPlan: UsageByPlan = new Map();
        if (usageData.version === 2) {
          for (const [planId, days] of Object.entries(data)) {
            const map = readDays(days);
            if (this.plans.has(planId) && map.size > 0) byPlan.set(planId, map);
          }
        } else {
          const [planId] = entry.plans;
          const map = readDays(data);
          if (planId !== undefined && map.size > 0) byPlan.set(planId, map);
        }
        if (byPlan.size > 0) this.usage.set(keyId, byPlan);
      }
      this.loadQuotaOffsets(usageData.quotaOffsets, oldest);
    }
  }

  /** UpdateUsage offsets of known keys and plans, from days within the retention. Malformed entries are skipped. */
  private loadQuotaOffsets(data: unknown, oldest: string): void {
    if (!isObject(data)) return;
    for (const [keyId, byPlan] of Object.entries(data)) {
      if (!this.keys.has(keyId) || !isObject(byPlan)) continue;
      const byPlanPeriod = new Map<string, OffsetSteps>();
      for (const [planId, byPeriod] of Object.entries(byPlan)) {
        if (!this.plans.has(planId) || !isObject(byPeriod)) continue;
        for (const [periodId, byDay] of Object.entries(byPeriod)) {
          if (!PERIOD_ID.test(periodId) || !isObject(byDay)) continue;
          const steps: OffsetSteps = new Map();
          for (const [day, offset] of Object.entries(byDay)) {
            if (day >= oldest && parseDayKey(day) !== undefined && Number.isSafeInteger(offset)) steps.set(day, offset as number);
          }
          if (steps.size > 0) byPlanPeriod.set(offsetKey(planId, periodId), steps);
        }
      }
      if (byPlanPeriod.size > 0) this.quotaOffsets.set(keyId, byPlanPeriod);
    }
  }
}

/** The offset in force on `day`: the one set on the latest day not after it (steps are few: one per UpdateUsage day). */
function offsetOn(steps: OffsetSteps | undefined, day: string): number {
  if (!steps) return 0;
  let best: string | undefined;
  let offset = 0;
  for (const [from, value] of steps) {
    if (from <= day && (best === undefined || from > best)) {
      best = from;
      offset = value;
    }
  }
  return offset;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
