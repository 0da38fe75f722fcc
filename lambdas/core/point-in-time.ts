/**
 * The point-in-time SQL: one query, generated from the definitions, that joins label rows to
 * the offline rows of every feature view the way the online API would have answered at each
 * label's time. The same text runs on Athena (Trino) and DuckDB: only portable constructs
 * (CTEs, GROUP BY, ROW_NUMBER, running sum and max windows, UNION ALL, equi-joins with range
 * conditions), quoted identifiers, and timestamps as epoch-millisecond BIGINTs compared with
 * integer arithmetic; it is executed on Trino 476 as well as DuckDB in the tests (the `trino`
 * target). Per view, rows and label times are interleaved in sorted windows (`latestMatchCtes`):
 * by event time, or as served by the time a row was both known and due.
 *
 * The rules, for each label row (entity keys, time t) and each view:
 * - the row with the largest event_ts such that event_ts <= t and, when the view has a TTL,
 *   event_ts > t - ttl. (Feast keeps a row exactly at t - ttl; Tessera does not, because the
 *   online store serves such a value as expired: `readFeatures` in online.ts.)
 * - ties on event_ts go to the larger ingest_ts, then the larger event_id;
 * - copies of one event (same keys, event_id and event_ts) count once, the one ingested first;
 * - `asServed` adds ingest_ts <= t: only rows the online store had applied by t, which
 *   reproduces what the API returned at t (late rows are left out);
 * - no match gives nulls; every label row appears once, in label order (`__row`), however
 *   many times the labels or the source repeat themselves.
 * Partitions (date/hour of event_ts) outside the labels' time range are pruned.
 */

import { aggregationWindows } from './aggregation.js';
import { SUM_EXACT_DECIMALS } from './aggregation-functions.js';
import type { FeatureView } from './definitions.js';
import { viewDurations } from './duration.js';
import { ValidationError } from './errors.js';
import { EVENT_ID, EVENT_TS, INGEST_TS, type Partition, partitionOf } from './offline.js';
import type { ReadPlan, ResolvedFeature } from './registry.js';

/** The label row number column: kept through the query so results can be put back in label order. */
export const ROW_COLUMN = '__row';

/** The default name of the labels' time column (Feast's). */
export const DEFAULT_TIMESTAMP_COLUMN = 'event_timestamp';

export interface TableRef {
  readonly database: string;
  readonly table: string;
}

export interface LabelsTable {
  readonly table: TableRef;
  /** The label columns, in output order; they include the join keys and the time column. */
  readonly columns: readonly string[];
  /** Holds t, epoch milliseconds (BIGINT). */
  readonly timestampColumn: string;
}

export interface PointInTimeQuery {
  readonly plan: ReadPlan;
  readonly labels: LabelsTable;
  /** The database holding one table per feature view, named as the view. */
  readonly database: string;
  /** Only rows ingested by t: what the online API returned at t. @default false */
  readonly asServed?: boolean;
  /** The smallest and largest label time (epoch ms), to prune partitions. @default no pruning */
  readonly timeRange?: { readonly min: number; readonly max: number };
}

/** A SQL identifier, quoted (portable: Trino and DuckDB both use double quotes). */
export const ident = (name: string): string => `"${name.replaceAll('"', '""')}"`;
export const tableName = (t: TableRef): string => `${ident(t.database)}.${ident(t.table)}`;
const literal = (text: string): string => `'${text.replaceAll("'", "''")}'`;

/** Label column names that round-trip through Glue, Athena and DuckDB unchanged. */
const LABEL_COLUMN = /^[a-z_][a-z0-9_]*$/;

export const ttlMs = (view: FeatureView): number | undefined => viewDurations(view).ttlMs;

/** The event_ts range a view's rows can match for labels in `timeRange`: (min - reach, max], reach the TTL or the longest window. */
export function eventTimeBounds(view: FeatureView, timeRange: { min: number; max: number }): { after?: number; atMost: number } {
  const ttl = ttlMs(view);
  if (ttl === undefined) return { atMost: timeRange.max };
  // Windowed aggregations reach back their window plus a tile (the tail is tile-aligned).
  const reach = Math.max(ttl, ...aggregationWindows(view).map((w) => w.windowMs + w.tileMs));
  return { after: timeRange.min - reach, atMost: timeRange.max };
}

