/**
 * IAM identity-based policy evaluation for the offline stack: one principal's policies, one request (action,
 * resource ARN, context keys) → `Allow`, `ImplicitDeny` or `ExplicitDeny`.
 *
 * Own code, not a library: the only maintained JavaScript evaluator (@cloud-copilot/iam-simulate) is AGPL-3.0, which
 * this MIT project cannot take; identity policies of one role need only the small part below.
 *
 * Rules (IAM User Guide, "Policy evaluation logic" — https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html):
 * - an explicit Deny in any statement that matches wins; else an Allow that matches allows; else implicit deny.
 * - Action / NotAction: `service:Name` matched case-insensitively, `*` and `?` wildcards
 *   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_action.html).
 * - Resource / NotResource: `*`, or an ARN matched component by component (partition, service, region, account,
 *   resource), case-sensitively, `*` / `?` within a component; the resource component may hold `:` and `/`
 *   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html).
 * - Condition: every operator in a block must hold (AND), every key of an operator (AND), any value of a key (OR);
 *   `...IfExists` holds when the key is absent; `ForAllValues:` / `ForAnyValue:` for multivalued keys; `Null`
 *   (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).
 *   An operator outside {@link CONDITION_OPERATORS} throws {@link PolicyError} when the policy is checked
 *   ({@link checkPolicyDocument}), so a template that uses one fails at load instead of being evaluated wrongly.
 */

export type Effect = 'Allow' | 'Deny';
export type Decision = 'Allow' | 'ImplicitDeny' | 'ExplicitDeny';

export interface Statement {
  Sid?: string;
  Effect: Effect;
  Action?: string | string[];
  NotAction?: string | string[];
  Resource?: string | string[];
  NotResource?: string | string[];
  Condition?: Record<string, Record<string, unknown>>;
}

export interface PolicyDocument {
  Version?: string;
  Statement: Statement | Statement[];
}

/** A request as IAM sees it: `service:Action`, the resource ARN (or `*`), and the request's context keys. */
export interface AuthzRequest {
  action: string;
  resource: string;
  /** Context keys (`aws:PrincipalArn`, `aws:RequestedRegion`, ...): case-insensitive names, string or string[] values. */
  context?: Record<string, string | string[] | undefined>;
}

export class PolicyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'PolicyError';
  }
}

const list = (v: string | string[] | undefined): string[] => (v === undefined ? [] : Array.isArray(v) ? v : [v]);

export function statementsOf(doc: PolicyDocument): Statement[] {
  return Array.isArray(doc.Statement) ? doc.Statement : [doc.Statement];
}

/** `*` (any run of characters) and `?` (one character) glob → RegExp. */
function globRegExp(pattern: string, flags: string): RegExp {
  const body = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  return new RegExp(`^${body}$`, flags);
}

const globCache = new Map<string, RegExp>();
function globMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  const key = `${ignoreCase ? 'i' : 's'}${pattern}`;
  let re = globCache.get(key);
  if (!re) {
    re = globRegExp(pattern, ignoreCase ? 'si' : 's');
    globCache.set(key, re);
  }
  return re.test(value);
}

/** Whether an Action element entry (`dynamodb:Get*`, `*`) covers an action (`dynamodb:GetItem`). */
export function actionMatches(pattern: string, action: string): boolean {
  return pattern === '*' || globMatch(pattern, action, true);
}

/** The six components of an ARN (the last keeps any further `:`), or undefined when it is not one. */
function arnParts(arn: string): string[] | undefined {
  const parts = arn.split(':');
  if (parts.length < 6 || parts[0] !== 'arn') return undefined;
  return [...parts.slice(0, 5), parts.slice(5).join(':')];
}

/** ArnLike: component-wise glob, case-sensitive; `*` alone matches any resource. */
export function arnMatches(pattern: string, arn: string): boolean {
  if (pattern === '*') return true;
  const p = arnParts(pattern);
  const a = arnParts(arn);
  if (!p || !a) return !pattern.startsWith('arn:') && globMatch(pattern, arn, false);
  return p.every((part, i) => globMatch(part, a[i]!, false));
}

/* ------------------------------------------------------------------ conditions */

type Values = string[];
type Comparator = (actual: string, expected: string) => boolean;

const num = (s: string): number => (/^-?\d+(\.\d+)?$/.test(s.trim()) ? Number(s) : Number.NaN);
const date = (s: string): number => (/^\d+$/.test(s) ? Number(s) * 1000 : Date.parse(s));

