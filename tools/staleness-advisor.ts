/**
 * The staleness advisor's use case: for a feature service and labelled rows, how much each
 * streaming feature would lose if a batch run every Δ served it instead of the stream.
 *
 * One point-in-time query answers every Δ: the labels are stacked, once as given and once per
 * Δ with the label time moved back by Δ, and joined by the existing training-set builder (the
 * same SQL as `tessera training-set`, on Athena or DuckDB). The rows then go to the pure maths
 * in lambdas/core/staleness.ts. A second query over the offline store counts what a batch
 * schedule would write: the events each view applied and the distinct (entity, Δ period)
 * pairs in the labels' time range.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DuckDbQueryRunner, sqlString } from '../lambdas/adapters/duckdb-runner.js';
import { loadLabels } from '../lambdas/adapters/labels.js';
import type { ProgressListener, TrainingSetRunner } from '../lambdas/adapters/query-runner.js';
import { runOfflineQuery } from '../lambdas/app/offline-query.js';
import { buildTrainingSet } from '../lambdas/app/training-set.js';
import type { FeatureView } from '../lambdas/core/definitions.js';
import { ValidationError } from '../lambdas/core/errors.js';
import { EVENT_ID, EVENT_TS, partitionOf } from '../lambdas/core/offline.js';
import { DEFAULT_TIMESTAMP_COLUMN, ident, ROW_COLUMN } from '../lambdas/core/point-in-time.js';
import type { Registry } from '../lambdas/core/registry.js';
import {
  type AdvisedFeature,
  type AdvisorOptions,
  adviseStaleness,
  type BatchSaving,
  batchSavings,
  type CostPerWrite,
  type StalenessAdvice,
} from '../lambdas/core/staleness.js';

export const DEFAULT_STALENESSES = ['5m', '1h', '6h', '24h'] as const;

/** Defaults for the cost of one online item write, from `npm run bench:stream` (items under 1 KB). */
export const DEFAULT_COST_PER_WRITE: CostPerWrite = { writeUnits: 1, lambdaMs: 5 };

const LABEL_ROW = 'tessera_label_row';
const STALENESS = 'tessera_staleness_ms';

export interface AdviseRequest {
  readonly service: string;
  /** Labels: join keys, a time column, optionally a 0/1 label column (.csv, .parquet, or s3://). */
  readonly labels: string;
  /** Δ in milliseconds, ascending. */
  readonly stalenesses: readonly number[];
  /** The 0/1 outcome column; without it the advisor judges by how often values change. */
  readonly labelColumn?: string;
  /** @default `event_timestamp` */
  readonly timestampColumn?: string;
  readonly options?: AdvisorOptions;
  /** @default DEFAULT_COST_PER_WRITE */
  readonly costPerWrite?: CostPerWrite;
}

export interface AdviseDeps {
  readonly registry: Registry;
  readonly runner: TrainingSetRunner;
  readonly database: string;
  readonly s3?: S3Client;
  readonly onProgress?: ProgressListener;
  readonly tmpDir?: string;
}

export interface ViewSaving {
  readonly view: string;
  readonly savings: readonly BatchSaving[];
}

export interface AdvisorReport extends StalenessAdvice {
  readonly service: string;
  readonly stalenesses: readonly number[];
  /** The label times' range. */
  readonly from: number;
  readonly to: number;
  readonly costPerWrite: CostPerWrite;
  readonly savings: readonly ViewSaving[];
}

