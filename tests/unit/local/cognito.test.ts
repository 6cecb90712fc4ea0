import { patchStaleRefreshTokenWrite } from '../../../local/cognito.ts';

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
