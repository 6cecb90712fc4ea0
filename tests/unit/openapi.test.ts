/**
 * The API reference cannot drift: the OpenAPI document validates (swagger-parser), its operations are exactly the
 * template's Api events (method, path, auth) and exactly the handlers' route tables, every request field it
 * documents is one the handler's zod schema accepts (and no other: the schemas are strict), every response example
 * passes its own response schema, and the functions' error bodies pass the Error schema. (The handlers' real answers
 * are checked against the response schemas on the offline stack: tests/integration/openapi-responses.test.ts.)
 */
import SwaggerParser from '@apidevtools/swagger-parser';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { routes as accountRoutes } from '../../functions/account/handler.ts';
import { planChangeBody } from '../../functions/account/plan-change-routes.ts';
import { routes as authRoutes } from '../../functions/auth/handler.ts';
import { routes as linksRoutes } from '../../functions/links/handler.ts';
import { errorStatuses, inputJsonSchema, openApiDocument, RATE_LIMIT_HEADERS } from '../../functions/openapi/document.ts';
import { OPERATIONS, type RouteAuth } from '../../functions/openapi/operations.ts';
import { routes as publicRoutes } from '../../functions/public/handler.ts';
import { routes as tagsRoutes } from '../../functions/tags/handler.ts';
import { BadRequestError, ServiceUnavailableError } from '../../functions/shared/errors.ts';
import { errorResponse } from '../../functions/shared/http.ts';
import { responseChecker } from '../support/openapi-responses.ts';
import { planCatalog } from '../../functions/shared/plans.ts';
import { loadStackModel } from '../../local/model.ts';
import { createPortalListener } from '../../local/portal/index.ts';

const model = loadStackModel({
  templatePath: join(__dirname, '../../template.yaml'),
  stackName: 'tollgate',
  region: 'us-east-1',
  accountId: '123456789012',
});
const templateRoutes = model.apis.flatMap((api) => api.routes);
const key = (method: string, path: string): string => `${method.toUpperCase()} ${path}`;

type PathItem = Record<string, { security: Record<string, string[]>[]; parameters?: { name: string; in: string }[]; requestBody?: { content: Record<string, { schema: { properties?: object } }> }; responses: Record<string, unknown> }>;
const document = openApiDocument({ serverUrl: 'https://abc123defg.execute-api.us-east-1.amazonaws.com/v1' });
const paths = document.paths as Record<string, PathItem>;
const documented = Object.entries(paths).flatMap(([path, item]) => Object.keys(item).map((method) => key(method, path)));

