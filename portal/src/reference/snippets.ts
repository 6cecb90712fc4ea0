/**
 * The API reference's model and code snippets, without DOM code (unit-tested in tests/unit/portal): the operations of
 * the OpenAPI document (`openapi.json`, generated from the handlers' schemas: functions/openapi), the request one makes
 * with given parameter values, and that request as curl, JavaScript (`fetch`) and Python (`requests`).
 */
import { shellQuote } from '../format.ts';

/**
 * How a route authenticates in the deployed stack (the document's `x-auth`: template.yaml, and for the data API its
 * DataApiAuth): nothing, the ID token, the API key alone, or token and key.
 */
export type RouteAuth = 'none' | 'token' | 'key' | 'token+key';

export interface DocParameter {
  name: string;
  in: 'path' | 'query';
  required: boolean;
  schema?: Record<string, unknown>;
  example?: string;
}

export interface DocOperation {
  method: string;
  path: string;
  operationId: string;
  tag: string;
  summary: string;
  auth: RouteAuth;
  parameters: DocParameter[];
  body?: { required: boolean; schema: Record<string, unknown>; example?: unknown };
  /** Status → description and example body (errors: the shared descriptions). */
  responses: { status: string; description: string; example?: unknown }[];
}

interface RawOperation {
  operationId: string;
  tags?: string[];
  summary?: string;
  'x-auth'?: RouteAuth;
  parameters?: DocParameter[];
  requestBody?: { required?: boolean; content: Record<string, { schema: Record<string, unknown>; example?: unknown }> };
  responses: Record<string, { $ref?: string; description?: string; content?: Record<string, { example?: unknown }> }>;
}

export interface OpenApiDocument {
  /** `description`: which credentials each kind of route takes, the request id, and that no rate-limit headers exist. */
  info?: { description?: string };
  paths: Record<string, Record<string, RawOperation>>;
  components?: { responses?: Record<string, { description: string }> };
}

/** The operations of the document, in its order, with `$ref`'d error responses resolved to their descriptions. */
export function operationsOf(doc: OpenApiDocument): DocOperation[] {
  const shared = doc.components?.responses ?? {};
  return Object.entries(doc.paths).flatMap(([path, item]) =>
    Object.entries(item).map(([method, op]): DocOperation => {
      const json = op.requestBody?.content['application/json'];
      return {
        method: method.toUpperCase(),
        path,
        operationId: op.operationId,
        tag: op.tags?.[0] ?? '',
        summary: op.summary ?? '',
        auth: op['x-auth'] ?? 'token+key',
        parameters: op.parameters ?? [],
        ...(json ? { body: { required: op.requestBody?.required ?? false, schema: json.schema, example: json.example } } : {}),
        responses: Object.entries(op.responses).map(([status, response]) => {
          const ref = response.$ref?.replace('#/components/responses/', '');
          const example = response.content?.['application/json']?.example;
          return {
            status,
            description: ref ? (shared[ref]?.description ?? '') : (response.description ?? ''),
            ...(example !== undefined ? { example } : {}),
          };
        }),
      };
    }),
  );
}

/** Text with `backtick` spans (the document's descriptions) as runs of plain text and code, in order, empty runs left out. */
export function codeSpans(text: string): { text: string; code: boolean }[] {
  return text
    .split('`')
    .map((part, i) => ({ text: part, code: i % 2 === 1 }))
    .filter((run) => run.text !== '');
}

export interface Credentials {
  /** The ID token, or a placeholder such as `$TOKEN`. */
  token: string;
  /** The API key, or a placeholder such as `$API_KEY`. */
  apiKey: string;
}

export interface SnippetRequest {
  method: string;
  /** The full URL, path and query filled in. */
  url: string;
  /** The path and query after the stage URL (what the portal's ApiClient takes). */
  pathAndQuery: string;
  headers: Record<string, string>;
  /** The JSON body as sent (compact), if any. */
  body?: string;
}

/** Whether a route of this auth needs the ID token / the API key. */
export const needsToken = (auth: RouteAuth): boolean => auth === 'token' || auth === 'token+key';
export const needsKey = (auth: RouteAuth): boolean => auth === 'key' || auth === 'token+key';

/** The headers a route needs: `Authorization` (the raw ID token) and `x-api-key`, as its auth says. */
export function authHeaders(auth: RouteAuth, credentials: Credentials): Record<string, string> {
  return {
    ...(needsToken(auth) ? { Authorization: credentials.token } : {}),
    ...(needsKey(auth) ? { 'x-api-key': credentials.apiKey } : {}),
  };
}

