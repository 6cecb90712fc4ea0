/**
 * A Map whose entries expire, bounded in size: the per-Lambda-environment caches of the data API (CachedAccounts,
 * CachedKeyOwners in ./caller.ts). Times are milliseconds since the epoch, given by the caller, so each cache keeps its
 * own clock (a test's, or the request's `now`). When full, the oldest entry is dropped first.
 * Own code: a Map with expiry times is all these caches need; a cache library would add a dependency to every data
 * function's bundle and its own clock.
 */
export class ExpiringMap<K, V> {
  private readonly entries = new Map<K, { value: V; expiresAt: number }>();

  /** `maxEntries`: entries kept at most, so memory stays bounded however many keys or users call. */
  constructor(private readonly maxEntries = 10_000) {}

  /** The value of `key` while fresh at `at`; a stale entry is dropped and undefined returned. */
  get(key: K, at: number): V | undefined {
    const entry = this.entries.get(key);
    if (entry === undefined) return undefined;
    if (entry.expiresAt > at) return entry.value;
    this.entries.delete(key);
    return undefined;
  }

  /** Keeps `value` for `key` until `expiresAt`; nothing is kept when that is not after `at`. */
  set(key: K, value: V, expiresAt: number, at: number): void {
    this.entries.delete(key);
    if (expiresAt <= at) return;
    if (this.entries.size >= this.maxEntries) this.entries.delete(this.entries.keys().next().value as K);
    this.entries.set(key, { value, expiresAt });
  }

  /** Drops `key`; true when it was there. */
  delete(key: K): boolean {
    return this.entries.delete(key);
  }

  /** Drops every entry. */
  clear(): void {
    this.entries.clear();
  }
}
