/**
 * What a real deployment needs from template.yaml beyond the wiring (issue 10, "Deploy"): names unique per stack,
 * data that outlives the stack, an email sender for production. Through the loader the offline stack uses.
 */
import { join } from 'node:path';
import { buildStackModel } from '../../local/model.ts';
import {
  evaluateConditions,
  loadTemplate,
  pseudoParameters,
  resolveParameters,
  resolveValue,
  type ResolveContext,
  type Template,
} from '../../local/template.ts';

const root = join(__dirname, '../..');
const templatePath = join(root, 'template.yaml');
const template: Template = loadTemplate(templatePath);
const base = { templatePath, stackName: 'tg', region: 'us-east-1', accountId: '123456789012' };

/** Resolves values as CloudFormation would for a stack of this name; refs and attributes become readable placeholders. */
function resolverFor(stackName: string, overrides: Record<string, string> = {}): (value: unknown) => unknown {
  const parameters = { ...resolveParameters(template, overrides), ...pseudoParameters({ region: 'us-east-1', accountId: '123456789012', stackName }) };
  const ctx: ResolveContext = { parameters, conditions: {}, ref: (id) => `ref:${id}`, getAtt: (id, att) => `${id}.${att}` };
  ctx.conditions = evaluateConditions(template, ctx);
  return (value) => resolveValue(value, ctx);
}

/** Every physical name the template sets: top-level `…Name` properties of resources, and the names of their events. */
function physicalNames(resolve: (value: unknown) => unknown): Map<string, string> {
  // Names scoped inside a resource of the stack (its API's stage) or naming another one (a permission's function).
  const scoped = (type: string, key: string) => key === 'StageName' || (type === 'AWS::Lambda::Permission' && key === 'FunctionName');
  const names = new Map<string, string>();
  for (const [logicalId, resource] of Object.entries(template.Resources)) {
    for (const [key, value] of Object.entries(resource.Properties ?? {})) {
      if (key.endsWith('Name') && !scoped(resource.Type, key)) names.set(`${logicalId}.${key}`, String(resolve(value)));
    }
    const events = (resource.Properties?.Events ?? {}) as Record<string, { Type: string; Properties?: Record<string, unknown> }>;
    for (const [eventId, event] of Object.entries(events)) {
      // SAM names a ScheduleV2 schedule after its logical id when Name is absent.
      if (event.Type === 'ScheduleV2') names.set(`${logicalId}.${eventId}.Name`, String(resolve(event.Properties?.Name ?? `${logicalId}${eventId}`)));
    }
  }
  return names;
}

describe('two stacks in one account and Region', () => {
  it('give every named resource, schedules included, a different name', () => {
    const dev = physicalNames(resolverFor('dev'));
    const prod = physicalNames(resolverFor('prod'));
    expect([...dev.keys()]).toEqual(expect.arrayContaining(['BillingCloseStateMachine.MonthlyClose.Name', 'UserPool.UserPoolName', 'Api.Name']));
    const clashes = [...dev].filter(([where, name]) => prod.get(where) === name);
    expect(clashes).toEqual([]);
  });

  it('the offline model names every schedule after the stack, as SAM will', () => {
    const model = buildStackModel(template, { ...base, stackName: 'prod' });
    expect(model.schedules).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ logicalId: 'BillingCloseStateMachineMonthlyClose', target: 'BillingCloseStateMachine', name: 'prod-monthly-close', state: 'ENABLED' }),
        expect.objectContaining({ logicalId: 'ReconcileAccountsFunctionEvery5Minutes', target: 'ReconcileAccountsFunction', name: 'prod-reconcile-accounts', state: 'ENABLED' }),
      ]),
    );
    expect(model.schedules.every((schedule) => schedule.name.startsWith('prod-'))).toBe(true);
  });
});

describe('deleting or replacing the stack', () => {
  it.each(['UserPool', 'AccountsTable', 'BillingTable', 'ResourcesTable'])('keeps %s and its data', (logicalId) => {
    expect(template.Resources[logicalId]).toMatchObject({ DeletionPolicy: 'Retain', UpdateReplacePolicy: 'Retain' });
  });
});

describe('Cognito email', () => {
  const emailConfiguration = (overrides: Record<string, string>) =>
    (buildStackModel(template, { ...base, parameterOverrides: overrides }).userPools[0]?.properties as Record<string, unknown>).EmailConfiguration;

  it("keeps Cognito's default sender unless an SES identity is given", () => {
    expect(emailConfiguration({})).toBeUndefined();
    expect(emailConfiguration({ SesFromAddress: 'ignored@example.com' })).toBeUndefined();
  });

  it('sends through SES (DEVELOPER) with the identity, and From / Reply-To when given', () => {
    const arn = 'arn:aws:ses:us-east-1:123456789012:identity/example.com';
    expect(emailConfiguration({ SesSourceArn: arn })).toEqual({ EmailSendingAccount: 'DEVELOPER', SourceArn: arn });
    expect(emailConfiguration({ SesSourceArn: arn, SesFromAddress: 'Tollgate <no-reply@example.com>', SesReplyToAddress: 'help@example.com' })).toEqual({
      EmailSendingAccount: 'DEVELOPER',
      SourceArn: arn,
      From: 'Tollgate <no-reply@example.com>',
      ReplyToEmailAddress: 'help@example.com',
    });
  });

  it('refuses an SES identity that is not an ARN, as CloudFormation does (AllowedPattern)', () => {
    expect(() => emailConfiguration({ SesSourceArn: 'no-reply@example.com' })).toThrow(/SesSourceArn=no-reply@example.com does not match its AllowedPattern/);
  });
});

describe('API stages', () => {
  const withOpenApiVersion = (version: string | undefined): Template => {
    const copy = JSON.parse(JSON.stringify(template)) as Template;
    const props = copy.Resources.Api!.Properties!;
    if (version === undefined) delete props.OpenApiVersion;
    else props.OpenApiVersion = version;
    return copy;
  };
  const stagesOf = (t: Template) => buildStackModel(t, base).apis[0]?.stages.map((s) => ({ name: s.name, declared: s.declared, throttles: s.methodThrottles.length }));

  it('are the StageName stage alone: the template sets OpenApiVersion', () => {
    expect(stagesOf(template)).toEqual([{ name: 'v1', declared: true, throttles: 16 }]);
  });

  it("are derived as SAM's translator does: any valid OpenApiVersion removes the extra `Stage`, none keeps it", () => {
    expect(stagesOf(withOpenApiVersion(undefined))).toEqual([
      { name: 'v1', declared: true, throttles: 16 },
      { name: 'Stage', declared: false, throttles: 0 },
    ]);
    expect(stagesOf(withOpenApiVersion('2.0'))).toEqual([{ name: 'v1', declared: true, throttles: 16 }]);
    expect(() => stagesOf(withOpenApiVersion('4'))).toThrow(/OpenApiVersion 4 must be of the format/);
  });

  it('honours Globals.Api.OpenApiVersion and refuses Api globals it does not understand', () => {
    const viaGlobals = withOpenApiVersion(undefined);
    viaGlobals.Globals = { ...viaGlobals.Globals, Api: { OpenApiVersion: '3.0.1' } };
    expect(stagesOf(viaGlobals)).toEqual([{ name: 'v1', declared: true, throttles: 16 }]);
    viaGlobals.Globals.Api = { TracingEnabled: true };
    expect(() => stagesOf(viaGlobals)).toThrow(/Globals.Api.TracingEnabled is not supported/);
  });
});
