/**
 * Name and value translation between Step Functions task parameters/results and the AWS SDK v3 models.
 *
 * Step Functions' AWS SDK integrations (`arn:aws:states:::aws-sdk:<service>:<action>`) spell every structure
 * member in PascalCase, even where the service's own API is camelCase (API Gateway: `Name`, `UsagePlanId`,
 * `PatchOperations[].Op`), and return results PascalCase too (`createApiKey` → `{Id, Value, Name, ...}`). The
 * names follow the AWS SDK for Java v2 that Step Functions is built on: a leading acronym is lower-cased after its
 * first letter (`SSEDescription` → `SseDescription`, DynamoDB's `BOOL` → `Bool`, `SS` → `Ss`).
 *
 * The member names are NOT guessed: they come from the SDK v3 client's own schema (`command.schema`, read through
 * `NormalizedSchema` from `@smithy/core/schema`, the same metadata its serializer uses). So only structure members
 * are renamed; the keys of map-typed members (API Gateway `tags`, DynamoDB `Item` / `ExpressionAttributeValues`)
 * are kept verbatim, and their values are translated according to the map's value schema.
 */
import { NormalizedSchema } from '@smithy/core/schema';
import type { StaticOperationSchema } from '@smithy/types';

import { StatesRuntimeError } from './errors.ts';

/** Step Functions' (AWS SDK for Java v2 style) spelling of an SDK model member name. */
export function sfnMemberName(member: string): string {
  if (member.length === 0) return member;
  // Whole name upper case (DynamoDB AttributeValue: S, N, SS, BOOL, NULL): first letter kept, rest lower case.
  if (/^[A-Z0-9_]+$/.test(member)) {
    if (member === 'NULL') return 'Nul'; // Java v2 renames the reserved word `null` to `nul`.
    return member[0] + member.slice(1).toLowerCase();
  }
  // A leading acronym followed by a word: SSEDescription → SseDescription, MFAOptions → MfaOptions.
  const acronym = /^([A-Z]{2,})([A-Z][a-z].*)$/.exec(member);
  if (acronym) {
    const [, head = '', rest = ''] = acronym;
    return head[0] + head.slice(1).toLowerCase() + rest;
  }
  return member[0]!.toUpperCase() + member.slice(1);
}

/** Spellings accepted in parameters for a member (the canonical one, plus `Null` for DynamoDB's `NULL`). */
function acceptedParameterNames(member: string): string[] {
  const names = [sfnMemberName(member)];
  if (member === 'NULL') names.push('Null');
  return names;
}

/**
 * The error-name prefix Step Functions uses for an AWS SDK integration, from the SDK's `serviceId`
 * (AWS SDK for Java v2 client naming): `API Gateway` → `ApiGateway`, `Cognito Identity Provider` →
 * `CognitoIdentityProvider`, `DynamoDB` → `DynamoDb`, `SFN` → `Sfn`, `ACM PCA` → `AcmPca`, `Lambda` → `Lambda`.
 */
export function sfnServicePrefix(serviceId: string): string {
  return serviceId
    .split(/[\s_-]+/)
    .filter(Boolean)
    .map((word) => {
      // Lower-case the tail of every run of capitals that ends the word, precedes a digit or a new word.
      const w = word.replace(/[A-Z]{2,}(?=[A-Z][a-z]|\d|$)/g, (run) => run[0] + run.slice(1).toLowerCase());
      return w[0]!.toUpperCase() + w.slice(1);
    })
    .join('');
}

export type ParameterNaming = 'sfn' | 'sdk';

export interface ConvertOptions {
  /**
   * `sfn`: structure members are spelled the Step Functions way (aws-sdk integrations).
   * `sdk`: members are spelled exactly as in the service API (optimized integrations such as `dynamodb:putItem`,
   * whose parameters are the DynamoDB API's own names and native DynamoDB JSON).
   */
  naming: ParameterNaming;
  /** For error messages: e.g. `aws-sdk:apigateway:createApiKey`. */
  resource: string;
}

/** A DynamoDB AttributeValue: its blobs (B, BS) travel base64-encoded in JSON, as in DynamoDB's own JSON API. */
function isAttributeValue(schema: NormalizedSchema): boolean {
  return schema.getName() === 'AttributeValue' && (schema.getName(true) ?? '').includes('dynamodb');
}

function isPlainObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function describePath(path: string[]): string {
  return path.length ? path.join('.') : '(parameters)';
}

/** Step Functions parameters → the SDK command input (member names, blobs, timestamps). */
export function toSdkInput(
  params: unknown,
  inputSchema: NormalizedSchema,
  options: ConvertOptions,
): Record<string, unknown> {
  if (params === undefined || params === null) return {};
  const out = convertIn(params, inputSchema, options, [], false);
  if (!isPlainObject(out)) {
    throw new StatesRuntimeError(`The parameters of ${options.resource} must be a JSON object`);
  }
  return out;
}

