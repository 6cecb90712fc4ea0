/**
 * The portal's checks before sending (portal/src/validation.ts) and its config.json parsing of the pool's password
 * policy: the rules shown and the rules enforced come from one policy (the template's), the same check the offline
 * Cognito answers with.
 */
import { parseConfig } from '../../../portal/src/config.ts';
import { emailProblem, passwordProblem, passwordRules } from '../../../portal/src/validation.ts';
import { passwordPolicyViolation } from '#shared/password-policy';

const policy = { MinimumLength: 10, RequireUppercase: true, RequireLowercase: true, RequireNumbers: true, RequireSymbols: false };
const base = { region: 'r', userPoolId: 'p', userPoolClientId: 'c', cognitoEndpoint: 'http://c', apiUrl: 'http://a' };

describe('password rules from the pool policy', () => {
  it('describes the policy it is given, not a fixed one', () => {
    expect(passwordRules(policy)).toBe('At least 10 characters, with an upper-case letter, a lower-case letter and a number.');
    expect(passwordRules({ MinimumLength: 12, RequireSymbols: true })).toBe('At least 12 characters, with a symbol (such as ! $ % or -).');
    expect(passwordRules(undefined)).toBe('At least 8 characters.');
  });

  it('refuses exactly what the offline Cognito refuses, naming the first broken rule', () => {
    expect(passwordProblem(policy, 'abcdefghij')).toBe(`That password needs an upper-case letter. ${passwordRules(policy)}`);
    expect(passwordProblem(policy, 'Short-1a')).toBe(`That password is shorter than 10 characters. ${passwordRules(policy)}`);
    for (const password of ['abcdefghij', 'Short-1a', 'ABCDEFGHIJ1', 'Abcdefghijk', 'Correct-Horse-42', 'Ωmega-Pass-1']) {
      expect(passwordProblem(policy, password) === undefined).toBe(passwordPolicyViolation(policy, password) === undefined);
    }
  });
});

describe('email addresses', () => {
  it.each(['ada@example.com', 'first.last+tag@sub.example.co.uk', 'x@b-c.io', 'zoë@exämple.de'])('accepts %s', (email) => {
    expect(emailProblem(email)).toBeUndefined();
  });

  it.each(['ada@example', 'ada@', '@example.com', 'ada example@example.com', 'ada@example.c', 'ada@-example.com', 'ada@example..com', 'a@b@example.com', 'ada@example.123'])(
    'refuses %s',
    (email) => {
      expect(emailProblem(email)).toBe(`“${email}” is not a complete email address. Enter it in full, like name@example.com.`);
    },
  );
});

describe('config.json passwordPolicy', () => {
  it('is read when present, with its types checked', () => {
    expect(parseConfig({ ...base, passwordPolicy: policy }).passwordPolicy).toEqual(policy);
    expect(parseConfig(base).passwordPolicy).toBeUndefined();
    expect(() => parseConfig({ ...base, passwordPolicy: { MinimumLength: '10' } })).toThrow('passwordPolicy.MinimumLength');
    expect(() => parseConfig({ ...base, passwordPolicy: { RequireNumbers: 'yes' } })).toThrow('passwordPolicy.RequireNumbers');
    expect(() => parseConfig({ ...base, passwordPolicy: [] })).toThrow('passwordPolicy is not an object');
  });
});

describe('config.json dataApiAuth', () => {
  // Dropped here, the portal sent the ID token to a key-only data API and showed it in the curl line (browser suite
  // tests/browser/key-only.test.ts found it: the unit tests of ApiClient built the config by hand).
  it('is read when present, and only as one of the two modes', () => {
    expect(parseConfig({ ...base, dataApiAuth: 'ApiKey' }).dataApiAuth).toBe('ApiKey');
    expect(parseConfig({ ...base, dataApiAuth: 'IdTokenAndApiKey' }).dataApiAuth).toBe('IdTokenAndApiKey');
    expect(parseConfig(base).dataApiAuth).toBeUndefined();
    expect(() => parseConfig({ ...base, dataApiAuth: 'apikey' })).toThrow('dataApiAuth is not ApiKey or IdTokenAndApiKey');
  });
});
