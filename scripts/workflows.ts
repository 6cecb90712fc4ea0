/**
 * `npm run workflows`: writes each `statemachines/<name>.asl.json` from its source `statemachines/<name>.ts` (the
 * module's default export; see statemachines/asl.ts). `npm run workflows -- --check` writes nothing and exits 1 when
 * a committed file differs from its source's output (`npm run validate` and tests/unit/workflows.test.ts check too).
 */
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, relative, resolve } from 'node:path';
import { render } from '../statemachines/asl.ts';

const root = resolve(__dirname, '..');
const folder = join(root, 'statemachines');

/** `{ file, text }` for every workflow source: the `.asl.json` path it writes and the text it must hold. */
export function generatedWorkflows(): { file: string; text: string }[] {
  return readdirSync(folder)
    .filter((f) => f.endsWith('.ts'))
    .sort()
    .flatMap((f) => {
      const definition = (require(join(folder, f)) as { default?: unknown }).default;
      return definition === undefined ? [] : [{ file: join(folder, f.replace(/\.ts$/, '.asl.json')), text: render(definition) }];
    });
}

/** The committed `.asl.json` files that differ from (or lack) their source's output, as paths from the repository root. */
export function staleWorkflows(): string[] {
  return generatedWorkflows()
    .filter(({ file, text }) => !existsSync(file) || readFileSync(file, 'utf8') !== text)
    .map(({ file }) => relative(root, file));
}

if (require.main === module) {
  if (process.argv.includes('--check')) {
    const stale = staleWorkflows();
    for (const file of stale) console.error(`✗ ${file} differs from its source (run npm run workflows)`);
    process.exit(stale.length === 0 ? 0 : 1);
  }
  for (const { file, text } of generatedWorkflows()) {
    writeFileSync(file, text);
    console.log(`✓ ${relative(root, file)}`);
  }
}
