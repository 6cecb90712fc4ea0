// Over 400 lines: one narrated walkthrough whose eight steps read top to bottom, with the helpers only it uses.
/**
 * `npm run demo`: a narrated walkthrough of a new customer's first minutes, against a running `npm start`.
 *   npm run demo
 *   npm run demo -- --dir /tmp/tg --api-url http://127.0.0.1:4000/v1 --client-id <id> --pool-id <id>
 *
 * Sign up → confirm with the code from the outbox → watch the onboarding workflow → sign in and find the API key →
 * call the protected API → read the usage → see the gateway's 401 / 403 / 429 → what to try next.
 * Everything goes through the same public APIs a customer (or the AWS CLI) would use; the key value is never printed
 * in full. `runDemo(options)` is exported for the integration test.
 */
import { APIGatewayClient, GetApiKeyCommand, GetUsageCommand, GetUsagePlansCommand, type UsagePlan } from '@aws-sdk/client-api-gateway';
import {
  CognitoIdentityProviderClient,
  ConfirmSignUpCommand,
  DescribeUserPoolClientCommand,
  InitiateAuthCommand,
  SignUpCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { DescribeExecutionCommand, SFNClient, type DescribeExecutionCommandOutput } from '@aws-sdk/client-sfn';
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { DEFAULT_PORTS } from '../local/endpoints.ts';
import { claimsOf, executionHistory } from '../local/harness/clients.ts';
import type { CognitoIds } from '../local/model.ts';
import type { DataApiAuth } from '../portal/src/data-api-auth.ts';
import { LOCAL_ACCOUNT_ID, LOCAL_CREDENTIALS, LOCAL_REGION } from '../local/types.ts';

export const DEFAULTS = {
  apiUrl: `http://127.0.0.1:${DEFAULT_PORTS.gateway}/v1`,
  cognitoUrl: `http://127.0.0.1:${DEFAULT_PORTS.cognito}`,
  sfnUrl: `http://127.0.0.1:${DEFAULT_PORTS.stepfunctions}`,
  apigatewayUrl: `http://127.0.0.1:${DEFAULT_PORTS.apigateway}`,
  dir: '.local',
  stateMachineArn: `arn:aws:states:${LOCAL_REGION}:${LOCAL_ACCOUNT_ID}:stateMachine:tollgate-onboarding`,
};

export interface DemoOptions {
  /** The gateway's stage URL, e.g. http://127.0.0.1:3000/v1. */
  apiUrl?: string;
  cognitoUrl?: string;
  sfnUrl?: string;
  apigatewayUrl?: string;
  /** The state directory of the running stack (stack.json, cognito/outbox.jsonl). */
  dir?: string;
  /** App client id; default: from <dir>/stack.json. */
  clientId?: string;
  /** User pool id; default: from <dir>/stack.json. Used to check that the client belongs to the running Cognito. */
  poolId?: string;
  stateMachineArn?: string;
  /** Where the narration goes, one line per call (default console.log). */
  out?: (line: string) => void;
  /** Where the failure message goes (default: out). */
  err?: (line: string) => void;
  onboardingTimeoutMs?: number;
  /** Requests fired at once to show throttling. */
  burstSize?: number;
  /** How the data API authenticates (the stack's DataApiAuth); default: from <dir>/portal/config.json, else IdTokenAndApiKey. */
  dataApiAuth?: DataApiAuth;
}

/** The data API's mode as `npm start` wrote it into <dir>/portal/config.json (dataApiAuth); IdTokenAndApiKey without it. */
export function readDataApiAuth(dir: string): DataApiAuth {
  const file = join(resolve(dir), 'portal', 'config.json');
  if (!existsSync(file)) return 'IdTokenAndApiKey';
  try {
    return (JSON.parse(readFileSync(file, 'utf8')) as { dataApiAuth?: DataApiAuth }).dataApiAuth === 'ApiKey' ? 'ApiKey' : 'IdTokenAndApiKey';
  } catch {
    return 'IdTokenAndApiKey';
  }
}

export interface DemoResult {
  ok: boolean;
  /** The step that failed (0 = before step 1: the stack is not reachable or not the one in --dir). */
  failedStep?: number;
  error?: string;
  email?: string;
  userId?: string;
  apiKeyId?: string;
}

const TOTAL_STEPS = 8;
const INDENT = '   ';

/** A step failed: the message says what went wrong, the hint what to do about it. */
class DemoError extends Error {
  constructor(
    message: string,
    readonly hint?: string,
  ) {
    super(message);
  }
}

/** The Cognito ids `npm start` keeps in <dir>/stack.json (the stack model's CognitoIds). */
export function readStackIds(dir: string): { poolId?: string; clientId?: string } {
  const file = join(resolve(dir), 'stack.json');
  if (!existsSync(file)) return {};
  let ids: CognitoIds;
  try {
    ids = (JSON.parse(readFileSync(file, 'utf8')) as { cognito: CognitoIds }).cognito;
  } catch (error) {
    throw new DemoError(`${file} is not readable JSON (${(error as Error).message})`, 'Pass --client-id and --pool-id, or restart `npm start`.');
  }
  const poolId = ids?.pools?.UserPool ?? Object.values(ids?.pools ?? {})[0];
  const clientId = ids?.clients?.UserPoolClient?.id ?? Object.values(ids?.clients ?? {})[0]?.id;
  return { ...(poolId ? { poolId } : {}), ...(clientId ? { clientId } : {}) };
}

export function maskKey(value: string): string {
  return `${value.slice(0, 4)}…`;
}

function describeError(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const cause = (error as { cause?: { code?: string } }).cause;
  if (cause?.code === 'ECONNREFUSED' || (error as { code?: string }).code === 'ECONNREFUSED') {
    return 'connection refused (has `npm start` stopped?)';
  }
  if (error.name === 'TimeoutError') return 'no answer in time';
  return error.name && error.name !== 'Error' ? `${error.name}: ${error.message}` : error.message;
}

/** One line of JSON, cut to `max` characters. */
function brief(value: unknown, max = 160): string {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  return text.length > max ? `${text.slice(0, max - 1)}…` : text;
}

function seconds(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface HttpAnswer {
  status: number;
  body: unknown;
  errorType?: string;
}

async function call(url: string, init: { method?: string; headers?: Record<string, string>; body?: unknown } = {}): Promise<HttpAnswer> {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: { ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}), ...init.headers },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
    signal: AbortSignal.timeout(20_000),
  });
  const text = await res.text();
  let body: unknown = text;
  try {
    body = text ? JSON.parse(text) : '';
  } catch {
    // not JSON: keep the text
  }
  const errorType = res.headers.get('x-amzn-errortype') ?? undefined;
  return { status: res.status, body, ...(errorType ? { errorType } : {}) };
}

