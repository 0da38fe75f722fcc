/**
 * `npm run bench:pit`: how fast the generated point-in-time SQL runs on DuckDB, the local
 * engine — 1 M label rows joined to 10 M feature rows in three views (string key, composite
 * key, TTLs of 7 to 90 days) — against a baseline in the same run: DuckDB's own ASOF JOIN
 * (latest row at or before t per key, without TTL, copy dedupe or tie-breaking), i.e. the
 * cheapest join that answers "latest value as of t". Data is generated inside DuckDB.
 *
 *   npm run bench:pit -- --labels 1000000 --rows 10000000 --threads 2
 *
 * The last line printed is one JSON object of the figures, units in the key names.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DuckDbQueryRunner } from '../lambdas/adapters/duckdb-runner.js';
import { entity, featureService, featureView, streamSource } from '../lambdas/core/definitions.js';
import { duckdbType, offlineColumns } from '../lambdas/core/offline.js';
import { ident, pointInTimeSql } from '../lambdas/core/point-in-time.js';
import { Registry } from '../lambdas/core/registry.js';

const { values: args } = parseArgs({
  options: {
    labels: { type: 'string', default: '1000000' },
    rows: { type: 'string', default: '10000000' },
    threads: { type: 'string', default: '2' },
    users: { type: 'string', default: '100000' },
    merchants: { type: 'string', default: '10000' },
  },
});
const LABELS = Number(args.labels);
const ROWS = Number(args.rows);
const USERS = Number(args.users);
const MERCHANTS = Number(args.merchants);
const DAY = 86_400_000;
const START = Date.UTC(2025, 0, 1);
const SPAN = 60 * DAY;

const user = entity({ name: 'user', joinKey: 'user_id' });
const merchant = entity({ name: 'merchant', joinKey: 'merchant_id' });
const source = streamSource({
  name: 'txns',
  schema: z.object({ id: z.string(), ts: z.number(), user_id: z.string(), merchant_id: z.string() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
const common = { source, owner: 'bench', description: 'bench' };
const views = [
  featureView({ ...common, name: 'user_txn', entities: [user], features: { amount: 'float', currency: 'string' }, ttl: '30d' }),
  featureView({ ...common, name: 'merchant_txn', entities: [merchant], features: { amount: 'float' }, ttl: '7d' }),
  featureView({ ...common, name: 'pair_txn', entities: [user, merchant], features: { amount: 'float', n: 'int' }, ttl: '90d' }),
] as const;
/** Share of the feature rows per view. */
const SHARE = [0.4, 0.3, 0.3];
const registry = new Registry([
  user,
  merchant,
  source,
  ...views,
  featureService({ name: 'bench', features: [...views], owner: 'bench', description: 'bench' }),
]);
const plan = registry.servicePlan('bench');

const seconds = async (work: () => Promise<unknown>): Promise<number> => {
  const started = performance.now();
  await work();
  return (performance.now() - started) / 1000;
};

const db = await DuckDbQueryRunner.open({ threads: String(args.threads) });
const [{ version } = {}] = await db.run('SELECT version() AS version');
await db.exec('CREATE SCHEMA bench');
await db.exec('SELECT setseed(0.42)');

// --- data, generated in DuckDB ---------------------------------------------------------
const keyOf = (name: string) =>
  name === 'user_id' ? `'u' || CAST(floor(random() * ${USERS}) AS BIGINT)` : `'m' || CAST(floor(random() * ${MERCHANTS}) AS BIGINT)`;
