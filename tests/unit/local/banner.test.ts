/**
 * The `npm start` banner: every label/value table keeps one column wide enough for its longest label, so a long
 * output name (BillingCloseStateMachineArn) never runs into its value.
 */
import { alignRows, renderBanner, type BannerInput } from '../../../local/cli/banner.ts';

const input = (outputs: Record<string, string>): BannerInput => ({
  dir: '/tmp/tg',
  portalUrl: 'http://127.0.0.1:5173',
  apiUrl: 'http://127.0.0.1:3000/v1',
  endpoints: {
    lambda: 'http://127.0.0.1:3001',
    apigateway: 'http://127.0.0.1:4567',
    stepfunctions: 'http://127.0.0.1:8083',
    cognito: 'http://127.0.0.1:9229',
    dynamodb: 'http://127.0.0.1:8000',
  },
  userPoolId: 'us-east-1_abc',
  userPoolClientId: 'client123',
  outputs,
  notSimulated: [],
  clientEnvironment: { AWS_REGION: 'us-east-1' },
  samEnvVarsFile: '/tmp/tg/sam-env.json',
  readySeconds: 1.23,
});

/** The column where the value starts on the banner line for `label`. */
function valueColumn(banner: string, label: string, value: string): number {
  const line = banner.split('\n').find((l) => l.startsWith(`  ${label} `));
  if (line === undefined) throw new Error(`no line for ${label}`);
  expect(line.endsWith(value)).toBe(true);
  return line.length - value.length;
}

describe('alignRows', () => {
  it('starts every value in one column, two spaces after the longest label', () => {
    const rows = alignRows([
      ['a', '1'],
      ['a-much-longer-label', '2'],
    ]);
    expect(rows).toEqual(['  a                    1', '  a-much-longer-label  2']);
  });

  it('keeps the minimum width when every label is shorter', () => {
    expect(alignRows([['id', 'x']], 10)).toEqual(['  id        x']);
  });
});

describe('renderBanner', () => {
  it.each([
    ['short names', { OnboardingStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:onboarding' }],
    [
      'a long name',
      {
        OnboardingStateMachineArn: 'arn:onboarding',
        BillingCloseStateMachineArn: 'arn:aws:states:us-east-1:000000000000:stateMachine:billing-close',
        AccountsTableName: 'accounts',
      },
    ],
    ['a name longer than any fixed column', { ['X'.repeat(60) + 'TableName']: 'table' }],
  ])('aligns endpoints, ids and outputs in one column with %s', (_case, outputs) => {
    const banner = renderBanner(input(outputs));
    const columns = [
      valueColumn(banner, 'API (gateway)', 'http://127.0.0.1:3000/v1'),
      valueColumn(banner, 'Cognito', 'http://127.0.0.1:9229'),
      valueColumn(banner, 'User pool id', 'us-east-1_abc'),
      valueColumn(banner, 'Developer portal', 'http://127.0.0.1:5173   (sign up there; codes arrive in its Outbox)'),
      ...Object.entries(outputs).map(([k, v]) => valueColumn(banner, k, v)),
    ];
    expect(new Set(columns).size).toBe(1);
    const longest = Math.max(...Object.keys(outputs).map((k) => k.length));
    expect(columns[0]).toBeGreaterThanOrEqual(2 + longest + 2);
    for (const [k, v] of Object.entries(outputs)) expect(banner).not.toContain(`${k}${v[0] ?? ''}`);
  });

  it('lists only the outputs a client needs, and the rest of the banner', () => {
    const banner = renderBanner({ ...input({ SomeFunctionArn: 'arn:fn', PlansTableName: 'plans' }), notSimulated: ['AWS::SNS::Topic'] });
    expect(banner).toContain('PlansTableName');
    expect(banner).not.toContain('SomeFunctionArn');
    expect(banner).toContain('  Not simulated offline: AWS::SNS::Topic');
    expect(banner).toContain('  export AWS_REGION=us-east-1');
    expect(banner.trimEnd().endsWith('Ready in 1.2 s — Ctrl-C to stop.')).toBe(true);
  });
});