/** True when something answers HTTP at the URL (any status); false when nothing listens. */
async function answers(url: string): Promise<boolean> {
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(3_000) });
    await res.body?.cancel();
    return true;
  } catch {
    return false;
  }
}

function startHint(dir: string): string {
  const custom = dir !== resolve(DEFAULTS.dir);
  return [
    'Start the offline stack in another terminal and wait for "Ready … Ctrl-C to stop":',
    '',
    `      npm start${custom ? ` -- --dir ${dir}` : ''}`,
    '',
    `   then run \`npm run demo${custom ? ` -- --dir ${dir}` : ''}\` again in this one. If the stack runs on other ports, tell the`,
    '   demo where: --api-url, --cognito-url, --sfn-url, --apigateway-url (`npm start` prints them).',
  ].join('\n');
}

export async function runDemo(options: DemoOptions = {}): Promise<DemoResult> {
  const o = {
    apiUrl: (options.apiUrl ?? DEFAULTS.apiUrl).replace(/\/+$/, ''),
    cognitoUrl: options.cognitoUrl ?? DEFAULTS.cognitoUrl,
    sfnUrl: options.sfnUrl ?? DEFAULTS.sfnUrl,
    apigatewayUrl: options.apigatewayUrl ?? DEFAULTS.apigatewayUrl,
    dir: resolve(options.dir ?? DEFAULTS.dir),
    stateMachineArn: options.stateMachineArn ?? DEFAULTS.stateMachineArn,
    onboardingTimeoutMs: options.onboardingTimeoutMs ?? 60_000,
    burstSize: options.burstSize ?? 30,
    dataApiAuth: options.dataApiAuth ?? readDataApiAuth(options.dir ?? DEFAULTS.dir),
  };
  const keyOnly = o.dataApiAuth === 'ApiKey';
  const rawOut = options.out ?? ((line: string) => console.log(line));
  const rawErr = options.err ?? rawOut;
  // Defence in depth: once the key value is known, no line may carry it in full.
  const secrets: string[] = [];
  const redact = (line: string) => secrets.reduce((text, secret) => text.split(secret).join(maskKey(secret)), line);
  const out = (line = '') => rawOut(redact(line));
  const say = (line: string) => out(`${INDENT}${line}`);
  const ok = (line: string) => out(`${INDENT}✓ ${line}`);

  const config = { region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 2 };
  const cognito = new CognitoIdentityProviderClient({ ...config, endpoint: o.cognitoUrl });
  const sfn = new SFNClient({ ...config, endpoint: o.sfnUrl });
  const apigateway = new APIGatewayClient({ ...config, endpoint: o.apigatewayUrl });

  const result: DemoResult = { ok: false };
  let current = 0;
  const step = (n: number, title: string, ...why: string[]) => {
    current = n;
    out();
    out(`${n}. ${title}`);
    for (const line of why) say(line);
  };

  try {
    out('Tollgate demo: a new customer signs up, gets an API key from the onboarding workflow and uses the API.');
    out(`Against the offline stack of \`npm start\` (state in ${o.dir}):`);
    const services: [string, string, string][] = [
      ['API (gateway)', o.apiUrl, `${o.apiUrl}/health`],
      ['Cognito', o.cognitoUrl, o.cognitoUrl],
      ['Step Functions', o.sfnUrl, o.sfnUrl],
      ['API Gateway (control)', o.apigatewayUrl, `${o.apigatewayUrl}/usageplans`],
    ];
    const reachable = await Promise.all(services.map(([, , probe]) => answers(probe)));
    services.forEach(([name, url], i) => say(`${name.padEnd(22)} ${url}${reachable[i] ? '' : '   ← nothing answers here'}`));
    if (reachable.some((r) => !r)) {
      throw new DemoError('Cannot reach the offline stack.', startHint(o.dir));
    }

    const fromFile = options.clientId && options.poolId ? {} : readStackIds(o.dir);
    const clientId = options.clientId ?? fromFile.clientId;
    const poolId = options.poolId ?? fromFile.poolId;
    if (!clientId) {
      throw new DemoError(
        `No app client id: ${join(o.dir, 'stack.json')} does not exist or names none.`,
        `Run the demo from the directory where \`npm start\` runs, pass its --dir, or pass --client-id (and --pool-id) as \`npm start\` printed them.`,
      );
    }
    if (poolId) {
      await cognito.send(new DescribeUserPoolClientCommand({ UserPoolId: poolId, ClientId: clientId })).catch((error: unknown) => {
        throw new DemoError(
          `The running Cognito does not know app client ${clientId} of pool ${poolId} (${describeError(error)}).`,
          options.clientId && options.poolId
            ? 'Check --client-id and --pool-id against what `npm start` printed (App client id, User pool id).'
            : `The ids come from ${join(o.dir, 'stack.json')}: is \`npm start\` running with --dir ${o.dir}? Otherwise pass --dir, or --client-id and --pool-id.`,
        );
      });
    }
    say(`${'User pool / app client'.padEnd(22)} ${poolId ?? '?'} / ${clientId}`);

    // 1 ------------------------------------------------------------------------------------------------------------
    const email = `demo-${randomBytes(4).toString('hex')}@example.com`;
    const password = `Tollgate-${randomBytes(3).toString('hex')}-42`;
    step(
      1,
      'Sign up a new user',
      'The customer registers with Cognito (SignUp) using an email and a password that meets the pool policy',
      '(10+ characters, upper and lower case, a digit). Cognito keeps the user UNCONFIRMED and emails a code.',
    );
    const signUp = await cognito.send(
      new SignUpCommand({ ClientId: clientId, Username: email, Password: password, UserAttributes: [{ Name: 'email', Value: email }] }),
    );
    const userId = signUp.UserSub;
    if (!userId) throw new DemoError('SignUp returned no user sub.');
    Object.assign(result, { email, userId });
    ok(`signed up ${email} (password ${password})`);
    say(`user sub ${userId}; confirmed: ${signUp.UserConfirmed ? 'yes (the pool auto-confirms)' : 'not yet'}`);
    if (signUp.CodeDeliveryDetails) say(`a code went by ${signUp.CodeDeliveryDetails.DeliveryMedium} to ${signUp.CodeDeliveryDetails.Destination}`);

    // 2 ------------------------------------------------------------------------------------------------------------
    const outboxFile = join(o.dir, 'cognito', 'outbox.jsonl');
    step(
      2,
      'Confirm the email address with the code',
      'Offline, mail does not leave the machine: it lands in an outbox file, which the demo opens like a mailbox.',
      'Confirming the sign-up fires Cognito\'s PostConfirmation trigger, which starts the onboarding workflow.',
    );
    if (signUp.UserConfirmed) {
      ok('nothing to do: the pool confirmed the user at sign-up (AutoConfirmSignUp=true), and onboarding has started');
    } else {
      const code = await waitForCode(outboxFile, email, 10_000);
      if (!code) {
        throw new DemoError(
          `No confirmation code for ${email} reached ${outboxFile} within 10 s.`,
          `Is \`npm start\` running with --dir ${o.dir}? Its log prints each outbox message too.`,
        );
      }
      say(`newest mail for ${email} in ${outboxFile}: code ${code}`);
      await cognito.send(new ConfirmSignUpCommand({ ClientId: clientId, Username: email, ConfirmationCode: code }));
      ok('confirmed (ConfirmSignUp)');
    }

    // 3 ------------------------------------------------------------------------------------------------------------
    const executionArn = `${o.stateMachineArn.replace(':stateMachine:', ':execution:')}:onboard-${userId}`;
    step(
      3,
      'Watch the onboarding workflow',
      `The trigger started the Step Functions execution onboard-<sub>; the name makes it run once per user.`,
      'It creates the API key, attaches it to the free usage plan, writes custom:apiid and the first billing entry.',
    );
    say(`execution ${executionArn}`);
    const execution = await waitForExecution(sfn, executionArn, o.onboardingTimeoutMs);
    const history = await executionHistory({ clients: { sfn } }, executionArn);
    const started = execution.startDate?.getTime() ?? history[0]?.timestamp?.getTime() ?? 0;
    say('states entered (time after the start):');
    for (const event of history.filter((e) => e.type?.endsWith('StateEntered'))) {
      const at = (event.timestamp?.getTime() ?? started) - started;
      say(`  ${seconds(at).padStart(8)}  ${event.stateEnteredEventDetails?.name ?? '?'}`);
    }
    const tookMs = (execution.stopDate?.getTime() ?? Date.now()) - started;
    if (execution.status !== 'SUCCEEDED') {
      throw new DemoError(
        `Onboarding ended ${execution.status} after ${seconds(tookMs)}: ${execution.error ?? ''} ${execution.cause ?? ''}`.trim(),
        'The `npm start` log has the workflow\'s and the functions\' lines; GetExecutionHistory has every step.',
      );
    }
    const output = parseJson(execution.output) as { plan?: string; status?: string; apiKeyId?: string };
    ok(`SUCCEEDED in ${seconds(tookMs)}: account ${output.status ?? '?'} on plan ${output.plan ?? '?'}`);

    // 4 ------------------------------------------------------------------------------------------------------------
    step(
      4,
      'Sign in, then find the plan and the API key',
      'Sign-in (USER_PASSWORD_AUTH) returns an ID token whose claims carry custom:apiid, the id of the user\'s key.',
      'The key\'s value comes from API Gateway (GetApiKey with includeValue); it is a secret, so it is shown masked.',
    );
    const auth = await cognito.send(
      new InitiateAuthCommand({ ClientId: clientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: email, PASSWORD: password } }),
    );
    const idToken = auth.AuthenticationResult?.IdToken;
    if (!idToken) throw new DemoError('InitiateAuth returned no ID token.');
    const claims = claimsOf(idToken);
    const apiKeyId = typeof claims['custom:apiid'] === 'string' ? claims['custom:apiid'] : undefined;
    ok(`signed in: ID token ${idToken.slice(0, 12)}… (${idToken.length} characters), valid for ${Math.round((Number(claims.exp) - Number(claims.iat)) / 60)} min`);
    say(`claims: sub ${String(claims.sub)}, email ${String(claims.email)}, custom:apiid ${apiKeyId ?? '(missing)'}`);
    if (!apiKeyId) throw new DemoError('The ID token has no custom:apiid claim: onboarding did not write it.');
    result.apiKeyId = apiKeyId;
    const key = await apigateway.send(new GetApiKeyCommand({ apiKey: apiKeyId, includeValue: true }));
    const keyValue = key.value;
    if (!keyValue) throw new DemoError(`GetApiKey ${apiKeyId} returned no value.`);
    secrets.push(keyValue);
    ok(`API key ${apiKeyId} (name ${key.name}, ${key.enabled ? 'enabled' : 'disabled'}): value ${maskKey(keyValue)}`);
    const keyPlans = (await apigateway.send(new GetUsagePlansCommand({ keyId: apiKeyId }))).items ?? [];
    for (const plan of keyPlans) ok(`in usage plan ${describePlan(plan)}`);
    if (keyPlans.length === 0) throw new DemoError(`Key ${apiKeyId} is in no usage plan: API Gateway would refuse it.`);

    // 5 ------------------------------------------------------------------------------------------------------------
    // The data API as deployed (DataApiAuth): the key alone, or the ID token and the caller's own key.
    const asUser: Record<string, string> = keyOnly ? { 'x-api-key': keyValue } : { Authorization: idToken, 'x-api-key': keyValue };
    step(
      5,
      'Call the protected API',
      ...(keyOnly
        ? [
            'This stack is key-only (DataApiAuth=ApiKey): data API requests carry the API key alone (x-api-key, checked',
            'against the usage plan), as a server or cron job would send it; the function finds the key\'s owner.',
          ]
        : [
            'Data API requests carry both the ID token (Authorization header, checked by the Cognito authorizer) and the',
            'API key (x-api-key, checked against the usage plan); the function then checks the key is the caller\'s own.',
          ]),
      'Account management (/me…) takes the ID token alone: it never counts toward the quota.',
    );
    const link = { url: 'https://docs.aws.amazon.com/step-functions/', title: 'Step Functions docs' };
    const calls: [string, string, number, unknown?][] = [
      ['POST', '/links', 201, link],
      ['GET', '/links', 200],
      ['GET', '/me', 200],
    ];
    for (const [method, path, expected, body] of calls) {
      const headers = path.startsWith('/me') ? { Authorization: idToken } : asUser;
      const answer = await call(`${o.apiUrl}${path}`, { method, headers, body });
      const line = `${method} ${path}${body ? ` ${brief(body, 90)}` : ''} → ${answer.status}`;
      if (answer.status !== expected) throw new DemoError(`${line} ${brief(answer.body)} (expected ${expected})`);
      ok(line);
      say(`  ${brief(answer.body, 110)}`);
    }

    // 6 ------------------------------------------------------------------------------------------------------------
    step(
      6,
      'Read the usage',
      'API Gateway counts every request it lets through, per key and day, against the plan\'s quota.',
      'GetUsage on the free plan (found by its tag tollgate:plan=free) shows today\'s count for this key.',
    );
    const plans = (await apigateway.send(new GetUsagePlansCommand({}))).items ?? [];
    const freePlan = plans.find((p) => p.tags?.['tollgate:plan'] === 'free') ?? plans.find((p) => p.name === 'tollgate-free');
    if (!freePlan?.id) throw new DemoError(`No free usage plan among ${plans.map((p) => p.name).join(', ') || 'no plans'}.`);
    const today = new Date().toISOString().slice(0, 10);
    const usage = await apigateway.send(new GetUsageCommand({ usagePlanId: freePlan.id, keyId: apiKeyId, startDate: today, endDate: today }));
    const [used, remaining] = usage.items?.[apiKeyId]?.[0] ?? [];
    if (used === undefined) throw new DemoError(`GetUsage returned nothing for key ${apiKeyId} on ${today}.`);
    ok(`plan ${freePlan.name} (${freePlan.id}), ${today} (UTC): ${used} requests used, ${remaining} left of ${freePlan.quota?.limit ?? '?'} this ${(freePlan.quota?.period ?? '?').toLowerCase()}`);

    // 7 ------------------------------------------------------------------------------------------------------------
    step(
      7,
      'See the gateway say no',
      'Before any function runs, the gateway refuses a request without a valid token or without a key (401), with a key in',
      `no plan (403), and over the plan's rate (429). ${o.burstSize} requests fired at once outrun the free plan's burst of ${freePlan.throttle?.burstLimit ?? '?'}.`,
    );
    // Key-only: the token is what /me… wants, so its absence shows there; otherwise on the data API.
    const noToken = await call(`${o.apiUrl}${keyOnly ? '/me' : '/links'}`, { headers: { 'x-api-key': keyValue } });
    const noTokenLine = `without a token: ${noToken.status} ${brief(noToken.body)}${keyOnly ? ' (GET /me: account management wants the token)' : ''}`;
    if (noToken.status !== 401) throw new DemoError(`${noTokenLine} (expected 401)`);
    ok(noTokenLine);
    const noKey = await call(`${o.apiUrl}/links`, { headers: { Authorization: idToken } });
    const noKeyLine = `without a key:   ${noKey.status} ${brief(noKey.body)}`;
    // The data routes' Lambda authorizer (KeyAuthorizer) has X-Api-Key as identity source: API Gateway answers 401 without it.
    if (noKey.status !== 401) throw new DemoError(`${noKeyLine} (expected 401)`);
    ok(noKeyLine);
    let sent = 0;
    const counts = new Map<number, number>();
    let refusal: HttpAnswer | undefined;
    for (let round = 1; round <= 5 && !counts.get(429); round++) {
      const answers = await Promise.all(Array.from({ length: o.burstSize }, () => call(`${o.apiUrl}/links`, { headers: asUser })));
      sent += answers.length;
      for (const a of answers) counts.set(a.status, (counts.get(a.status) ?? 0) + 1);
      refusal ??= answers.find((a) => a.status === 429);
    }
    const tally = [...counts.entries()]
      .sort(([a], [b]) => a - b)
      .map(([status, n]) => `${n} × ${status}`)
      .join(', ');
    const burstLine = `${sent} requests at once: ${tally}`;
    if (!refusal) throw new DemoError(`${burstLine}: no 429, so the plan's throttle did not bite (was the stack started with a larger FreeBurstLimit?).`);
    ok(burstLine);
    say(`a 429 says ${brief(refusal.body)}${refusal.errorType ? ` (x-amzn-ErrorType ${refusal.errorType})` : ''}; the bucket refills at ${freePlan.throttle?.rateLimit ?? '?'} requests/s`);

    // 8 ------------------------------------------------------------------------------------------------------------
    step(8, 'Done: what happened, and what to try next');
    say(`${email} signed up, confirmed with the mailed code, and was onboarded by Step Functions in ${seconds(tookMs)}:`);
    say(`key ${apiKeyId} in plan ${freePlan.name}. With token and key the API answered; the gateway refused the rest.`);
    say('Next, in README.md:');
    say('  • "Try it with the AWS CLI": the same steps by hand (this user and password work there too)');
    say('  • "Run a workflow execution": describe this onboarding execution and read its history yourself');
    say('  • "Invoke a function with a fixture": npm run invoke -- PublicFunction --event events/plans.json');
    say('  • "How it fits together" and docs/architecture.md: the workflow, the key ownership check, the tables');
    say('  • "How offline differs from AWS", then "Deploy to AWS": sam build && sam deploy --guided');
    say(`The user, key and usage stay in ${o.dir}; delete it (with \`npm start\` stopped) for a clean slate.`);
    result.ok = true;
    return result;
  } catch (error) {
    const message = error instanceof DemoError ? error.message : describeError(error);
    const where = current === 0 ? 'Before step 1' : `Step ${current} of ${TOTAL_STEPS} failed`;
    const err = (line: string) => rawErr(redact(line));
    err('');
    err(`✗ ${where}: ${message}`);
    if (error instanceof DemoError && error.hint) err(`${INDENT}${error.hint}`);
    else if (/connection refused/.test(message)) err(`${INDENT}${startHint(o.dir)}`);
    return { ...result, ok: false, failedStep: current, error: message };
  } finally {
    cognito.destroy();
    sfn.destroy();
    apigateway.destroy();
  }
}

