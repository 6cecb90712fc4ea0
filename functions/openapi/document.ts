import * as z from 'zod/mini';
import type { DataApiAuth } from '../shared/caller.ts';
import { OPERATIONS, type Operation } from './operations.ts';
import { responseSchemas } from './responses.ts';

export type { DataApiAuth };

/**
 * The API reference as an OpenAPI 3.1 document, generated from the route table (./operations.ts) and the very zod
 * schemas the handlers validate with (zod 4's `toJSONSchema`, input side: what a client sends), and the schemas of
 * what they answer (./responses.ts, output side: every body and error body, named in `components.schemas`, strict
 * objects). Served by the offline portal as `/openapi.json` (local/portal), written into the portal's build
 * (portal/vite.config.mts) and beside the function bundles by `npm run build`. No I/O: a pure function of its options.
 *
 * Auth as the deployed stack applies it ("Control access to a REST API with Amazon Cognito user pools as an authorizer":
 * https://docs.aws.amazon.com/apigateway/latest/developerguide/apigateway-integrate-with-cognito.html — the ID token
 * goes in `Authorization` as is; "API keys": the key in `x-api-key`). The data API's auth follows the template's
 * `DataApiAuth` (`dataApiAuth` below): the key alone, or the key plus the ID token the function verifies. In both modes
 * the data routes sit behind the KeyAuthorizer (a Lambda REQUEST authorizer whose identity source is `X-Api-Key`), so a
 * request without the key is 401, not the key check's 403 (API Gateway API Reference, Authorizer `identitySource`: the
 * identity parameters are verified present, not null and non-empty, else "it returns a 401 Unauthorized response
 * without calling the Lambda function"; KeyMode SelfIssued's authorizer refuses an empty key with 401 too). API Gateway adds
 * `x-amzn-RequestId` to every answer; it sends no rate-limit headers of its own (throttling answers 429
 * `{"message":"Too Many Requests"}`, an exhausted quota 429 `{"message":"Limit Exceeded"}`, neither with
 * `Retry-After`), which the document's description and its 429 say (RATE_LIMIT_HEADERS).
 */

export type JsonSchema = Record<string, unknown>;

export interface DocumentOptions {
  /** The stage URL (e.g. https://abc.execute-api.us-east-1.amazonaws.com/v1); without it, a templated server. */
  serverUrl?: string;
  /** The document's version (package.json's). */
  version?: string;
  /** The deployed stack's `DataApiAuth` (template.yaml parameter); default `IdTokenAndApiKey`, the template's default. */
  dataApiAuth?: DataApiAuth;
}

/** What a route needs in a given mode: nothing, the ID token, the API key, or both (the document's `x-auth`). */
export type DocumentAuth = 'none' | 'token' | 'key' | 'token+key';

/** The credentials `op` needs when the stack is deployed with `dataApiAuth`. */
export function authOf(op: Pick<Operation, 'auth'>, dataApiAuth: DataApiAuth = 'IdTokenAndApiKey'): DocumentAuth {
  if (op.auth !== 'data') return op.auth;
  return dataApiAuth === 'ApiKey' ? 'key' : 'token+key';
}

/** The JSON Schema of what a client sends for `schema` (input side: before transforms and defaults). */
export function inputJsonSchema(schema: z.ZodMiniType): JsonSchema {
  const json = z.toJSONSchema(schema, { io: 'input', unrepresentable: 'any' }) as JsonSchema;
  delete json.$schema;
  return json;
}

/**
 * The document's named schemas (`components.schemas`): every answer body of ./responses.ts as JSON Schema (output side:
 * after transforms), a body used inside another by `$ref`.
 */
export function responseComponents(): Record<string, JsonSchema> {
  const { schemas } = z.toJSONSchema(responseSchemas, { io: 'output', unrepresentable: 'any', uri: (id) => `#/components/schemas/${id}` });
  return Object.fromEntries(
    Object.entries(schemas).map(([id, schema]) => {
      const { $schema: _dialect, $id: _id, ...rest } = schema as JsonSchema;
      return [id, rest];
    }),
  );
}

