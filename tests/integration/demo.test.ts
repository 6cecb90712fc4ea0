/**
 * `npm run demo` (scripts/demo.ts) against an in-process offline stack on free ports: every step succeeds, the output
 * shows onboarding SUCCEEDED and the gateway's 401 / 403 / 429, and the API key's value never appears in full.
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { freePort } from '../../local/ports.ts';
import { maskKey, readStackIds, runDemo, type DemoOptions } from '../../scripts/demo.ts';
import { startTestStack, type TestStack } from '../../local/harness/stack.ts';

let t: TestStack;

beforeAll(async () => {
  t = await startTestStack();
}, 60_000);

afterAll(async () => {
  await t?.close();
});

function stackOptions(): DemoOptions {
  const e = t.stack.endpoints;
  return { apiUrl: t.stack.apiUrl, cognitoUrl: e.cognito, sfnUrl: e.stepfunctions, apigatewayUrl: e.apigateway, dir: t.dir };
}

describe('npm run demo', () => {
  it('walks a new user from sign-up to a 429, printing the key only masked', async () => {
    const lines: string[] = [];
    const result = await runDemo({
      ...stackOptions(),
      clientId: t.stack.userPoolClientId,
      poolId: t.stack.userPoolId,
      out: (line) => lines.push(line),
    });
    const output = lines.join('\n');

    expect({ ok: result.ok, failedStep: result.failedStep, error: result.error }).toEqual({ ok: true, failedStep: undefined, error: undefined });
    for (let n = 1; n <= 8; n++) expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^${n}\\. \\S`)));
    expect(output).toMatch(/✓ SUCCEEDED in \S+ (ms|s): account ACTIVE on plan free/);
    expect(output).toMatch(/\bMarkOnboarding\b[\s\S]*\bCreateApiKey\b[\s\S]*\bMarkActive\b/);
    expect(output).toMatch(/POST \/links .* → 201/);
    expect(output).toMatch(/GET \/links → 200/);
    expect(output).toMatch(/GET \/me → 200/);
    expect(output).toMatch(/2 requests used, 998 left of 1000 this month/);
    expect(output).toMatch(/without a token: 401\b/);
    expect(output).toMatch(/without a key: +401\b/);
    const burst = /(\d+) requests at once: (.*)/.exec(output);
    expect(burst).not.toBeNull();
    expect(burst![2]).toMatch(/\d+ × 200/);
    expect(burst![2]).toMatch(/[1-9]\d* × 429/);
    expect(output).toContain('README.md');

    // The real key value, from the control plane: only its first four characters may be printed.
    expect(result.apiKeyId).toMatch(/^[a-z0-9]{10}$/);
    const key = await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: result.apiKeyId, includeValue: true }));
    const value = key.value as string;
    expect(value.length).toBeGreaterThan(20);
    expect(output).not.toContain(value);
    expect(output).not.toContain(value.slice(0, 12));
    expect(output).toContain(`value ${maskKey(value)}`);
  }, 60_000);

  it('reads the app client and pool ids from <dir>/stack.json, as the stack wrote them', () => {
    expect(readStackIds(t.dir)).toEqual({ poolId: t.stack.userPoolId, clientId: t.stack.userPoolClientId });
  });

  it('says how to start the stack, and fails before step 1, when nothing answers', async () => {
    const closed = `http://127.0.0.1:${await freePort()}`;
    const lines: string[] = [];
    const result = await runDemo({ ...stackOptions(), apiUrl: `${closed}/v1`, out: (line) => lines.push(line) });

    expect(result).toMatchObject({ ok: false, failedStep: 0 });
    const output = lines.join('\n');
    expect(output).toContain('Cannot reach the offline stack');
    expect(output).toContain('npm start');
    expect(output).toMatch(/← nothing answers here/);
    expect(output).not.toMatch(/^1\. /m);
  });
});
