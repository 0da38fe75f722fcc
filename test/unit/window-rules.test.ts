/**
 * The window rules of lambdas/core/windows.ts at their edges: which windows a definition may
 * use, the tile size each gets, and where a window's tail falls.
 */
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { entity, featureView, streamSource } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { tileSize, windowStart } from '../../lambdas/core/windows.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;

const user = entity({ name: 'user', joinKey: 'user_id' });
const clicks = streamSource({
  name: 'clicks',
  schema: z.object({ id: z.string(), user_id: z.string(), ts: z.number() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
/** Builds a registry with one count over `window`: throws the registry's reason when refused. */
const defineCount = (window: string) =>
  new Registry([
    user,
    clicks,
    featureView({
      name: 'v',
      entities: [user],
      source: clicks,
      features: {},
      aggregations: [{ name: 'n', fn: 'count', window: window as '1h' }],
      owner: 'o',
      description: 'd',
    }),
  ]);

describe('the windows a definition may use', () => {
  it('run from 1 minute to 90 days, both included', () => {
    expect(() => defineCount('1m')).not.toThrow();
    expect(() => defineCount('90d')).not.toThrow();
    expect(() => defineCount('30s')).toThrow(/window 30s: windows run from 1m to 90d/);
    expect(() => defineCount('91d')).toThrow(/window 91d: windows run from 1m to 90d/);
  });

  it('are whole multiples of their tile size, which the refusal names', () => {
    expect(() => defineCount('59m')).not.toThrow();
    expect(() => defineCount('12h')).not.toThrow();
    expect(() => defineCount('13d')).not.toThrow();
    expect(() => defineCount('90m')).not.toThrow();
    expect(() => defineCount('721m')).toThrow(/window 721m: a window of this length must be a multiple of its tile size \(60 min\)/);
    expect(() => defineCount('289h')).toThrow(/window 289h: .*multiple of its tile size \(1440 min\)/);
  });
});

describe('tile sizes', () => {
  it('are 1 min below 1 h, 5 min below 12 h, 1 h below 12 days and 1 day from there, switching exactly at each bound', () => {
    expect([MIN, HOUR - MIN, HOUR, 12 * HOUR - 5 * MIN, 12 * HOUR, 12 * DAY - HOUR, 12 * DAY, 90 * DAY].map(tileSize)).toEqual([
      MIN,
      MIN,
      5 * MIN,
      5 * MIN,
      HOUR,
      HOUR,
      DAY,
      DAY,
    ]);
  });

  it('set where a window starts: the current partial tile plus the W/g - 1 full tiles before it', () => {
    const t = Date.UTC(2026, 0, 10, 12, 7, 30);
    expect(windowStart(t, HOUR)).toBe(Date.UTC(2026, 0, 10, 11, 10)); // 5-minute tiles: 12:05 - 55 min
    expect(windowStart(t, DAY)).toBe(Date.UTC(2026, 0, 9, 13)); // 1-hour tiles: 12:00 - 23 h
    expect(windowStart(t, 30 * DAY)).toBe(Date.UTC(2025, 11, 12)); // 1-day tiles: Jan 10 - 29 days
    expect(windowStart(Date.UTC(2026, 0, 10, 12), 5 * MIN)).toBe(Date.UTC(2026, 0, 10, 11, 56)); // t on a tile bound
  });
});
