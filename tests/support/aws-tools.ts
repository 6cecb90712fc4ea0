/**
 * AWS's own software for checking the project, when it is beside the clone: `../shared/tools/sam-translate` (the AWS
 * SAM translator's output for template.yaml) and `../shared/tools/sam-build-check` (the builder `sam build` runs). They
 * need python3 with cfn-lint (which brings aws-sam-translator). Users who clone the project do not have them: tests
 * that use them skip with a warning naming what is missing — except in CI (`CI` set: a clone with ../shared beside
 * it, python3 and cfn-lint installed), where a missing tool fails the run instead of skipping silently.
 */
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';

export const projectRoot = resolve(__dirname, '../..');
export const toolsDir = resolve(projectRoot, '..', 'shared', 'tools');

function missingTools(): string | undefined {
  for (const tool of ['sam-translate', 'sam-build-check']) {
    if (!existsSync(join(toolsDir, tool))) return `${join(toolsDir, tool)} is not there (it sits beside a clone of the project, in ../shared/tools)`;
  }
  const python = spawnSync('python3', ['-c', 'import cfnlint, samtranslator'], { encoding: 'utf8' });
  if (python.error) return 'python3 is not on PATH';
  if (python.status !== 0) return 'python3 has no cfn-lint (pip install cfn-lint; it brings aws-sam-translator)';
  return undefined;
}

/** Why the AWS tools cannot run here, or undefined when they can. */
export const awsToolsMissing = missingTools();
const inCi = Boolean(process.env.CI);
if (awsToolsMissing !== undefined) {
  console.warn(`Tests against AWS's own SAM translator and builder ${inCi ? 'FAIL (CI)' : 'SKIPPED'}: ${awsToolsMissing}.`);
}

/** `describe` where the tools are there (or in CI, where their absence must fail); `describe.skip` otherwise. */
export const describeWithAwsTools: jest.Describe = awsToolsMissing === undefined || inCi ? describe : describe.skip;

/** Fails the calling test with the reason when the tools are missing (in CI). */
export function requireAwsTools(): void {
  if (awsToolsMissing !== undefined) throw new Error(`AWS tools missing: ${awsToolsMissing}`);
}

export interface ToolRun {
  status: number | null;
  stdout: string;
  stderr: string;
  seconds: number;
}

/** Runs one of ../shared/tools from the project root, as a user's shell would. */
export function runAwsTool(tool: 'sam-translate' | 'sam-build-check', args: string[], timeoutMs: number): ToolRun {
  requireAwsTools();
  const started = Date.now();
  const run = spawnSync(join(toolsDir, tool), args, { cwd: projectRoot, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (run.error) throw run.error;
  return { status: run.status, stdout: run.stdout, stderr: run.stderr, seconds: (Date.now() - started) / 1000 };
}

/** runAwsTool without blocking the event loop, so several can run at once. */
export function runAwsToolAsync(tool: 'sam-translate' | 'sam-build-check', args: string[], timeoutMs: number): Promise<ToolRun> {
  requireAwsTools();
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const child = spawn(join(toolsDir, tool), args, { cwd: projectRoot, timeout: timeoutMs });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr, seconds: (Date.now() - started) / 1000 }));
  });
}
