/**
 * `npm run bench:pit`: how fast the generated point-in-time SQL runs on DuckDB, the local
 * engine — 1 M label rows joined to 10 M feature rows in three views (string key, composite
 * key, TTLs of 7 to 90 days) — against two baselines on the same data in the same run:
 * - a hand-written window query of the same rules (TTL, first-ingested copy, ties by
 *   ingest_ts then event_id), written for DuckDB alone (QUALIFY, structs, IGNORE NULLS), by
 *   event time and as served (the generated as-served query is measured against the latter);
 * - DuckDB's own ASOF JOIN (latest row at or before t per key, without TTL, copy dedupe or
 *   tie-breaking): the cheapest join that answers "latest value as of t".
 * Data is generated inside DuckDB and written as Parquet; each query then runs in a fresh
 * process over those files, so its peak memory (the process's peak RSS) is its own.
 *
 *   npm run bench:pit -- --labels 1000000 --rows 10000000 --threads 2
 *
 * The last line printed is one JSON object of the figures, units in the key names.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { z } from 'zod';
import { DuckDbQueryRunner, sqlString } from '../lambdas/adapters/duckdb-runner.js';
import { entity, featureService, featureView, streamSource } from '../lambdas/core/definitions.js';
import { duckdbType, offlineColumns } from '../lambdas/core/offline.js';
import { ident, pointInTimeSql, ttlMs } from '../lambdas/core/point-in-time.js';
import { Registry } from '../lambdas/core/registry.js';

const { values: args } = parseArgs({
  options: {
    labels: { type: 'string', default: '1000000' },
    rows: { type: 'string', default: '10000000' },
    threads: { type: 'string', default: '2' },
    users: { type: 'string', default: '100000' },
    merchants: { type: 'string', default: '10000' },
    /** Internal: run one query over the Parquet files in --data and print its figures. */
    query: { type: 'string' },
    /** Where the data set is kept between runs (default: a temporary folder, removed). */
    data: { type: 'string' },
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

const HERE = new URL(import.meta.url).pathname;
const TABLES = [...views.map((v) => v.name), 'labels'];
const LABEL_COLUMNS = ['user_id', 'merchant_id', 'event_timestamp', 'is_fraud'];
const QUERIES = ['asof', 'window', 'pit', 'window_as_served', 'pit_as_served'] as const;
type QueryName = (typeof QUERIES)[number];

/** The five queries over `bench.<view>` and `bench.labels`; every one returns one row per label row. */
function queries(timeRange: { min: number; max: number }): Record<QueryName, string> {
  const labels = { table: { database: 'bench', table: 'labels' }, columns: LABEL_COLUMNS, timestampColumn: 'event_timestamp' };
  const columnsOf = (v: (typeof views)[number]) => Object.keys(v.features);
  const asof = `SELECT l.*, ${views.flatMap((v, i) => columnsOf(v).map((f) => `v${i}.${ident(f)} AS ${ident(`${v.name}__${f}`)}`)).join(', ')}
  FROM bench.labels AS l
  ${views
    .map((v, i) => {
      const keys = v.entities.map((e) => e.joinKey);
      return `ASOF LEFT JOIN bench.${ident(v.name)} AS v${i} ON ${keys.map((k) => `l.${ident(k)} = v${i}.${ident(k)}`).join(' AND ')} AND l.event_timestamp >= v${i}.event_ts`;
    })
    .join('\n  ')}`;
  // The same rules written by hand for DuckDB: rows and label times in one window per view,
  // the last row before each label carried to it as a struct (IGNORE NULLS), TTL checked after.
  // As served, rows are ordered by when they were known and due (greatest of event_ts and
  // ingest_ts), and only the rows holding the running maximum of event_ts — the latest by event
  // time among those known — are carried.
  const handWritten = (asServed: boolean) => {
    const perView = views.map((v, i) => {
      const keys = v.entities.map((e) => ident(e.joinKey));
      const features = columnsOf(v).map(ident);
      const ttl = ttlMs(v) as number;
      // By event time ts is event_ts; as served event_ts is a column of its own.
      const eventTs = asServed ? 'event_ts' : 'ts';
      const struct = `{'event_ts': ${eventTs}, ${features.map((f) => `${f.replaceAll('"', "'")}: ${f}`).join(', ')}}`;
      const order = `PARTITION BY ${keys.join(', ')} ORDER BY ts, lbl, ingest_ts, event_id ROWS UNBOUNDED PRECEDING`;
      const interleaved = `(SELECT ${keys.join(', ')}, ${asServed ? 'greatest(event_ts, ingest_ts)' : 'event_ts'} AS ts, 0 AS lbl, ingest_ts, event_id, ${asServed ? 'event_ts, ' : ''}${features.join(', ')} FROM bench.${ident(v.name)}
         WHERE event_ts <= ${timeRange.max} AND event_ts > ${timeRange.min - ttl}
         QUALIFY row_number() OVER (PARTITION BY ${keys.join(', ')}, event_id, event_ts ORDER BY ingest_ts) = 1)
        UNION ALL
        SELECT DISTINCT ${keys.join(', ')}, event_timestamp, 1, NULL, NULL, ${asServed ? 'NULL, ' : ''}${features.map(() => 'NULL').join(', ')} FROM bench.labels`;
      const candidates = asServed ? `SELECT * FROM (${interleaved}) QUALIFY lbl = 1 OR event_ts = max(event_ts) OVER (${order})` : interleaved;
      return `v${i} AS (
  SELECT ${keys.join(', ')}, ts AS t, ${features.map((f) => `CASE WHEN w.event_ts > ts - ${ttl} THEN w.${f} END AS ${f}`).join(', ')}
  FROM (
    SELECT ${keys.join(', ')}, ts, lbl, last_value(CASE WHEN lbl = 0 THEN ${struct} END IGNORE NULLS) OVER (${order}) AS w
    FROM (
      ${candidates}
    )
  )
  WHERE lbl = 1
)`;
    });
    return `WITH ${perView.join(',\n')}
SELECT l.*, ${views.flatMap((v, i) => columnsOf(v).map((f) => `v${i}.${ident(f)} AS ${ident(`${v.name}__${f}`)}`)).join(', ')}
FROM bench.labels AS l
${views
  .map((v, i) => {
    const keys = v.entities.map((e) => ident(e.joinKey));
    return `LEFT JOIN v${i} ON ${keys.map((k) => `l.${k} = v${i}.${k}`).join(' AND ')} AND l.event_timestamp = v${i}.t`;
  })
  .join('\n')}
ORDER BY l."__row"`;
  };
  return {
    asof,
    window: handWritten(false),
    window_as_served: handWritten(true),
    pit: pointInTimeSql({ plan, labels, database: 'bench', timeRange }),
    pit_as_served: pointInTimeSql({ plan, labels, database: 'bench', timeRange, asServed: true }),
  };
}