/** `{ $ref }` to the named schema of `schema` (./responses.ts responseSchemas); throws for a schema without a name. */
function schemaRef(schema: z.ZodMiniType): JsonSchema {
  const id = responseSchemas.get(schema)?.id;
  if (!id) throw new Error('An answer body schema is not in responseSchemas (functions/openapi/responses.ts)');
  return { $ref: `#/components/schemas/${id}` };
}

export const SECURITY: Record<DocumentAuth, Record<string, string[]>[]> = {
  none: [],
  token: [{ CognitoIdToken: [] }],
  key: [{ ApiKey: [] }],
  'token+key': [{ CognitoIdToken: [], ApiKey: [] }],
};

/** What the API says about rate-limit headers (none exist on API Gateway REST APIs), in the description and the 429. */
export const RATE_LIMIT_HEADERS =
  'API Gateway sends no rate-limit headers (no `X-RateLimit-*`, and no `Retry-After` on a 429): your plan\'s rate and quota are in `GET /plans`, the quota left in `GET /me/usage`';

const STATUS_TEXT: Record<number, string> = {
  400: 'The request is not valid: `message` names the field (`details.issues` lists every one)',
  401:
    'No API key on a data route (`x-api-key` missing: API Gateway\'s `{"message":"Unauthorized"}`, as the key is the authorizer\'s identity source), ' +
    'no valid ID token where one is needed (`"message": "Unauthorized"`) or an expired one (`"message": "The incoming token has expired"`); ' +
    'with self-issued keys (`tg_live_…`) also an unknown or revoked key',
  403:
    'An API key that does not work: unknown, disabled, in no usage plan (API Gateway: `{"message":"Forbidden"}`) or not the caller\'s own; ' +
    'with self-issued keys a suspended key or one over its plan\'s rate or quota (`{"message":"User is not authorized to access this resource"}`)',
  404: 'Not found (another customer\'s item is not found either)',
  409: 'Conflict with the current state (`code` says which)',
  429: `Rate limit (\`Too Many Requests\`) or quota (\`Limit Exceeded\`) reached: retry later. ${RATE_LIMIT_HEADERS}`,
  503: 'A dependency is busy: retry after `Retry-After` seconds',
};

/** Error statuses API Gateway answers itself as well as the functions (`{"message": …}` alone: GatewayError). */
const GATEWAY_STATUSES = new Set([401, 403, 429]);

/** The error statuses a route can answer in a mode: its own plus those of its auth and its inputs. */
export function errorStatuses(op: Operation, dataApiAuth?: DataApiAuth): number[] {
  const statuses = new Set(op.errors ?? []);
  const auth = authOf(op, dataApiAuth);
  if (op.params || op.query || op.body) statuses.add(400);
  // 401: no or a bad token where one is needed, and on the data routes (either mode) no key: the KeyAuthorizer's identity source.
  if (auth !== 'none') statuses.add(401);
  if (auth === 'key' || auth === 'token+key') statuses.add(403);
  statuses.add(429);
  statuses.add(503);
  return [...statuses].sort((a, b) => a - b);
}

function parameters(schema: z.ZodMiniType | undefined, where: 'path' | 'query', example: Record<string, string> | undefined): unknown[] {
  if (!schema) return [];
  const json = inputJsonSchema(schema);
  const required = new Set((json.required as string[] | undefined) ?? []);
  return Object.entries((json.properties as Record<string, JsonSchema> | undefined) ?? {}).map(([name, property]) => ({
    name,
    in: where,
    required: where === 'path' || required.has(name),
    schema: property,
    ...(example?.[name] !== undefined ? { example: example[name] } : {}),
  }));
}

const requestIdHeaders = {
  'x-amzn-RequestId': { $ref: '#/components/headers/RequestId' },
};

