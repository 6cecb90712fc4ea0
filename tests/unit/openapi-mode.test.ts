/**
 * The build step writes the API reference for the deployed DataApiAuth (scripts/openapi.ts deployedDataApiAuth):
 * --data-api-auth, else DATA_API_AUTH, else samconfig.toml's parameter_overrides, else template.yaml's default.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { deployedDataApiAuth, writeOpenApi } from '../../scripts/openapi.ts';

const saved = process.env.DATA_API_AUTH;
afterEach(() => {
  if (saved === undefined) delete process.env.DATA_API_AUTH;
  else process.env.DATA_API_AUTH = saved;
});

it("defaults to samconfig.toml's override or, without one, the template's default (IdTokenAndApiKey)", () => {
  delete process.env.DATA_API_AUTH;
  const samconfig = readFileSync(join(__dirname, '../../samconfig.toml'), 'utf8');
  const override = /DataApiAuth=\\?"?([A-Za-z]+)/.exec(samconfig)?.[1];
  expect(deployedDataApiAuth()).toBe(override ?? 'IdTokenAndApiKey');
});

it('takes DATA_API_AUTH, and the option over it; refuses anything but the two modes', () => {
  process.env.DATA_API_AUTH = 'ApiKey';
  expect(deployedDataApiAuth()).toBe('ApiKey');
  expect(deployedDataApiAuth('IdTokenAndApiKey')).toBe('IdTokenAndApiKey');
  expect(() => deployedDataApiAuth('apikey')).toThrow(/--data-api-auth: DataApiAuth must be ApiKey or IdTokenAndApiKey/);
  process.env.DATA_API_AUTH = 'Token';
  expect(() => deployedDataApiAuth()).toThrow(/DATA_API_AUTH/);
});

it('writes the document of that mode: key-only data routes need the key alone', () => {
  const dir = mkdtempSync(join(tmpdir(), 'openapi-mode-'));
  try {
    process.env.DATA_API_AUTH = 'ApiKey';
    writeOpenApi(join(dir, 'openapi.json'));
    const doc = JSON.parse(readFileSync(join(dir, 'openapi.json'), 'utf8')) as { paths: Record<string, Record<string, { security: unknown }>> };
    expect(doc.paths['/links']?.get?.security).toEqual([{ ApiKey: [] }]);
    expect(doc.paths['/me']?.get?.security).toEqual([{ CognitoIdToken: [] }]);
    writeOpenApi(join(dir, 'token.json'), undefined, 'IdTokenAndApiKey');
    const token = JSON.parse(readFileSync(join(dir, 'token.json'), 'utf8')) as typeof doc;
    expect(token.paths['/links']?.get?.security).toEqual([{ CognitoIdToken: [], ApiKey: [] }]);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