/** The condition operators this evaluator knows (base names; `IfExists` and `ForAllValues:` / `ForAnyValue:` apply). */
export const CONDITION_OPERATORS: Readonly<Record<string, { compare: Comparator; negated: boolean }>> = {
  StringEquals: { compare: (a, e) => a === e, negated: false },
  StringNotEquals: { compare: (a, e) => a === e, negated: true },
  StringEqualsIgnoreCase: { compare: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
  StringNotEqualsIgnoreCase: { compare: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: true },
  StringLike: { compare: (a, e) => globMatch(e, a, false), negated: false },
  StringNotLike: { compare: (a, e) => globMatch(e, a, false), negated: true },
  NumericEquals: { compare: (a, e) => num(a) === num(e), negated: false },
  NumericNotEquals: { compare: (a, e) => num(a) === num(e), negated: true },
  NumericLessThan: { compare: (a, e) => num(a) < num(e), negated: false },
  NumericLessThanEquals: { compare: (a, e) => num(a) <= num(e), negated: false },
  NumericGreaterThan: { compare: (a, e) => num(a) > num(e), negated: false },
  NumericGreaterThanEquals: { compare: (a, e) => num(a) >= num(e), negated: false },
  DateEquals: { compare: (a, e) => date(a) === date(e), negated: false },
  DateNotEquals: { compare: (a, e) => date(a) === date(e), negated: true },
  DateLessThan: { compare: (a, e) => date(a) < date(e), negated: false },
  DateLessThanEquals: { compare: (a, e) => date(a) <= date(e), negated: false },
  DateGreaterThan: { compare: (a, e) => date(a) > date(e), negated: false },
  DateGreaterThanEquals: { compare: (a, e) => date(a) >= date(e), negated: false },
  Bool: { compare: (a, e) => a.toLowerCase() === e.toLowerCase(), negated: false },
  ArnEquals: { compare: (a, e) => arnMatches(e, a), negated: false },
  ArnLike: { compare: (a, e) => arnMatches(e, a), negated: false },
  ArnNotEquals: { compare: (a, e) => arnMatches(e, a), negated: true },
  ArnNotLike: { compare: (a, e) => arnMatches(e, a), negated: true },
};

interface ParsedOperator {
  set?: 'ForAllValues' | 'ForAnyValue';
  base: string;
  ifExists: boolean;
}

function parseOperator(raw: string): ParsedOperator {
  let rest = raw;
  let set: ParsedOperator['set'];
  const colon = rest.indexOf(':');
  if (colon >= 0) {
    const prefix = rest.slice(0, colon);
    if (prefix !== 'ForAllValues' && prefix !== 'ForAnyValue') throw new PolicyError(`unknown condition set operator '${prefix}' in '${raw}'`);
    set = prefix;
    rest = rest.slice(colon + 1);
  }
  let ifExists = false;
  if (rest.endsWith('IfExists')) {
    ifExists = true;
    rest = rest.slice(0, -'IfExists'.length);
  }
  if (rest !== 'Null' && !(rest in CONDITION_OPERATORS)) {
    throw new PolicyError(`the condition operator '${raw}' is not supported by the offline IAM evaluator (known: ${[...Object.keys(CONDITION_OPERATORS), 'Null'].join(', ')})`);
  }
  if (rest === 'Null' && (ifExists || set)) throw new PolicyError(`'${raw}' is not a valid condition operator`);
  return { ...(set ? { set } : {}), base: rest, ifExists };
}

function contextValue(context: AuthzRequest['context'], key: string): Values | undefined {
  if (!context) return undefined;
  const lower = key.toLowerCase();
  for (const [k, v] of Object.entries(context)) {
    if (k.toLowerCase() === lower && v !== undefined) return Array.isArray(v) ? v : [v];
  }
  return undefined;
}

const expectedValues = (v: unknown): string[] => (Array.isArray(v) ? v : [v]).map((x) => String(x));

function conditionHolds(operator: string, block: Record<string, unknown>, context: AuthzRequest['context']): boolean {
  const op = parseOperator(operator);
  for (const [key, raw] of Object.entries(block)) {
    const expected = expectedValues(raw);
    const actual = contextValue(context, key);
    if (op.base === 'Null') {
      // "true": the key must be absent; "false": present.
      const wantAbsent = expected.some((e) => e.toLowerCase() === 'true');
      if ((actual === undefined) !== wantAbsent) return false;
      continue;
    }
    const { compare, negated } = CONDITION_OPERATORS[op.base]!;
    if (actual === undefined || actual.length === 0) {
      if (op.ifExists) continue;
      // ForAllValues over an absent key is vacuously true; anything else on an absent key fails (negated ones too).
      if (op.set === 'ForAllValues') continue;
      return false;
    }
    const matchesOne = (a: string): boolean => {
      const any = expected.some((e) => compare(a, e));
      return negated ? !any : any;
    };
    const ok = op.set === 'ForAllValues' ? actual.every(matchesOne) : actual.some(matchesOne);
    if (!ok) return false;
  }
  return true;
}

/* ------------------------------------------------------------------ statements */

/** `${aws:username}`-style policy variables in a Resource, from the request context; `${*}`, `${?}`, `${$}` escapes. */
function substituteVariables(pattern: string, context: AuthzRequest['context']): string {
  if (!pattern.includes('${')) return pattern;
  return pattern.replace(/\$\{([^}]+)\}/g, (_whole, name: string) => {
    if (name === '*' || name === '?' || name === '$') return `\uE000${name}`;
    const v = contextValue(context, name);
    // An unresolved variable matches nothing (IAM: "the variable is replaced ... if the key is not present, the
    // statement does not match").
    return v?.[0] ?? '\uE001';
  });
}

