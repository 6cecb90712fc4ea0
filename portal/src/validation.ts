/**
 * The checks a form makes before it sends anything: a new password against the pool's own policy (config.json's
 * `passwordPolicy`, i.e. the template's; the same check the offline Cognito answers with) and an email address's
 * shape. Each answer is a sentence for the user.
 */
import { brokenPasswordRule, DEFAULT_MINIMUM_LENGTH, type PasswordPolicy, type PasswordRule } from '#shared/password-policy';

const RULE_NEEDS: Record<Exclude<PasswordRule, 'length'>, string> = {
  uppercase: 'an upper-case letter',
  lowercase: 'a lower-case letter',
  numbers: 'a number',
  symbols: 'a symbol (such as ! $ % or -)',
};

const REQUIRED_RULES: readonly [keyof PasswordPolicy, Exclude<PasswordRule, 'length'>][] = [
  ['RequireUppercase', 'uppercase'],
  ['RequireLowercase', 'lowercase'],
  ['RequireNumbers', 'numbers'],
  ['RequireSymbols', 'symbols'],
];

function list(items: string[]): string {
  return items.length <= 1 ? (items[0] ?? '') : `${items.slice(0, -1).join(', ')} and ${items.at(-1)}`;
}

/** The policy as the forms display it: "At least 10 characters, with an upper-case letter, a lower-case letter and a number." */
export function passwordRules(policy: PasswordPolicy | undefined): string {
  const length = `At least ${policy?.MinimumLength ?? DEFAULT_MINIMUM_LENGTH} characters`;
  const needs = REQUIRED_RULES.filter(([flag]) => policy?.[flag] === true).map(([, rule]) => RULE_NEEDS[rule]);
  return needs.length ? `${length}, with ${list(needs)}.` : `${length}.`;
}

/** Why `password` breaks the policy, as a sentence, or undefined when it conforms. */
export function passwordProblem(policy: PasswordPolicy | undefined, password: string): string | undefined {
  const rule = brokenPasswordRule(policy, password);
  if (rule === undefined) return undefined;
  const broken = rule === 'length' ? `is shorter than ${policy?.MinimumLength ?? DEFAULT_MINIMUM_LENGTH} characters` : `needs ${RULE_NEEDS[rule]}`;
  return `That password ${broken}. ${passwordRules(policy)}`;
}

/**
 * Why `email` cannot be an address to send a code to, or undefined. Stricter than `<input type=email>` (which takes
 * `ada@example`): one `@`, something before it, and a domain of dot-separated labels (letters, digits, hyphens) whose
 * last label is at least two letters, as a deliverable Internet address has.
 */
export function emailProblem(email: string): string | undefined {
  const at = email.lastIndexOf('@');
  const local = email.slice(0, at);
  const labels = email.slice(at + 1).split('.');
  const ok =
    at > 0 &&
    !/\s/.test(email) &&
    !local.includes('@') &&
    labels.length >= 2 &&
    labels.every((label) => /^[\p{L}\p{N}](?:[\p{L}\p{N}-]*[\p{L}\p{N}])?$/u.test(label)) &&
    /^\p{L}{2,}$/u.test(labels.at(-1) ?? '');
  return ok ? undefined : `“${email}” is not a complete email address. Enter it in full, like name@example.com.`;
}
