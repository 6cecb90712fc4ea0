import { execFileSync } from 'node:child_process';
import { openApiDocument } from '../../../functions/openapi/document.ts';
import { OPERATIONS } from '../../../functions/openapi/operations.ts';
import { buildRequest, codeSpans, curlSnippet, fetchSnippet, operationsOf, pythonSnippet, type OpenApiDocument } from '../../../portal/src/reference/snippets.ts';

const BASE = 'https://abc123defg.execute-api.us-east-1.amazonaws.com/v1';
const operations = operationsOf(openApiDocument() as unknown as OpenApiDocument);
const op = (operationId: string) => operations.find((o) => o.operationId === operationId)!;
const placeholders = { token: '$TOKEN', apiKey: '$API_KEY' };

describe('API reference: operations and snippets', () => {
  it('reads every operation of the document with its auth and parameters', () => {
    expect(operations.map((o) => o.operationId).sort()).toEqual(OPERATIONS.map((o) => o.operationId).sort());
    expect(op('GetLink')).toMatchObject({ method: 'GET', path: '/links/{id}', auth: 'token+key', parameters: [{ name: 'id', in: 'path', required: true }] });
    expect(op('GetLink').responses.map((r) => r.status)).toEqual(['200', '400', '401', '403', '404', '429', '503']);
    expect(op('GetLink').responses.find((r) => r.status === '403')?.description).toMatch(/API key/);
  });

  it('fills path parameters, leaves empty query parameters out, and sends the headers the auth needs', () => {
    expect(buildRequest(op('GetLink'), BASE, { id: 'a b' }, undefined, placeholders)).toEqual({
      method: 'GET', url: `${BASE}/links/a%20b`, pathAndQuery: '/links/a%20b', headers: { Authorization: '$TOKEN', 'x-api-key': '$API_KEY' },
    });
    expect(buildRequest(op('ListLinks'), BASE, { limit: '5', nextToken: '' }, undefined, placeholders).pathAndQuery).toBe('/links?limit=5');
    expect(buildRequest(op('GetMe'), BASE, {}, undefined, placeholders).headers).toEqual({ Authorization: '$TOKEN' });
    expect(buildRequest(op('Health'), BASE, {}, undefined, placeholders).headers).toEqual({});
    expect(() => buildRequest(op('GetLink'), BASE, { id: '' }, undefined, placeholders)).toThrow('Fill in the path parameter id');
    expect(() => buildRequest(op('CreateLink'), BASE, {}, '{nope', placeholders)).toThrow(SyntaxError);
  });

  it('follows the deployed DataApiAuth: with ApiKey a data route takes the key alone (401 only without it), /me… still the token', () => {
    const keyOnly = operationsOf(openApiDocument({ dataApiAuth: 'ApiKey' }) as unknown as OpenApiDocument);
    const find = (id: string) => keyOnly.find((o) => o.operationId === id)!;
    expect(find('GetLink')).toMatchObject({ auth: 'key' });
    expect(find('GetLink').responses.map((r) => r.status)).toEqual(['200', '400', '401', '403', '404', '429', '503']);
    expect(find('GetLink').responses.find((r) => r.status === '401')?.description).toMatch(/^No API key on a data route/);
    expect(buildRequest(find('GetLink'), BASE, { id: 'x' }, undefined, placeholders).headers).toEqual({ 'x-api-key': '$API_KEY' });
    expect(curlSnippet(buildRequest(find('ListLinks'), BASE, {}, undefined, placeholders))).not.toContain('Authorization');
    expect(buildRequest(find('GetMe'), BASE, {}, undefined, placeholders).headers).toEqual({ Authorization: '$TOKEN' });
    expect(buildRequest(op('GetLink'), BASE, { id: 'x' }, undefined, placeholders).headers).toEqual({ Authorization: '$TOKEN', 'x-api-key': '$API_KEY' });
  });

  it("shows the document's description with its `code` spans, which says that API Gateway sends no rate-limit headers", () => {
    expect(codeSpans('a `b` c``d`e`')).toEqual([
      { text: 'a ', code: false },
      { text: 'b', code: true },
      { text: ' c', code: false },
      { text: 'd', code: false },
      { text: 'e', code: true },
    ]);
    const about = (openApiDocument() as unknown as OpenApiDocument).info?.description ?? '';
    expect(codeSpans(about).map((run) => run.text).join('')).toMatch(/API Gateway sends no rate-limit headers \(no X-RateLimit-\*, and no Retry-After on a 429\)/);
  });

  it('writes curl with placeholders as shell variables and literal values quoted', () => {
    const r = buildRequest(op('CreateLink'), BASE, {}, '{"url":"https://example.com/it\'s"}', { token: '$TOKEN', apiKey: 'k3y' });
    expect(curlSnippet(r)).toBe(
      [`curl -i -X POST '${BASE}/links'`, `-H "Authorization: $TOKEN"`, `-H 'x-api-key: k3y'`, `-H 'Content-Type: application/json'`, `-d '{"url":"https://example.com/it'\\''s"}'`].join(' \\\n  '),
    );
  });

  it('writes JavaScript that parses, with placeholders from the environment', () => {
    const js = fetchSnippet(buildRequest(op('CreateTagLink'), BASE, {}, '{"tagId":"t","linkId":"l"}', { token: '$TOKEN', apiKey: 'k3y' }));
    expect(js).toContain('"Authorization": process.env.TOKEN,');
    expect(js).toContain('"x-api-key": "k3y",');
    // Syntax only (no request is sent): node --check on the snippet as an ES module.
    expect(() => execFileSync(process.execPath, ['--check', '--input-type=module'], { input: js })).not.toThrow();
  });

  it('writes Python with JSON bodies as Python literals', () => {
    const py = pythonSnippet(buildRequest(op('SignIn'), BASE, {}, '{"email":"a@b.c","password":"p","flag":true,"none":null}', placeholders));
    expect(py).toContain('json={"email": "a@b.c", "password": "p", "flag": True, "none": None},');
    expect(py).not.toContain('import os');
    expect(pythonSnippet(buildRequest(op('GetMe'), BASE, {}, undefined, placeholders))).toContain('"Authorization": os.environ["TOKEN"],');
  });
});