/** The partitions holding rows in those bounds, inclusive; `from` is absent without a TTL. */
export function partitionRange(bounds: { after?: number; atMost: number }): { from?: Partition; to: Partition } {
  return { ...(bounds.after !== undefined ? { from: partitionOf(bounds.after + 1) } : {}), to: partitionOf(bounds.atMost) };
}

/** The stored features the SQL reads: the plan's view features, on-demand inputs included. */
export function storedFeatures(plan: ReadPlan): ResolvedFeature[] {
  return plan.views.flatMap((v) => [...v.features]);
}

/** Why these labels cannot be joined for this plan, or undefined when they can. */
export function labelsProblem(plan: ReadPlan, columns: readonly string[], timestampColumn: string): string | undefined {
  const bad = columns.filter((c) => !LABEL_COLUMN.test(c) || c === ROW_COLUMN);
  if (bad.length) return `label column name(s) ${bad.map((c) => `"${c}"`).join(', ')} must be lower_snake_case (a-z, 0-9, _) and not "${ROW_COLUMN}"`;
  if (!columns.includes(timestampColumn)) return `the labels have no time column "${timestampColumn}" (columns: ${columns.join(', ')})`;
  const missing = plan.joinKeys.filter((k) => !columns.includes(k));
  if (missing.length) return `the labels lack the join key(s) ${missing.join(', ')} of the requested features`;
  const outputs = new Set(plan.features.map((f) => f.column));
  const clash = columns.filter((c) => outputs.has(c));
  if (clash.length) return `label column(s) ${clash.join(', ')} have the name of a feature column`;
  return undefined;
}

/**
 * The point-in-time query. Its result: `__row`, every label column, then one column
 * `<view>__<feature>` per stored feature of the plan (on-demand features are computed from
 * these rows afterwards, in TypeScript, by their own `compute`).
 */
export function pointInTimeSql(query: PointInTimeQuery): string {
  const { plan, labels } = query;
  const problem = labelsProblem(plan, labels.columns, labels.timestampColumn);
  if (problem) throw new ValidationError(problem);

  const t = ident(labels.timestampColumn);
  const ctes: string[] = [`${ident('__labels')} AS (\n  SELECT ${[ROW_COLUMN, ...labels.columns].map(ident).join(', ')}\n  FROM ${tableName(labels.table)}\n)`];
  const joins: string[] = [];
  const outputs: string[] = [];

  plan.views.forEach(({ view, joinKeys, features: all }, i) => {
    const times = ident(`__v${i}_times`);
    const keys = joinKeys.map(ident);
    // Each distinct (keys, t) is matched once, so duplicate labels cost nothing and can never multiply rows.
    ctes.push(`${times} AS (\n  SELECT DISTINCT ${[...keys, t].join(', ')}\n  FROM ${ident('__labels')}\n)`);
    const aggregated = all.filter((f) => f.kind === 'aggregation');
    if (aggregated.length) {
      const agg = aggregationCtes(query, view, i, keys, t, aggregated);
      ctes.push(...agg.ctes);
      joins.push(agg.join);
      outputs.push(...agg.outputs);
    }
    const features = all.filter((f) => f.kind !== 'aggregation');
    if (!features.length) return;
    const input: ViewMatch = { query, view, i, keys, t, features, ctes };
    const match = latestMatchCtes(input);
    const alias = ident(`m${i}`);
    joins.push(
      `LEFT JOIN ${match} AS ${alias}\n  ON ${[...keys.map((k) => `${alias}.${k} = ${ident('l')}.${k}`), `${alias}.${t} = ${ident('l')}.${t}`].join(' AND ')}`,
    );
    for (const f of features) outputs.push(`${alias}.${ident(f.feature)} AS ${ident(f.column)}`);
  });

  const select = [`${ident('l')}.${ident(ROW_COLUMN)}`, ...labels.columns.map((c) => `${ident('l')}.${ident(c)}`), ...outputs];
  return (
    `WITH ${ctes.join(',\n')}\nSELECT ${select.join(',\n  ')}\nFROM ${ident('__labels')} AS ${ident('l')}\n` +
    `${joins.join('\n')}\nORDER BY ${ident('l')}.${ident(ROW_COLUMN)}`
  );
}

