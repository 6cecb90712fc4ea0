import {
  ACCESS_TOKEN_REVOKED,
  REFRESH_TOKEN_REVOKED,
  USER_DISABLED,
  answerUnknownUsersAsCognito,
  enforceSessionRevocation,
  maskEmail,
  passwordPolicyViolation,
  patchStaleRefreshTokenWrite,
  type CognitoRouter,
  type SessionDeps,
} from '../../../local/cognito.ts';

interface User {
  Username: string;
  Attributes: { Name: string; Value: string }[];
  RefreshTokens?: string[];
}

class FakeUserPoolService {
  saved: User[] = [];
  constructor(private readonly stored: User) {}
  async getUserByUsername(_ctx: unknown, _username: string): Promise<User> {
    return this.stored;
  }
  async saveUser(_ctx: unknown, user: User): Promise<void> {
    this.saved.push(user);
  }
  async storeRefreshToken(_ctx: unknown, token: string, user: User): Promise<void> {
    // cognito-local's own behaviour: saves the copy it was given.
    await this.saveUser(_ctx, { ...user, RefreshTokens: [...(user.RefreshTokens ?? []), token] });
  }
}

describe('cognito-local stale refresh-token write', () => {
  it('keeps attributes written while the sign-in was in flight (custom:apiid from onboarding)', async () => {
    const stale: User = { Username: 'u1', Attributes: [{ Name: 'email', Value: 'a@example.com' }], RefreshTokens: ['r0'] };
    const fresh: User = { ...stale, Attributes: [...stale.Attributes, { Name: 'custom:apiid', Value: 'key123' }] };
    const service = new FakeUserPoolService(fresh);

    await service.storeRefreshToken({}, 'r1', stale);
    expect(service.saved[0]?.Attributes).not.toContainEqual({ Name: 'custom:apiid', Value: 'key123' }); // the bug

    patchStaleRefreshTokenWrite(FakeUserPoolService);
    service.saved = [];
    await service.storeRefreshToken({}, 'r1', stale);

    expect(service.saved[0]?.Attributes).toContainEqual({ Name: 'custom:apiid', Value: 'key123' });
    expect(service.saved[0]?.RefreshTokens).toEqual(['r0', 'r1']);
  });
});

