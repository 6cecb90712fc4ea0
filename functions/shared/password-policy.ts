/**
 * A user pool's password policy and the check of a password against it: one implementation for the offline Cognito
 * (local/cognito.ts, which answers InvalidPasswordException as Cognito does) and the portal (which refuses a bad
 * password before any request, with the same rules it displays). Pure: no I/O, no Node or DOM APIs.
 *
 * The policy itself is declared once, in template.yaml (`UserPool.Policies.PasswordPolicy`): offline it reaches
 * cognito-local by CreateUserPool and the portal through its config.json; in AWS the portal's config.json is made from
 * `aws cognito-idp describe-user-pool` (README, "The portal in AWS").
 */

/** `Policies.PasswordPolicy` as CreateUserPool takes it and DescribeUserPool returns it (API_PasswordPolicyType.html). */
export interface PasswordPolicy {
  MinimumLength?: number;
  RequireUppercase?: boolean;
  RequireLowercase?: boolean;
  RequireNumbers?: boolean;
  RequireSymbols?: boolean;
}

export type PasswordRule = 'length' | 'uppercase' | 'lowercase' | 'numbers' | 'symbols';

/** Cognito's default minimum length, when the policy names none (API_PasswordPolicyType.html). */
export const DEFAULT_MINIMUM_LENGTH = 8;

/** The special characters Cognito counts as symbols (user-pool-settings-policies.html, "Password requirements"). */
const SYMBOLS = new Set('^$*.[]{}()?"!@#%&/\\,><\':;|_~`=+- ');

/** Cognito's words for each broken rule (the tail of its InvalidPasswordException message). */
export const COGNITO_RULE_WORDS: Record<PasswordRule, string> = {
  length: 'Password not long enough',
  uppercase: 'Password must have uppercase characters',
  lowercase: 'Password must have lowercase characters',
  numbers: 'Password must have numeric characters',
  symbols: 'Password must have symbol characters',
};

/**
 * The first rule of `policy` that `password` breaks, or undefined if it conforms. Rules are checked in Cognito's
 * order: length (in characters, not UTF-16 units), upper, lower, numbers, symbols.
 */
export function brokenPasswordRule(policy: PasswordPolicy | undefined, password: string): PasswordRule | undefined {
  const minimum = policy?.MinimumLength ?? DEFAULT_MINIMUM_LENGTH;
  const chars = [...password];
  if (chars.length < minimum) return 'length';
  if (policy?.RequireUppercase && !chars.some((c) => c !== c.toLowerCase())) return 'uppercase';
  if (policy?.RequireLowercase && !chars.some((c) => c !== c.toUpperCase())) return 'lowercase';
  if (policy?.RequireNumbers && !chars.some((c) => c >= '0' && c <= '9')) return 'numbers';
  if (policy?.RequireSymbols && !chars.some((c) => SYMBOLS.has(c))) return 'symbols';
  return undefined;
}

/**
 * The first rule of `policy` that `password` breaks, in Cognito's words ("Password not long enough", "Password must
 * have uppercase characters", … lowercase / numeric / symbol), or undefined if it conforms.
 */
export function passwordPolicyViolation(policy: PasswordPolicy | undefined, password: string): string | undefined {
  const rule = brokenPasswordRule(policy, password);
  return rule === undefined ? undefined : COGNITO_RULE_WORDS[rule];
}
