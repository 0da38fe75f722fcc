/**
 * Windowed aggregations in the point-in-time SQL, run on DuckDB over real Parquet partitions,
 * against the brute-force definition (aggregation-reference.ts) — the same definition the
 * online tiles are tested against, so online and offline agree by construction.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import fc from 'fast-check';
import sqlParser from 'node-sql-parser';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as z from 'zod';
import { createOfflineView, DuckDbQueryRunner, sqlString } from '../../lambdas/adapters/duckdb-runner.js';
import { encodeRows } from '../../lambdas/adapters/parquet.js';
import { finalizeSqlAggregate } from '../../lambdas/core/aggregation.js';
import { referenceAggregate } from '../../lambdas/core/aggregation-reference.js';
import { type Aggregation, entity, featureView, streamSource } from '../../lambdas/core/definitions.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { byPartition, offlineKey } from '../../lambdas/core/offline.js';
import { ident, pointInTimeSql, ROW_COLUMN } from '../../lambdas/core/point-in-time.js';
import { Registry } from '../../lambdas/core/registry.js';
import { withTempDir } from './pit-fixtures.js';

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

let db: DuckDbQueryRunner;
beforeAll(async () => {
  db = await DuckDbQueryRunner.open();
});
afterAll(() => db.close());

async function trainingSet(dir: string, rows: ViewRow[], labels: { user_id: string; t: number }[], asServed: boolean) {
  for (const { partition, rows: inPartition } of byPartition(rows).values()) {
    const path = join(dir, offlineKey('stats', partition, 'batch.parquet'));
    await mkdir(join(path, '..'), { recursive: true });
    await writeFile(path, await encodeRows(stats, inPartition));
  }
  await createOfflineView(db, DATABASE, { view: stats }, rows.length ? join(dir, 'offline', 'stats') : undefined);
  await db.exec(`CREATE OR REPLACE TABLE ${ident(DATABASE)}."labels" (${ident(ROW_COLUMN)} BIGINT, "user_id" VARCHAR, "t" BIGINT)`);
  await db.exec(`INSERT INTO ${ident(DATABASE)}."labels" VALUES ${labels.map((l, i) => `(${i}, ${sqlString(l.user_id)}, ${l.t})`).join(', ')}`);
  const times = labels.map((l) => l.t);
  const sql = pointInTimeSql({
    plan,
    labels: { table: { database: DATABASE, table: 'labels' }, columns: ['user_id', 't'], timestampColumn: 't' },
    database: DATABASE,
    asServed,
    timeRange: { min: Math.min(...times), max: Math.max(...times) },
  });
  expect(() => trino(sql)).not.toThrow();
  const result = await db.run(sql);
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
    await withTempDir(async (dir) => {
      const t = T0 + 7 * MIN + 30_000;
      const rows = [
        row('a', 'u', T0 + 3 * MIN - 1, T0, 1, 'p'),
        row('b', 'u', T0 + 3 * MIN, T0, 1, 'p'),
        row('c', 'u', t, T0, 1, 'p'),
        row('d', 'u', t + 1, T0, 1, 'p'),
      ];
      const [got] = await trainingSet(dir, rows, [{ user_id: 'u', t }], false);
      expect(got?.n_5m).toBe(2);
    });
  });

  it('give a count of 0, a sum of 0 and no average for an entity with no rows', async () => {
    await withTempDir(async (dir) => {
      const [got] = await trainingSet(dir, [row('a', 'u', T0, T0, 2, 'p')], [{ user_id: 'nobody', t: T0 }], false);
      expect(got).toMatchObject({ n_1d: 0, x_sum_1h: 0, x_avg_12h: null, tag_last3_1d: [], tags_distinct_2d: 0 });
    });
  });

  it('agree with the brute-force definition on random rows, copies and late rows, as served and by event time', async () => {
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
    await fc.assert(
      fc.asyncProperty(
        fc.array(rowArb, { maxLength: 40 }),
        fc.array(labelArb, { minLength: 1, maxLength: 8 }),
        fc.boolean(),
        async (specs, labelSpecs, asServed) => {
          // One payload per event id (as producers send copies), copies ingested later.
          const seen = new Map<string, ViewRow>();
          const rows: ViewRow[] = [];
          for (const s of specs) {
            const id = `e${s.id}`;
            const original = seen.get(id) ?? row(id, s.user, T0 + s.offset, T0 + s.offset + s.lag, s.x, s.tag);
            seen.set(id, original);
            rows.push(original);
            if (s.copyLag !== null) rows.push({ ...original, ingestTs: original.ingestTs + s.copyLag });
          }
          const labels = labelSpecs.map((l) => ({ user_id: l.user, t: T0 + l.offset }));
          await withTempDir(async (dir) => {
            const got = await trainingSet(dir, rows, labels, asServed);
            expect(got).toEqual(labels.map((l) => expected(rows, l, asServed)));
          });
        },
      ),
      { numRuns: 40 },
    );
  });
});
