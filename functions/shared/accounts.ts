import { ConflictError } from './errors.ts';

/**
 * The account: one customer, keyed by Cognito `sub`, as the functions read it. Types and the rules every route
 * applies to it; the DynamoDB code for the Accounts table is in tables/accounts.ts.
 */

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
  /** When the current key was made by a rotation (ISO 8601); absent for the key onboarding made. */
  apiKeyCreatedAt?: string;
  /** The key a rotation replaced, still admitted until `expiresAt` (the rotation's overlap); removed once retired. */
  previousKey?: PreviousKey;
}

/**
 * A rotated-away key during the rotation's overlap: what its retirement needs (the key-retirement workflow, or
 * DELETE /me/api-key/previous at once). Key ids only, never a value.
 */
export interface PreviousKey {
  id: string;
  /** The rotation that replaced it: the new key's id, and the usage-history segment id its usage is kept under. */
  rotationId: string;
  usagePlanId: string;
  plan: string;
  /** What the rotation carried over to the new key (see the rotation's true-up at retirement). */
  quotaCarriedOver: number;
  /** When the overlap ends and the key is retired (ISO 8601). */
  expiresAt: string;
  /** When the key itself was made, if known. */
  createdAt?: string;
}

/** Whether `keyId` is the account's rotated-away key and its overlap has not ended at `now`. */
export function inOverlap(account: Pick<Account, 'previousKey'> | undefined, keyId: string, now: Date): boolean {
  const previous = account?.previousKey;
  return previous !== undefined && previous.id === keyId && Date.parse(previous.expiresAt) > now.getTime();
}

export interface AccountStore {
  get(userId: string): Promise<Account | undefined>;
}

/** The account as the plan workflows keep it: `pendingPlanChange` is the plan-change lock (an execution name). */
export interface PlanAccount extends Account {
  activatedAt?: string;
  pendingPlanChange?: string;
  planChangedAt?: string;
}

export type ActiveAccount = PlanAccount & { status: 'ACTIVE'; apiKeyId: string; plan: string };

/** The caller's account, ACTIVE with a key and a plan; anything else is a 409 saying why. */
export function requireActive(account: PlanAccount | undefined): ActiveAccount {
  if (!account) throw new ConflictError('The account is not active yet: onboarding has not finished', { status: 'NONE' });
  if (account.status !== 'ACTIVE' || !account.apiKeyId || !account.plan) {
    throw new ConflictError(`The account is not active (status ${account.status})`, { status: account.status });
  }
  return account as ActiveAccount;
}

/** Reads the account at most once per request, however many times the key check and the route ask for it. */
export function readOnce(accounts: AccountStore): AccountStore {
  const reads = new Map<string, Promise<Account | undefined>>();
  return {
    get(userId) {
      let read = reads.get(userId);
      if (!read) {
        read = accounts.get(userId);
        reads.set(userId, read);
      }
      return read;
    },
  };
}