describe('cognito-local sessions (GlobalSignOut, disabled users)', () => {
  class NotAuthorizedError extends Error {
    override name = 'NotAuthorizedException';
  }
  class UserNotFoundError extends Error {
    override name = 'UserNotFoundException';
  }
  interface Rec {
    Username: string;
    Enabled?: boolean;
    Password?: string;
    RefreshTokens?: string[];
    TollgateRevokedRefreshTokens?: string[];
    TollgateGlobalSignOutAt?: number;
  }

  function setup(user: Rec, nowMs = 1_000_000_000_000) {
    const users = new Map<string, Rec>([[user.Username, user]]);
    const pool = {
      options: { Id: 'pool' },
      getUserByUsername: async (_ctx: unknown, name: string) => users.get(name),
      listUsers: async () => [...users.values()],
      saveUser: async (_ctx: unknown, u: Rec) => void users.set(u.Username, u),
    };
    const reached: string[] = [];
    const inner: CognitoRouter = (target) => async () => {
      reached.push(target);
      return { from: 'cognito-local' };
    };
    const deps: SessionDeps = {
      getUserPool: async () => pool,
      getUserPoolForClientId: async () => pool,
      NotAuthorizedError,
      UserNotFoundError,
      verifyToken: (token) => JSON.parse(token) as Record<string, unknown>,
      now: () => nowMs,
    };
    const router = answerUnknownUsersAsCognito(enforceSessionRevocation(inner, deps), deps);
    const call = (target: string, req: unknown) => router(target)({}, req);
    const accessToken = (iat: number) => JSON.stringify({ token_use: 'access', client_id: 'client', username: user.Username, iat });
    return { users, reached, call, accessToken };
  }

  it('GlobalSignOut revokes the refresh tokens (named as revoked) and access tokens issued before it', async () => {
    const { users, reached, call, accessToken } = setup({ Username: 'u', RefreshTokens: ['r1', 'r2'] });

    await expect(call('GlobalSignOut', { AccessToken: accessToken(999_999_999) })).resolves.toEqual({});

    expect(users.get('u')).toMatchObject({ RefreshTokens: [], TollgateRevokedRefreshTokens: ['r1', 'r2'], TollgateGlobalSignOutAt: 1_000_000_000 });
    await expect(call('InitiateAuth', { ClientId: 'client', AuthFlow: 'REFRESH_TOKEN_AUTH', AuthParameters: { REFRESH_TOKEN: 'r1' } })).rejects.toThrow(REFRESH_TOKEN_REVOKED);
    await expect(call('GetUser', { AccessToken: accessToken(999_999_999) })).rejects.toThrow(ACCESS_TOKEN_REVOKED);
    // Issued in the same second or later: kept.
    await expect(call('GetUser', { AccessToken: accessToken(1_000_000_000) })).resolves.toEqual({ from: 'cognito-local' });
    // An unknown refresh token is left to cognito-local's own answer.
    await call('InitiateAuth', { ClientId: 'client', AuthFlow: 'REFRESH_TOKEN_AUTH', AuthParameters: { REFRESH_TOKEN: 'never-issued' } });
    expect(reached).toEqual(['GetUser', 'InitiateAuth']);
  });

  it('AdminUserGlobalSignOut signs out a known user and answers UserNotFoundException otherwise', async () => {
    const { users, call } = setup({ Username: 'u', RefreshTokens: ['r1'] });

    await expect(call('AdminUserGlobalSignOut', { UserPoolId: 'pool', Username: 'u' })).resolves.toEqual({});
    expect(users.get('u')?.RefreshTokens).toEqual([]);
    await expect(call('AdminUserGlobalSignOut', { UserPoolId: 'pool', Username: 'nobody' })).rejects.toBeInstanceOf(UserNotFoundError);
  });

  it('refuses a disabled user\'s sign-in (right password), refresh and access token; a wrong password reaches cognito-local', async () => {
    const { reached, call, accessToken } = setup({ Username: 'u', Enabled: false, Password: 'pw', RefreshTokens: ['r1'] });
    const auth = (params: Record<string, string>, flow = 'USER_PASSWORD_AUTH') => call('InitiateAuth', { ClientId: 'client', AuthFlow: flow, AuthParameters: params });

    await expect(auth({ USERNAME: 'u', PASSWORD: 'pw' })).rejects.toThrow(USER_DISABLED);
    await expect(auth({ REFRESH_TOKEN: 'r1' }, 'REFRESH_TOKEN_AUTH')).rejects.toThrow(USER_DISABLED);
    await expect(call('GetUser', { AccessToken: accessToken(1) })).rejects.toThrow(USER_DISABLED);
    await auth({ USERNAME: 'u', PASSWORD: 'wrong' });
    expect(reached).toEqual(['InitiateAuth']);
  });

  it('answers AdminUpdateUserAttributes for a missing user with UserNotFoundException, as Cognito', async () => {
    const { reached, call } = setup({ Username: 'u' });

    await expect(call('AdminUpdateUserAttributes', { UserPoolId: 'pool', Username: 'gone', UserAttributes: [] })).rejects.toThrow('User does not exist.');
    await call('AdminUpdateUserAttributes', { UserPoolId: 'pool', Username: 'u', UserAttributes: [] });
    expect(reached).toEqual(['AdminUpdateUserAttributes']);
  });
});

describe('cognito-local pool policies (password policy, masked destinations)', () => {
  const policy = { MinimumLength: 10, RequireUppercase: true, RequireLowercase: true, RequireNumbers: true, RequireSymbols: false };

  it('names the first rule a password breaks, in Cognito’s words, from the given policy', () => {
    expect(passwordPolicyViolation(policy, 'Short-1a')).toBe('Password not long enough');
    expect(passwordPolicyViolation(policy, 'abcdefghij')).toBe('Password must have uppercase characters');
    expect(passwordPolicyViolation(policy, 'ABCDEFGHIJ1')).toBe('Password must have lowercase characters');
    expect(passwordPolicyViolation(policy, 'Abcdefghijk')).toBe('Password must have numeric characters');
    expect(passwordPolicyViolation(policy, 'Correct-Horse-42')).toBeUndefined();
    expect(passwordPolicyViolation({ ...policy, RequireSymbols: true }, 'CorrectHorse42')).toBe('Password must have symbol characters');
    expect(passwordPolicyViolation(undefined, 'abcdefg')).toBe('Password not long enough'); // Cognito's default minimum: 8
    expect(passwordPolicyViolation(undefined, 'abcdefgh')).toBeUndefined();
  });

  it('masks an email as Cognito does', () => {
    expect(maskEmail('test@example.com')).toBe('t***@e***');
    expect(maskEmail('Mixed.Case@Example.COM')).toBe('M***@E***');
  });
});
