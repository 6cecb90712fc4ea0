/**
 * Offline IAM against the template's own policies. With the policies as committed, every path of the product
 * (onboarding, sign-in, the account API, data API, plan change, offboarding, reconciling, billing close, password
 * reset) succeeds, and each call a function or state machine makes is recorded with the statements that allowed it.
 * Then each statement (or policy template) of each role is removed, one at a time, the paths that needed it are run
 * again, and the call it allowed is refused with AccessDenied — so every statement is needed, and the offline stack
 * would have caught its absence before `sam deploy`. Paths run handlers and workflows directly on the in-process stack.
 */
import { AdminDeleteUserCommand, ConfirmForgotPasswordCommand, ForgotPasswordCommand } from '@aws-sdk/client-cognito-identity-provider';
import { ListExecutionsCommand } from '@aws-sdk/client-sfn';
import type { AttachedPolicy, AuthzRecord, Principal } from '../../local/iam/index.ts';
import { evaluate, statementsOf } from '../../local/iam/policy.ts';
import { runClose } from '../support/billing-close.ts';
import { executionHistory, invokeFunction, onboardCustomer, onboardingArn, PASSWORD, signUpAndConfirm, startTestStack, uniqueEmail, waitForExecution, type Customer, type TestStack } from '../support/stack.ts';

let t: TestStack;
beforeAll(async () => {
  t = await startTestStack();
}, 120_000);
afterAll(async () => {
  await t?.close();
});

async function call(c: Customer, method: string, path: string, body?: unknown, withKey = false): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${t.stack.apiUrl}${path}`, {
    method,
    headers: {
      Authorization: c.idToken,
      ...(withKey ? { 'x-api-key': c.keyValue } : {}),
      ...(body === undefined ? {} : { 'Content-Type': 'application/json', 'Idempotency-Key': `k-${Math.random()}` }),
    },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  const text = await response.text();
  return { status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}
async function ok(c: Customer, method: string, path: string, body?: unknown, withKey = false): Promise<Record<string, unknown>> {
  const r = await call(c, method, path, body, withKey);
  if (r.status >= 300) throw new Error(`${method} ${path} answered ${r.status} ${JSON.stringify(r.body)}`);
  return r.body;
}
const machineArn = (logicalId: string): string => t.stack.model.stateMachines.find((m) => m.logicalId === logicalId)!.arn;
async function settled(logicalId: string): Promise<void> {
  for (let i = 0; i < 300; i++) {
    const { executions = [] } = await t.clients.sfn.send(new ListExecutionsCommand({ stateMachineArn: machineArn(logicalId) }));
    if (executions.length && executions.every((e) => e.status !== 'RUNNING')) {
      for (const e of executions) if (e.status !== 'SUCCEEDED') throw new Error(`${logicalId} ${e.status}`);
      return;
    }
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`${logicalId}: executions still running`);
}
const lastMonth = (): string => {
  const d = new Date();
  return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth() - 1, 1)).toISOString().slice(0, 7);
};

/** The product's paths; each throws when it does not succeed. */
const PATHS: Record<string, () => Promise<void>> = {
  onboarding: async () => {
    await onboardCustomer(t, 'iam-onboard'); // PostConfirmation → onboarding (ApiKeyFunction) → sign-in (PostAuthentication)
  },
  'account API': async () => {
    const c = await onboardCustomer(t, 'iam-account');
    await ok(c, 'GET', '/me');
    await ok(c, 'GET', '/me/api-key');
    const today = new Date().toISOString().slice(0, 10);
    await ok(c, 'GET', `/me/usage?from=${today}&to=${today}`);
    await ok(c, 'GET', '/me/billing');
    await ok(c, 'POST', '/me/api-key/rotate', {});
  },
  'data API': async () => {
    const c = await onboardCustomer(t, 'iam-data');
    const link = await ok(c, 'POST', '/links', { url: 'https://example.com/iam' }, true);
    const tag = await ok(c, 'POST', '/tags', { name: `iam-${Date.now()}` }, true);
    await ok(c, 'POST', '/taglinks', { tagId: tag.id, linkId: link.id }, true);
    await ok(c, 'GET', '/links', undefined, true);
    await ok(c, 'GET', `/tags/${String(tag.id)}/links`, undefined, true);
    await ok(c, 'DELETE', `/links/${String(link.id)}`, undefined, true);
  },
  'plan change': async () => {
    const c = await onboardCustomer(t, 'iam-plan');
    const started = await ok(c, 'POST', '/me/plan', { plan: 'basic' });
    for (let i = 0; ; i++) {
      const status = await ok(c, 'GET', `/me/plan-changes/${String(started.executionId)}`);
      if (status.status === 'SUCCEEDED') break;
      if (status.status !== 'RUNNING' || i > 500) throw new Error(`plan change ${JSON.stringify(status)}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  },
  'closing an account': async () => {
    const c = await onboardCustomer(t, 'iam-close');
    await ok(c, 'DELETE', '/me', { confirm: c.email });
    await settled('OffboardingStateMachine');
  },
  reconciling: async () => {
    const c = await onboardCustomer(t, 'iam-reconcile');
    await t.clients.cognito.send(new AdminDeleteUserCommand({ UserPoolId: t.stack.userPoolId, Username: c.email }));
    const result = await invokeFunction<{ offboarded: number }>(t, 'ReconcileAccountsFunction');
    if (result.offboarded < 1) throw new Error(`reconcile offboarded nobody: ${JSON.stringify(result)}`);
    await settled('OffboardingStateMachine');
  },
  'billing close': async () => {
    await onboardCustomer(t, 'iam-billing');
    const period = lastMonth();
    const run = await runClose(t, `iam-close-${Date.now()}`, { period, pageSize: 1, pagesPerExecution: 1 });
    if (run.status !== 'SUCCEEDED') throw new Error(`billing close ${JSON.stringify(run)}`);
  },
  'password reset': async () => {
    const c = await onboardCustomer(t, 'iam-reset');
    await t.clients.cognito.send(new ForgotPasswordCommand({ ClientId: t.stack.userPoolClientId, Username: c.email }));
    const code = t.stack.cognito.latestCode(c.email);
    await t.clients.cognito.send(new ConfirmForgotPasswordCommand({ ClientId: t.stack.userPoolClientId, Username: c.email, ConfirmationCode: code, Password: `${PASSWORD}-new` }));
  },
};