/** One view's part of the query: its row features, matched to the label times; CTEs are appended to `ctes`. */
interface ViewMatch {
  readonly query: PointInTimeQuery;
  readonly view: FeatureView;
  /** The view's position in the plan, naming its CTEs. */
  readonly i: number;
  /** Quoted join keys. */
  readonly keys: readonly string[];
  /** The quoted label time column. */
  readonly t: string;
  readonly features: readonly ResolvedFeature[];
  readonly ctes: string[];
}

/**
 * The latest row, as sorts per view instead of a range join: the view's rows (first-ingested
 * copy of each event) and the distinct label times, interleaved in one window per entity.
 *
 * By event time the window is ordered by (event_ts | t, rows before labels, ingest_ts,
 * event_id), so the latest row before a label is simply the last row before it. A running
 * count of rows numbers the groups: each label falls in the group opened by the last row at or
 * before its time. Only labels and the rows right before a label (`lead`, same sort) go on, so
 * the last window — carrying that row's values to the labels of its group — sees at most twice
 * the labels, not the rows; then the TTL.
 *
 * As served, a row counts for t once it is both known and due: ingest_ts <= t and event_ts <= t,
 * that is from greatest(event_ts, ingest_ts) — "known at". Ordered by (known at | t, rows before
 * labels, ingest_ts, event_id), the latest row by event time is no longer the last one: it is
 * the last *record*, a row whose event_ts is at least every earlier row's (a running max; ties
 * go to the later row, which is the later ingest_ts, then the larger event_id — the rules'
 * tie-break, since known at grows with ingest_ts for one event_ts). Rows that are not records
 * are dropped, and the records and labels, in that order (`__pos`), go through the same group
 * and carry steps as by event time.
 *
 * Cost: one sort of rows + labels (as served two), no join of rows × labels within the TTL (at
 * bench:pit's size about the time of a hand-written window query and its memory). Portable
 * window functions only: no IGNORE NULLS, structs or QUALIFY. Returns the CTE holding (keys, t,
 * features).
 */
