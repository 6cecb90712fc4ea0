/**
 * Reads template.yaml (CloudFormation + SAM) and resolves intrinsic functions. The one reader of the template:
 * the offline stack, the build, `npm run validate` and the wiring tests all go through it, so nothing is declared
 * twice. Anything it does not understand is an error that names the construct — never a silent guess.
 */
import { readFileSync } from 'node:fs';
import { parse, type Tags, type YAMLMap, type YAMLSeq } from 'yaml';

export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
export type JsonObject = { [key: string]: Json };

export interface Template {
  Parameters?: Record<string, { Type: string; Default?: Json; AllowedValues?: Json[]; AllowedPattern?: string }>;
  Conditions?: Record<string, Json>;
  Mappings?: Record<string, Record<string, Record<string, Json>>>;
  Globals?: { Function?: JsonObject; Api?: JsonObject; StateMachine?: JsonObject };
  Resources: Record<
    string,
    { Type: string; Condition?: string; Properties?: JsonObject; Metadata?: JsonObject; DependsOn?: Json; DeletionPolicy?: string; UpdateReplacePolicy?: string }
  >;
  Outputs?: Record<string, { Value: Json; Description?: string; Condition?: string }>;
}

export class TemplateError extends Error {
  override name = 'TemplateError';
}

/* ------------------------------------------------------------------ parsing */

const INTRINSICS = ['Ref', 'Condition', 'Base64', 'Cidr', 'FindInMap', 'GetAZs', 'ImportValue', 'Join', 'Select', 'Split', 'Sub', 'Transform', 'If', 'Equals', 'Not', 'And', 'Or', 'GetAtt', 'ToJsonString', 'Length'];

function longName(tag: string): string {
  return tag === 'Ref' || tag === 'Condition' ? tag : `Fn::${tag}`;
}

const customTags: Tags = INTRINSICS.flatMap((tag) => {
  const name = longName(tag);
  const build = (value: unknown) => {
    if (tag === 'GetAtt' && typeof value === 'string') {
      const dot = value.indexOf('.');
      if (dot < 0) throw new TemplateError(`!GetAtt ${value}: expected Resource.Attribute`);
      return { [name]: [value.slice(0, dot), value.slice(dot + 1)] };
    }
    return { [name]: value };
  };
  return [
    { tag: `!${tag}`, resolve: (value: string) => build(value), identify: () => false },
    {
      tag: `!${tag}`,
      collection: 'seq' as const,
      resolve: (seq: YAMLMap.Parsed | YAMLSeq.Parsed) => build(seq.toJSON()),
      identify: () => false,
    },
    {
      tag: `!${tag}`,
      collection: 'map' as const,
      resolve: (map: YAMLMap.Parsed | YAMLSeq.Parsed) => build(map.toJSON()),
      identify: () => false,
    },
  ];
});

export function parseTemplate(text: string): Template {
  const doc = parse(text, { customTags, maxAliasCount: -1 }) as Template | null;
  if (!doc || typeof doc !== 'object' || !doc.Resources) throw new TemplateError('template has no Resources');
  return doc;
}

export function loadTemplate(path: string): Template {
  return parseTemplate(readFileSync(path, 'utf8'));
}

/* ------------------------------------------------------------------ resolving */

export interface ResolveContext {
  /** Parameter values (defaults applied, overrides merged) and pseudo parameters (AWS::Region …). */
  parameters: Record<string, string>;
  /** Evaluated conditions. */
  conditions: Record<string, boolean>;
  /** Physical id (what !Ref returns) of a resource; throws for an unknown one. */
  ref(logicalId: string): string;
  /** !GetAtt value; throws for an unknown resource or attribute. */
  getAtt(logicalId: string, attribute: string): string;
  mappings?: Template['Mappings'];
}

/** Marker for AWS::NoValue: removed from the enclosing object or list. */
const NO_VALUE = Symbol('AWS::NoValue');

