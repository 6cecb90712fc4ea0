/** `npm run build`: one bundle per function in dist/<LogicalId>/, with each bundle's size, and dist/openapi.json. */
import { join, relative, resolve } from 'node:path';
import { rmSync } from 'node:fs';
import { buildFunctions } from '../local/build.ts';
import { loadStackModel } from '../local/model.ts';
import { writeOpenApi } from './openapi.ts';

const root = resolve(__dirname, '..');
const outDir = join(root, 'dist');

async function main(): Promise<void> {
  // Every function, whatever the template's conditions say (e.g. PreSignUp exists only with AutoConfirmSignUp=true).
  const model = loadStackModel({
    templatePath: join(root, 'template.yaml'),
    stackName: 'tollgate',
    region: 'us-east-1',
    accountId: '123456789012',
    parameterOverrides: { AutoConfirmSignUp: 'true' },
  });
  rmSync(outDir, { recursive: true, force: true });
  const built = await buildFunctions(model.functions, root, outDir);
  const width = Math.max(...built.map((b) => b.logicalId.length));
  for (const b of built.sort((x, y) => x.logicalId.localeCompare(y.logicalId))) {
    console.log(`${b.logicalId.padEnd(width)}  ${(b.bytes / 1024).toFixed(1).padStart(7)} KB  ${relative(root, b.file)}`);
  }
  writeOpenApi(join(outDir, 'openapi.json'));
  console.log(`${built.length} bundles, ${(built.reduce((n, b) => n + b.bytes, 0) / 1024).toFixed(1)} KB in total`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