describe('the OpenAPI document', () => {
  it('is a valid OpenAPI 3.1 document (swagger-parser)', async () => {
    await expect(SwaggerParser.validate(structuredClone(document) as never)).resolves.toBeDefined();
  });

  it('is checked by a validator that refuses a broken document', async () => {
    const wrongPlace = structuredClone(document) as { paths: Record<string, Record<string, { parameters: { in: string }[] }>> };
    wrongPlace.paths['/links']!.get!.parameters[0]!.in = 'body'; // OpenAPI 2's, not 3's
    await expect(SwaggerParser.validate(wrongPlace as never)).rejects.toThrow(/must be equal to one of the allowed values/);
    const dangling = structuredClone(document) as { paths: Record<string, Record<string, { responses: Record<string, unknown> }>> };
    dangling.paths['/links']!.get!.responses['418'] = { $ref: '#/components/responses/Error418' };
    await expect(SwaggerParser.validate(dangling as never)).rejects.toThrow(/Error418/);
  });

  it('is served by the portal server as /openapi.json, made per request', async () => {
    const listener = createPortalListener({ config: () => ({}) as never, openapi: () => openApiDocument({ serverUrl: 'http://127.0.0.1:1/v1' }) });
    const server = createServer(listener);
    await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
    try {
      const { port } = server.address() as AddressInfo;
      const response = await fetch(`http://127.0.0.1:${port}/openapi.json`);
      expect(response.status).toBe(200);
      const served = (await response.json()) as { servers: { url: string }[]; paths: object };
      expect(served.servers).toEqual([{ url: 'http://127.0.0.1:1/v1' }]);
      expect(Object.keys(served.paths)).toEqual(Object.keys(paths));
    } finally {
      await new Promise((done) => server.close(done));
    }
  });

  it('has exactly the routes template.yaml declares as Api events', () => {
    expect(templateRoutes.length).toBeGreaterThan(20);
    expect([...documented].sort()).toEqual(templateRoutes.map((r) => key(r.method, r.path)).sort());
  });

  it('has exactly the routes the handlers answer', () => {
    const handled = [publicRoutes, authRoutes, linksRoutes, tagsRoutes, accountRoutes].flatMap((r) => Object.keys(r));
    expect([...documented].sort()).toEqual(handled.sort());
  });

  it("documents each route with the auth the template gives it; the data API's token as DataApiAuth says", () => {
    // The Lambda authorizer (KeyAuthorizer: the key, in either KeyMode) with the key required is the data API: its
    // functions verify the ID token themselves when the stack's DataApiAuth is IdTokenAndApiKey (they get
    // DATA_API_AUTH), so the token requirement comes from the mode.
    const expected = (r: { authorizer: string; apiKeyRequired: boolean }): RouteAuth | 'token+key' =>
      r.authorizer === 'lambda' && r.apiKeyRequired ? 'data' : r.authorizer === 'none' ? 'none' : r.apiKeyRequired ? 'token+key' : 'token';
    const schemes = { none: [], token: [{ CognitoIdToken: [] }], key: [{ ApiKey: [] }], 'token+key': [{ CognitoIdToken: [], ApiKey: [] }] };
    const data = templateRoutes.filter((r) => expected(r) === 'data');
    expect(data.map((r) => key(r.method, r.path)).sort()).toEqual(OPERATIONS.filter((o) => o.tag === 'Links' || o.tag === 'Tags').map((o) => key(o.method, o.path)).sort());
    for (const route of data) {
      const fn = model.functions.find((f) => f.logicalId === route.functionName);
      expect({ route: key(route.method, route.path), mode: fn?.environment.DATA_API_AUTH }).toEqual({ route: key(route.method, route.path), mode: 'IdTokenAndApiKey' });
    }
    for (const mode of ['IdTokenAndApiKey', 'ApiKey'] as const) {
      const modePaths = openApiDocument({ dataApiAuth: mode }).paths as Record<string, PathItem>;
      for (const route of templateRoutes) {
        const op = OPERATIONS.find((o) => key(o.method, o.path) === key(route.method, route.path));
        const want = expected(route);
        const needs = want === 'data' ? (mode === 'ApiKey' ? 'key' : 'token+key') : want;
        expect({ route: key(route.method, route.path), auth: op?.auth }).toEqual({ route: key(route.method, route.path), auth: want });
        const documentedOp = modePaths[route.path]?.[route.method.toLowerCase()] as { security: unknown; 'x-auth': unknown } | undefined;
        expect({ route: key(route.method, route.path), mode, security: documentedOp?.security, xAuth: documentedOp?.['x-auth'] }).toEqual({
          route: key(route.method, route.path),
          mode,
          security: schemes[needs],
          xAuth: needs,
        });
      }
    }
    // The default document is the default mode's.
    expect(paths['/links']?.get?.security).toEqual(schemes['token+key']);
  });

  it('documents 401 on every route behind an authorizer, in both DataApiAuth modes: behind the Lambda authorizer a request without X-Api-Key (its identity source) is 401', () => {
    for (const mode of ['IdTokenAndApiKey', 'ApiKey'] as const) {
      const modePaths = openApiDocument({ dataApiAuth: mode }).paths as Record<string, PathItem>;
      for (const route of templateRoutes) {
        const responses = Object.keys(modePaths[route.path]?.[route.method.toLowerCase()]?.responses ?? {});
        // A public route answers 401 only when its function does (the auth routes' NotAuthorized): its own errors say so.
        const own401 = OPERATIONS.find((o) => key(o.method, o.path) === key(route.method, route.path))?.errors?.includes(401) ?? false;
        expect({ route: key(route.method, route.path), mode, has401: responses.includes('401') }).toEqual({
          route: key(route.method, route.path),
          mode,
          has401: route.authorizer !== 'none' || own401,
        });
      }
    }
  });

  it('says what rate-limit headers exist (none from API Gateway) in its description and on every 429', () => {
    const about = (document.info as { description: string }).description;
    expect(about).toContain(RATE_LIMIT_HEADERS);
    expect(RATE_LIMIT_HEADERS).toMatch(/no rate-limit headers/);
    expect(about).toMatch(/x-amzn-RequestId/);
    const responses = (document.components as { responses: Record<string, { description: string }> }).responses;
    expect(responses.Error429?.description).toContain(RATE_LIMIT_HEADERS);
  });

  it('names as parameters exactly the path variables of each route, and the query fields its schema accepts', () => {
    for (const op of OPERATIONS) {
      const parameters = paths[op.path]?.[op.method.toLowerCase()]?.parameters ?? [];
      const inPath = [...op.path.matchAll(/\{([^}]+)\}/g)].map((m) => m[1]);
      expect(parameters.filter((p) => p.in === 'path').map((p) => p.name)).toEqual(inPath);
      const queryFields = op.query ? Object.keys((inputJsonSchema(op.query).properties as object) ?? {}) : [];
      expect(parameters.filter((p) => p.in === 'query').map((p) => p.name).sort()).toEqual(queryFields.sort());
    }
  });

  it('documents request bodies field for field as the handler schemas, and their examples pass those schemas', () => {
    const catalog = planCatalog();
    for (const op of OPERATIONS) {
      const body = paths[op.path]?.[op.method.toLowerCase()]?.requestBody?.content['application/json']?.schema;
      if (!op.body) {
        expect({ route: key(op.method, op.path), body }).toEqual({ route: key(op.method, op.path), body: undefined });
        continue;
      }
      const schema = op.operationId === 'RequestPlanChange' ? planChangeBody(catalog) : op.body;
      expect(Object.keys(body?.properties ?? {}).sort()).toEqual(Object.keys(schema._zod.def.type === 'object' ? (inputJsonSchema(schema).properties as object) : {}).sort());
      expect({ route: key(op.method, op.path), ok: schema.safeParse(op.example?.body).success }).toEqual({ route: key(op.method, op.path), ok: true });
      // A field the document does not name is refused by the handler's schema (strict objects).
      expect(schema.safeParse({ ...(op.example?.body as object), notDocumented: 1 }).success).toBe(false);
    }
  });

  it('gives example path and query values that pass the handler schemas', () => {
    for (const op of OPERATIONS) {
      if (op.params) expect(op.params.safeParse(op.example?.params).success).toBe(true);
      if (op.query) expect(op.query.safeParse(op.example?.query ?? {}).success).toBe(true);
    }
  });

  it('lists the errors each route can answer: 401 with a token or a key (none sent), 403 with a key, 400 with inputs', () => {
    const links = OPERATIONS.find((o) => o.operationId === 'GetLink')!;
    expect(errorStatuses(links)).toEqual([400, 401, 403, 404, 429, 503]);
    // Key-only: no key is the KeyAuthorizer's 401 (its identity source is missing), tests/integration/key-only.test.ts.
    expect(errorStatuses(links, 'ApiKey')).toEqual([400, 401, 403, 404, 429, 503]);
    expect(errorStatuses(OPERATIONS.find((o) => o.operationId === 'GetMe')!, 'ApiKey')).toEqual([401, 404, 429, 503]);
    const health = OPERATIONS.find((o) => o.operationId === 'Health')!;
    expect(errorStatuses(health)).toEqual([429, 503]);
    expect(errorStatuses(OPERATIONS.find((o) => o.operationId === 'SignIn')!)).toEqual([400, 401, 403, 429, 503]);
    expect(Object.keys(paths['/links/{id}']!.get!.responses).sort()).toEqual(['200', '400', '401', '403', '404', '429', '503']);
  });

  it('gives every success answer with a body a response schema, and its example passes it (Ajv, JSON Schema 2020-12)', async () => {
    const checker = await responseChecker(document);
    for (const op of OPERATIONS) {
      const route = key(op.method, op.path);
      const content = paths[op.path]?.[op.method.toLowerCase()]?.responses[String(op.success.status)] as { content?: Record<string, { schema?: object; example?: unknown }> } | undefined;
      const json = content?.content?.['application/json'];
      if (op.success.status === 204) {
        expect({ route, content: content?.content }).toEqual({ route, content: undefined });
        continue;
      }
      expect({ route, schema: json?.schema !== undefined, example: json?.example !== undefined }).toEqual({ route, schema: true, example: true });
      expect({ route, problems: checker.bodyProblems(op.method, op.path, op.success.status, json?.example) }).toEqual({ route, problems: [] });
    }
  });

  it('names every answer body (components.schemas: what client generators name their types after), and uses every name', () => {
    for (const op of OPERATIONS.filter((o) => o.success.status !== 204)) {
      const response = paths[op.path]?.[op.method.toLowerCase()]?.responses[String(op.success.status)] as { content: Record<string, { schema: { $ref?: string } }> };
      expect({ route: key(op.method, op.path), ref: response.content['application/json']?.schema.$ref }).toEqual({
        route: key(op.method, op.path),
        ref: expect.stringMatching(/^#\/components\/schemas\/[A-Z][A-Za-z]+$/),
      });
    }
    const text = JSON.stringify(document);
    const named = Object.keys((document.components as { schemas: object }).schemas);
    const referenced = new Set([...text.matchAll(/"#\/components\/schemas\/(\w+)"/g)].map((m) => m[1]));
    expect(named.filter((name) => !referenced.has(name))).toEqual([]);
    expect([...referenced].filter((name) => !named.includes(name!))).toEqual([]);
  });

  it('refuses a body the schema does not describe: a missing field, an undocumented one, a wrong type', async () => {
    const checker = await responseChecker(document);
    const link = { id: '3f0c9a4e-7b1d-4c2a-9e5f-1a2b3c4d5e6f', url: 'https://example.com', createdAt: '2026-11-30T09:15:00.000Z' };
    expect(checker.bodyProblems('GET', '/links/{id}', 200, link)).toEqual([]);
    expect(checker.bodyProblems('GET', '/links/{id}', 200, { ...link, createdAt: undefined })).toEqual([expect.stringMatching(/must have required property 'createdAt'/)]);
    expect(checker.bodyProblems('GET', '/links/{id}', 200, { ...link, owner: 'someone' })).toEqual([expect.stringMatching(/must NOT have additional properties.*owner/)]);
    expect(checker.bodyProblems('GET', '/links/{id}', 200, { ...link, createdAt: 'yesterday' })).not.toEqual([]);
    expect(checker.problems('GET', '/links/{id}', 418, '{}')).toEqual([expect.stringMatching(/418 is not among the documented answers/)]);
    expect(checker.problems('DELETE', '/links/{id}', 204, '{"deleted":true}')).toEqual([expect.stringMatching(/a body where none is documented/)]);
  });

  it("documents the functions' error bodies (shared/http.ts errorResponse) and API Gateway's own as each error status's schema", async () => {
    const checker = await responseChecker(document);
    const bodyOf = (error: unknown): unknown => JSON.parse(errorResponse(error, 'req-1').body);
    const invalid = bodyOf(new BadRequestError('Invalid body: url: Must be an http or https URL', { issues: [{ field: 'url', message: 'Must be an http or https URL' }] }));
    expect(checker.bodyProblems('POST', '/links', 400, invalid)).toEqual([]);
    expect(checker.bodyProblems('POST', '/links', 503, bodyOf(new ServiceUnavailableError('Busy', 2)))).toEqual([]);
    // 401, 403 and 429 are also API Gateway's ({"message": …} alone); 400 and 404 only ever the functions'.
    expect(checker.bodyProblems('GET', '/links/{id}', 403, { message: 'Forbidden' })).toEqual([]);
    expect(checker.bodyProblems('GET', '/me', 401, { message: 'Unauthorized' })).toEqual([]);
    expect(checker.bodyProblems('GET', '/links/{id}', 404, { message: 'Not found' })).not.toEqual([]);
  });
});