/** True for the value of `!Ref AWS::NoValue` (only seen when resolving a single value, not inside objects). */
export function isNoValue(value: unknown): boolean {
  return value === NO_VALUE;
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function asString(value: unknown, where: string): string {
  if (typeof value === 'string') return value;
  if (typeof value === 'number' || typeof value === 'boolean') return String(value);
  throw new TemplateError(`${where}: expected a string, got ${JSON.stringify(value)}`);
}

function refValue(name: string, ctx: ResolveContext): string | typeof NO_VALUE {
  if (name === 'AWS::NoValue') return NO_VALUE;
  if (name in ctx.parameters) return ctx.parameters[name] as string;
  // SAM: !Ref MyApi.Stage is the stage name, !Ref MyFunction.Alias, …
  return ctx.ref(name);
}

function substitute(template: string, vars: Record<string, unknown>, ctx: ResolveContext): string {
  return template.replace(/\$\{([^}]+)\}/g, (whole, expr: string) => {
    if (expr.startsWith('!')) return `\${${expr.slice(1)}}`; // ${!Literal}
    const name = expr.trim();
    if (name in vars) return asString(vars[name], `Fn::Sub \${${name}}`);
    const dot = name.indexOf('.');
    if (dot > 0 && !(name in ctx.parameters)) {
      const logicalId = name.slice(0, dot);
      const attribute = name.slice(dot + 1);
      // `${Api.Stage}`-style SAM refs are refs, not attributes.
      if (attribute === 'Stage') return asString(refValue(name, ctx), `Fn::Sub ${whole}`);
      return ctx.getAtt(logicalId, attribute);
    }
    const value = refValue(name, ctx);
    if (value === NO_VALUE) throw new TemplateError(`Fn::Sub cannot use AWS::NoValue`);
    return value;
  });
}

