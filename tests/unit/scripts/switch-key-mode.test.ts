/**
 * scripts/switch-key-mode.ts against mocked SDK clients: what the offline stack cannot show cheaply (more than
 * 10,000 customers), and the outputs it needs. The whole switch runs for real in
 * tests/integration/key-mode-switch.test.ts.
 */
import { APIGatewayClient, CreateUsagePlanKeyCommand, GetApiKeysCommand, GetUsageCommand, GetUsagePlanCommand, GetUsagePlanKeysCommand, UpdateApiKeyCommand, UpdateUsageCommand } from '@aws-sdk/client-api-gateway';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, ScanCommand } from '@aws-sdk/lib-dynamodb';
import { mockClient } from 'aws-sdk-client-mock';
import 'aws-sdk-client-mock-jest';
import { API_GATEWAY_KEY_LIMIT, restoreApiGatewayKeys, SwitchRefused, targetFromOutputs } from '../../../scripts/switch-key-mode.ts';

const apigw = mockClient(APIGatewayClient);
const ddb = mockClient(DynamoDBDocumentClient);
beforeEach(() => {
  apigw.reset();
  ddb.reset();
});

const OUTPUTS = { AccountsTableName: 'accounts', SelfIssuedKeysTableName: 'keys', FreeUsagePlanId: 'upfree', BasicUsagePlanId: 'upbasic', ProUsagePlanId: 'uppro', ApiUrl: 'https://x' };
const target = () => targetFromOutputs(OUTPUTS, new APIGatewayClient({ region: 'us-east-1' }), DynamoDBDocumentClient.from(new DynamoDBClient({ region: 'us-east-1' })));

it('reads the tables and the plans from the stack outputs, and names a missing one', () => {
  expect(target()).toMatchObject({ accountsTable: 'accounts', keysTable: 'keys', usagePlanIds: { free: 'upfree', basic: 'upbasic', pro: 'uppro' } });
  const { SelfIssuedKeysTableName: _missing, ...older } = OUTPUTS;
  expect(() => targetFromOutputs(older, new APIGatewayClient({}), DynamoDBDocumentClient.from(new DynamoDBClient({})))).toThrow('The stack has no output SelfIssuedKeysTableName');
});

it('restore refuses, changing nothing, when the customers would not fit API Gateway\'s 10,000 keys', async () => {
  apigw.on(GetUsagePlanCommand).resolves({ quota: { limit: 100, period: 'MONTH' } });
  apigw.on(GetApiKeysCommand).resolves({ items: [{ id: 'backstop', enabled: true }] });
  const accounts = Array.from({ length: API_GATEWAY_KEY_LIMIT }, (_, i) => ({ userId: `u${i}`, status: 'ACTIVE', apiKeyId: `si${String(i).padStart(18, '0')}`, plan: 'free' }));
  ddb.on(ScanCommand).resolves({ Items: accounts });

  const refused = restoreApiGatewayKeys(target());
  await expect(refused).rejects.toBeInstanceOf(SwitchRefused);
  await expect(refused).rejects.toThrow(`${API_GATEWAY_KEY_LIMIT} customers (and 1 other API keys) do not fit API Gateway's 10000 API keys per account and Region`);
  expect(apigw).not.toHaveReceivedCommand(CreateUsagePlanKeyCommand);
  expect(apigw).not.toHaveReceivedCommand(UpdateApiKeyCommand);
  expect(apigw).not.toHaveReceivedCommand(UpdateUsageCommand);
  expect(apigw).not.toHaveReceivedCommand(GetUsageCommand);
  expect(apigw).not.toHaveReceivedCommand(GetUsagePlanKeysCommand);
});
