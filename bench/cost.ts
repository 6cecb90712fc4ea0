/**
 * Section 4 — cost model. Counts, on the bench stack, what one onboarding, one first sign-in, one protected
 * `GET /links` and one plan change consume: Step Functions state transitions (from GetExecutionHistory: *StateEntered
 * events, plus retries, which AWS also bills), DynamoDB requests by operation (the stack's request counter: reset,
 * act, read), Lambda invocations (the Lambda service's counter) and their GB-seconds, API Gateway requests and Cognito
 * MAU; then prices them with the list prices in prices.ts.
 *
 * DynamoDB units assume items ≤ 1 KB (1 WRU per write) and results ≤ 4 KB; every read in this code base asks for
 * ConsistentRead (handlers, Powertools idempotency and the workflows), so each read counts 1 RRU (strongly
 * consistent) — conservative where one might not.
 */
import { ConfirmSignUpCommand, InitiateAuthCommand, SignUpCommand } from '@aws-sdk/client-cognito-identity-provider';
import { performance } from 'node:perf_hooks';
import { onboardingArn, PASSWORD, uniqueEmail, type TestStack } from '../local/harness/stack.ts';
import {
  API_GATEWAY_REST_PER_MILLION,
  ALL_PRICES,
  COGNITO_ESSENTIALS_PER_MAU,
  DYNAMODB_PER_MILLION_RRU,
  DYNAMODB_PER_MILLION_WRU,
  LAMBDA_ARM_PER_GB_SECOND,
  LAMBDA_PER_MILLION_REQUESTS,
  STEP_FUNCTIONS_PER_1000_TRANSITIONS,
  type Price,
} from './prices.ts';
import { countTransitions, executionHistory, stateMachineArn, waitForIdle, type BenchUser, type TransitionCount } from './setup.ts';
import { fmt, heading, table, usd } from './util.ts';

const GET_LINKS_REQUESTS = 100;
const WRITE_OPERATIONS = new Set(['PutItem', 'UpdateItem', 'DeleteItem']);
const READ_OPERATIONS = new Set(['GetItem', 'Query', 'Scan']);
/** Operations whose units depend on how many items they carry: counted one unit per request and flagged. */
const BATCH_OPERATIONS = new Set(['BatchGetItem', 'BatchWriteItem', 'TransactGetItems', 'TransactWriteItems']);

export interface Usage {
  what: string;
  dynamodbOps: Record<string, number>;
  wru: number;
  rru: number;
  lambdaInvocations: number;
  /** GB-seconds, from the memory of the functions invoked and a measured (upper-bound) duration. */
  lambdaGbSeconds: number;
  lambdaDurationNote: string;
  transitions: TransitionCount | undefined;
  apiGatewayRequests: number;
  cognitoMau: number;
  flags: string[];
}

export interface CostResult {
  onboarding: Usage;
  firstSignIn: Usage;
  getLinks: Usage;
  planChange: Usage;
  /** Onboarding with AWS's CreateApiKey limit at 20 concurrent sign-ups (section 2, run i): transitions incl. retries. */
  throttledTransitionsPerOnboarding: number | undefined;
  perThousandSignUps: { item: string; usd: number; basis: string }[];
  perMillionRequests: { item: string; usd: number; basis: string }[];
  perPlanChange: { item: string; usd: number; basis: string }[];
  prices: Record<string, Price>;
}

function units(ops: Record<string, number>, scale = 1): { wru: number; rru: number; flags: string[] } {
  let wru = 0;
  let rru = 0;
  const flags: string[] = [];
  for (const [op, n] of Object.entries(ops)) {
    if (WRITE_OPERATIONS.has(op)) wru += n;
    else if (READ_OPERATIONS.has(op)) rru += n;
    else if (BATCH_OPERATIONS.has(op)) {
      if (op.includes('Write')) wru += n;
      else rru += n;
      flags.push(`${op} counted as 1 unit per request`);
    }
  }
  return { wru: wru / scale, rru: rru / scale, flags };
}

/** Counters reset, the action, then the counters (after every execution it started has closed). */
async function measure<T>(t: TestStack, action: () => Promise<T>): Promise<{ result: T; ops: Record<string, number>; invocations: number }> {
  await waitForIdle(t);
  const before = t.stack.lambda.stats.invocations;
  t.stack.metrics.reset();
  const result = await action();
  await waitForIdle(t);
  return { result, ops: { ...t.stack.metrics.dynamodb }, invocations: t.stack.lambda.stats.invocations - before };
}