function latestMatchCtes({ query, view, i, keys, t, features, ctes }: ViewMatch): string {
  const first = ident(`__v${i}_latest_first`);
  const known = ident(`__v${i}_known`);
  const seq = ident(`__v${i}_seq`);
  const match = ident(`__v${i}_match`);
  const ttl = ttlMs(view);
  const asServed = query.asServed === true;
  const [ts, label, group, pos, top] = ['__ts', '__label', '__group', '__pos', '__top'].map(ident) as [string, string, string, string, string];
  const [eventTsColumn, ingestTs, eventId] = [EVENT_TS, INGEST_TS, EVENT_ID].map(ident) as [string, string, string];
  const featureColumns = features.map((f) => ident(f.feature));
  const all = [...keys, eventTsColumn, ingestTs, eventId, ...featureColumns];
  ctes.push(
    // Copies of an event count once: the one ingested first.
    `${first} AS (\n  SELECT ${all.join(', ')}\n  FROM (\n    SELECT ${all.join(', ')},\n` +
      `      ROW_NUMBER() OVER (PARTITION BY ${[...keys, eventId, eventTsColumn].join(', ')} ORDER BY ${ingestTs}) AS ${ident('__copy')}\n` +
      `    FROM ${tableName({ database: query.database, table: view.name })}${pruning(view, query.timeRange)}\n  ) AS ${ident('__f')}\n  WHERE ${ident('__copy')} = 1\n)`,
  );
  const nulls = (n: number) => Array.from({ length: n }, () => 'NULL');
  const next = ident('__next');
  // A row's time in the sort: its event time, or as served when it is known and due.
  const rowTime = asServed ? `CASE WHEN ${ingestTs} > ${eventTsColumn} THEN ${ingestTs} ELSE ${eventTsColumn} END` : eventTsColumn;
  const carried = [...(asServed ? [eventTsColumn] : []), ...featureColumns];
  const labelsKnown = [...keys, t].map((c) => `${c} IS NOT NULL`).join(' AND ');
  const interleaved =
    `    SELECT ${[...keys, `${rowTime} AS ${ts}`, `0 AS ${label}`, ingestTs, eventId, ...carried].join(', ')}\n    FROM ${first}` +
    `${asServed ? `\n    WHERE ${ingestTs} IS NOT NULL` : ''}\n` +
    `    UNION ALL\n    SELECT ${[...keys, `${t} AS ${ts}`, `1 AS ${label}`, ...nulls(2 + carried.length)].join(', ')}\n` +
    `    FROM ${ident(`__v${i}_times`)}\n    WHERE ${labelsKnown}`;
  const timeOrder = `${keys.join(', ')} ORDER BY ${ts}, ${label}, ${ingestTs}, ${eventId}`;
  let order: string;
  let sequenced: string;
  if (asServed) {
    ctes.push(
      `${known} AS (\n  SELECT ${[...keys, ts, label, ...carried].join(', ')},\n` +
        `    ROW_NUMBER() OVER (PARTITION BY ${timeOrder}) AS ${pos},\n` +
        `    max(${eventTsColumn}) OVER (PARTITION BY ${timeOrder} ROWS UNBOUNDED PRECEDING) AS ${top}\n` +
        `  FROM (\n${interleaved}\n  ) AS ${ident('__u')}\n)`,
    );
    order = `${keys.join(', ')} ORDER BY ${pos}`;
    sequenced = `${known}\n  WHERE ${label} = 1 OR ${eventTsColumn} = ${top}`;
  } else {
    order = timeOrder;
    sequenced = `(\n${interleaved}\n  ) AS ${ident('__u')}`;
  }
  ctes.push(
    `${seq} AS (\n  SELECT ${[...keys, ts, label, ...carried].join(', ')},\n` +
      `    sum(1 - ${label}) OVER (PARTITION BY ${order} ROWS UNBOUNDED PRECEDING) AS ${group},\n` +
      `    lead(${label}) OVER (PARTITION BY ${order}) AS ${next}\n` +
      `  FROM ${sequenced}\n)`,
  );
  const eventTs = ident('__event_ts');
  const fromRow = (c: string) => `max(CASE WHEN ${label} = 0 THEN ${c} END) OVER (PARTITION BY ${[...keys, group].join(', ')})`;
  const inRange = [`${label} = 1`, `${eventTs} IS NOT NULL`, ...(ttl !== undefined ? [`${eventTs} > ${ts} - ${ttl}`] : [])];
  ctes.push(
    `${match} AS (\n  SELECT ${[...keys, `${ts} AS ${t}`, ...featureColumns].join(', ')}\n  FROM (\n` +
      `    SELECT ${[...keys, ts, label, `${fromRow(asServed ? eventTsColumn : ts)} AS ${eventTs}`, ...featureColumns.map((c) => `${fromRow(c)} AS ${c}`)].join(',\n      ')}\n` +
      `    FROM ${seq}\n    WHERE ${label} = 1 OR ${next} = 1\n  ) AS ${ident('__w')}\n  WHERE ${inRange.join(' AND ')}\n)`,
  );
  return match;
}

/**
 * Windowed aggregations of one view, computed from its rows with the window bounds of
 * windows.ts: for a window W with tile g, rows with t - t % g - W + g <= event_ts <= t (and
 * ingest_ts <= t as served), each event once — its first-ingested copy, as the online tiles
 * count it. Each function's SQL is its entry in aggregation-functions.ts; the raw aggregates
 * come out as `<view>__<feature>`, and `finalizeSqlAggregate` finishes them as online.
 */
