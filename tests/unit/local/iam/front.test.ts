/**
 * The authorizing fronts (local/iam/front.ts) answer a denied call the way each AWS service does, as the real SDK v3
 * clients read it (error name, status, message), let an allowed call through with its body intact, leave callers
 * outside the template alone, and in `warn` mode log instead of refusing.
 */
import { APIGatewayClient, CreateApiKeyCommand } from '@aws-sdk/client-api-gateway';
import { AdminGetUserCommand, CognitoIdentityProviderClient } from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBClient, GetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { DescribeExecutionCommand, SFNClient } from '@aws-sdk/client-sfn';
import { createServer, type Server } from 'node:http';
import { authorizingListener, IamAuthorizer, type ExecutionRole, type IamMode } from '../../../../local/iam/index.ts';
import type { IamService } from '../../../../local/iam/operations.ts';

const TABLE = 'arn:aws:dynamodb:us-east-1:000000000000:table/allowed';
const role: ExecutionRole = {
  logicalId: 'Fn',
  kind: 'function',
  roleLogicalId: 'FnRole',
  roleName: 'tollgate-FnRole-ABC',
  managedPolicyArns: [],
  inlinePolicies: [],
  policies: [{ name: 'FnRolePolicy0', kind: 'inline', entry: { index: 0, kind: 'statement', label: 'FnRolePolicy0' }, document: { Statement: [{ Effect: 'Allow', Action: 'dynamodb:GetItem', Resource: TABLE }] } }],
};

const servers: Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((r) => s.close(r))));
});

async function front(service: IamService, mode: IamMode = 'enforce', log: string[] = []) {
  const iam = new IamAuthorizer({ roles: [role], stackName: 'tollgate', accountId: '000000000000', mode, log: (l) => log.push(l) });
  const seen: string[] = [];
  const server = createServer(
    authorizingListener(
      service,
      (req, res) => {
        let body = '';
        req.on('data', (c: Buffer) => (body += c.toString()));
        req.on('end', () => {
          seen.push(body);
          res.writeHead(200, { 'Content-Type': 'application/x-amz-json-1.0' });
          res.end('{}');
        });
      },
      iam,
      { region: 'us-east-1', accountId: '000000000000' },
    ),
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  const endpoint = `http://127.0.0.1:${(server.address() as { port: number }).port}`;
  const config = { endpoint, region: 'us-east-1', credentials: iam.credentialsFor('Fn')!, maxAttempts: 1 };
  return { iam, seen, config };
}

const failure = async (p: Promise<unknown>) => {
  try {
    await p;
  } catch (e) {
    const err = e as { name: string; message: string; $metadata: { httpStatusCode?: number } };
    return { name: err.name, status: err.$metadata.httpStatusCode, message: err.message };
  }
  throw new Error('the call was allowed');
};
const deniedMessage = (action: string, resource: string) =>
  `User: arn:aws:sts::000000000000:assumed-role/tollgate-FnRole-ABC/tollgate-Fn is not authorized to perform: ${action} on resource: ${resource} because no identity-based policy allows the ${action} action`;

describe('the authorizing front of each service', () => {
  it('DynamoDB: 400 AccessDeniedException for a denied call; an allowed one reaches the service with its body', async () => {
    const { config, seen } = await front('dynamodb');
    const client = new DynamoDBClient(config);
    expect(await failure(client.send(new PutItemCommand({ TableName: 'allowed', Item: { id: { S: '1' } } })))).toEqual({
      name: 'AccessDeniedException',
      status: 400,
      message: deniedMessage('dynamodb:PutItem', TABLE),
    });
    await client.send(new GetItemCommand({ TableName: 'allowed', Key: { id: { S: '1' } } }));
    expect(JSON.parse(seen[0]!)).toEqual({ TableName: 'allowed', Key: { id: { S: '1' } } });
  });

  it('Cognito: 400 AccessDeniedException', async () => {
    const { config } = await front('cognito');
    const out = await failure(new CognitoIdentityProviderClient(config).send(new AdminGetUserCommand({ UserPoolId: 'us-east-1_x', Username: 'u' })));
    expect(out).toEqual({ name: 'AccessDeniedException', status: 400, message: deniedMessage('cognito-idp:AdminGetUser', 'arn:aws:cognito-idp:us-east-1:000000000000:userpool/us-east-1_x') });
  });

  it('Step Functions: 400 AccessDeniedException', async () => {
    const { config } = await front('stepfunctions');
    const arn = 'arn:aws:states:us-east-1:000000000000:execution:m:e';
    expect(await failure(new SFNClient(config).send(new DescribeExecutionCommand({ executionArn: arn })))).toEqual({ name: 'AccessDeniedException', status: 400, message: deniedMessage('states:DescribeExecution', arn) });
  });

  it('Lambda: 403 AccessDeniedException', async () => {
    const { config } = await front('lambda');
    expect(await failure(new LambdaClient(config).send(new InvokeCommand({ FunctionName: 'f' })))).toEqual({
      name: 'AccessDeniedException',
      status: 403,
      message: deniedMessage('lambda:InvokeFunction', 'arn:aws:lambda:us-east-1:000000000000:function:f'),
    });
  });

  it('API Gateway: 403 AccessDeniedException on apigateway:<verb> and the path', async () => {
    const { config } = await front('apigateway');
    expect(await failure(new APIGatewayClient(config).send(new CreateApiKeyCommand({ name: 'k' })))).toEqual({
      name: 'AccessDeniedException',
      status: 403,
      message: deniedMessage('apigateway:POST', 'arn:aws:apigateway:us-east-1::/apikeys'),
    });
  });

  it('leaves callers outside the template alone, and only logs in warn mode', async () => {
    const admin = await front('dynamodb');
    await new DynamoDBClient({ ...admin.config, credentials: { accessKeyId: 'local', secretAccessKey: 'local' } }).send(new PutItemCommand({ TableName: 'other', Item: { id: { S: '1' } } }));
    expect(admin.seen).toHaveLength(1);
    const log: string[] = [];
    const warned = await front('dynamodb', 'warn', log);
    await new DynamoDBClient(warned.config).send(new PutItemCommand({ TableName: 'other', Item: { id: { S: '1' } } }));
    expect(warned.seen).toHaveLength(1);
    expect(log).toEqual([expect.stringContaining('WARNING (--iam warn, allowed anyway) Fn dynamodb PutItem: User: arn:aws:sts::000000000000:assumed-role/tollgate-FnRole-ABC/tollgate-Fn is not authorized')]);
  });
});