function evalIntrinsic(key: string, arg: unknown, ctx: ResolveContext): unknown {
  const r = (v: unknown) => resolveValue(v, ctx);
  switch (key) {
    case 'Ref':
      return refValue(asString(arg, 'Ref'), ctx);
    case 'Fn::GetAtt': {
      const parts = Array.isArray(arg) ? arg.map((p) => asString(r(p), 'Fn::GetAtt')) : asString(arg, 'Fn::GetAtt').split('.');
      const [logicalId, ...rest] = parts;
      if (!logicalId || rest.length === 0) throw new TemplateError(`Fn::GetAtt ${JSON.stringify(arg)}: expected [Resource, Attribute]`);
      return ctx.getAtt(logicalId, rest.join('.'));
    }
    case 'Fn::Sub': {
      if (typeof arg === 'string') return substitute(arg, {}, ctx);
      if (Array.isArray(arg) && typeof arg[0] === 'string' && isObject(arg[1])) {
        const vars = Object.fromEntries(Object.entries(arg[1]).map(([k, v]) => [k, r(v)]));
        return substitute(arg[0], vars, ctx);
      }
      throw new TemplateError(`Fn::Sub: unsupported form ${JSON.stringify(arg)}`);
    }
    case 'Fn::Join': {
      if (!Array.isArray(arg) || arg.length !== 2) throw new TemplateError('Fn::Join: expected [delimiter, list]');
      const list = r(arg[1]);
      if (!Array.isArray(list)) throw new TemplateError('Fn::Join: second argument must be a list');
      return list.map((v) => asString(v, 'Fn::Join')).join(asString(arg[0], 'Fn::Join'));
    }
    case 'Fn::Select': {
      if (!Array.isArray(arg) || arg.length !== 2) throw new TemplateError('Fn::Select: expected [index, list]');
      const list = r(arg[1]);
      const index = Number(r(arg[0]));
      if (!Array.isArray(list) || !(index >= 0 && index < list.length)) throw new TemplateError('Fn::Select: index out of range');
      return list[index];
    }
    case 'Fn::Split': {
      if (!Array.isArray(arg) || arg.length !== 2) throw new TemplateError('Fn::Split: expected [delimiter, string]');
      return asString(r(arg[1]), 'Fn::Split').split(asString(arg[0], 'Fn::Split'));
    }
    case 'Fn::If': {
      if (!Array.isArray(arg) || arg.length !== 3) throw new TemplateError('Fn::If: expected [condition, then, else]');
      const name = asString(arg[0], 'Fn::If');
      if (!(name in ctx.conditions)) throw new TemplateError(`Fn::If: unknown condition ${name}`);
      return r(ctx.conditions[name] ? arg[1] : arg[2]);
    }
    case 'Fn::Equals': {
      if (!Array.isArray(arg) || arg.length !== 2) throw new TemplateError('Fn::Equals: expected two values');
      return JSON.stringify(r(arg[0])) === JSON.stringify(r(arg[1])) || String(r(arg[0])) === String(r(arg[1]));
    }
    case 'Fn::Not':
      if (!Array.isArray(arg) || arg.length !== 1) throw new TemplateError('Fn::Not: expected one condition');
      return !evalCondition(arg[0], ctx);
    case 'Fn::And':
      if (!Array.isArray(arg)) throw new TemplateError('Fn::And: expected a list');
      return arg.every((c) => evalCondition(c, ctx));
    case 'Fn::Or':
      if (!Array.isArray(arg)) throw new TemplateError('Fn::Or: expected a list');
      return arg.some((c) => evalCondition(c, ctx));
    case 'Condition': {
      const name = asString(arg, 'Condition');
      if (!(name in ctx.conditions)) throw new TemplateError(`Condition: unknown condition ${name}`);
      return ctx.conditions[name];
    }
    case 'Fn::FindInMap': {
      if (!Array.isArray(arg) || arg.length !== 3) throw new TemplateError('Fn::FindInMap: expected [map, key, key]');
      const [m, k1, k2] = arg.map((v) => asString(r(v), 'Fn::FindInMap'));
      const value = ctx.mappings?.[m as string]?.[k1 as string]?.[k2 as string];
      if (value === undefined) throw new TemplateError(`Fn::FindInMap: ${m}.${k1}.${k2} not found`);
      return value;
    }
    case 'Fn::Base64':
      return Buffer.from(asString(r(arg), 'Fn::Base64')).toString('base64');
    case 'Fn::ToJsonString':
      return JSON.stringify(r(arg));
    default:
      throw new TemplateError(`intrinsic function ${key} is not supported by the offline stack`);
  }
}

function evalCondition(value: unknown, ctx: ResolveContext): boolean {
  const result = resolveValue(value, ctx);
  if (typeof result !== 'boolean') throw new TemplateError(`condition did not evaluate to a boolean: ${JSON.stringify(value)}`);
  return result;
}

/** Resolves every intrinsic in a value; AWS::NoValue entries are dropped. */
export function resolveValue(value: unknown, ctx: ResolveContext): unknown {
  if (Array.isArray(value)) {
    return value.map((v) => resolveValue(v, ctx)).filter((v) => v !== NO_VALUE);
  }
  if (!isObject(value)) return value;
  const keys = Object.keys(value);
  if (keys.length === 1) {
    const key = keys[0] as string;
    if (key === 'Ref' || key === 'Condition' || key.startsWith('Fn::')) return evalIntrinsic(key, value[key], ctx);
  }
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const resolved = resolveValue(v, ctx);
    if (resolved !== NO_VALUE) out[k] = resolved;
  }
  return out;
}

/**
 * Parameter values: defaults, then overrides (validated against the type, AllowedValues and AllowedPattern, which
 * CloudFormation matches against the whole value: "Parameters" in the CloudFormation User Guide).
 */
