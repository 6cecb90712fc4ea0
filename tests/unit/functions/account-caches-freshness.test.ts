import { USAGE_TTL_MS, usageFreshnessMs } from '../../../functions/account/caches.ts';

describe('usageFreshnessMs (UsageFreshnessSeconds → USAGE_FRESHNESS_SECONDS)', () => {
  it('defaults to 60 s, takes whole and fractional seconds from 0 to 3600', () => {
    expect(USAGE_TTL_MS).toBe(60_000);
    expect(usageFreshnessMs(undefined)).toBe(60_000);
    expect(usageFreshnessMs('')).toBe(60_000);
    expect(usageFreshnessMs('0')).toBe(0);
    expect(usageFreshnessMs('2.5')).toBe(2_500);
    expect(usageFreshnessMs('3600')).toBe(3_600_000);
  });

  it.each(['-1', '3601', 'soon', 'NaN'])('refuses %s', (value) => {
    expect(() => usageFreshnessMs(value)).toThrow(/USAGE_FRESHNESS_SECONDS must be 0–3600/);
  });
});
