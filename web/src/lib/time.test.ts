import { formatDateTime, localDay, zonedInstant, zoneOffsetMs } from './time';

describe('farm time zone', () => {
  it('places local noon correctly on both sides of the spring DST change in Rome', () => {
    // 2026-03-29: Italy moves from UTC+1 to UTC+2 at 02:00 local.
    expect(new Date(zonedInstant('2026-03-28', 'Europe/Rome', 12)).toISOString()).toBe('2026-03-28T11:00:00.000Z');
    expect(new Date(zonedInstant('2026-03-29', 'Europe/Rome', 12)).toISOString()).toBe('2026-03-29T10:00:00.000Z');
  });

  it('finds local midnight on the day clocks go back', () => {
    // 2026-10-25: back to UTC+1 at 03:00 local; midnight is still UTC+2.
    expect(new Date(zonedInstant('2026-10-25', 'Europe/Rome', 0)).toISOString()).toBe('2026-10-24T22:00:00.000Z');
    expect(new Date(zonedInstant('2026-10-25', 'Europe/Rome', 24)).toISOString()).toBe('2026-10-25T23:00:00.000Z');
  });

  it('reads the offset east and west of Greenwich', () => {
    const t = Date.parse('2026-01-15T12:00:00Z');
    expect(zoneOffsetMs(t, 'Europe/Rome')).toBe(3_600_000);
    expect(zoneOffsetMs(t, 'America/New_York')).toBe(-5 * 3_600_000);
    expect(zoneOffsetMs(t, 'UTC')).toBe(0);
  });

  it('gives the local date of an instant, not the UTC one', () => {
    expect(localDay('2026-03-30T23:30:00Z', 'Europe/Rome')).toBe('2026-03-31');
    expect(localDay('2026-03-30T23:30:00Z', 'UTC')).toBe('2026-03-30');
  });

  it('formats times in the farm zone whatever the reader’s zone', () => {
    expect(formatDateTime('2026-03-31T03:10:00Z', 'Europe/Rome', 'en')).toMatch(/05:10/);
    expect(formatDateTime('2026-03-31T03:10:00Z', 'America/New_York', 'en')).toMatch(/23:10/);
  });
});