function operationObject(op: Operation, dataApiAuth: DataApiAuth | undefined): Record<string, unknown> {
  const auth = authOf(op, dataApiAuth);
  const { success } = op;
  const successObject = (description: string, example: unknown): Record<string, unknown> => ({
    description,
    headers: {
      ...requestIdHeaders,
      ...Object.fromEntries((op.headers ?? []).map((name) => [name, { schema: { type: 'string' } }])),
    },
    ...(success.body ? { content: { 'application/json': { schema: schemaRef(success.body), ...(example !== undefined ? { example } : {}) } } } : {}),
  });
  const responses: Record<string, unknown> = {
    [String(success.status)]: successObject(success.description, success.example),
    ...Object.fromEntries((success.also ?? []).map((also) => [String(also.status), successObject(also.description, undefined)])),
  };
  for (const status of errorStatuses(op, dataApiAuth)) responses[String(status)] = { $ref: `#/components/responses/Error${status}` };
  return {
    operationId: op.operationId,
    tags: [op.tag],
    summary: op.summary,
    security: SECURITY[auth],
    ...(op.params || op.query
      ? { parameters: [...parameters(op.params, 'path', op.example?.params), ...parameters(op.query, 'query', op.example?.query)] }
      : {}),
    ...(op.body
      ? {
          requestBody: {
            required: !op.bodyOptional,
            content: { 'application/json': { schema: inputJsonSchema(op.body), ...(op.example?.body !== undefined ? { example: op.example.body } : {}) } },
          },
        }
      : {}),
    responses,
    'x-auth': auth,
  };
}

/** The OpenAPI 3.1 document of every route in OPERATIONS, for the stack's `dataApiAuth`. */
export function openApiDocument(opts: DocumentOptions = {}): Record<string, unknown> {
  const paths: Record<string, Record<string, unknown>> = {};
  const components = responseComponents();
  for (const op of OPERATIONS) {
    (paths[op.path] ??= {})[op.method.toLowerCase()] = operationObject(op, opts.dataApiAuth);
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'Tollgate API',
      version: opts.version ?? '0.1.0',
      description: `${
        opts.dataApiAuth === 'ApiKey'
          ? 'Data routes (links, tags) take your API key in `x-api-key` alone'
          : 'Data routes (links, tags) take your ID token in `Authorization` and your API key in `x-api-key`'
      }; account routes (\`/me…\`) the ID token only; \`/health\`, \`/plans\` and \`/auth/*\` nothing. Every answer carries \`x-amzn-RequestId\`: quote it when asking for help. ${RATE_LIMIT_HEADERS}.`,
    },
    servers: [
      opts.serverUrl
        ? { url: opts.serverUrl }
        : {
            url: 'https://{restApiId}.execute-api.{region}.amazonaws.com/{stage}',
            variables: { restApiId: { default: 'abcdef1234' }, region: { default: 'us-east-1' }, stage: { default: 'v1' } },
          },
    ],
    tags: [...new Set(OPERATIONS.map((op) => op.tag))].map((name) => ({ name })),
    paths,
    components: {
      securitySchemes: {
        CognitoIdToken: { type: 'apiKey', in: 'header', name: 'Authorization', description: 'The Cognito ID token, as is (no "Bearer")' },
        ApiKey: {
          type: 'apiKey',
          in: 'header',
          name: 'x-api-key',
          description: 'Your API key: GET /me/api-key?reveal=true, or with self-issued keys (tg_live_…) the value POST /me/api-key/rotate answered once',
        },
      },
      headers: {
        RequestId: { description: 'API Gateway\'s request id: quote it when asking for help', schema: { type: 'string' } },
        RetryAfter: { description: 'Seconds to wait before retrying', schema: { type: 'integer' } },
      },
      responses: Object.fromEntries(
        Object.entries(STATUS_TEXT).map(([status, description]) => {
          // 401, 403 and 429 come from API Gateway (its authorizers, the key check, throttling: GatewayError) and from
          // the functions (the data API's token and key checks, the auth routes' Cognito answers: Error).
          const error = { $ref: '#/components/schemas/Error' };
          const schema = GATEWAY_STATUSES.has(Number(status)) ? { anyOf: [error, { $ref: '#/components/schemas/GatewayError' }] } : error;
          return [
            `Error${status}`,
            {
              description,
              headers: { ...requestIdHeaders, ...(status === '503' ? { 'Retry-After': { $ref: '#/components/headers/RetryAfter' } } : {}) },
              content: { 'application/json': { schema } },
            },
          ];
        }),
      ),
      schemas: {
        ...components,
        Error: { ...components.Error, description: 'An error the function answered: `code` names it, `details.issues` lists invalid fields' },
        GatewayError: { ...components.GatewayError, description: 'An error API Gateway answered itself (an authorizer, the key check, throttling)' },
      },
    },
  };
}
