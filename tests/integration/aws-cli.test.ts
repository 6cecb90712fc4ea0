/**
 * The onboarding flow driven by the real AWS CLI (`aws --endpoint-url …`), as a person would against `npm start`:
 * proof that the local services speak AWS's wire protocols, not just what our SDK-based tests expect.
 */
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import { startTestStack, uniqueEmail, PASSWORD, type TestStack } from '../../local/harness/stack.ts';

const run = promisify(execFile);
const cli = spawnSync('aws', ['--version'], { encoding: 'utf8' });
const haveCli = !cli.error && cli.status === 0;
if (!haveCli && process.env.CI) {
  throw new Error('The AWS CLI is required in CI (these machines ship it) but `aws --version` failed');
}
// On a laptop without the AWS CLI this file is skipped, loudly.
const describeCli = haveCli ? describe : describe.skip;
if (!haveCli) console.warn('aws-cli.test.ts skipped: the AWS CLI is not installed');

let t: TestStack;

async function aws(endpoint: string, ...args: string[]): Promise<Record<string, unknown>> {
  const { stdout } = await run('aws', ['--endpoint-url', endpoint, '--region', 'us-east-1', '--output', 'json', ...args], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: process.env.HOME ?? '/tmp',
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      AWS_CONFIG_FILE: '/dev/null',
      AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
    },
  });
  return stdout.trim() ? (JSON.parse(stdout) as Record<string, unknown>) : {};
}

describeCli('AWS CLI against the offline stack', () => {
  beforeAll(async () => {
    t = await startTestStack();
  }, 60_000);
  afterAll(async () => {
    await t?.close();
  });

  it('signs up, confirms, watches onboarding, reads the key and calls the API', async () => {
    const e = t.stack.endpoints;
    const email = uniqueEmail('cli');
    const clientId = t.stack.userPoolClientId;

    const signUp = await aws(e.cognito, 'cognito-idp', 'sign-up', '--client-id', clientId, '--username', email, '--password', PASSWORD,
      '--user-attributes', `Name=email,Value=${email}`);
    const sub = signUp.UserSub as string;
    await aws(e.cognito, 'cognito-idp', 'confirm-sign-up', '--client-id', clientId, '--username', email,
      '--confirmation-code', t.stack.cognito.latestCode(email) as string);

    const machine = t.stack.model.stateMachines.find((m) => m.logicalId === 'OnboardingStateMachine')!;
    const executionArn = `${machine.arn.replace(':stateMachine:', ':execution:')}:onboard-${sub}`;
    let status = 'RUNNING';
    for (let i = 0; i < 100 && status === 'RUNNING'; i++) {
      status = (await aws(e.stepfunctions, 'stepfunctions', 'describe-execution', '--execution-arn', executionArn)).status as string;
    }
    expect(status).toBe('SUCCEEDED');
    const history = await aws(e.stepfunctions, 'stepfunctions', 'get-execution-history', '--execution-arn', executionArn);
    expect((history.events as { type: string }[]).map((ev) => ev.type)).toEqual(expect.arrayContaining(['ExecutionStarted', 'TaskSucceeded', 'ExecutionSucceeded']));

    const user = await aws(e.cognito, 'cognito-idp', 'admin-get-user', '--user-pool-id', t.stack.userPoolId, '--username', email);
    const keyId = (user.UserAttributes as { Name: string; Value: string }[]).find((a) => a.Name === 'custom:apiid')?.Value as string;
    expect(keyId).toMatch(/^[a-z0-9]{10}$/);
    const key = await aws(e.apigateway, 'apigateway', 'get-api-key', '--api-key', keyId, '--include-value');
    expect(key).toMatchObject({ id: keyId, name: sub, enabled: true });

    const auth = await aws(e.cognito, 'cognito-idp', 'initiate-auth', '--client-id', clientId, '--auth-flow', 'USER_PASSWORD_AUTH',
      '--auth-parameters', `USERNAME=${email},PASSWORD=${PASSWORD}`);
    const idToken = (auth.AuthenticationResult as { IdToken: string }).IdToken;
    const response = await fetch(`${t.stack.apiUrl}/me`, { headers: { Authorization: idToken, 'x-api-key': key.value as string } });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ email, plan: 'free', status: 'ACTIVE', apiKeyId: keyId });

    const table = t.stack.model.tables.find((x) => x.logicalId === 'AccountsTable')!.name;
    const item = await aws(e.dynamodb, 'dynamodb', 'get-item', '--table-name', table, '--key', JSON.stringify({ userId: { S: sub } }));
    expect(item.Item).toMatchObject({ status: { S: 'ACTIVE' } });
  }, 60_000);

  it('gets AWS-shaped errors from every local service', async () => {
    const e = t.stack.endpoints;
    const failure = async (endpoint: string, ...args: string[]) => {
      try {
        await aws(endpoint, ...args);
      } catch (error) {
        return String((error as { stderr?: string }).stderr);
      }
      throw new Error(`expected ${args.join(' ')} to fail`);
    };
    expect(await failure(e.apigateway, 'apigateway', 'get-api-key', '--api-key', 'nope000000')).toMatch(/NotFoundException/);
    expect(await failure(e.stepfunctions, 'stepfunctions', 'describe-execution', '--execution-arn', 'arn:aws:states:us-east-1:000000000000:execution:tollgate-onboarding:nope')).toMatch(/ExecutionDoesNotExist/);
    expect(await failure(e.lambda, 'lambda', 'invoke', '--function-name', 'NoSuchFunction', '/dev/null')).toMatch(/ResourceNotFoundException/);
    expect(await failure(e.cognito, 'cognito-idp', 'admin-get-user', '--user-pool-id', t.stack.userPoolId, '--username', 'nobody@example.com')).toMatch(/UserNotFoundException/);
  }, 60_000);
});
