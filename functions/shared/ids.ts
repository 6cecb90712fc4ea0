import { randomBytes } from 'node:crypto';

/**
 * Time-ordered ids: UUID version 7 (RFC 9562, section 5.7). The first 48 bits are the Unix time in milliseconds, so
 * ids sort (as lower-case strings too, which is how DynamoDB compares sort keys) in creation order; the other 74
 * free bits are random. Within one millisecond, or if the clock steps back, a generator stays monotonic by adding
 * one to the previous id's random bits (RFC 9562 section 6.2, method 2), which carries into the timestamp at worst.
 */

const RAND_BITS = 74n;
const RAND_MAX = (1n << RAND_BITS) - 1n;
const RAND_B_BITS = 62n;
const RAND_B_MASK = (1n << RAND_B_BITS) - 1n;
const VARIANT = 0b10n << RAND_B_BITS;
const MAX_TIMESTAMP = 2 ** 48 - 1;

export type IdGenerator = () => string;

/** Fresh random bits for a new millisecond (`random` is injectable for tests). */
function randomTail(random: (size: number) => Buffer): bigint {
  return BigInt(`0x${random(10).toString('hex')}`) & RAND_MAX;
}

/** The 36-character, lower-case form of one id. */
export function formatUuidV7(timestamp: number, rand: bigint): string {
  const bytes = Buffer.alloc(16);
  bytes.writeUIntBE(timestamp, 0, 6);
  const randA = Number(rand >> RAND_B_BITS);
  bytes[6] = 0x70 | (randA >> 8);
  bytes[7] = randA & 0xff;
  bytes.writeBigUInt64BE(VARIANT | (rand & RAND_B_MASK), 8);
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A UUIDv7 generator with its own monotonic state; `clock` and `random` are injectable for tests. */
export function createUuidV7Generator(
  clock: () => number = Date.now,
  random: (size: number) => Buffer = randomBytes,
): IdGenerator {
  let lastTimestamp = -1;
  let lastRand = 0n;
  return () => {
    const now = Math.floor(clock());
    if (!Number.isSafeInteger(now) || now < 0 || now > MAX_TIMESTAMP) throw new RangeError(`Clock out of range: ${now}`);
    if (now > lastTimestamp) {
      lastTimestamp = now;
      lastRand = randomTail(random);
    } else if (lastRand < RAND_MAX) {
      lastRand += 1n;
    } else {
      lastTimestamp += 1;
      lastRand = randomTail(random);
    }
    return formatUuidV7(lastTimestamp, lastRand);
  };
}

/** The process-wide generator: new link ids. */
export const uuidv7: IdGenerator = createUuidV7Generator();

/** The Unix time in milliseconds a UUIDv7 was made at. */
export function uuidV7Timestamp(id: string): number {
  return Number.parseInt(id.replace(/-/g, '').slice(0, 12), 16);
}