interface QueryFigures {
  readonly seconds: number;
  readonly peak_rss_mib: number;
  /** XOR of the rows' hashes: equal for equal results. */
  readonly result_hash: string;
}

/** In a child process: one query over the Parquet files, timed, with the process's peak RSS. */
async function runOne(name: QueryName, dir: string): Promise<QueryFigures> {
  const db = await DuckDbQueryRunner.open({ threads: String(args.threads) });
  await db.exec('CREATE SCHEMA bench');
  for (const table of TABLES) await db.exec(`CREATE VIEW bench.${ident(table)} AS SELECT * FROM read_parquet(${sqlString(join(dir, `${table}.parquet`))})`);
  const [range] = await db.run('SELECT min(event_timestamp) AS lo, max(event_timestamp) AS hi FROM bench.labels');
  const sql = queries({ min: Number(range?.lo), max: Number(range?.hi) })[name];
  const took = await seconds(() => db.exec(`CREATE TABLE bench.out AS ${sql}`));
  const features = views.flatMap((v) => Object.keys(v.features).map((f) => ident(`${v.name}__${f}`)));
  const [check] = await db.run(`SELECT count(*) AS n, CAST(bit_xor(hash("__row", ${features.join(', ')})) AS VARCHAR) AS h FROM bench.out`);
  if (Number(check?.n) !== LABELS) throw new Error(`${name}: expected ${LABELS} rows, got ${check?.n}`);
  const peakKib = Number(/VmHWM:\s+(\d+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1]);
  db.close();
  return { seconds: took, peak_rss_mib: Math.round(peakKib / 1024), result_hash: String(check?.h) };
}

if (args.query) {
  if (!(QUERIES as readonly string[]).includes(args.query) || !args.data) throw new Error(`--query ${QUERIES.join('|')} --data DIR`);
  console.log(JSON.stringify(await runOne(args.query as QueryName, args.data)));
} else {
  await main();
}

