import { GetCommand } from '@aws-sdk/lib-dynamodb';
import { documentClient } from './clients.ts';

export type AccountStatus = 'ONBOARDING' | 'ACTIVE' | 'FAILED' | 'CLOSING' | 'CLOSED';

/** One customer, keyed by Cognito `sub`. Written by the onboarding and plan-change workflows. */
export interface Account {
  userId: string;
  email?: string;
  apiKeyId?: string;
  plan?: string;
  status: AccountStatus;
  createdAt?: string;
  updatedAt?: string;
  version?: number;
  failureReason?: string;
  /** Set while the Cognito user is disabled: the API key is disabled too (the account reconciler). */
  keySuspendedAt?: string;
}

export interface AccountStore {
  get(userId: string): Promise<Account | undefined>;
}

export class DynamoAccountStore implements AccountStore {
  constructor(private readonly tableName: string) {}

  async get(userId: string): Promise<Account | undefined> {
    const { Item } = await documentClient.send(
      new GetCommand({ TableName: this.tableName, Key: { userId }, ConsistentRead: true }),
    );
    return Item as Account | undefined;
  }
}