const unescape = (s: string): string => s.replace(/\uE000(.)/g, '$1');

function resourceMatches(pattern: string, request: AuthzRequest): boolean {
  const substituted = substituteVariables(pattern, request.context);
  if (substituted.includes('\uE001')) return false;
  if (substituted.includes('\uE000')) return unescape(substituted) === request.resource || arnMatches(unescape(substituted), request.resource);
  return arnMatches(substituted, request.resource);
}

/** Whether a statement applies to the request (its Action/Resource and Condition), whatever its Effect. */
export function statementMatches(s: Statement, request: AuthzRequest): boolean {
  const actionOk = s.Action !== undefined ? list(s.Action).some((p) => actionMatches(p, request.action)) : !list(s.NotAction).some((p) => actionMatches(p, request.action));
  if (!actionOk) return false;
  const resourceOk =
    s.Resource !== undefined ? list(s.Resource).some((p) => resourceMatches(p, request)) : !list(s.NotResource).some((p) => resourceMatches(p, request));
  if (!resourceOk) return false;
  for (const [operator, block] of Object.entries(s.Condition ?? {})) {
    if (!conditionHolds(operator, block, request.context)) return false;
  }
  return true;
}

/** Throws PolicyError for a statement this evaluator cannot judge exactly (malformed, or an unknown operator). */
export function checkPolicyDocument(doc: PolicyDocument, where: string): void {
  if (!doc || typeof doc !== 'object' || doc.Statement === undefined) throw new PolicyError(`${where}: a policy document needs a Statement`);
  for (const [i, s] of statementsOf(doc).entries()) {
    const at = `${where}, statement ${s.Sid ?? i}`;
    if (s.Effect !== 'Allow' && s.Effect !== 'Deny') throw new PolicyError(`${at}: Effect must be Allow or Deny, not ${JSON.stringify(s.Effect)}`);
    if ((s.Action === undefined) === (s.NotAction === undefined)) throw new PolicyError(`${at}: exactly one of Action and NotAction is needed`);
    if ((s.Resource === undefined) === (s.NotResource === undefined)) throw new PolicyError(`${at}: exactly one of Resource and NotResource is needed`);
    for (const a of [...list(s.Action), ...list(s.NotAction)]) {
      if (typeof a !== 'string' || (a !== '*' && !/^[a-z0-9-]+:[A-Za-z0-9*?]+$/.test(a))) throw new PolicyError(`${at}: '${String(a)}' is not an action`);
    }
    for (const r of [...list(s.Resource), ...list(s.NotResource)]) {
      if (typeof r !== 'string') throw new PolicyError(`${at}: a resource must be a string (unresolved intrinsic?): ${JSON.stringify(r)}`);
    }
    for (const [operator, block] of Object.entries(s.Condition ?? {})) {
      parseOperator(operator);
      if (!block || typeof block !== 'object') throw new PolicyError(`${at}: condition ${operator} needs a block of keys`);
    }
  }
}

/** A matching statement, for explaining a decision: which policy and statement allowed or denied. */
export interface StatementRef {
  policy: string;
  index: number;
  statement: Statement;
}

export interface Evaluation {
  decision: Decision;
  /** Statements whose effect decided: the Deny ones for ExplicitDeny, the Allow ones for Allow, none otherwise. */
  matched: StatementRef[];
}

/** Evaluates a request against named identity policies (IAM's identity-policy evaluation within one account). */
export function evaluate(policies: readonly { name: string; document: PolicyDocument }[], request: AuthzRequest): Evaluation {
  const allows: StatementRef[] = [];
  const denies: StatementRef[] = [];
  for (const p of policies) {
    for (const [index, statement] of statementsOf(p.document).entries()) {
      if (!statementMatches(statement, request)) continue;
      (statement.Effect === 'Deny' ? denies : allows).push({ policy: p.name, index, statement });
    }
  }
  if (denies.length) return { decision: 'ExplicitDeny', matched: denies };
  if (allows.length) return { decision: 'Allow', matched: allows };
  return { decision: 'ImplicitDeny', matched: [] };
}
