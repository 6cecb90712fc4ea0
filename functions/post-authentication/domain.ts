import type { AccountState } from '#shared/tables/accounts';
import { logger } from '#shared/logger';
import { onboardingExecutionName, type OnboardingInput } from '#shared/workflows';

/**
 * What the PostAuthentication trigger does at sign-in (./handler.ts wires it): onboards users whose account is not
 * ACTIVE yet. Knows the Accounts table and Step Functions only through OnboardingDeps.
 *
 * - Administrator-invited users never confirm a sign-up, so PostConfirmation never ran for them: their first sign-in
 *   starts `onboard-<sub>`, the very execution name PostConfirmation uses, with the same input, so the two can never
 *   both onboard one user (Step Functions answers the same name with the same execution or ExecutionAlreadyExists).
 * - A FAILED onboarding is re-driven under `onboard-<sub>-<12 hex of sha256(updatedAt)>`: every sign-in after the
 *   same failure computes the same name, so concurrent sign-ins start one execution, and the next failure (which
 *   writes a new updatedAt) gets a new one.
 * - ACTIVE and ONBOARDING accounts cost one consistent read and nothing else.
 *
 * A sign-in never fails because onboarding could not start (Cognito would refuse the sign-in if this threw): such
 * failures are logged and the event returned; the next sign-in tries again. A malformed event does throw.
 *
 * Cognito waits at most 5 s, and the function's Timeout is 4 s: a timeout would fail the sign-in. So the SDK calls
 * have short timeouts and two attempts each, and the whole check runs under a deadline (3 s, or less when the
 * invocation has less time left) after which the sign-in goes ahead and the requests still in flight are aborted.
 */

export type OnboardingAction =
  | { action: 'none'; status: string }
  | { action: 'start'; executionName: string; started: boolean }
  | { action: 'failed-to-start'; executionName: string };

/** The re-drive after a failure recorded at `updatedAt`: the same for every sign-in until the next failure. */
export function redriveExecutionName(userId: string, updatedAt: string): string {
  return onboardingExecutionName(userId, updatedAt);
}

/** The trigger's I/O: both calls take the deadline's abort signal. */
export interface OnboardingDeps {
  /** The account's status and updatedAt, or undefined when there is none. */
  readAccount(userId: string, abortSignal: AbortSignal): Promise<AccountState | undefined>;
  /** Starts the onboarding workflow under `executionName`; false when that execution exists already. */
  start(executionName: string, input: OnboardingInput, abortSignal: AbortSignal): Promise<boolean>;
}

/** Longest the check may take; the rest of Cognito's 5 s is for the function's start and Cognito itself. */
export const DEADLINE_MS = 3_000;
/** Kept free before the function's own timeout. */
export const TIMEOUT_MARGIN_MS = 500;

const errorFields = (error: unknown) => (error instanceof Error ? { errorName: error.name, errorMessage: error.message } : { errorMessage: String(error) });

/** Decides and acts; never throws for a read or start that failed. */
export async function ensureOnboarding(
  deps: OnboardingDeps,
  input: OnboardingInput,
  abortSignal: AbortSignal = new AbortController().signal,
): Promise<OnboardingAction> {
  let account: AccountState | undefined;
  let readFailed = false;
  try {
    account = await deps.readAccount(input.userId, abortSignal);
  } catch (error: unknown) {
    // Unknown state: start the first onboarding anyway. It is safe whatever the account is (an existing execution
    // answers ExecutionAlreadyExists; the workflow ends at once for an ACTIVE account), and an invited user's first
    // sign-in still gets a key while DynamoDB hiccups. A FAILED account is re-driven at the next sign-in.
    logger.warn('Could not read the account; starting the first onboarding in case there is none', errorFields(error));
    readFailed = true;
  }

  let executionName: string;
  if (account === undefined) {
    executionName = onboardingExecutionName(input.userId);
  } else if (account.status === 'FAILED') {
    if (account.updatedAt === undefined) logger.warn('FAILED account has no updatedAt; re-driving under a fixed name');
    executionName = redriveExecutionName(input.userId, account.updatedAt ?? '');
  } else {
    // ACTIVE: done. ONBOARDING: an execution is at work. Anything else is not ours to change at sign-in.
    return { action: 'none', status: account.status };
  }

  try {
    const started = await deps.start(executionName, input, abortSignal);
    logger.info(started ? 'Onboarding started' : 'Onboarding already started', {
      executionName,
      accountStatus: readFailed ? 'UNREAD' : (account?.status ?? 'NONE'),
    });
    return { action: 'start', executionName, started };
  } catch (error: unknown) {
    logger.error('Could not start onboarding; the next sign-in tries again', { executionName, ...errorFields(error) });
    return { action: 'failed-to-start', executionName };
  }
}

/** ensureOnboarding, but never longer than `budgetMs`: then the requests are aborted and the sign-in goes ahead. */
export async function ensureOnboardingWithin(deps: OnboardingDeps, input: OnboardingInput, budgetMs: number): Promise<OnboardingAction | 'deadline'> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'deadline'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve('deadline');
    }, Math.max(0, budgetMs));
  });
  try {
    const outcome = await Promise.race([ensureOnboarding(deps, input, controller.signal), deadline]);
    if (outcome === 'deadline') {
      logger.error('Onboarding check ran out of time; the sign-in goes ahead and the next one tries again', { budgetMs });
    }
    return outcome;
  } finally {
    clearTimeout(timer);
  }
}