async function main(): Promise<void> {
  // --data DIR keeps the generated files there (and reuses them on the next run).
  const dir = args.data ?? mkdtempSync(join(tmpdir(), 'tessera-bench-pit-'));
  try {
    const generate = await seconds(async () => {
      if (!existsSync(join(dir, 'labels.parquet'))) await generateData(dir);
    });
    const probe = await DuckDbQueryRunner.open();
    const [{ version } = {}] = await probe.run('SELECT version() AS version');
    probe.close();
    const figures: Partial<Record<QueryName, QueryFigures>> = {};
    // Each query once, in its own process, the baselines first.
    for (const name of QUERIES) {
      const out = execFileSync(process.execPath, ['--import', 'tsx', HERE, '--query', name, '--data', dir, ...passThrough()], {
        encoding: 'utf8',
        stdio: ['ignore', 'pipe', 'inherit'],
      });
      figures[name] = JSON.parse(out.trim().split('\n').at(-1) as string) as QueryFigures;
      console.log(`${name.padEnd(17)} ${round(figures[name].seconds)} s, peak RSS ${figures[name].peak_rss_mib} MiB`);
    }
    const { pit, pit_as_served: served, window, window_as_served: windowServed, asof } = figures as Record<QueryName, QueryFigures>;
    const summary = {
      engine: 'duckdb',
      duckdb_version: version,
      threads: Number(args.threads),
      label_rows: LABELS,
      feature_rows: ROWS,
      views: views.length,
      generate_seconds: round(generate),
      pit_seconds: round(pit.seconds),
      pit_label_rows_per_second: Math.round(LABELS / pit.seconds),
      pit_peak_rss_mib: pit.peak_rss_mib,
      pit_as_served_seconds: round(served.seconds),
      pit_as_served_label_rows_per_second: Math.round(LABELS / served.seconds),
      pit_as_served_peak_rss_mib: served.peak_rss_mib,
      window_as_served_baseline_seconds: round(windowServed.seconds),
      window_as_served_baseline_peak_rss_mib: windowServed.peak_rss_mib,
      pit_as_served_to_window_as_served_ratio: round(served.seconds / windowServed.seconds),
      window_baseline_seconds: round(window.seconds),
      window_baseline_peak_rss_mib: window.peak_rss_mib,
      asof_baseline_seconds: round(asof.seconds),
      asof_baseline_peak_rss_mib: asof.peak_rss_mib,
      pit_to_window_ratio: round(pit.seconds / window.seconds),
      pit_to_asof_ratio: round(pit.seconds / asof.seconds),
      /** The generated query and the hand-written one agree on every row. */
      pit_equals_window: pit.result_hash === window.result_hash,
      /** As served, likewise. */
      pit_as_served_equals_window_as_served: served.result_hash === windowServed.result_hash,
      /** Other work on the machine skews every figure: the 1-minute load average at the end of the run. */
      load_average_1m: round(loadavg()[0] as number),
    };
    console.log(
      `point-in-time SQL: ${summary.pit_seconds} s (${summary.pit_label_rows_per_second.toLocaleString('en-US')} label rows/s), ${summary.pit_to_window_ratio}x the hand-written window query, ${summary.pit_to_asof_ratio}x ASOF JOIN; results equal to the window query: ${summary.pit_equals_window}`,
    );
    console.log(
      `as served: ${summary.pit_as_served_seconds} s (${summary.pit_as_served_label_rows_per_second.toLocaleString('en-US')} label rows/s), ${summary.pit_as_served_to_window_as_served_ratio}x its hand-written window query; results equal: ${summary.pit_as_served_equals_window_as_served}`,
    );
    console.log(JSON.stringify(summary));
  } finally {
    if (!args.data) rmSync(dir, { recursive: true, force: true });
  }
}

function passThrough(): string[] {
  return ['labels', 'rows', 'threads', 'users', 'merchants'].flatMap((k) => [`--${k}`, String(args[k as keyof typeof args])]);
}

/** The three views and the labels, generated in DuckDB, written as Parquet files into `dir`. */
async function generateData(dir: string): Promise<void> {
  mkdirSync(dir, { recursive: true });
  const db = await DuckDbQueryRunner.open({ threads: String(args.threads) });
  await db.exec('CREATE SCHEMA bench');
  await db.exec('SELECT setseed(0.42)');
  const keyOf = (name: string) =>
    name === 'user_id' ? `'u' || CAST(floor(random() * ${USERS}) AS BIGINT)` : `'m' || CAST(floor(random() * ${MERCHANTS}) AS BIGINT)`;
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
      `COPY (SELECT * REPLACE (event_ts + CASE WHEN random() < 0.01 THEN 3 * 3600000 ELSE CAST(floor(random() * 2000) AS BIGINT) END AS ingest_ts),
         strftime(make_timestamp(event_ts * 1000), '%Y-%m-%d') AS "date", strftime(make_timestamp(event_ts * 1000), '%H') AS "hour"
       FROM bench.${ident(`${view.name}_gen`)}) TO ${sqlString(join(dir, `${view.name}.parquet`))} (FORMAT PARQUET)`,
    );
    await db.exec(`DROP TABLE bench.${ident(`${view.name}_gen`)}`);
  }
  await db.exec(
    `COPY (SELECT range AS "__row", ${keyOf('user_id')} AS user_id, ${keyOf('merchant_id')} AS merchant_id,
       ${START + 7 * DAY} + CAST(floor(random() * ${SPAN - 7 * DAY}) AS BIGINT) AS event_timestamp, CAST(random() < 0.02 AS INTEGER) AS is_fraud
     FROM range(${LABELS})) TO ${sqlString(join(dir, 'labels.parquet'))} (FORMAT PARQUET)`,
  );
  db.close();
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
