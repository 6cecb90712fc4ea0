import { createHmac } from 'node:crypto';

/**
 * Cognito's SECRET_HASH for an app client with a secret: Base64(HMAC-SHA256(key = client secret,
 * message = username + client id)).
 *
 * `username` is what the request names the user by. Sign-up, confirm, sign-in and password reset pass the email
 * (this pool's username attribute), so the hash is over the email. REFRESH_TOKEN_AUTH and challenge responses have no
 * alias to go by: Cognito checks the hash against the user's *username*, which in an email-as-username pool is the
 * `sub` UUID it assigned (the ID token's `cognito:username`), never the email.
 */
export function secretHash(clientSecret: string, clientId: string, username: string): string {
  return createHmac('sha256', clientSecret).update(`${username}${clientId}`, 'utf8').digest('base64');
}
