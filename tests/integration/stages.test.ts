/**
 * The stages SAM creates for the Api, offline as in AWS (issue 10, item 2). Without OpenApiVersion, SAM's translator
 * gives the deployment a second stage named `Stage`: the same routes and authorizer, but no usage plan (keyed routes
 * answer 403) and no MethodSettings (the /auth/* throttles do not apply). The template sets OpenApiVersion, so the
 * offline stack serves only the StageName stage; started from a copy without it, it serves `Stage` as AWS would.
 */
import { GetApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { cpSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { claimsOf, signIn, signUpAndOnboard, startTestStack, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';
import { loadTemplate } from '../../local/template.ts';

const root = join(__dirname, '../..');

describe('the template as it is', () => {
  let t: TestStack;
  beforeAll(async () => {
    t = await startTestStack();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('serves the StageName stage only: /Stage/… is an unknown path', async () => {
    const base = t.stack.endpoints.gateway;
    expect(t.stack.model.apis[0]?.stages.map((s) => s.name)).toEqual(['v1']);
    expect((await fetch(`${base}/v1/health`)).status).toBe(200);
    const stage = await fetch(`${base}/Stage/health`);
    expect(stage.status).toBe(403);
    expect(stage.headers.get('x-amzn-errortype')).toBe('MissingAuthenticationTokenException');
  });
});

describe('the template without OpenApiVersion (the defect, as SAM would deploy it)', () => {
  let t: TestStack;
  let templateDir: string;
  beforeAll(async () => {
    // A copy beside its state machine files; the functions still build from the project.
    templateDir = mkdtempSync(join(tmpdir(), 'tollgate-stage-'));
    cpSync(join(root, 'statemachines'), join(templateDir, 'statemachines'), { recursive: true });
    const template = loadTemplate(join(root, 'template.yaml'));
    delete template.Resources.Api?.Properties?.OpenApiVersion;
    writeFileSync(join(templateDir, 'template.yaml'), JSON.stringify(template)); // JSON is YAML
    t = await startTestStack({
      templatePath: join(templateDir, 'template.yaml'),
      parameterOverrides: { AuthRateLimit: '1', AuthBurstLimit: '2' },
    });
  }, 60_000);
  afterAll(async () => {
    await t?.close();
    rmSync(templateDir, { recursive: true, force: true });
  });

  it('also serves /Stage/…: key-less routes answer, keyed routes refuse every key, and the stage throttles do not apply', async () => {
    const base = t.stack.endpoints.gateway;
    expect(t.stack.model.apis[0]?.stages.map((s) => [s.name, s.methodThrottles.length])).toEqual([
      ['v1', 16],
      ['Stage', 0],
    ]);
    const email = uniqueEmail('stage');
    const { execution } = await signUpAndOnboard(t, email, { timeoutMs: 60_000 });
    expect(execution.status).toBe('SUCCEEDED');
    const { idToken } = await signIn(t, email);
    const apiKeyId = String(claimsOf(idToken)['custom:apiid']);
    const key = (await t.clients.apigateway.send(new GetApiKeyCommand({ apiKey: apiKeyId, includeValue: true }))).value as string;
    const withKey = { Authorization: idToken, 'x-api-key': key };

    expect((await fetch(`${base}/Stage/health`)).status).toBe(200);
    expect((await fetch(`${base}/Stage/me`, { headers: { Authorization: idToken } })).status).toBe(200);
    expect((await fetch(`${base}/v1/links`, { headers: withKey })).status).toBe(200);
    const keyed = await fetch(`${base}/Stage/links`, { headers: withKey });
    expect(keyed.status).toBe(403);
    expect(await keyed.json()).toEqual({ message: 'Forbidden' });

    const signInBurst = (stage: string) =>
      Promise.all(
        Array.from({ length: 5 }, () =>
          fetch(`${base}/${stage}/auth/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' }).then((r) => r.status),
        ),
      );
    expect(await signInBurst('v1')).toContain(429);
    expect(await signInBurst('Stage')).not.toContain(429);
  }, 90_000);
});