/**
 * The request for `op` with the given parameter values (empty ones are left out of the query) and body text (JSON,
 * sent compact). Throws a SyntaxError when the body is not JSON, an Error naming a missing path parameter.
 */
export function buildRequest(op: DocOperation, baseUrl: string, values: Record<string, string>, bodyText: string | undefined, credentials: Credentials): SnippetRequest {
  let path = op.path;
  const query = new URLSearchParams();
  for (const p of op.parameters) {
    const value = values[p.name] ?? '';
    if (p.in === 'path') {
      if (value === '') throw new Error(`Fill in the path parameter ${p.name}`);
      path = path.replace(`{${p.name}}`, encodeURIComponent(value));
    } else if (value !== '') {
      query.set(p.name, value);
    }
  }
  const qs = query.toString();
  const pathAndQuery = `${path}${qs ? `?${qs}` : ''}`;
  const body = bodyText !== undefined && bodyText.trim() !== '' ? JSON.stringify(JSON.parse(bodyText)) : undefined;
  const headers = { ...authHeaders(op.auth, credentials), ...(body !== undefined ? { 'Content-Type': 'application/json' } : {}) };
  return { method: op.method, url: `${baseUrl}${pathAndQuery}`, pathAndQuery, headers, ...(body !== undefined ? { body } : {}) };
}

export function curlSnippet(r: SnippetRequest): string {
  const parts = [`curl -i -X ${r.method} ${shellQuote(r.url)}`];
  for (const [name, value] of Object.entries(r.headers)) {
    // A shell variable stays expandable: double quotes; a literal value is single-quoted.
    parts.push(`-H ${value.startsWith('$') ? `"${name}: ${value}"` : shellQuote(`${name}: ${value}`)}`);
  }
  if (r.body !== undefined) parts.push(`-d ${shellQuote(r.body)}`);
  return parts.join(' \\\n  ');
}

/** A JavaScript string literal, or `process.env.NAME` for a `$NAME` placeholder. */
function jsValue(value: string): string {
  return /^\$[A-Z_]+$/.test(value) ? `process.env.${value.slice(1)}` : JSON.stringify(value);
}

export function fetchSnippet(r: SnippetRequest): string {
  const headers = Object.entries(r.headers).map(([name, value]) => `    ${JSON.stringify(name)}: ${jsValue(value)},`);
  const lines = [`const response = await fetch(${JSON.stringify(r.url)}, {`, `  method: ${JSON.stringify(r.method)},`];
  if (headers.length > 0) lines.push('  headers: {', ...headers, '  },');
  if (r.body !== undefined) lines.push(`  body: JSON.stringify(${JSON.stringify(JSON.parse(r.body), null, 2).replace(/\n/g, '\n  ')}),`);
  lines.push('});', "console.log(response.status, response.headers.get('x-amzn-requestid'));", 'console.log(await response.text());');
  return lines.join('\n');
}

/** A Python string literal, or `os.environ["NAME"]` for a `$NAME` placeholder. */
function pyValue(value: string): string {
  return /^\$[A-Z_]+$/.test(value) ? `os.environ[${JSON.stringify(value.slice(1))}]` : JSON.stringify(value);
}

/** JSON as a Python literal (True, False, None), on one line. */
function pyLiteral(value: unknown): string {
  if (value === null) return 'None';
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (Array.isArray(value)) return `[${value.map(pyLiteral).join(', ')}]`;
  if (typeof value === 'object') return `{${Object.entries(value).map(([k, v]) => `${JSON.stringify(k)}: ${pyLiteral(v)}`).join(', ')}}`;
  return JSON.stringify(value);
}

export function pythonSnippet(r: SnippetRequest): string {
  const headers = Object.entries(r.headers)
    .filter(([name]) => name !== 'Content-Type')
    .map(([name, value]) => `        ${JSON.stringify(name)}: ${pyValue(value)},`);
  const usesEnv = Object.values(r.headers).some((v) => /^\$[A-Z_]+$/.test(v));
  const lines = [...(usesEnv ? ['import os', ''] : []), 'import requests', '', 'response = requests.request(', `    ${JSON.stringify(r.method)},`, `    ${JSON.stringify(r.url)},`];
  if (headers.length > 0) lines.push('    headers={', ...headers, '    },');
  if (r.body !== undefined) lines.push(`    json=${pyLiteral(JSON.parse(r.body))},`);
  lines.push('    timeout=30,', ')', 'print(response.status_code, response.headers.get("x-amzn-RequestId"))', 'print(response.text)');
  return lines.join('\n');
}
