/**
 * The committed state machine files (`statemachines/*.asl.json`, what SAM deploys) are exactly what their TypeScript
 * sources write (`npm run workflows`), so a change made in one place only fails here; and the builders' payload rules.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { N, S, payload, retry, TRANSIENT } from '../../statemachines/asl.ts';
import { generatedWorkflows, staleWorkflows } from '../../scripts/workflows.ts';

const folder = join(__dirname, '../../statemachines');

describe('statemachines/*.asl.json', () => {
  it('are what their sources write, byte for byte', () => {
    expect(staleWorkflows()).toEqual([]);
    for (const { file, text } of generatedWorkflows()) expect({ file, text: readFileSync(file, 'utf8') }).toEqual({ file, text });
  });

  it('each has a source: no hand-written definition', () => {
    const committed = readdirSync(folder).filter((f) => f.endsWith('.asl.json'));
    expect(generatedWorkflows().map(({ file }) => file)).toEqual(committed.sort().map((f) => join(folder, f)));
  });
});

describe('payload', () => {
  it('suffixes the keys of paths and intrinsics, and leaves substitutions and literals alone', () => {
    expect(
      payload({
        FunctionName: '${ApiKeyFunctionArn}',
        Payload: { action: 'attach', keyId: '$.apiKey.Id', input: '$', at: '$$.Execution.StartTime', id: "States.Format('{}', $.a)" },
        Key: { userId: S('$.userId') },
        Values: { ':price': N('${FreeMonthlyPrice}'), ':one': N(1), ':version': N('$.loaded.Item.version.N') },
        List: [{ Name: 'custom:apiid', Value: '$.apiKey.Id' }],
        'Already.$': '$.x',
      }),
    ).toEqual({
      FunctionName: '${ApiKeyFunctionArn}',
      Payload: { action: 'attach', 'keyId.$': '$.apiKey.Id', 'input.$': '$', 'at.$': '$$.Execution.StartTime', 'id.$': "States.Format('{}', $.a)" },
      Key: { userId: { 'S.$': '$.userId' } },
      Values: { ':price': { N: '${FreeMonthlyPrice}' }, ':one': { N: '1' }, ':version': { 'N.$': '$.loaded.Item.version.N' } },
      List: [{ Name: 'custom:apiid', 'Value.$': '$.apiKey.Id' }],
      'Already.$': '$.x',
    });
  });

  it('retries with capped, jittered backoff unless told otherwise', () => {
    expect(retry(TRANSIENT.sfn)).toEqual({ ErrorEquals: ['Sfn.SfnException'], IntervalSeconds: 2, MaxAttempts: 6, BackoffRate: 2, MaxDelaySeconds: 20, JitterStrategy: 'FULL' });
    expect(retry(['X'], { MaxAttempts: 10 }).MaxAttempts).toBe(10);
  });
});
