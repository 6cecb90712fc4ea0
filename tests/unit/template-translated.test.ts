/**
 * What `sam deploy` really creates for the API, from AWS's own SAM translator (`../shared/tools/sam-translate`, present
 * beside a clone on the project's machines, not in a user's clone): account management (/me*) requires no API key —
 * so API Gateway meters none of it — and has its own stage throttle; the data API requires the key.
 * Without the tool the suite is skipped with a warning saying so.
 */
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

const root = join(__dirname, '../..');
const tool = join(root, '../shared/tools/sam-translate');
const present = existsSync(tool);
if (!present) console.warn(`SKIPPED: ${tool} is missing, so the SAM translator's output of template.yaml is not checked.`);

interface Resource {
  Type: string;
  Properties: Record<string, unknown>;
}
type Operation = { security?: Record<string, unknown>[] };

(present ? describe : describe.skip)('template.yaml as the SAM translator turns it into CloudFormation', () => {
  let resources: Resource[];
  // template.yaml itself, as CloudFormation hands it to the SAM transform (the only transform it names).
  beforeAll(() => {
    const out = execFileSync(tool, [join(root, 'template.yaml')], { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
    resources = Object.values((JSON.parse(out) as { Resources: Record<string, Resource> }).Resources);
  }, 60_000);

  const operations = (): [string, Operation][] => {
    const api = resources.find((r) => r.Type === 'AWS::ApiGateway::RestApi');
    const paths = (api?.Properties.Body as { paths: Record<string, Record<string, Operation>> }).paths;
    return Object.entries(paths).flatMap(([path, methods]) =>
      Object.entries(methods)
        .filter(([method]) => method !== 'options')
        .map(([method, op]): [string, Operation] => [`${method.toUpperCase()} ${path}`, op]),
    );
  };
  const needsKey = (op: Operation): boolean => (op.security ?? []).some((s) => 'api_key' in s);
  const isAccount = (route: string): boolean => / \/me(\/|$)/.test(route);

  it('requires no API key on any /me* method, and the key on every data API method', () => {
    const routes = operations();
    const account = routes.filter(([route]) => isAccount(route));
    expect(account.map(([route]) => route).sort()).toEqual(
      ['GET /me', 'DELETE /me', 'GET /me/api-key', 'POST /me/api-key/rotate', 'DELETE /me/api-key/previous', 'GET /me/usage', 'GET /me/billing', 'POST /me/plan', 'GET /me/plan-changes/{executionId}'].sort(),
    );
    for (const [route, op] of account) expect({ route, key: needsKey(op), authorizer: (op.security ?? []).some((s) => 'CognitoAuthorizer' in s) }).toEqual({ route, key: false, authorizer: true });
    const data = routes.filter(([route]) => / \/(links|tags|taglinks)(\/|$)/.test(route));
    expect(data.length).toBeGreaterThanOrEqual(10);
    for (const [route, op] of data) expect({ route, key: needsKey(op) }).toEqual({ route, key: true });
  });

  it('puts KeyAuthorizer (the key only) on the data API in every mode (the functions verify the ID token) and the key; /me* keeps the Cognito authorizer', () => {
    const isData = (route: string): boolean => / \/(links|tags|taglinks)(\/|$)/.test(route);
    const routes = operations();
    expect(routes.filter(([route]) => isData(route)).length).toBe(10);
    for (const [route, op] of routes) {
      const cognito = (op.security ?? []).some((s) => 'CognitoAuthorizer' in s);
      if (isData(route)) expect({ route, security: op.security }).toEqual({ route, security: [{ KeyAuthorizer: [] }, { api_key: [] }] });
      else if (isAccount(route)) expect({ route, cognito }).toEqual({ route, cognito: true });
    }
  });

  it('KeyAuthorizer: a REQUEST authorizer on X-Api-Key, cached 300 s unless KeyMode is SelfIssued; the key comes from it (AUTHORIZER)', () => {
    const api = resources.find((r) => r.Type === 'AWS::ApiGateway::RestApi')!;
    expect(api.Properties.ApiKeySourceType).toBe('AUTHORIZER');
    const schemes = (api.Properties.Body as { components: { securitySchemes: Record<string, Record<string, unknown>> } }).components.securitySchemes;
    expect(schemes.KeyAuthorizer?.['x-amazon-apigateway-authorizer']).toMatchObject({
      type: 'request',
      identitySource: 'method.request.header.X-Api-Key',
      authorizerResultTtlInSeconds: { 'Fn::If': ['SelfIssuedKeys', 0, 300] },
    });
  });

  it('throttles every /me* method at the stage with AccountRateLimit / AccountBurstLimit', () => {
    const settings = resources
      .filter((r) => r.Type === 'AWS::ApiGateway::Stage')
      .flatMap((r) => (r.Properties.MethodSettings ?? []) as Record<string, unknown>[]);
    const escaped = (path: string): string => path.replace(/\//g, '~1');
    for (const [route] of operations().filter(([r]) => isAccount(r))) {
      const [method, path] = route.split(' ') as [string, string];
      expect({ route, setting: settings.find((s) => s.ResourcePath === `/${escaped(path)}` && s.HttpMethod === method) }).toEqual({
        route,
        setting: expect.objectContaining({ ThrottlingRateLimit: { Ref: 'AccountRateLimit' }, ThrottlingBurstLimit: { Ref: 'AccountBurstLimit' } }),
      });
    }
  });
});