/** A statement (or a whole policy template / managed policy) that can be taken out of a role. */
interface Removable {
  principal: string;
  label: string;
  without: AttachedPolicy[];
}
function removables(p: Principal): Removable[] {
  const out: Removable[] = [];
  for (const [i, policy] of p.role.policies.entries()) {
    const others = p.role.policies.filter((_, j) => j !== i);
    if (policy.entry.kind === 'statement') {
      const statements = statementsOf(policy.document);
      for (const [k, s] of statements.entries()) {
        const document = { ...policy.document, Statement: statements.filter((_, j) => j !== k) };
        out.push({ principal: p.logicalId, label: `${policy.name} statement ${s.Sid ?? k}`, without: [...others.slice(0, i), { ...policy, document }, ...others.slice(i)] });
      }
    } else {
      out.push({ principal: p.logicalId, label: `${policy.entry.label}${policy.entry.index !== undefined ? ` (Policies[${policy.entry.index}])` : ''}`, without: others });
    }
  }
  return out;
}

/**
 * What the paths above do not need, and why. Logs and X-Ray have no offline service; tagging on create is not
 * authorized offline (README). The rest is needed only on paths these happy paths do not take — listed by name, so a
 * statement that becomes unused fails this test until it is removed or a path needs it.
 */
const NOT_EXERCISED = /AWSLambdaBasicExecutionRole|AWSXrayWriteOnlyAccess|StateMachineLoggingPolicy|TagApiKeysOnCreate/;
const FAILURE_PATHS_ONLY: Record<string, string> = {
  'PostAuthenticationFunction: PostAuthenticationFunctionRolePolicy1 statement 0': 're-drives onboarding for an invited or FAILED account',
  'LinksFunction: DynamoDBReadPolicy (Policies[0])': 'checks the key against the account when the ID token names an older key (after a rotation)',
  'TagsFunction: DynamoDBReadPolicy (Policies[0])': 'checks the key against the account when the ID token names an older key (after a rotation)',
  'ReconcileAccountsFunction: ReconcileAccountsFunctionRolePolicy0 statement 3': 'suspends the key of a disabled user',
  'OnboardingStateMachine: OnboardingStateMachineRolePolicy2 statement DeleteApiKey': 'compensation after a failed onboarding',
  'OnboardingStateMachine: OnboardingStateMachineRolePolicy2 statement FreePlanKeys': 'compensation after a failed onboarding',
  'OnboardingStateMachine: OnboardingStateMachineRolePolicy2 statement ClaimHolder': 'releases a claim left by a stopped execution',
};

