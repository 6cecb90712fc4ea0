/**
 * The one id generator of the offline stack: random ids shaped like AWS's (API key ids and values, request ids) and
 * stable ids derived from names (resource, pool and client ids that must be the same on every start).
 * Own code rather than nanoid's customAlphabet, which does the same rejection sampling: ten lines on node:crypto are
 * not worth a dependency, and the stable ids (a hash of the names) are not something nanoid offers.
 */
import { createHash, randomBytes, randomUUID } from 'node:crypto';

const LOWER_ALNUM = 'abcdefghijklmnopqrstuvwxyz0123456789';
const ALNUM = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789';

/** Uniformly random string over `alphabet` (rejection sampling, no modulo bias). */
export function randomString(alphabet: string, length: number): string {
  const limit = 256 - (256 % alphabet.length);
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < limit) out += alphabet[byte % alphabet.length];
      if (out.length === length) break;
    }
  }
  return out;
}

/** API key ids look like AWS's: 10 lowercase alphanumerics (e.g. `4vq3yryqm5`). */
export const newApiKeyId = (): string => randomString(LOWER_ALNUM, 10);

/** Generated API key values look like AWS's: 40 characters of [A-Za-z0-9]. */
export const newApiKeyValue = (): string => randomString(ALNUM, 40);

export const newRequestId = (): string => randomUUID();

/**
 * A stable id of at most 32 lowercase alphanumerics from a SHA-256 of `parts` joined by '/': the same names give the
 * same id on every start (10 characters by default, like API Gateway's API and key ids; 6 for resource ids).
 */
export function stableId(parts: string[], length = 10): string {
  const digest = createHash('sha256').update(parts.join('/')).digest();
  return Array.from(digest.subarray(0, length), (b) => LOWER_ALNUM[b % LOWER_ALNUM.length]).join('');
}
