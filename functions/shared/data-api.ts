import { CachedKeyOwners, dataApiAuthFrom, type DataApiCallerDeps } from './caller.ts';
import { requireEnv } from './env.ts';
import { keyModeFrom } from './key-mode.ts';
import { DynamoAccountStore, DynamoKeyOwners } from './tables/accounts.ts';

/**
 * How long a Lambda environment trusts a key's owner it has read (KeyOwners cache), in seconds: within it a repeat
 * caller costs no DynamoDB read. A key's owner never changes, and API Gateway checks the key itself on every request.
 */
export const KEY_OWNER_FRESHNESS_SECONDS = 60;

/**
 * The data API functions' (links, tags) caller dependencies from their environment: `DATA_API_AUTH` (the template's
 * DataApiAuth), `ACCOUNTS_TABLE` and, in ApiKey mode, `ACCOUNTS_API_KEY_INDEX` (the GSI apiKeyId → userId).
 * Throws at module load when one is missing or wrong (a deploy mistake).
 */
export function dataApiCallerDepsFromEnv(): DataApiCallerDeps {
  const accountsTable = requireEnv('ACCOUNTS_TABLE');
  const dataApiAuth = dataApiAuthFrom(process.env.DATA_API_AUTH);
  return {
    accounts: new DynamoAccountStore(accountsTable),
    dataApiAuth,
    keyMode: keyModeFrom(process.env.KEY_MODE),
    ...(dataApiAuth === 'ApiKey'
      ? { keyOwners: new CachedKeyOwners(new DynamoKeyOwners(accountsTable, requireEnv('ACCOUNTS_API_KEY_INDEX')), KEY_OWNER_FRESHNESS_SECONDS * 1000) }
      : {}),
  };
}
