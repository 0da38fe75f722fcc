import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { readAggregates } from '../../lambdas/core/aggregation.js';
import { referenceAggregate } from '../../lambdas/core/aggregation-reference.js';
import { type Aggregation, entity, featureView, streamSource } from '../../lambdas/core/definitions.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { applyRows, type OnlineItem } from '../../lambdas/core/online.js';
import { Registry } from '../../lambdas/core/registry.js';
import { tileSize, windowStart } from '../../lambdas/core/windows.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = 1_767_225_600_000;

const user = entity({ name: 'user', joinKey: 'user_id' });
const source = streamSource({
  name: 'events',
  schema: z.object({ id: z.string(), user_id: z.string(), ts: z.number(), x: z.number(), tag: z.string() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
const aggregations: Aggregation[] = [
  { name: 'n_5m', fn: 'count', window: '5m' },
  { name: 'x_sum_1h', fn: 'sum', column: 'x', window: '1h' },
  { name: 'x_avg_1h', fn: 'avg', column: 'x', window: '1h' },
  { name: 'x_min_12h', fn: 'min', column: 'x', window: '12h' },
  { name: 'x_max_1d', fn: 'max', column: 'x', window: '1d' },
  { name: 'tag_last_2h', fn: 'last', column: 'tag', window: '2h' },
  { name: 'tag_last3_1d', fn: 'last_n', column: 'tag', window: '1d', n: 3 },
  { name: 'tags_distinct_30d', fn: 'approx_distinct', column: 'tag', window: '30d' },
];
const view = featureView({ name: 'stats', entities: [user], source, features: { x: 'float', tag: 'string' }, aggregations, owner: 'o', description: 'd' });
new Registry([user, source, view]);

const row = (eventId: string, eventTs: number, ingestTs: number, x: number, tag: string): ViewRow => ({
  view: 'stats',
  entityId: 'u1',
  keys: { user_id: 'u1' },
  eventTs,
  ingestTs,
  eventId,
  values: { x, tag },
});

const applyBatch = (item: OnlineItem | undefined, rows: ViewRow[], now: number) => applyRows(view, 'stats#u1', item, rows, now) ?? item;
const expected = (rows: ViewRow[], t: number) => Object.fromEntries(aggregations.map((a) => [a.name, referenceAggregate(a, rows, t, true)]));

describe('window bounds', () => {
  it('cover the current partial tile and the previous W/g - 1 full tiles', () => {
    expect(tileSize(5 * MIN)).toBe(MIN);
    expect(tileSize(HOUR)).toBe(5 * MIN);
    expect(tileSize(DAY)).toBe(HOUR);
    expect(tileSize(30 * DAY)).toBe(DAY);
    const t = T0 + 7 * MIN + 30_000; // 12:07:30 → a 5-minute window starts at 12:03:00
    expect(windowStart(t, 5 * MIN)).toBe(T0 + 3 * MIN);
  });
});

describe('windowed aggregations online', () => {
  it('count the events of the window, to the millisecond at the head', () => {
    const t = T0 + 10 * MIN;
    const item = applyBatch(undefined, [row('a', t - 5 * MIN, t, 1, 'p'), row('b', t - 4 * MIN, t, 2, 'q'), row('c', t, t, 3, 'r')], t);
    expect(readAggregates(view, item?.aggregates, t).n_5m).toBe(2); // a is outside [t-4m, t]
    expect(readAggregates(view, item?.aggregates, t - 1).n_5m).toBe(1); // c is after t-1
  });

  it('count a duplicated event id once, whether in one batch or redelivered later', () => {
    const t = T0 + HOUR;
    const once = applyBatch(undefined, [row('a', t - MIN, t, 5, 'p'), row('a', t - MIN, t, 5, 'p')], t);
    const again = applyRows(view, 'stats#u1', once, [row('a', t - MIN, t + 10, 5, 'p')], t + 10);
    expect(again).toBeUndefined();
    expect(readAggregates(view, once?.aggregates, t)).toMatchObject({ n_5m: 1, x_sum_1h: 5 });
  });

  it('put a late event into its own tile', () => {
    const t = T0 + 3 * HOUR;
    const item = applyBatch(applyBatch(undefined, [row('new', t - MIN, t, 1, 'p')], t), [row('late', t - 2 * HOUR, t + 1, 7, 'q')], t + 1);
    expect(readAggregates(view, item?.aggregates, t + 1)).toMatchObject({ x_sum_1h: 1, x_max_1d: 7, tag_last3_1d: ['p', 'q'] });
  });

  it('drop tiles no window can reach, which bounds the item', () => {
    const first = applyBatch(undefined, [row('old', T0, T0, 1, 'p')], T0);
    const later = T0 + 40 * DAY;
    const item = applyBatch(first, [row('new', later, later, 2, 'q')], later);
    // Only the new event's day of ids and tiles inside the 30-day window remain.
    expect(Object.keys(item?.aggregates?.seen ?? {})).toEqual([String(Math.floor(later / DAY) * DAY)]);
    const starts = Object.values(item?.aggregates?.tiles ?? {}).flatMap((tiles) => Object.keys(tiles).map(Number));
    expect(Math.min(...starts)).toBeGreaterThanOrEqual(later - 30 * DAY);
    expect(readAggregates(view, item?.aggregates, later).tags_distinct_30d).toBe(1);
  });

  it('agree with the brute-force definition for any arrival order, duplicates and late events', () => {
    const event = fc.record({
      id: fc.integer({ min: 0, max: 40 }).map((i) => `e${i}`),
      offset: fc.integer({ min: 0, max: 3 * DAY }),
      x: fc.integer({ min: -1000, max: 1000 }).map((c) => c / 100),
      tag: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    });
    const batch = fc.record({
      gap: fc.integer({ min: 1, max: 6 * HOUR }),
      events: fc.array(event, { maxLength: 12 }),
      probe: fc.integer({ min: 0, max: 6 * HOUR }),
    });
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 10 }), (batches) => {
        let now = T0;
        let item: OnlineItem | undefined;
        const all: ViewRow[] = [];
        const ingestedBy = new Map<string, number>();
        for (const b of batches) {
          now += b.gap;
          // Events are never ingested before they happen; the same id always carries the same payload.
          const rows = b.events.map((e) => row(e.id, Math.min(now, T0 + e.offset), now, e.x, e.tag));
          // A producer's copies are verbatim: the first occurrence of an id fixes its payload.
          const firstOf = new Map<string, ViewRow>();
          for (const r of [...all, ...rows]) if (!firstOf.has(r.eventId)) firstOf.set(r.eventId, r);
          const canonical = rows.map((r) => firstOf.get(r.eventId) as ViewRow);
          const batchRows = canonical.map((r) => ({ ...r, ingestTs: ingestedBy.get(r.eventId) ?? now }));
          for (const r of batchRows) if (!ingestedBy.has(r.eventId)) ingestedBy.set(r.eventId, now);
          all.push(...batchRows.filter((r) => !all.includes(r)));
          item = applyBatch(
            item,
            batchRows.map((r) => ({ ...r, ingestTs: now })),
            now,
          );
          for (const t of [now, now + b.probe]) {
            expect(readAggregates(view, item?.aggregates, t)).toEqual(expected(all, t));
          }
        }
      }),
      { numRuns: 300 },
    );
  });
});
