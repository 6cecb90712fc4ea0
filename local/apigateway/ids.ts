import { randomBytes, randomUUID } from 'node:crypto';

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
