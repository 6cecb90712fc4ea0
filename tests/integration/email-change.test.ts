/**
 * An email change takes effect only once the new address is verified (template: UserAttributeUpdateSettings
 * AttributesRequireVerificationBeforeUpdate [email]; issue 11, "Email changes need the new address verified"): until
 * then the old address signs in and the new one does not; after VerifyUserAttribute the new one signs in, GET /me shows
 * it (the ID token's verified email) and the reconciler's next pass writes it to the account record.
 */
import {
  GetUserCommand,
  InitiateAuthCommand,
  UpdateUserAttributesCommand,
  VerifyUserAttributeCommand,
} from '@aws-sdk/client-cognito-identity-provider';
import { DynamoDBDocumentClient, GetCommand } from '@aws-sdk/lib-dynamodb';
import { PASSWORD, claimsOf, invokeFunction, signIn, signUpAndConfirm, signUpAndOnboard, startTestStack, uniqueEmail, type TestStack } from '../../local/harness/stack.ts';

describe('email changes need the new address verified', () => {
  let t: TestStack;
  let ddb: DynamoDBDocumentClient;

  beforeAll(async () => {
    t = await startTestStack();
    ddb = DynamoDBDocumentClient.from(t.clients.dynamodb);
  }, 60_000);

  afterAll(async () => {
    await t?.close();
  });

  const signInError = (email: string) =>
    t.clients.cognito
      .send(new InitiateAuthCommand({ ClientId: t.stack.userPoolClientId, AuthFlow: 'USER_PASSWORD_AUTH', AuthParameters: { USERNAME: email, PASSWORD } }))
      .then(
        () => 'none',
        (error: Error) => error.name,
      );

  async function getMe(idToken: string): Promise<{ status: number; body: Record<string, unknown> }> {
    const response = await fetch(`${t.stack.apiUrl}/me`, { headers: { Authorization: idToken } });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  }

  async function accountEmail(userId: string): Promise<unknown> {
    const { Item } = await ddb.send(new GetCommand({ TableName: t.stack.outputs.AccountsTableName as string, Key: { userId }, ConsistentRead: true }));
    return Item?.email;
  }

  const reconcile = (): Promise<Record<string, number>> => invokeFunction(t, 'ReconcileAccountsFunction');


  it('keeps the old address until the code sent to the new one is verified; then the new one signs in and GET /me shows it', async () => {
    const oldEmail = uniqueEmail('before');
    const newEmail = uniqueEmail('after');
    const { userId, execution } = await signUpAndOnboard(t, oldEmail);
    expect(execution.status).toBe('SUCCEEDED');
    const { accessToken } = await signIn(t, oldEmail);

    const update = await t.clients.cognito.send(new UpdateUserAttributesCommand({ AccessToken: accessToken, UserAttributes: [{ Name: 'email', Value: newEmail }] }));
    expect(update.CodeDeliveryDetailsList).toEqual([expect.objectContaining({ AttributeName: 'email', DeliveryMedium: 'EMAIL' })]);
    const code = t.stack.cognito.latestCode(newEmail);
    expect(code).toMatch(/^\d{6}$/);

    // Pending: the old address is still the user's, verified; the new one is nobody's.
    expect(await signInError(newEmail)).toBe('NotAuthorizedException');
    const pending = await signIn(t, oldEmail);
    expect(claimsOf(pending.idToken)).toMatchObject({ sub: userId, email: oldEmail, email_verified: true });
    const user = await t.clients.cognito.send(new GetUserCommand({ AccessToken: pending.accessToken }));
    expect(user.UserAttributes).toEqual(expect.arrayContaining([{ Name: 'email', Value: oldEmail }, { Name: 'email_verified', Value: 'true' }]));
    expect((await getMe(pending.idToken)).body).toMatchObject({ email: oldEmail });

    await t.clients.cognito.send(new VerifyUserAttributeCommand({ AccessToken: pending.accessToken, AttributeName: 'email', Code: code as string }));

    expect(await signInError(oldEmail)).toBe('NotAuthorizedException');
    const after = await signIn(t, newEmail);
    expect(claimsOf(after.idToken)).toMatchObject({ sub: userId, email: newEmail, email_verified: true });
    expect(await getMe(after.idToken)).toMatchObject({ status: 200, body: { email: newEmail } });

    // The account record follows at the reconciler's next pass (every 5 minutes in AWS).
    expect(await accountEmail(userId)).toBe(oldEmail);
    expect(await reconcile()).toMatchObject({ emailsUpdated: 1, failed: 0 });
    expect(await accountEmail(userId)).toBe(newEmail);
    expect(await reconcile()).toMatchObject({ emailsUpdated: 0 });
  }, 60_000);

  it('refuses an address that is another user’s sign-in email, in any casing, when asked and when verified', async () => {
    const taken = uniqueEmail('taken');
    await signUpAndConfirm(t, taken);
    const mover = uniqueEmail('mover');
    await signUpAndConfirm(t, mover);
    const { accessToken } = await signIn(t, mover);
    const change = (email: string) =>
      t.clients.cognito.send(new UpdateUserAttributesCommand({ AccessToken: accessToken, UserAttributes: [{ Name: 'email', Value: email }] })).then(
        () => 'none',
        (error: Error) => `${error.name}: ${error.message}`,
      );

    expect(await change(taken.toUpperCase())).toBe('AliasExistsException: An account with the given email already exists.');

    // Free when asked, taken before the code is entered: the verification is refused, and nothing moves.
    const contested = uniqueEmail('contested');
    expect(await change(contested)).toBe('none');
    const code = t.stack.cognito.latestCode(contested) as string;
    await signUpAndConfirm(t, contested);
    await expect(t.clients.cognito.send(new VerifyUserAttributeCommand({ AccessToken: accessToken, AttributeName: 'email', Code: code }))).rejects.toMatchObject({
      name: 'AliasExistsException',
    });
    expect(claimsOf((await signIn(t, mover)).idToken).email).toBe(mover);
  }, 60_000);
});
