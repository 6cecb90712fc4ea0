/**
 * An in-memory dynalite (the offline stack's DynamoDB) with the SelfIssuedKeys table, on a free port: for the
 * scaled key mode's tests (tests/integration/self-issued-keys.test.ts), which need the table's real conditional-write
 * semantics but not the whole stack.
 * The table's shape (pk string, PAY_PER_REQUEST) is template.yaml's SelfIssuedKeysTable.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { LOCAL_CREDENTIALS, LOCAL_REGION } from '../types.ts';

const dynalite = require('dynalite') as (opts: Record<string, unknown>) => Server;

export interface KeyStoreHarness {
  tableName: string;
  client: DynamoDBDocumentClient;
  close(): Promise<void>;
}

export async function startKeyStore(tableName = 'self-issued-keys'): Promise<KeyStoreHarness> {
  const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const raw = new DynamoDBClient({ endpoint, region: LOCAL_REGION, credentials: LOCAL_CREDENTIALS, maxAttempts: 3 }); // as functions/shared/clients.ts
  await raw.send(
    new CreateTableCommand({ TableName: tableName, BillingMode: 'PAY_PER_REQUEST', AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }], KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }] }),
  );
  const client = DynamoDBDocumentClient.from(raw, { marshallOptions: { removeUndefinedValues: true } });
  return {
    tableName,
    client,
    async close() {
      raw.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