function parseJson(text: string | undefined): Record<string, unknown> {
  try {
    return text ? (JSON.parse(text) as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

function describePlan(plan: UsagePlan): string {
  const t = plan.throttle;
  const q = plan.quota;
  const throttle = t ? `${t.rateLimit} requests/s, burst ${t.burstLimit}` : 'no throttle';
  const quota = q ? `${q.limit} requests per ${String(q.period).toLowerCase()}` : 'no quota';
  return `${plan.name} (${plan.id}): ${throttle}, ${quota}`;
}

/** The newest code mailed to `email`, read from the outbox file (JSON lines), waiting up to `timeoutMs` for it. */
export async function waitForCode(file: string, email: string, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (existsSync(file)) {
      const lines = readFileSync(file, 'utf8').split('\n').reverse();
      for (const line of lines) {
        if (!line.trim()) continue;
        try {
          const message = JSON.parse(line) as { destination?: string; code?: string };
          if (message.code && message.destination?.toLowerCase() === email.toLowerCase()) return message.code;
        } catch {
          // a partly written line: skip it
        }
      }
    }
    if (Date.now() > deadline) return undefined;
    await sleep(100);
  }
}

async function waitForExecution(sfn: SFNClient, executionArn: string, timeoutMs: number): Promise<DescribeExecutionCommandOutput> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const described = await sfn.send(new DescribeExecutionCommand({ executionArn })).catch((error: Error) => {
      if (error.name === 'ExecutionDoesNotExist') return undefined;
      throw error;
    });
    if (described && described.status !== 'RUNNING') return described;
    if (Date.now() > deadline) {
      throw new DemoError(
        described
          ? `Onboarding is still ${described.status} after ${seconds(timeoutMs)}.`
          : `No execution ${executionArn} after ${seconds(timeoutMs)}: the PostConfirmation trigger did not start onboarding.`,
        'The `npm start` log shows the trigger ([PostConfirmationFunction]) and the workflow ([stepfunctions]).',
      );
    }
    await sleep(described ? 200 : 100);
  }
}

