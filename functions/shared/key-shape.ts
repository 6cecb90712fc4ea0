/**
 * The shape of a self-issued API key (KeyMode SelfIssued): `tg_live_` + 32 random bytes in base64url, 51 characters
 * in all. Alone in a file without Node imports so the developer portal (a browser bundle) checks a pasted key with the
 * same declaration the authorizer uses (./self-issued-keys.ts issues and hashes them).
 */
export const KEY_PREFIX = 'tg_live_';
const KEY_PATTERN = /^tg_live_[A-Za-z0-9_-]{43}$/;

/** The characters of a key's hint: `tg_live_` + 4, what the key card shows and `GET /me/api-key` answers as `hint`. */
export const HINT_LENGTH = KEY_PREFIX.length + 4;

/** True when `value` has the shape of a self-issued key (checked before any table read: no lookups for junk). */
export function looksLikeKey(value: string): boolean {
  return KEY_PATTERN.test(value);
}
