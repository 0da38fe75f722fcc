/**
 * The point-in-time SQL: one query, generated from the definitions, that joins label rows to
 * the offline rows of every feature view the way the online API would have answered at each
 * label's time. The same text runs on Athena (Trino) and DuckDB: only portable constructs
 * (CTEs, ROW_NUMBER windows, equi-joins with range conditions), quoted identifiers, and
 * timestamps as epoch-millisecond BIGINTs compared with integer arithmetic.
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
import { parseDuration } from './duration.js';
import type { FeatureView } from './definitions.js';
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

export function ttlMs(view: FeatureView): number | undefined {
  return view.ttl === undefined ? undefined : parseDuration(view.ttl);
}

/** The event_ts range a view's rows can match for labels in `timeRange`: (min - ttl, max]. */
export function eventTimeBounds(view: FeatureView, timeRange: { min: number; max: number }): { after?: number; atMost: number } {
  const ttl = ttlMs(view);
  return { ...(ttl !== undefined ? { after: timeRange.min - ttl } : {}), atMost: timeRange.max };
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
  const aggregations = storedFeatures(plan).filter((f) => f.kind === 'aggregation');
  if (aggregations.length) {
    throw new ValidationError(`training sets do not compute windowed aggregations yet: ${aggregations.map((f) => f.ref).join(', ')}`);
  }
  const problem = labelsProblem(plan, labels.columns, labels.timestampColumn);
  if (problem) throw new ValidationError(problem);

  const t = ident(labels.timestampColumn);
  const ctes: string[] = [
    `${ident('__labels')} AS (\n  SELECT ${[ROW_COLUMN, ...labels.columns].map(ident).join(', ')}\n  FROM ${tableName(labels.table)}\n)`,
  ];
  const joins: string[] = [];
  const outputs: string[] = [];

  plan.views.forEach(({ view, joinKeys, features }, i) => {
    const rows = ident(`__v${i}_rows`);
    const times = ident(`__v${i}_times`);
    const match = ident(`__v${i}_match`);
    const keys = joinKeys.map(ident);
    const columns = [...keys, ident(EVENT_TS), ident(INGEST_TS), ident(EVENT_ID), ...features.map((f) => ident(f.feature))];
    const ttl = ttlMs(view);

    // Copies of one event collapse to the first ingested before anything is ranked.
    ctes.push(
      `${rows} AS (\n  SELECT ${columns.join(', ')}\n  FROM (\n    SELECT ${columns.join(', ')},\n` +
        `      ROW_NUMBER() OVER (PARTITION BY ${[...keys, ident(EVENT_ID), ident(EVENT_TS)].join(', ')} ORDER BY ${ident(INGEST_TS)}) AS ${ident('__copy')}\n` +
        `    FROM ${tableName({ database: query.database, table: view.name })}${pruning(view, query.timeRange)}\n  ) AS ${ident('__d')}\n` +
        `  WHERE ${ident('__copy')} = 1\n)`,
    );
    // Each distinct (keys, t) is matched once, so duplicate labels cost nothing and can never multiply rows.
    ctes.push(`${times} AS (\n  SELECT DISTINCT ${[...keys, t].join(', ')}\n  FROM ${ident('__labels')}\n)`);
    const on = [
      ...keys.map((k) => `${ident('r')}.${k} = ${ident('q')}.${k}`),
      `${ident('r')}.${ident(EVENT_TS)} <= ${ident('q')}.${t}`,
      ...(ttl !== undefined ? [`${ident('r')}.${ident(EVENT_TS)} > ${ident('q')}.${t} - ${ttl}`] : []),
      ...(query.asServed ? [`${ident('r')}.${ident(INGEST_TS)} <= ${ident('q')}.${t}`] : []),
    ];
    const order = [EVENT_TS, INGEST_TS, EVENT_ID].map((c) => `${ident('r')}.${ident(c)} DESC`).join(', ');
    ctes.push(
      `${match} AS (\n  SELECT ${[...keys, t, ...features.map((f) => ident(f.feature))].join(', ')}\n  FROM (\n` +
        `    SELECT ${[...keys, t].map((c) => `${ident('q')}.${c}`).join(', ')}, ${features.map((f) => `${ident('r')}.${ident(f.feature)}`).join(', ')},\n` +
        `      ROW_NUMBER() OVER (PARTITION BY ${[...keys, t].map((c) => `${ident('q')}.${c}`).join(', ')} ORDER BY ${order}) AS ${ident('__rank')}\n` +
        `    FROM ${times} AS ${ident('q')}\n    JOIN ${rows} AS ${ident('r')}\n      ON ${on.join('\n      AND ')}\n` +
        `  ) AS ${ident('__m')}\n  WHERE ${ident('__rank')} = 1\n)`,
    );
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