export function resolveParameters(template: Template, overrides: Record<string, string> = {}): Record<string, string> {
  const declared = template.Parameters ?? {};
  for (const name of Object.keys(overrides)) {
    if (!(name in declared)) throw new TemplateError(`parameter override ${name} is not a template parameter`);
  }
  const values: Record<string, string> = {};
  for (const [name, spec] of Object.entries(declared)) {
    const raw = overrides[name] ?? (spec.Default === undefined ? undefined : String(spec.Default));
    if (raw === undefined) throw new TemplateError(`parameter ${name} has no default and no value`);
    if (spec.Type === 'Number' && !Number.isFinite(Number(raw))) throw new TemplateError(`parameter ${name} must be a number, got ${raw}`);
    if (spec.AllowedValues && !spec.AllowedValues.map(String).includes(raw)) {
      throw new TemplateError(`parameter ${name}=${raw} is not one of ${spec.AllowedValues.join(', ')}`);
    }
    if (spec.AllowedPattern !== undefined && !new RegExp(`^(?:${spec.AllowedPattern})$`).test(raw)) {
      throw new TemplateError(`parameter ${name}=${raw} does not match its AllowedPattern ${spec.AllowedPattern}`);
    }
    values[name] = raw;
  }
  return values;
}

export function pseudoParameters(opts: { region: string; accountId: string; stackName: string }): Record<string, string> {
  return {
    'AWS::Region': opts.region,
    'AWS::AccountId': opts.accountId,
    'AWS::StackName': opts.stackName,
    'AWS::StackId': `arn:aws:cloudformation:${opts.region}:${opts.accountId}:stack/${opts.stackName}/00000000-0000-0000-0000-000000000000`,
    'AWS::Partition': 'aws',
    'AWS::URLSuffix': 'amazonaws.com',
  };
}

export function evaluateConditions(template: Template, ctx: Omit<ResolveContext, 'conditions'>): Record<string, boolean> {
  const conditions: Record<string, boolean> = {};
  const pending = new Set(Object.keys(template.Conditions ?? {}));
  const evaluating = new Set<string>();
  const full: ResolveContext = {
    ...ctx,
    conditions: new Proxy(conditions, {
      has: (_t, name) => typeof name === 'string' && (name in conditions || pending.has(name)),
      get: (_t, name) => {
        if (typeof name !== 'string') return undefined;
        if (!(name in conditions)) evaluate(name);
        return conditions[name];
      },
    }),
  };
  function evaluate(name: string): void {
    if (evaluating.has(name)) throw new TemplateError(`condition ${name} depends on itself`);
    evaluating.add(name);
    conditions[name] = evalCondition(template.Conditions?.[name], full);
    pending.delete(name);
  }
  for (const name of [...pending]) if (!(name in conditions)) evaluate(name);
  return conditions;
}

/** Resources whose Condition holds. */
export function activeResources(template: Template, conditions: Record<string, boolean>): Template['Resources'] {
  return Object.fromEntries(
    Object.entries(template.Resources).filter(([, r]) => r.Condition === undefined || conditions[r.Condition] === true),
  );
}

/** SAM Globals.Function merged under a function's own Properties (maps merged, lists and scalars replaced). */
export function withFunctionGlobals(template: Template, properties: JsonObject): JsonObject {
  const globals = template.Globals?.Function ?? {};
  const merge = (base: Json | undefined, own: Json | undefined): Json | undefined => {
    if (own === undefined) return base;
    if (isObject(base) && isObject(own) && !isIntrinsic(own)) {
      const out: JsonObject = { ...base };
      for (const [k, v] of Object.entries(own)) out[k] = merge(base[k], v) as Json;
      return out;
    }
    return own;
  };
  return merge(globals, properties) as JsonObject;
}

function isIntrinsic(value: JsonObject): boolean {
  const keys = Object.keys(value);
  return keys.length === 1 && (keys[0] === 'Ref' || keys[0] === 'Condition' || (keys[0] ?? '').startsWith('Fn::'));
}

/** Unquotes SAM's CORS / gateway-response literals: "'GET,POST'" → GET,POST. */
export function unquote(value: unknown): string {
  const s = String(value);
  return s.length >= 2 && s.startsWith("'") && s.endsWith("'") ? s.slice(1, -1) : s;
}
