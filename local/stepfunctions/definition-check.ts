/**
 * What Step Functions checks when a state machine is created or updated (so what `sam deploy` refuses): every
 * `aws-sdk` Task names an action the service's API has, spelt exactly (camelCase: `getItem`, not `GetItem`), and
 * its Parameters (or JSONata Arguments) name only members of that action's request, in Step Functions' spelling;
 * the optimized integrations accept only their documented parameters. A wrong one is refused with AWS's message,
 * `Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: ... at /States/<State>/Parameters'`.
 *
 * The names come from the service models inside the SDK v3 clients (`@smithy/core/schema`, through
 * ./casing.ts and the bridge's command lookup), the same models Step Functions validates against.
 */
import type { NormalizedSchema } from '@smithy/core/schema';
import { definitionParameterNames, SDK_SERVICES, parseResource, commandFor } from './bridge.ts';
import { commandSchemas, sfnMemberName } from './casing.ts';

export class DefinitionError extends Error {
  constructor(problems: string[], where?: string) {
    super(`${where ? `${where}: ` : ''}Invalid State Machine Definition: '${problems.map((p) => `SCHEMA_VALIDATION_FAILED: ${p}`).join(', ')}'`);
    this.name = 'InvalidDefinition';
  }
}

type Json = Record<string, unknown>;
const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Every state of a definition with its path (`/States/A`, `/States/P/Branches/0/States/B`, Map processors too). */
function* statesOf(definition: Json, path = ''): Generator<[string, Json]> {
  for (const [name, state] of Object.entries(isObject(definition.States) ? definition.States : {})) {
    if (!isObject(state)) continue;
    const at = `${path}/States/${name}`;
    yield [at, state];
    if (Array.isArray(state.Branches)) for (const [i, b] of state.Branches.entries()) if (isObject(b)) yield* statesOf(b, `${at}/Branches/${i}`);
    for (const key of ['ItemProcessor', 'Iterator'] as const) if (isObject(state[key])) yield* statesOf(state[key], `${at}/${key}`);
  }
}

/** Checks a parameters object against a request schema (`sfn`: Step Functions' spelling; `sdk`: the API's own). */
function checkMembers(params: Json, schema: NormalizedSchema, naming: 'sfn' | 'sdk', at: string, problems: string[]): void {
  if (!schema.isStructSchema()) return;
  const members = new Map<string, NormalizedSchema>();
  for (const [member, memberSchema] of schema.structIterator()) {
    members.set(naming === 'sfn' ? sfnMemberName(member) : member, memberSchema);
    if (naming === 'sfn' && member === 'NULL') members.set('Null', memberSchema);
  }
  for (const [key, value] of Object.entries(params)) {
    const dynamic = key.endsWith('.$');
    const name = dynamic ? key.slice(0, -2) : key;
    const memberSchema = members.get(name);
    if (!memberSchema) {
      problems.push(`The field "${name}" is not supported by Step Functions at ${at}`);
      continue;
    }
    if (dynamic) continue;
    if (isObject(value) && memberSchema.isStructSchema()) checkMembers(value, memberSchema, naming, `${at}/${name}`, problems);
    if (Array.isArray(value) && memberSchema.isListSchema()) {
      const item = memberSchema.getValueSchema();
      for (const [i, v] of value.entries()) if (isObject(v) && item.isStructSchema()) checkMembers(v, item, naming, `${at}/${name}/${i}`, problems);
    }
    if (isObject(value) && memberSchema.isMapSchema()) {
      const item = memberSchema.getValueSchema();
      for (const [k, v] of Object.entries(value)) if (isObject(v) && item.isStructSchema()) checkMembers(v, item, naming, `${at}/${name}/${k}`, problems);
    }
  }
}

/** Throws DefinitionError listing every wrong aws-sdk action or parameter name of the definition. */
export function checkTaskDefinitions(definition: Json, where?: string): void {
  const problems: string[] = [];
  for (const [at, state] of statesOf(definition)) {
    if (state.Type !== 'Task' || typeof state.Resource !== 'string') continue;
    const resource = state.Resource;
    const parsed = parseResource(resource);
    const paramsKey = state.Arguments !== undefined ? 'Arguments' : 'Parameters';
    const params = state[paramsKey];
    if (parsed.kind === 'aws-sdk') {
      const svc = SDK_SERVICES[parsed.service];
      const Command = svc ? commandFor(svc, parsed.action) : undefined;
      if (!Command) {
        problems.push(`The resource provided ${resource} is not recognized. The value is not a valid resource ARN, or the resource is not available in this region. at ${at}/Resource`);
        continue;
      }
      if (isObject(params)) checkMembers(params, commandSchemas(Command).input, 'sfn', `${at}/${paramsKey}`, problems);
      continue;
    }
    const allowed = definitionParameterNames(parsed);
    if (allowed && isObject(params)) {
      for (const key of Object.keys(params)) {
        const name = key.endsWith('.$') ? key.slice(0, -2) : key;
        if (!allowed.includes(name)) problems.push(`The field "${name}" is not supported by Step Functions at ${at}/${paramsKey}`);
      }
    }
  }
  if (problems.length) throw new DefinitionError(problems, where);
}
