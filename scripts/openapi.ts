/**
 * `npm run openapi [-- --server <stage URL>] [--data-api-auth <ApiKey|IdTokenAndApiKey>] [file…]`: writes the API
 * reference (functions/openapi/document.ts) to each file, or prints it. `npm run portal:build` runs it into
 * portal/dist/openapi.json, so the hosted portal serves the reference beside its pages; `npm run build` writes
 * dist/openapi.json beside the function bundles.
 *
 * The data API's auth in the document is the deployed stack's `DataApiAuth` (deployedDataApiAuth): the
 * `--data-api-auth` option, else the `DATA_API_AUTH` environment variable (e.g. `DATA_API_AUTH=ApiKey npm run build`),
 * else the `DataApiAuth=` of samconfig.toml's `parameter_overrides` (what `sam deploy` deploys), else template.yaml's
 * default.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { openApiDocument, type DataApiAuth } from '../functions/openapi/document.ts';
import { loadTemplate } from '../local/template.ts';

const root = resolve(__dirname, '..');

function asMode(value: string, from: string): DataApiAuth {
  if (value === 'ApiKey' || value === 'IdTokenAndApiKey') return value;
  throw new Error(`${from}: DataApiAuth must be ApiKey or IdTokenAndApiKey, not ${value}`);
}

/**
 * The DataApiAuth the document is written for: `explicit` (the --data-api-auth option), else `DATA_API_AUTH`, else
 * samconfig.toml's `parameter_overrides`, else template.yaml's default. Throws on a value that is neither mode.
 */
export function deployedDataApiAuth(explicit?: string): DataApiAuth {
  if (explicit !== undefined) return asMode(explicit, '--data-api-auth');
  const env = process.env.DATA_API_AUTH;
  if (env !== undefined && env !== '') return asMode(env, 'DATA_API_AUTH');
  const samconfig = join(root, 'samconfig.toml');
  if (existsSync(samconfig)) {
    const override = /^\s*parameter_overrides\s*=.*\bDataApiAuth=\\?"?([A-Za-z]+)/m.exec(readFileSync(samconfig, 'utf8'));
    if (override?.[1] !== undefined) return asMode(override[1], 'samconfig.toml parameter_overrides');
  }
  return asMode(String(loadTemplate(join(root, 'template.yaml')).Parameters?.DataApiAuth?.Default), 'template.yaml DataApiAuth default');
}

/** Writes the document (pretty JSON, trailing newline) for `dataApiAuth` (default deployedDataApiAuth) to `file`, making its folder. */
export function writeOpenApi(file: string, serverUrl?: string, dataApiAuth: DataApiAuth = deployedDataApiAuth()): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(openApiDocument({ ...(serverUrl ? { serverUrl } : {}), dataApiAuth }), null, 2)}\n`);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const option = (name: string): string | undefined => {
    const at = args.indexOf(name);
    return at >= 0 ? args.splice(at, 2)[1] : undefined;
  };
  const serverUrl = option('--server');
  const dataApiAuth = deployedDataApiAuth(option('--data-api-auth'));
  if (args.length === 0) process.stdout.write(`${JSON.stringify(openApiDocument({ ...(serverUrl ? { serverUrl } : {}), dataApiAuth }), null, 2)}\n`);
  for (const file of args) {
    writeOpenApi(resolve(file), serverUrl, dataApiAuth);
    console.log(`OpenAPI document written to ${file} (DataApiAuth=${dataApiAuth})`);
  }
}