const memoryGb = (t: TestStack, logicalId: string) => (t.stack.model.functions.find((f) => f.logicalId === logicalId)?.memoryMb ?? 128) / 1024;

export async function runCost(
  t: TestStack,
  user: BenchUser,
  linksInvokeMedianMs: number,
  throttledTransitionsPerOnboarding: number | undefined,
): Promise<CostResult> {
  const { cognito } = t.clients;
  const clientId = t.stack.userPoolClientId;

  // One onboarding: sign-up, confirm, the workflow to its end.
  const email = uniqueEmail('cost');
  let confirmMs = 0;
  let userId = '';
  const onboarded = await measure(t, async () => {
    const signUp = await cognito.send(new SignUpCommand({ ClientId: clientId, Username: email, Password: PASSWORD, UserAttributes: [{ Name: 'email', Value: email }] }));
    userId = signUp.UserSub as string;
    const code = t.stack.cognito.latestCode(email) as string;
    const t0 = performance.now();
    await cognito.send(new ConfirmSignUpCommand({ ClientId: clientId, Username: email, ConfirmationCode: code }));
    confirmMs = performance.now() - t0;
    return t.stack.stepFunctions.waitForExecution(onboardingArn(t, userId), 30_000);
  });
  if (onboarded.result.status !== 'SUCCEEDED') throw new Error(`cost-model onboarding ended ${onboarded.result.status}`);
  const onboardingTransitions = countTransitions(await executionHistory(t, onboardingArn(t, userId)));
  const onboardingUnits = units(onboarded.ops);
  const onboarding: Usage = {
    what: 'one onboarding (SignUp + ConfirmSignUp + workflow)',
    dynamodbOps: onboarded.ops,
    ...onboardingUnits,
    lambdaInvocations: onboarded.invocations,
    lambdaGbSeconds: onboarded.invocations * memoryGb(t, 'PostConfirmationFunction') * (Math.ceil(confirmMs) / 1000),
    lambdaDurationNote: `PostConfirmation, duration ≤ ConfirmSignUp's round trip (${fmt(confirmMs, 0)} ms)`,
    transitions: onboardingTransitions,
    apiGatewayRequests: 0,
    cognitoMau: 1,
  };

  // The first sign-in (PostAuthentication trigger: one consistent read of the account).
  let signInMs = 0;
  const signedIn = await measure(t, async () => {
    const t0 = performance.now();
    await cognito.send(new InitiateAuthCommand({ ClientId: clientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: email, PASSWORD } }));
    signInMs = performance.now() - t0;
  });
  const firstSignIn: Usage = {
    what: 'first sign-in (InitiateAuth)',
    dynamodbOps: signedIn.ops,
    ...units(signedIn.ops),
    lambdaInvocations: signedIn.invocations,
    lambdaGbSeconds: signedIn.invocations * memoryGb(t, 'PostAuthenticationFunction') * (Math.ceil(signInMs) / 1000),
    lambdaDurationNote: `PostAuthentication, duration ≤ InitiateAuth's round trip (${fmt(signInMs, 0)} ms)`,
    transitions: undefined,
    apiGatewayRequests: 0,
    cognitoMau: 0,
  };

  // Protected GET /links, one at a time.
  const headers = { Authorization: user.idToken, 'x-api-key': user.keyValue };
  const listed = await measure(t, async () => {
    for (let i = 0; i < GET_LINKS_REQUESTS; i++) {
      const res = await fetch(`${t.stack.apiUrl}/links`, { headers });
      if (res.status !== 200) throw new Error(`GET /links answered ${res.status}`);
      await res.arrayBuffer();
    }
  });
  const perRequestOps = Object.fromEntries(Object.entries(listed.ops).map(([op, n]) => [op, n / GET_LINKS_REQUESTS]));
  const linksMs = Math.ceil(linksInvokeMedianMs);
  const getLinks: Usage = {
    what: 'one protected GET /links',
    dynamodbOps: perRequestOps,
    ...units(listed.ops, GET_LINKS_REQUESTS),
    lambdaInvocations: listed.invocations / GET_LINKS_REQUESTS,
    lambdaGbSeconds: (listed.invocations / GET_LINKS_REQUESTS) * memoryGb(t, 'LinksFunction') * (linksMs / 1000),
    lambdaDurationNote: `LinksFunction, ${linksMs} ms (section 1's median Lambda round trip at 1 connection, rounded up)`,
    transitions: undefined,
    apiGatewayRequests: 1,
    cognitoMau: 0,
  };

  // One plan change (free → basic) through POST /me/plan and the plan-change workflow.
  let planMs = 0;
  const changed = await measure(t, async () => {
    const t0 = performance.now();
    const res = await fetch(`${t.stack.apiUrl}/me/plan`, {
      method: 'POST',
      headers: { ...headers, 'Content-Type': 'application/json', 'Idempotency-Key': `bench-${Date.now()}` },
      body: JSON.stringify({ plan: 'basic' }),
    });
    planMs = performance.now() - t0;
    const body = (await res.json()) as { executionId?: string };
    if (res.status !== 202 || !body.executionId) throw new Error(`POST /me/plan answered ${res.status}: ${JSON.stringify(body)}`);
    const arn = `${stateMachineArn(t, 'PlanChangeStateMachine').replace(':stateMachine:', ':execution:')}:${body.executionId}`;
    const done = await t.stack.stepFunctions.waitForExecution(arn, 30_000);
    if (done.status !== 'SUCCEEDED') throw new Error(`plan change ended ${done.status}: ${done.error ?? ''}`);
    return arn;
  });
  const planChange: Usage = {
    what: 'one plan change (POST /me/plan + workflow)',
    dynamodbOps: changed.ops,
    ...units(changed.ops),
    lambdaInvocations: changed.invocations,
    lambdaGbSeconds: changed.invocations * memoryGb(t, 'AccountFunction') * (Math.ceil(planMs) / 1000),
    lambdaDurationNote: `AccountFunction, duration ≤ the request's round trip (${fmt(planMs, 0)} ms)`,
    transitions: countTransitions(await executionHistory(t, changed.result)),
    apiGatewayRequests: 1,
    cognitoMau: 0,
  };

  const transitionsOf = (u: Usage) => (u.transitions ? u.transitions.stateEntered + u.transitions.retries : 0);
  const perMillion = (price: Price, n: number) => (price.usd * n) / 1e6;
  const sfn = (transitions: number) => (STEP_FUNCTIONS_PER_1000_TRANSITIONS.usd * transitions) / 1000;

  const k = 1000;
  const perThousandSignUps = [
    { item: 'Step Functions', usd: sfn(transitionsOf(onboarding) * k), basis: `${transitionsOf(onboarding)} transitions each` },
    ...(throttledTransitionsPerOnboarding !== undefined
      ? [{ item: '  (with CreateApiKey throttling, section 2 run i)', usd: sfn(throttledTransitionsPerOnboarding * k), basis: `${fmt(throttledTransitionsPerOnboarding, 2)} transitions each incl. retries` }]
      : []),
    { item: 'DynamoDB writes', usd: perMillion(DYNAMODB_PER_MILLION_WRU, onboarding.wru * k), basis: `${onboarding.wru} WRU each` },
    { item: 'DynamoDB reads', usd: perMillion(DYNAMODB_PER_MILLION_RRU, onboarding.rru * k), basis: `${onboarding.rru} RRU each` },
    { item: 'Lambda requests', usd: perMillion(LAMBDA_PER_MILLION_REQUESTS, onboarding.lambdaInvocations * k), basis: `${onboarding.lambdaInvocations} invocation(s) each` },
    { item: 'Lambda duration', usd: LAMBDA_ARM_PER_GB_SECOND.usd * onboarding.lambdaGbSeconds * k, basis: `${fmt(onboarding.lambdaGbSeconds, 4)} GB-s each (upper bound)` },
    { item: 'Cognito (Essentials, above the free 10,000 MAU)', usd: COGNITO_ESSENTIALS_PER_MAU.usd * k, basis: '1 MAU each in the sign-up month; $0 within the free tier' },
  ];
  const perMillionRequests = [
    { item: 'API Gateway (REST)', usd: API_GATEWAY_REST_PER_MILLION.usd, basis: '1 request each' },
    { item: 'Lambda requests', usd: perMillion(LAMBDA_PER_MILLION_REQUESTS, getLinks.lambdaInvocations * 1e6), basis: `${fmt(getLinks.lambdaInvocations, 2)} invocation(s) each` },
    { item: 'Lambda duration', usd: LAMBDA_ARM_PER_GB_SECOND.usd * getLinks.lambdaGbSeconds * 1e6, basis: `${fmt(getLinks.lambdaGbSeconds, 5)} GB-s each` },
    { item: 'DynamoDB reads', usd: perMillion(DYNAMODB_PER_MILLION_RRU, getLinks.rru * 1e6), basis: `${fmt(getLinks.rru, 2)} RRU each` },
    { item: 'DynamoDB writes', usd: perMillion(DYNAMODB_PER_MILLION_WRU, getLinks.wru * 1e6), basis: `${fmt(getLinks.wru, 2)} WRU each` },
    { item: 'Cognito', usd: 0, basis: 'billed per MAU, not per request (the authorizer verifies tokens for free)' },
  ];
  const perPlanChange = [
    { item: 'Step Functions', usd: sfn(transitionsOf(planChange)), basis: `${transitionsOf(planChange)} transitions` },
    { item: 'DynamoDB', usd: perMillion(DYNAMODB_PER_MILLION_WRU, planChange.wru) + perMillion(DYNAMODB_PER_MILLION_RRU, planChange.rru), basis: `${planChange.wru} WRU + ${planChange.rru} RRU` },
    { item: 'Lambda', usd: perMillion(LAMBDA_PER_MILLION_REQUESTS, planChange.lambdaInvocations) + LAMBDA_ARM_PER_GB_SECOND.usd * planChange.lambdaGbSeconds, basis: `${planChange.lambdaInvocations} invocation(s), ${fmt(planChange.lambdaGbSeconds, 4)} GB-s` },
    { item: 'API Gateway (REST)', usd: perMillion(API_GATEWAY_REST_PER_MILLION, 1), basis: '1 request (status polls not counted)' },
  ];
  return { onboarding, firstSignIn, getLinks, planChange, throttledTransitionsPerOnboarding, perThousandSignUps, perMillionRequests, perPlanChange, prices: ALL_PRICES };
}