describe('offline IAM with the template\'s policies', () => {
  const recorded: (AuthzRecord & { path: string })[] = [];

  it('lets every path succeed with the policies as committed, and records what each call needed', async () => {
    for (const [name, run] of Object.entries(PATHS)) {
      const stop = t.stack.iam.onDecision((r) => recorded.push({ ...r, path: name }));
      try {
        await run();
      } finally {
        stop();
      }
    }
    expect(recorded.filter((r) => r.decision !== 'Allow')).toEqual([]);
    const callers = new Set(recorded.map((r) => r.principal));
    expect([...callers].sort()).toEqual(t.stack.iam.principals().filter((p) => p.role.policies.some((x) => x.kind === 'inline')).map((p) => p.logicalId).sort());
  }, 600_000);

  it('refuses, with AccessDenied, the calls each statement allowed once it is removed', async () => {
    expect(recorded.length).toBeGreaterThan(0);
    const unexercised: string[] = [];
    const results: { removed: string; denied: string[] }[] = [];
    for (const principal of t.stack.iam.principals()) {
      const context = { 'aws:PrincipalArn': principal.roleArn, 'aws:SecureTransport': 'false' };
      for (const r of removables(principal)) {
        const needing = recorded.filter(
          (rec) => rec.principal === r.principal && evaluate(r.without, { action: rec.action, resource: rec.resource, context }).decision !== 'Allow',
        );
        if (needing.length === 0) {
          unexercised.push(`${r.principal}: ${r.label}`);
          continue;
        }
        const path = needing[0]!.path;
        const denials: AuthzRecord[] = [];
        const stop = t.stack.iam.onDecision((rec) => {
          if (rec.principal === r.principal && rec.decision !== 'Allow') denials.push(rec);
        });
        t.stack.iam.setPolicies(r.principal, r.without);
        try {
          await PATHS[path]!().catch(() => undefined); // the path fails: what matters is which call was refused
        } finally {
          t.stack.iam.resetPolicies(r.principal);
          stop();
        }
        // Refused because of the removal: a call the whole role allows (ids in ARNs differ from run to run).
        const dueToRemoval = denials.filter((d) => evaluate(principal.role.policies, { action: d.action, resource: d.resource, context }).decision === 'Allow');
        results.push({ removed: `${r.principal}: ${r.label}`, denied: [...new Set(dueToRemoval.map((d) => d.action))] });
        expect({ removed: `${r.principal}: ${r.label}`, path, denied: dueToRemoval.length > 0 }).toEqual({ removed: `${r.principal}: ${r.label}`, path, denied: true });
      }
    }
    expect(results.length).toBeGreaterThan(20);
    // Statements no offline path needs are only those that cannot be exercised offline.
    expect(unexercised.filter((u) => !NOT_EXERCISED.test(u)).sort()).toEqual(Object.keys(FAILURE_PATHS_ONLY).sort());
  }, 1_200_000);

  it('fails a workflow task refused by its role with the error name Step Functions gives, which Catch handles', async () => {
    const principal = t.stack.iam.principal('OnboardingStateMachine')!;
    const [without] = removables(principal).filter((r) => r.label.endsWith('statement Billing'));
    t.stack.iam.setPolicies(principal.logicalId, without!.without);
    let execution;
    try {
      const userId = await signUpAndConfirm(t, uniqueEmail('iam-denied'));
      execution = await waitForExecution(t, onboardingArn(t, userId), 30_000);
    } finally {
      t.stack.iam.resetPolicies(principal.logicalId);
    }
    const failed = (await executionHistory(t, execution.executionArn!)).filter((e) => e.type === 'TaskFailed').map((e) => e.taskFailedEventDetails);
    expect(failed[0]).toMatchObject({
      resourceType: 'dynamodb',
      resource: 'putItem',
      error: 'DynamoDB.AmazonDynamoDBException',
      cause: expect.stringMatching(
        /^User: arn:aws:sts::000000000000:assumed-role\/tollgate-OnboardingStateMachineRole-[A-Z0-9]+\/[A-Za-z]+ is not authorized to perform: dynamodb:PutItem on resource: arn:aws:dynamodb:us-east-1:000000000000:table\/tollgate-BillingTable because no identity-based policy allows the dynamodb:PutItem action \(Service: AmazonDynamoDBv2; Status Code: 400; Error Code: AccessDeniedException;/,
      ),
    });
    // The workflow's Catch took it (compensation ran): the execution closed instead of hanging or failing with States.Runtime.
    expect(execution.error ?? '').not.toBe('States.Runtime');
  }, 120_000);
});
