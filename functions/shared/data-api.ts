import { CachedAccounts, CachedKeyOwners, dataApiAuthFrom, type DataApiCallerDeps } from './caller.ts';
import { requireEnv } from './env.ts';
import { cognitoIssuer, createCognitoVerifier, jwksUrlOf, type TokenVerifier } from './id-token.ts';
import { keyModeFrom } from './key-mode.ts';
import { DynamoAccountStore, DynamoKeyOwners } from './tables/accounts.ts';
import { DynamoKeyOwnerRecords, RecordedKeyOwners } from './tables/key-owners.ts';

/**
 * How long a Lambda environment trusts a key's owner it has read (KeyOwners cache), in seconds: within it a repeat
 * caller costs no DynamoDB read. A key's owner never changes, and API Gateway checks the key itself on every request.
 * A rotated-away key's owner is trusted only until its overlap ends; a cancelled overlap or a closed account is seen
 * by the function within this freshness (API Gateway refuses the disabled key at once). See CachedKeyOwners. The same
 * freshness holds for the account reads of `IdTokenAndApiKey` mode (CachedAccounts, assertOwnKey).
 */
export const KEY_OWNER_FRESHNESS_SECONDS = 60;

/**
 * The pool's ID token verifier from the environment, made once per Lambda environment (module load; the JWKS is
 * fetched at the first request and cached by aws-jwt-verify): `USER_POOL_ID`, `USER_POOL_CLIENT_IDS` (the app clients
 * whose tokens are accepted, comma-separated: the token's `aud`), and the issuer's endpoint —
 * `AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER` when set (offline), else `https://cognito-idp.<AWS_REGION>.amazonaws.com`
 * (cognitoIssuer). Throws when a variable is missing (a deploy mistake).
 */
export function idTokenVerifierFromEnv(): TokenVerifier {
  const issuer = cognitoIssuer(requireEnv('USER_POOL_ID'), process.env.AWS_ENDPOINT_URL_COGNITO_IDENTITY_PROVIDER, requireEnv('AWS_REGION'));
  const audiences = requireEnv('USER_POOL_CLIENT_IDS').split(',').map((id) => id.trim()).filter((id) => id !== '');
  if (audiences.length === 0) throw new Error('USER_POOL_CLIENT_IDS names no app client');
  return createCognitoVerifier({ issuer, jwksUrl: jwksUrlOf(issuer), audiences });
}

const accountCaches: CachedAccounts[] = [];

/** Empties the account caches of this module's functions, as a fresh Lambda environment has them (for unit tests). */
export function clearAccountCaches(): void {
  for (const cache of accountCaches) cache.clear();
}

/**
 * The data API functions' (links, tags) caller dependencies from their environment: `DATA_API_AUTH` (the template's
 * DataApiAuth), `ACCOUNTS_TABLE` (read through CachedAccounts); in ApiKey mode `KEY_OWNERS_TABLE` (the key's owner
 * record: one GetItem, RecordedKeyOwners) and, for a key with no record yet, `ACCOUNTS_API_KEY_INDEX` (the GSI
 * apiKeyId → userId) and `ACCOUNTS_PREVIOUS_API_KEY_INDEX` (previousApiKeyId → userId); in IdTokenAndApiKey mode the
 * ID token verifier (idTokenVerifierFromEnv).
 * Throws at module load when one is missing or wrong (a deploy mistake).
 */
export function dataApiCallerDepsFromEnv(): DataApiCallerDeps {
  const accountsTable = requireEnv('ACCOUNTS_TABLE');
  const dataApiAuth = dataApiAuthFrom(process.env.DATA_API_AUTH);
  const accounts = new CachedAccounts(new DynamoAccountStore(accountsTable), KEY_OWNER_FRESHNESS_SECONDS * 1000);
  accountCaches.push(accounts);
  return {
    accounts,
    dataApiAuth,
    keyMode: keyModeFrom(process.env.KEY_MODE),
    ...(dataApiAuth === 'ApiKey'
      ? {
          keyOwners: new CachedKeyOwners(
            new RecordedKeyOwners(
              new DynamoKeyOwnerRecords(requireEnv('KEY_OWNERS_TABLE')),
              new DynamoKeyOwners(accountsTable, requireEnv('ACCOUNTS_API_KEY_INDEX'), requireEnv('ACCOUNTS_PREVIOUS_API_KEY_INDEX')),
            ),
            KEY_OWNER_FRESHNESS_SECONDS * 1000,
          ),
        }
      : { idTokens: idTokenVerifierFromEnv() }),
  };
}