const generate = await seconds(async () => {
  for (const [i, view] of views.entries()) {
    const n = Math.round(ROWS * (SHARE[i] as number));
    const columns = offlineColumns(view).map((c) => {
      const value =
        c.role === 'key'
          ? keyOf(c.name)
          : c.name === 'event_ts'
            ? `${START} + CAST(floor(random() * ${SPAN}) AS BIGINT)`
            : c.name === 'ingest_ts'
              ? '0' // set below from event_ts
              : c.name === 'event_id'
                ? `'e' || range`
                : c.type === 'float'
                  ? 'round(random() * 1000, 2)'
                  : c.type === 'int'
                    ? 'CAST(floor(random() * 100) AS BIGINT)'
                    : `(['EUR', 'USD', 'GBP'])[1 + CAST(floor(random() * 3) AS INTEGER)]`;
      return `CAST(${value} AS ${duckdbType(c.type)}) AS ${ident(c.name)}`;
    });
    await db.exec(`CREATE TABLE bench.${ident(`${view.name}_gen`)} AS SELECT ${columns.join(', ')} FROM range(${n})`);
    // Ingest a little after the event; 1 % arrive hours late. Partitions from event_ts, UTC.
    await db.exec(
      `CREATE TABLE bench.${ident(view.name)} AS SELECT * REPLACE (event_ts + CASE WHEN random() < 0.01 THEN 3 * 3600000 ELSE CAST(floor(random() * 2000) AS BIGINT) END AS ingest_ts),
         strftime(make_timestamp(event_ts * 1000), '%Y-%m-%d') AS "date", strftime(make_timestamp(event_ts * 1000), '%H') AS "hour"
       FROM bench.${ident(`${view.name}_gen`)}`,
    );
    await db.exec(`DROP TABLE bench.${ident(`${view.name}_gen`)}`);
  }
  await db.exec(
    `CREATE TABLE bench.labels AS SELECT range AS "__row", ${keyOf('user_id')} AS user_id, ${keyOf('merchant_id')} AS merchant_id,
       ${START + 7 * DAY} + CAST(floor(random() * ${SPAN - 7 * DAY}) AS BIGINT) AS event_timestamp, CAST(random() < 0.02 AS INTEGER) AS is_fraud
     FROM range(${LABELS})`,
  );
});
const [range] = await db.run('SELECT min(event_timestamp) AS lo, max(event_timestamp) AS hi FROM bench.labels');

// --- the point-in-time SQL (as generated for Athena) vs ASOF JOIN ---------------------
const labels = {
  table: { database: 'bench', table: 'labels' },
  columns: ['user_id', 'merchant_id', 'event_timestamp', 'is_fraud'],
  timestampColumn: 'event_timestamp',
};
const timeRange = { min: Number(range?.lo), max: Number(range?.hi) };
const pit = pointInTimeSql({ plan, labels, database: 'bench', timeRange });
const pitAsServed = pointInTimeSql({ plan, labels, database: 'bench', timeRange, asServed: true });
const asof = `SELECT l.*, ${views.flatMap((v, i) => Object.keys(v.features).map((f) => `v${i}.${ident(f)} AS ${ident(`${v.name}__${f}`)}`)).join(', ')}
  FROM bench.labels AS l
  ${views
    .map((v, i) => {
      const keys = v.entities.map((e) => e.joinKey);
      return `ASOF LEFT JOIN bench.${ident(v.name)} AS v${i} ON ${keys.map((k) => `l.${ident(k)} = v${i}.${ident(k)}`).join(' AND ')} AND l.event_timestamp >= v${i}.event_ts`;
    })
    .join('\n  ')}`;

const materialize = (sql: string) => async () => {
  await db.exec(`CREATE OR REPLACE TABLE bench.out AS ${sql}`);
  const [counted] = await db.run('SELECT count(*) AS n FROM bench.out');
  if (Number(counted?.n) !== LABELS) throw new Error(`expected ${LABELS} rows, got ${counted?.n}`);
};
// Each query runs once, on the same tables: the baseline first, so caches favour the point-in-time SQL no more than it.
const asofSeconds = await seconds(materialize(asof));
const pitSeconds = await seconds(materialize(pit));
const pitAsServedSeconds = await seconds(materialize(pitAsServed));
const [nulls] = await db.run(`SELECT avg(CASE WHEN user_txn__amount IS NULL THEN 1 ELSE 0 END) AS r FROM bench.out`);
db.close();

const figures = {
  engine: 'duckdb',
  duckdb_version: version,
  threads: Number(args.threads),
  label_rows: LABELS,
  feature_rows: ROWS,
  views: views.length,
  generate_seconds: round(generate),
  pit_seconds: round(pitSeconds),
  pit_label_rows_per_second: Math.round(LABELS / pitSeconds),
  pit_as_served_seconds: round(pitAsServedSeconds),
  asof_baseline_seconds: round(asofSeconds),
  pit_to_asof_ratio: round(pitSeconds / asofSeconds),
  user_view_null_rate: round(Number(nulls?.r)),
  /** Other work on the machine skews every figure: the 1-minute load average at the end of the run. */
  load_average_1m: round(loadavg()[0] as number),
};
console.log(
  `generated ${ROWS.toLocaleString('en-US')} feature rows in ${views.length} views and ${LABELS.toLocaleString('en-US')} labels in ${figures.generate_seconds} s`,
);
console.log(`point-in-time SQL:        ${figures.pit_seconds} s (${figures.pit_label_rows_per_second.toLocaleString('en-US')} label rows/s)`);
console.log(`point-in-time, as served: ${figures.pit_as_served_seconds} s`);
console.log(`ASOF JOIN baseline:       ${figures.asof_baseline_seconds} s (point-in-time / ASOF = ${figures.pit_to_asof_ratio})`);
console.log(JSON.stringify(figures));

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
