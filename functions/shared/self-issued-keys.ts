import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { HINT_LENGTH, KEY_PREFIX } from './key-shape.ts';

export { KEY_PREFIX, looksLikeKey } from './key-shape.ts';

/**
 * API keys the project issues itself (KeyMode SelfIssued, issue 15): `tg_live_` + 32 random bytes in base64url
 * (256 bits of entropy, 51 characters in all), recognizable by their prefix (as secret scanners expect), stored only
 * as their SHA-256 hash. A fast hash is right here: the value is random and 256 bits long, so there is nothing to
 * guess that a slow hash (bcrypt, scrypt) would protect; it keeps verification to one hash and one GetItem.
 * The value is returned once, to the caller who creates or rotates the key, and is never logged or stored.
 */
export interface IssuedKey {
  /** The secret: show it once, never store or log it. */
  value: string;
  /** SHA-256 of the value, hex: the only form stored. */
  hash: string;
  /** The first 12 characters (`tg_live_` + 4), for the key card: identifies a key without revealing it. */
  hint: string;
}

export function hashKey(value: string): string {
  return createHash('sha256').update(value, 'utf8').digest('hex');
}

/** A new key. */
export function issueKey(): IssuedKey {
  const value = `${KEY_PREFIX}${randomBytes(32).toString('base64url')}`;
  return { value, hash: hashKey(value), hint: value.slice(0, HINT_LENGTH) };
}

/**
 * A public key id for a self-issued key: `si` + 18 hex characters (72 random bits). It names a key in
 * `custom:apiid`, the account record and the portal without revealing anything of its value; lower-case letters and
 * digits like API Gateway's key ids, so the workflows' id checks hold in both key modes.
 */
export function newKeyId(): string {
  return `si${randomBytes(9).toString('hex')}`;
}

/** True when `id` is a self-issued key id (newKeyId's shape), not an API Gateway key id (10 characters). */
export function isSelfIssuedKeyId(id: string): boolean {
  return /^si[0-9a-f]{18}$/.test(id);
}

/**
 * True when `value` has the shape of an API Gateway API key value: 20 to 128 letters and digits ("API key values are
 * alphanumeric strings of 20 to 128 characters", API Gateway Developer Guide, "Usage plans and API keys for REST
 * APIs"; `-` and `_` are admitted too, as API Gateway accepts them in imported values). Such a value reaches
 * KeyAuthorizerFunction in KeyMode SelfIssued only for a key imported from API Gateway when the deployment switched
 * modes (scripts/switch-key-mode.ts); its record says so (`importedFrom`), and no other record answers to it.
 */
export function looksLikeImportedKey(value: string): boolean {
  return IMPORTED_KEY_PATTERN.test(value);
}
const IMPORTED_KEY_PATTERN = /^[A-Za-z0-9_-]{20,128}$/;

/** Constant-time comparison of two hex hashes (a stored hash against the hash of a presented key). */
export function sameHash(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