export async function adviseService(request: AdviseRequest, deps: AdviseDeps): Promise<AdvisorReport> {
  const stalenesses = [...request.stalenesses].sort((a, b) => a - b);
  if (stalenesses.length === 0 || stalenesses.some((s) => !(s > 0))) throw new ValidationError('give one or more staleness durations, e.g. 5m,1h,6h,24h');
  const timestampColumn = request.timestampColumn ?? DEFAULT_TIMESTAMP_COLUMN;
  const plan = deps.registry.servicePlan(request.service);
  const streaming: AdvisedFeature[] = plan.features.flatMap((f) => {
    const view = plan.views.find((v) => v.view.name === f.view)?.view;
    return f.kind !== 'onDemand' && view?.source.kind === 'stream' ? [{ column: f.column, view: f.view, type: f.type }] : [];
  });
  if (streaming.length === 0) throw new ValidationError(`service ${request.service} serves no feature computed from a stream`);

  const workDir = await mkdtemp(join(deps.tmpDir ?? tmpdir(), 'tessera-advise-'));
  const db = await DuckDbQueryRunner.open();
  try {
    const labels = await loadLabels(db, request.labels, { plan, timestampColumn, workDir, ...(deps.s3 ? { s3: deps.s3 } : {}) });
    if (labels.count === 0 || !labels.timeRange) throw new ValidationError(`labels ${request.labels}: no rows with a time`);
    if (request.labelColumn && !labels.columns.some((c) => c.name === request.labelColumn)) {
      throw new ValidationError(`labels ${request.labels} have no column ${request.labelColumn}`);
    }

    // The labels once per Δ (Δ = 0 first), each with its time moved back by Δ.
    const stacked = join(workDir, 'stacked.csv');
    const others = labels.columns.filter((c) => c.name !== timestampColumn).map((c) => ident(c.name));
    const deltas = [0, ...stalenesses].map((d) => `(${d})`).join(', ');
    await db.exec(
      `COPY (SELECT ${[...others, `${ident(timestampColumn)} - "d" AS ${ident(timestampColumn)}`, `${ident(ROW_COLUMN)} AS ${LABEL_ROW}`, `"d" AS ${STALENESS}`].join(', ')}
        FROM read_parquet(${sqlString(labels.file)}) CROSS JOIN (VALUES ${deltas}) AS "s"("d") ORDER BY ${LABEL_ROW}, ${STALENESS}) TO ${sqlString(stacked)} (FORMAT CSV, HEADER)`,
    );
    const out = join(workDir, 'advisor.parquet');
    await buildTrainingSet(
      { labels: stacked, service: request.service, out, timestampColumn },
      { registry: deps.registry, runner: deps.runner, database: deps.database, tmpDir: workDir, ...(deps.onProgress ? { onProgress: deps.onProgress } : {}) },
    );

    const label = request.labelColumn ? ident(request.labelColumn) : undefined;
    const rows = await db.run(
      `SELECT ${LABEL_ROW}, ${STALENESS}, ${label ? `CAST(${label} AS DOUBLE) AS "label", ` : ''}${streaming.map((f) => ident(f.column)).join(', ')}
       FROM read_parquet(${sqlString(out)})${label ? ` WHERE ${label} IS NOT NULL` : ''} ORDER BY ${LABEL_ROW}, ${STALENESS}`,
    );
    const index = new Map([0, ...stalenesses].map((d, k) => [d, k]));
    const labelRows = new Map<number, number>();
    const values = new Map(streaming.map((f) => [f.column, Array.from({ length: stalenesses.length + 1 }, () => [] as unknown[])]));
    const outcomes: number[] = [];
    for (const row of rows) {
      const k = index.get(Number(row[STALENESS])) as number;
      const id = Number(row[LABEL_ROW]);
      if (!labelRows.has(id)) {
        labelRows.set(id, labelRows.size);
        if (label) outcomes.push(Number(row.label) > 0 ? 1 : 0);
      }
      const i = labelRows.get(id) as number;
      for (const f of streaming) (values.get(f.column)?.[k] as unknown[])[i] = row[f.column] ?? null;
    }
    const advice = adviseStaleness({ features: streaming, stalenesses, values, ...(label ? { labels: outcomes } : {}) }, request.options);

    const views = [...new Set(streaming.map((f) => f.view))].map((name) => plan.views.find((v) => v.view.name === name)?.view as FeatureView);
    const costPerWrite = request.costPerWrite ?? DEFAULT_COST_PER_WRITE;
    const savings: ViewSaving[] = [];
    for (const view of views) {
      const counts = await countWrites(view, stalenesses, labels.timeRange, { ...deps, workDir });
      savings.push({ view: view.name, savings: batchSavings(counts, costPerWrite) });
    }
    return { ...advice, service: request.service, stalenesses, from: labels.timeRange.min, to: labels.timeRange.max, costPerWrite, savings };
  } finally {
    db.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** The SQL (Athena and DuckDB alike) counting a view's events and a batch schedule's item writes per Δ in [from, to]. */
export function writeCountSql(database: string, view: FeatureView, stalenesses: readonly number[], range: { min: number; max: number }): string {
  const keys = view.entities.map((e) => `CAST(${ident(e.joinKey)} AS VARCHAR)`);
  const periods = stalenesses.map(
    (d, k) => `count(DISTINCT concat(${[...keys, `CAST(${ident(EVENT_TS)} - ${ident(EVENT_TS)} % ${d} AS VARCHAR)`].join(", '|', ")})) AS "writes_${k}"`,
  );
  return `SELECT count(DISTINCT ${ident(EVENT_ID)}) AS "events", ${periods.join(', ')}
FROM ${ident(database)}.${ident(view.name)}
WHERE ${ident(EVENT_TS)} BETWEEN ${range.min} AND ${range.max}`;
}

async function countWrites(view: FeatureView, stalenesses: readonly number[], range: { min: number; max: number }, deps: AdviseDeps & { workDir: string }) {
  const from = partitionOf(range.min);
  const to = partitionOf(range.max);
  const [row] = await runOfflineQuery(
    deps.runner,
    {
      sql: writeCountSql(deps.database, view, stalenesses, range),
      database: deps.database,
      views: [{ view, from: `${from.date}/${from.hour}`, to: `${to.date}/${to.hour}` }],
    },
    deps.workDir,
  );
  return {
    periodMs: Math.max(1, range.max - range.min),
    events: Number(row?.events ?? 0),
    batchWrites: new Map(stalenesses.map((d, k) => [d, Number(row?.[`writes_${k}`] ?? 0)])),
  };
}