const opsText = (ops: Record<string, number>) =>
  Object.entries(ops)
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([op, n]) => `${op} ${Number.isInteger(n) ? n : fmt(n, 2)}`)
    .join(', ') || 'none';

export function printCost(r: CostResult): string {
  const total = (rows: { usd: number; item: string }[]) => rows.filter((x) => !x.item.startsWith('  ')).reduce((a, x) => a + x.usd, 0);
  const usage = [r.onboarding, r.firstSignIn, r.getLinks, r.planChange];
  return [
    heading('4. Cost model (AWS list prices, us-east-1, no free tier)'),
    'Counted on the bench stack: DynamoDB requests by operation (the stack\'s counter, reset before each action), Lambda',
    'invocations (the Lambda service\'s counter), state transitions from GetExecutionHistory (*StateEntered, plus retries:',
    'AWS bills each retry as a transition). Units: items ≤ 1 KB → 1 WRU per write; every read here is ConsistentRead',
    '(handlers, Powertools idempotency, workflows) → 1 RRU per read of ≤ 4 KB (counted conservatively).',
    '',
    table(
      ['action', 'DynamoDB requests', 'WRU', 'RRU', 'Lambda inv.', 'GB-s', 'transitions (entered+retries)', 'API GW req.', 'MAU'],
      usage.map((u) => [
        u.what,
        opsText(u.dynamodbOps),
        fmt(u.wru, 2),
        fmt(u.rru, 2),
        fmt(u.lambdaInvocations, 2),
        fmt(u.lambdaGbSeconds, 5),
        u.transitions ? `${u.transitions.stateEntered}+${u.transitions.retries}` : '-',
        u.apiGatewayRequests,
        u.cognitoMau,
      ]),
    ),
    ...usage.map((u) => `  ${u.what}: Lambda duration ${u.lambdaDurationNote}${u.flags.length ? `; ${u.flags.join('; ')}` : ''}`),
    '',
    'Per 1,000 sign-ups:',
    table(['item', 'USD', 'basis'], [...r.perThousandSignUps.map((x) => [x.item, usd(x.usd), x.basis]), ['total', usd(total(r.perThousandSignUps)), 'Cognito dominates; without it (free tier): ' + usd(total(r.perThousandSignUps) - COGNITO_ESSENTIALS_PER_MAU.usd * 1000)]]),
    '',
    'Per million protected GET /links:',
    table(['item', 'USD', 'basis'], [...r.perMillionRequests.map((x) => [x.item, usd(x.usd), x.basis]), ['total', usd(total(r.perMillionRequests)), '']]),
    '',
    'Per plan change:',
    table(['item', 'USD', 'basis'], [...r.perPlanChange.map((x) => [x.item, usd(x.usd), x.basis]), ['total', usd(total(r.perPlanChange)), '']]),
    '',
    'Prices (named constants in bench/prices.ts; "unconfirmed" = no AWS-owned page in the stored copies showed the figure):',
    ...Object.entries(r.prices).map(([name, p]) => `  ${name} = $${p.usd} ${p.unit}${p.confirmed ? '' : ' [unconfirmed]'}\n    ${p.source} — ${p.seen}${p.note ? `\n    note: ${p.note}` : ''}`),
  ].join('\n');
}

