/**
 * Windowed aggregations in the point-in-time SQL, run on DuckDB over real Parquet partitions,
 * against the brute-force definition (aggregation-reference.ts) — the same definition the
 * online tiles are tested against, so online and offline agree by construction.
 */
import fc from 'fast-check';
import sqlParser from 'node-sql-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { addRows, readAggregates } from '../../lambdas/core/aggregation.js';
import { finalizeSqlAggregate } from '../../lambdas/core/aggregation-functions.js';
import { referenceAggregate } from '../../lambdas/core/aggregation-reference.js';
import { type Aggregation, entity, featureView, streamSource } from '../../lambdas/core/definitions.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { pointInTimeSql, ROW_COLUMN } from '../../lambdas/core/point-in-time.js';
import { Registry } from '../../lambdas/core/registry.js';
import { openPitEngine, type PitEngine } from './pit-engine.js';

const MIN = 60_000;
const HOUR = 60 * MIN;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1, 22, 30);
const DATABASE = 'agg_test';

const user = entity({ name: 'user', joinKey: 'user_id' });
const source = streamSource({
  name: 'events',
  schema: z.object({ id: z.string(), user_id: z.string(), ts: z.number(), x: z.number(), tag: z.string() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
const aggregations: Aggregation[] = [
  { name: 'n_5m', fn: 'count', window: '5m' },
  { name: 'n_1d', fn: 'count', window: '1d' },
  { name: 'x_sum_1h', fn: 'sum', column: 'x', window: '1h' },
  { name: 'x_avg_12h', fn: 'avg', column: 'x', window: '12h' },
  { name: 'x_min_2h', fn: 'min', column: 'x', window: '2h' },
  { name: 'x_max_1d', fn: 'max', column: 'x', window: '1d' },
  { name: 'tag_last_1h', fn: 'last', column: 'tag', window: '1h' },
  { name: 'tag_last3_1d', fn: 'last_n', column: 'tag', window: '1d', n: 3 },
  { name: 'tags_distinct_2d', fn: 'approx_distinct', column: 'tag', window: '2d' },
];
const stats = featureView({
  name: 'stats',
  entities: [user],
  source,
  features: { x: 'float', tag: 'string' },
  aggregations,
  ttl: '30d',
  owner: 'o',
  description: 'd',
});
const registry = new Registry([user, source, stats]);
const plan = registry.plan(aggregations.map((a) => `stats:${a.name}`));
const trino = (sql: string) => new sqlParser.Parser().astify(sql, { database: 'trino' });

let engine: PitEngine;
beforeAll(async () => {
  engine = await openPitEngine();
});
afterAll(() => engine.close());

async function trainingSet(rows: ViewRow[], labels: { user_id: string; t: number }[], asServed: boolean) {
  await engine.loadViews(DATABASE, [stats], new Map([['stats', rows]]));
  await engine.loadTable(
    DATABASE,
    'labels',
    [
      { name: ROW_COLUMN, type: 'int' },
      { name: 'user_id', type: 'string' },
      { name: 't', type: 'int' },
    ],
    labels.map((l, i) => ({ [ROW_COLUMN]: i, ...l })),
  );
  const times = labels.map((l) => l.t);
  const sql = pointInTimeSql({
    plan,
    labels: { table: { database: DATABASE, table: 'labels' }, columns: ['user_id', 't'], timestampColumn: 't' },
    database: DATABASE,
    asServed,
    timeRange: { min: Math.min(...times), max: Math.max(...times) },
  });
  expect(() => trino(sql)).not.toThrow();
  const result = await engine.run(sql);
  // approx_distinct comes out raw as the window's distinct values (the registers are built from them), never a count.
  for (const r of result)
    expect(
      r.stats__tags_distinct_2d === null ||
        (Array.isArray(r.stats__tags_distinct_2d) && new Set(r.stats__tags_distinct_2d).size === r.stats__tags_distinct_2d.length),
    ).toBe(true);
  return result.map((row) => Object.fromEntries(aggregations.map((a) => [a.name, finalizeSqlAggregate(a, row[`stats__${a.name}`])])));
}

const expected = (rows: ViewRow[], label: { user_id: string; t: number }, asServed: boolean) =>
  Object.fromEntries(
    aggregations.map((a) => [
      a.name,
      referenceAggregate(
        a,
        rows.filter((r) => r.keys.user_id === label.user_id),
        label.t,
        asServed,
      ),
    ]),
  );

const row = (id: string, user_id: string, eventTs: number, ingestTs: number, x: number, tag: string): ViewRow => ({
  view: 'stats',
  entityId: user_id,
  keys: { user_id },
  eventTs,
  ingestTs,
  eventId: id,
  values: { x, tag },
});

describe('windowed aggregations in training sets', () => {
  it('follow the window bounds: a 5-minute window at 12:07:30 starts at 12:03:00 and ends at t', async () => {
    const t = T0 + 7 * MIN + 30_000;
    const rows = [
      row('a', 'u', T0 + 3 * MIN - 1, T0, 1, 'p'),
      row('b', 'u', T0 + 3 * MIN, T0, 1, 'p'),
      row('c', 'u', t, T0, 1, 'p'),
      row('d', 'u', t + 1, T0, 1, 'p'),
    ];
    const [got] = await trainingSet(rows, [{ user_id: 'u', t }], false);
    expect(got?.n_5m).toBe(2);
  });

  it('give a count of 0, a sum of 0 and no average for an entity with no rows', async () => {
    const [got] = await trainingSet([row('a', 'u', T0, T0, 2, 'p')], [{ user_id: 'nobody', t: T0 }], false);
    expect(got).toMatchObject({ n_1d: 0, x_sum_1h: 0, x_avg_12h: null, tag_last3_1d: [], tags_distinct_2d: 0 });
  });

  it('break a tie on event_ts and ingest_ts by event id in code-point order, online and in SQL alike (U+1F600 after U+FF21)', async () => {
    // By UTF-16 code units (JavaScript's <) '\u{1F600}' would sort first: its surrogates are 0xD83D 0xDE00.
    const ids = ['\uFF21', 'a', '\u{1F600}', '\u00E9'];
    const t = T0 + 30 * MIN;
    const rows = ids.map((id) => row(id, 'u', T0 + 10 * MIN, T0 + 11 * MIN, 1, `tag ${id}`));
    const online = readAggregates(stats, [addRows(stats, undefined, rows)], t);
    const [offline] = await trainingSet(rows, [{ user_id: 'u', t }], false);
    const newestFirst = ['\u{1F600}', '\uFF21', '\u00E9', 'a'].map((id) => `tag ${id}`);
    expect(online).toMatchObject({ tag_last_1h: newestFirst[0], tag_last3_1d: newestFirst.slice(0, 3) });
    expect(offline).toEqual(online);
    expect(offline).toEqual(expected(rows, { user_id: 'u', t }, false));
  });

  it('agree with the brute-force definition on random rows, copies and late rows, as served and by event time', { timeout: 600_000 }, async () => {
    const rowArb = fc.record({
      id: fc.integer({ min: 0, max: 60 }),
      user: fc.constantFrom('u1', 'u2'),
      offset: fc.integer({ min: 0, max: 2 * DAY }),
      lag: fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 6 * HOUR })),
      x: fc.integer({ min: -500, max: 500 }).map((c) => c / 100),
      tag: fc.constantFrom('a', 'b', 'c', 'd'),
      copyLag: fc.option(fc.integer({ min: 1, max: DAY })),
    });
    const labelArb = fc.record({ user: fc.constantFrom('u1', 'u2', 'u3'), offset: fc.integer({ min: 0, max: 2 * DAY + HOUR }) });
    const caseArb = fc.record({ specs: fc.array(rowArb, { maxLength: 40 }), labels: fc.array(labelArb, { minLength: 1, maxLength: 8 }) });
    // Cases in batches, each with users of its own (`~n`): one query checks a batch (a query costs ~1 s on Trino).
    await fc.assert(
      fc.asyncProperty(fc.array(caseArb, { minLength: 1, maxLength: 10 }), fc.boolean(), async (cases, asServed) => {
        const rows: ViewRow[] = [];
        const labels: { user_id: string; t: number }[] = [];
        cases.forEach((c, n) => {
          // One payload per event id (as producers send copies), copies ingested later.
          const seen = new Map<string, ViewRow>();
          for (const s of c.specs) {
            const id = `e${s.id}`;
            const original = seen.get(id) ?? row(id, `${s.user}~${n}`, T0 + s.offset, T0 + s.offset + s.lag, s.x, s.tag);
            seen.set(id, original);
            rows.push(original);
            if (s.copyLag !== null) rows.push({ ...original, ingestTs: original.ingestTs + s.copyLag });
          }
          labels.push(...c.labels.map((l) => ({ user_id: `${l.user}~${n}`, t: T0 + l.offset })));
        });
        const got = await trainingSet(rows, labels, asServed);
        expect(got).toEqual(labels.map((l) => expected(rows, l, asServed)));
      }),
      { numRuns: 8 },
    );
  });
});