function convertIn(
  value: unknown,
  schema: NormalizedSchema,
  options: ConvertOptions,
  path: string[],
  base64Blobs: boolean,
): unknown {
  if (value === null || value === undefined) return undefined;
  if (schema.isStructSchema() || schema.isUnionSchema()) {
    if (!isPlainObject(value)) {
      throw new StatesRuntimeError(
        `${options.resource}: the value at ${describePath(path)} must be a JSON object (${schema.getName() ?? 'structure'})`,
      );
    }
    const inAttributeValue = isAttributeValue(schema);
    const byParamName = new Map<string, [string, NormalizedSchema]>();
    for (const [member, memberSchema] of schema.structIterator()) {
      const names = options.naming === 'sfn' ? acceptedParameterNames(member) : [member];
      for (const n of names) byParamName.set(n, [member, memberSchema]);
    }
    const result: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(value)) {
      const match = byParamName.get(key);
      if (!match) {
        const expected = [...schema.structIterator()]
          .map(([m]) => (options.naming === 'sfn' ? sfnMemberName(m) : m))
          .join(', ');
        throw new StatesRuntimeError(
          `The field '${key}' is not supported by Step Functions for ${options.resource}` +
            ` at ${describePath(path)} (expected one of: ${expected})`,
        );
      }
      const [member, memberSchema] = match;
      const converted = convertIn(v, memberSchema, options, [...path, key], inAttributeValue);
      if (converted !== undefined) result[member] = converted;
    }
    return result;
  }
  if (schema.isListSchema()) {
    if (!Array.isArray(value)) {
      throw new StatesRuntimeError(`${options.resource}: the value at ${describePath(path)} must be a JSON array`);
    }
    const itemSchema = schema.getValueSchema();
    return value.map((item, i) => convertIn(item, itemSchema, options, [...path, String(i)], base64Blobs));
  }
  if (schema.isMapSchema()) {
    if (!isPlainObject(value)) {
      throw new StatesRuntimeError(`${options.resource}: the value at ${describePath(path)} must be a JSON object`);
    }
    const valueSchema = schema.getValueSchema();
    const result: Record<string, unknown> = {};
    // Map keys are data (tag keys, attribute names, placeholders): never renamed.
    for (const [k, v] of Object.entries(value)) {
      const converted = convertIn(v, valueSchema, options, [...path, k], false);
      if (converted !== undefined) result[k] = converted;
    }
    return result;
  }
  if (schema.isBlobSchema()) {
    if (typeof value === 'string') return base64Blobs ? Buffer.from(value, 'base64') : encoder.encode(value);
    return encoder.encode(JSON.stringify(value));
  }
  if (schema.isTimestampSchema()) {
    if (typeof value === 'number') return new Date(value < 1e11 ? value * 1000 : value);
    if (typeof value === 'string') return new Date(value);
    return value;
  }
  // A value of the wrong JSON type is refused at run time, as Step Functions does before it calls the service (the
  // SDK v3 client would otherwise send it on unchecked): "The Parameters ... could not be used to start the Task:
  // [The value for the field 'X' must be a BOOLEAN]".
  if ((schema.isBooleanSchema() && typeof value !== 'boolean') || ((schema.isNumericSchema() || schema.isBigIntegerSchema() || schema.isBigDecimalSchema()) && typeof value !== 'number')) {
    const expected = schema.isBooleanSchema() ? 'BOOLEAN' : 'NUMBER';
    throw new StatesRuntimeError(
      `The Parameters '${JSON.stringify(value)}' could not be used to start the Task: [The value for the field '${path[path.length - 1] ?? ''}' must be a ${expected}] (${options.resource} at ${describePath(path)})`,
    );
  }
  if (schema.isStringSchema() && typeof value !== 'string') {
    // Step Functions serializes a JSON value given for a string member (e.g. a message body) to its JSON text.
    return JSON.stringify(value);
  }
  return value;
}

/** The SDK command output → the Step Functions task result (PascalCase members, `$metadata` dropped). */
export function fromSdkOutput(
  output: unknown,
  outputSchema: NormalizedSchema,
  naming: ParameterNaming,
): Record<string, unknown> {
  const converted = convertOut(output, outputSchema, naming, false);
  return isPlainObject(converted) ? converted : {};
}

function convertOut(value: unknown, schema: NormalizedSchema, naming: ParameterNaming, base64Blobs: boolean): unknown {
  if (value === null || value === undefined) return undefined;
  if (schema.isStructSchema() || schema.isUnionSchema()) {
    if (!isPlainObject(value)) return value;
    const inAttributeValue = isAttributeValue(schema);
    const result: Record<string, unknown> = {};
    for (const [member, memberSchema] of schema.structIterator()) {
      if (!(member in value)) continue;
      const converted = convertOut(value[member], memberSchema, naming, inAttributeValue);
      if (converted !== undefined) result[naming === 'sfn' ? sfnMemberName(member) : member] = converted;
    }
    return result;
  }
  if (schema.isListSchema()) {
    if (!Array.isArray(value)) return value;
    const itemSchema = schema.getValueSchema();
    return value.map((item) => convertOut(item, itemSchema, naming, base64Blobs) ?? null);
  }
  if (schema.isMapSchema()) {
    if (!isPlainObject(value)) return value;
    const valueSchema = schema.getValueSchema();
    const result: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(value)) {
      const converted = convertOut(v, valueSchema, naming, false);
      if (converted !== undefined) result[k] = converted;
    }
    return result;
  }
  if (value instanceof Uint8Array) {
    return base64Blobs ? Buffer.from(value).toString('base64') : decoder.decode(value);
  }
  if (value instanceof Date) return value.toISOString();
  if (typeof value === 'bigint') return Number(value);
  return value;
}

/** The input and output schemas of an SDK v3 command class (`new Command({}).schema`). */
export function commandSchemas(
  CommandClass: new (input: Record<string, unknown>) => unknown,
): { input: NormalizedSchema; output: NormalizedSchema } {
  const probe = new CommandClass({}) as { schema?: unknown };
  const op = probe.schema as StaticOperationSchema | undefined;
  if (!Array.isArray(op) || op[0] !== 9) {
    throw new Error(`${CommandClass.name} exposes no operation schema`);
  }
  return { input: NormalizedSchema.of(op[4]), output: NormalizedSchema.of(op[5]) };
}
