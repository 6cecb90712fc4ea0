/**
 * `npm run openapi [-- --server <stage URL>] [file…]`: writes the API reference (functions/openapi/document.ts) to each
 * file, or prints it. `npm run portal:build` runs it into portal/dist/openapi.json, so the hosted portal serves the
 * reference beside its pages; `npm run build` writes dist/openapi.json beside the function bundles.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { openApiDocument } from '../functions/openapi/document.ts';

/** Writes the document (pretty JSON, trailing newline) to `file`, making its folder. */
export function writeOpenApi(file: string, serverUrl?: string): void {
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${JSON.stringify(openApiDocument(serverUrl ? { serverUrl } : {}), null, 2)}\n`);
}

if (require.main === module) {
  const args = process.argv.slice(2);
  const at = args.indexOf('--server');
  const serverUrl = at >= 0 ? args.splice(at, 2)[1] : undefined;
  if (args.length === 0) process.stdout.write(`${JSON.stringify(openApiDocument(serverUrl ? { serverUrl } : {}), null, 2)}\n`);
  for (const file of args) {
    writeOpenApi(resolve(file), serverUrl);
    console.log(`OpenAPI document written to ${file}`);
  }
}