const USAGE = `Usage: npm run demo -- [options]

A narrated walkthrough against a running \`npm start\` (start that first, in another terminal).

  --api-url <url>          API stage URL            (default ${DEFAULTS.apiUrl})
  --cognito-url <url>      Cognito endpoint         (default ${DEFAULTS.cognitoUrl})
  --sfn-url <url>          Step Functions endpoint  (default ${DEFAULTS.sfnUrl})
  --apigateway-url <url>   API Gateway control      (default ${DEFAULTS.apigatewayUrl})
  --dir <dir>              npm start's state dir    (default ${DEFAULTS.dir})
  --client-id <id>         app client id            (default: from <dir>/stack.json)
  --pool-id <id>           user pool id             (default: from <dir>/stack.json)
  --data-api-auth <mode>   ApiKey | IdTokenAndApiKey (default: from <dir>/portal/config.json)`;

async function main(): Promise<number> {
  let values: Record<string, string | boolean | undefined>;
  try {
    ({ values } = parseArgs({
      options: {
        'api-url': { type: 'string' },
        'cognito-url': { type: 'string' },
        'sfn-url': { type: 'string' },
        'apigateway-url': { type: 'string' },
        dir: { type: 'string' },
        'client-id': { type: 'string' },
        'pool-id': { type: 'string' },
        'data-api-auth': { type: 'string' },
        'state-machine-arn': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(USAGE);
    return 0;
  }
  const flag = (name: string) => (typeof values[name] === 'string' ? (values[name] as string) : undefined);
  const result = await runDemo({
    apiUrl: flag('api-url'),
    cognitoUrl: flag('cognito-url'),
    sfnUrl: flag('sfn-url'),
    apigatewayUrl: flag('apigateway-url'),
    dir: flag('dir'),
    clientId: flag('client-id'),
    poolId: flag('pool-id'),
    ...(flag('data-api-auth') === 'ApiKey' || flag('data-api-auth') === 'IdTokenAndApiKey' ? { dataApiAuth: flag('data-api-auth') as DataApiAuth } : {}),
    stateMachineArn: flag('state-machine-arn'),
    out: (line) => console.log(line),
    err: (line) => console.error(line),
  });
  return result.ok ? 0 : 1;
}

if (require.main === module) {
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (error: unknown) => {
      console.error(`demo failed: ${describeError(error)}`);
      process.exitCode = 1;
    },
  );
}