function aggregationCtes(query: PointInTimeQuery, view: FeatureView, i: number, keys: string[], t: string, features: readonly ResolvedFeature[]) {
  const rows = ident(`__v${i}_arows`);
  const first = ident(`__v${i}_first`);
  const sums = ident(`__v${i}_agg`);
  const q = (c: string) => `${ident('q')}.${c}`;
  const r = (c: string) => `${ident('r')}.${c}`;
  const windows = aggregationWindows(view).filter((w) => features.some((f) => f.feature === w.aggregation.name));
  const columns = [...new Set(windows.flatMap((w) => (w.aggregation.column ? [w.aggregation.column] : [])))];
  const system = [EVENT_TS, INGEST_TS, EVENT_ID].map(ident);
  const all = [...keys, ...system, ...columns.map(ident)];
  const ctes = [
    `${rows} AS (\n  SELECT ${all.join(', ')}\n  FROM ${tableName({ database: query.database, table: view.name })}${pruning(view, query.timeRange)}\n)`,
    // The first-ingested copy of each event of an entity: the one the online tiles counted.
    `${first} AS (\n  SELECT ${all.join(', ')}\n  FROM (\n    SELECT ${all.join(', ')},\n` +
      `      ROW_NUMBER() OVER (PARTITION BY ${[...keys, ident(EVENT_ID)].join(', ')} ORDER BY ${ident(INGEST_TS)}) AS ${ident('__copy')}\n` +
      `    FROM ${rows}\n  ) AS ${ident('__f')}\n  WHERE ${ident('__copy')} = 1\n)`,
  ];
  const start = (windowMs: number, tileMs: number) => `(${q(t)} - ${q(t)} % ${tileMs} - ${windowMs} + ${tileMs})`;
  const order = `lpad(CAST(${r(ident(EVENT_TS))} AS VARCHAR), 20, '0') || lpad(CAST(${r(ident(INGEST_TS))} AS VARCHAR), 20, '0') || ${r(ident(EVENT_ID))}`;
  const expressions = windows.map((w, j) => {
    const inWindow = `${r(ident(EVENT_TS))} >= ${start(w.windowMs, w.tileMs)}`;
    const value = w.aggregation.column ? r(ident(w.aggregation.column)) : '1';
    const sql = w.fn.sql(
      {
        value,
        inWindow,
        when: (then) => `CASE WHEN ${inWindow} THEN ${then} END`,
        latestKey: `CASE WHEN ${inWindow} AND ${value} IS NOT NULL THEN ${order} END`,
        exactDecimals: SUM_EXACT_DECIMALS,
      },
      w.aggregation,
    );
    return { sql: `${sql} AS ${ident(`__a${j}`)}`, feature: w.aggregation.name, alias: `__a${j}` };
  });
  const on = [
    ...keys.map((k) => `${r(k)} = ${q(k)}`),
    `${r(ident(EVENT_TS))} <= ${q(t)}`,
    `${r(ident(EVENT_TS))} >= ${windows.length > 1 ? `least(${windows.map((w) => start(w.windowMs, w.tileMs)).join(', ')})` : start(windows[0]!.windowMs, windows[0]!.tileMs)}`,
    ...(query.asServed ? [`${r(ident(INGEST_TS))} <= ${q(t)}`] : []),
  ];
  ctes.push(
    `${sums} AS (\n  SELECT ${[...keys, t].map(q).join(', ')},\n    ${expressions.map((e) => e.sql).join(',\n    ')}\n` +
      `  FROM ${ident(`__v${i}_times`)} AS ${ident('q')}\n  JOIN ${first} AS ${ident('r')}\n    ON ${on.join('\n    AND ')}\n` +
      `  GROUP BY ${[...keys, t].map(q).join(', ')}\n)`,
  );
  const alias = ident(`a${i}`);
  const join = `LEFT JOIN ${sums} AS ${alias}\n  ON ${[...keys.map((k) => `${alias}.${k} = ${ident('l')}.${k}`), `${alias}.${t} = ${ident('l')}.${t}`].join(' AND ')}`;
  const outputs = features.map((f) => `${alias}.${ident(expressions.find((e) => e.feature === f.feature)!.alias)} AS ${ident(f.column)}`);
  return { ctes, join, outputs };
}

/**
 * The WHERE clause that reads only partitions (and rows) a label can match. Partition
 * columns come first so Athena's partition projection enumerates only those dates.
 */
function pruning(view: FeatureView, timeRange: PointInTimeQuery['timeRange']): string {
  if (!timeRange) return '';
  const bounds = eventTimeBounds(view, timeRange);
  const { from, to } = partitionRange(bounds);
  const date = ident('date');
  const hour = ident('hour');
  const conditions = [`${date} <= ${literal(to.date)}`, `(${date} < ${literal(to.date)} OR ${hour} <= ${literal(to.hour)})`];
  if (from) conditions.push(`${date} >= ${literal(from.date)}`, `(${date} > ${literal(from.date)} OR ${hour} >= ${literal(from.hour)})`);
  conditions.push(`${ident(EVENT_TS)} <= ${bounds.atMost}`);
  if (bounds.after !== undefined) conditions.push(`${ident(EVENT_TS)} > ${bounds.after}`);
  return `\n    WHERE ${conditions.join('\n      AND ')}`;
}
