import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import { referenceAggregate } from '../../lambdas/core/aggregation-reference.js';
import { type Aggregation, entity, featureView, streamSource } from '../../lambdas/core/definitions.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { readFeatures } from '../../lambdas/core/online.js';
import { Registry } from '../../lambdas/core/registry.js';
import { tileSize, windowStart } from '../../lambdas/core/windows.js';
import { MemoryOnlineStore } from '../support/memory-online-store.js';

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
const registry = new Registry([user, source, view]);

const row = (eventId: string, eventTs: number, ingestTs: number, x: number, tag: string): ViewRow => ({
  view: 'stats',
  entityId: 'u1',
  keys: { user_id: 'u1' },
  eventTs,
  ingestTs,
  eventId,
  values: { x, tag },
});

const aggregationFeatures = registry.plan(aggregations.map((a) => `stats:${a.name}`)).views[0]!.features;
/** The aggregation features of u1 at time t, as the API reads them. */
const readAt = (store: MemoryOnlineStore, t: number) =>
  Object.fromEntries(readFeatures(view, store.tiersOf(registry.views, 'stats', 'u1'), aggregationFeatures, t).map((v, i) => [aggregations[i]!.name, v.value]));
let position = 0;
/** Applies a batch at `now`, each row at the next position of one shard (or at `at`, for a redelivery). */
const applyBatch = (store: MemoryOnlineStore, rows: ViewRow[], now: number, at?: number[]) => {
  store.applyRows(
    registry.views,
    rows.map((r, i) => ({ ...r, offset: at?.[i] ?? ++position })),
    now,
  );
  return store;
};
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
    const store = applyBatch(
      new MemoryOnlineStore(),
      [row('a', t - 5 * MIN, t, 1, 'p'), row('b', t - 4 * MIN, t, 2, 'q'), row('c', t, t, 3, 'r'), row('d', t + 40_000, t, 4, 's')],
      t,
    );
    expect(readAt(store, t).n_5m).toBe(2); // a is outside [t-4m, t]; d is stamped after t
    expect(readAt(store, t + 39_999).n_5m).toBe(2);
    expect(readAt(store, t + 40_000).n_5m).toBe(3); // d counts from its own time on
  });

  it('change nothing when a batch is redelivered at the same positions, even much later', () => {
    const t = T0 + HOUR;
    const store = applyBatch(new MemoryOnlineStore(), [row('a', t - MIN, t, 5, 'p'), row('b', t - MIN, t, 2, 'q')], t, [101, 102]);
    const before = JSON.stringify([...store.items]);
    applyBatch(store, [row('a', t - MIN, t + 10, 5, 'p'), row('b', t - MIN, t + 10, 2, 'q')], t + 10, [101, 102]);
    expect(JSON.stringify([...store.items])).toBe(before);
    expect(readAt(store, t)).toMatchObject({ n_5m: 2, x_sum_1h: 7 });
  });

  it('put a late event into its own tile', () => {
    const t = T0 + 3 * HOUR;
    const store = applyBatch(applyBatch(new MemoryOnlineStore(), [row('new', t - MIN, t, 1, 'p')], t), [row('late', t - 2 * HOUR, t + 1, 7, 'q')], t + 1);
    expect(readAt(store, t + 1)).toMatchObject({ x_sum_1h: 1, x_max_1d: 7, tag_last3_1d: ['p', 'q'] });
  });

  it('forget what no window can reach, which bounds the items', () => {
    const store = applyBatch(new MemoryOnlineStore(), [row('old', T0, T0, 1, 'p')], T0);
    const later = T0 + 40 * DAY;
    applyBatch(store, [row('new', later, later, 2, 'q')], later);
    expect(readAt(store, later)).toMatchObject({ tags_distinct_30d: 1, tag_last3_1d: ['q'] });
    // The old event's tiles, sketch entries and values are gone from every tier once written again.
    applyBatch(store, [row('newer', later + 20_000, later + 20_000, 3, 'r')], later + 20_000);
    applyBatch(store, [row('newest', later + 40_000, later + 40_000, 4, 's')], later + 40_000);
    expect(JSON.stringify(store.tiersOf(registry.views, 'stats', 'u1'))).not.toContain('"p"');
  });

  it('agree with the brute-force definition for any arrival order, late events and redelivered batches', () => {
    const event = fc.record({
      offset: fc.integer({ min: 0, max: 3 * DAY }),
      x: fc.integer({ min: -1000, max: 1000 }).map((c) => c / 100),
      tag: fc.constantFrom('a', 'b', 'c', 'd', 'e'),
    });
    const batch = fc.record({
      gap: fc.integer({ min: 1, max: 6 * HOUR }),
      events: fc.array(event, { maxLength: 12 }),
      probe: fc.integer({ min: 0, max: 6 * HOUR }),
      redeliver: fc.boolean(),
    });
    fc.assert(
      fc.property(fc.array(batch, { minLength: 1, maxLength: 10 }), (batches) => {
        let now = T0;
        let next = 0;
        const store = new MemoryOnlineStore();
        const all: ViewRow[] = [];
        let previous: { rows: ViewRow[]; at: number[] } | undefined;
        for (const b of batches) {
          now += b.gap;
          // Events are never ingested before they happen.
          const rows = b.events.map((e) => row(`e${next++}`, Math.min(now, T0 + e.offset), now, e.x, e.tag));
          const at = rows.map(() => ++position);
          applyBatch(store, rows, now, at);
          all.push(...rows);
          // A redelivery of the previous batch, as Lambda retries it: its rows change nothing.
          if (b.redeliver && previous)
            applyBatch(
              store,
              previous.rows.map((r) => ({ ...r, ingestTs: now })),
              now,
              previous.at,
            );
          previous = { rows, at };
          for (const t of [now, now + b.probe]) expect(readAt(store, t)).toEqual(expected(all, t));
        }
      }),
      { numRuns: 300 },
    );
  });
});
