/**
 * The offline Step Functions validates every definition (asl-validator through aws-local-stepfunctions) when it
 * starts, and remembers the ones it accepted (local/stepfunctions/machines.ts): an invalid definition is refused every
 * time, naming the machine, and the definition the template gave is left as it was.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createStepFunctionsService } from '../../../local/stepfunctions/index.ts';
import type { StateMachineSpec } from '../../../local/types.ts';

const REGION = 'us-east-1';
const ACCOUNT = '000000000000';
const spec = (name: string, definition: Record<string, unknown>): StateMachineSpec => ({
  logicalId: name,
  name,
  arn: `arn:aws:states:${REGION}:${ACCOUNT}:stateMachine:${name}`,
  type: 'STANDARD',
  definition,
});

/** Starts and closes a service over these machines; rejects as the service's creation does. */
async function startAndClose(machines: StateMachineSpec[]): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'tollgate-sfn-validate-'));
  try {
    const sfn = await createStepFunctionsService({ dir, stateMachines: machines, endpoints: {}, region: REGION, accountId: ACCOUNT, credentials: { accessKeyId: 'l', secretAccessKey: 'l' } });
    await sfn.close();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

// The first validation in a process compiles asl-validator's schemas: more than jest's 5 s default under load.
jest.setTimeout(30_000);

describe('state machine definitions at start', () => {
  it('refuses an invalid definition every time, naming the machine, also after valid ones were accepted', async () => {
    const broken = { StartAt: 'A', States: { A: { Type: 'Pass', Next: 'Nowhere' } } };
    const valid = { StartAt: 'A', States: { A: { Type: 'Pass', End: true } } };
    await expect(startAndClose([spec('broken', broken)])).rejects.toThrow(/^state machine broken \(broken\): State machine definition is invalid/);
    await startAndClose([spec('valid', valid)]);
    await startAndClose([spec('valid', valid)]);
    await expect(startAndClose([spec('valid', valid), spec('broken', broken)])).rejects.toThrow(/^state machine broken \(broken\): /);
  });

  it('leaves the definition as given (the validator fills in QueryLanguage on what it checks)', async () => {
    const definition = { StartAt: 'A', States: { A: { Type: 'Pass', Result: { unique: Math.random() }, End: true } } };
    const before = JSON.stringify(definition);
    await startAndClose([spec('untouched', definition)]);
    await startAndClose([spec('untouched', definition)]);
    expect(JSON.stringify(definition)).toBe(before);
  });
});
