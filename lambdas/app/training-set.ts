/**
 * `buildTrainingSet`: point-in-time correct training sets for notebooks, pipelines and the
 * CLI. Labels (entity keys, a time, anything else) in; out, one row per label row with every
 * feature of a service (or a feature list) as of that time — on Athena or on DuckDB, the
 * same SQL either way — with on-demand features computed by their own `compute`, as the
 * serve handler does.
 *
 * ```ts
 * const summary = await buildTrainingSet(
 *   { labels: 'labels.parquet', service: 'fraud_v1', out: 's3://my-bucket/training/fraud_v1.parquet' },
 *   { registry, runner: new AthenaTrainingRunner({ athena, s3, bucket, workgroup }), s3, database },
 * );
 * ```
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { extname, join } from 'node:path';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { DuckDbQueryRunner, sqlString } from '../adapters/duckdb-runner.js';
import { loadLabels, parseS3Uri } from '../adapters/labels.js';
import type { Engine, ProgressListener, TrainingSetRunner, ViewScan } from '../adapters/query-runner.js';
import { finalizeSqlAggregate } from '../core/aggregation-functions.js';
import type { Row } from '../core/definitions.js';
import { ValidationError } from '../core/errors.js';
import { duckdbType } from '../core/offline.js';
import { DEFAULT_TIMESTAMP_COLUMN, eventTimeBounds, ident, partitionRange, pointInTimeSql, ROW_COLUMN, storedFeatures } from '../core/point-in-time.js';
import type { ReadPlan, Registry } from '../core/registry.js';
import { featureColumns, onDemandValues } from '../core/training-set.js';

export interface TrainingSetRequest {
  /** A local `.parquet`/`.csv` file or an `s3://` object: join keys, the time column, anything else. */
  readonly labels: string;
  /** A feature service; or give `features`. */
  readonly service?: string;
  /** Feature references (`view:feature`); or give `service`. */
  readonly features?: readonly string[];
  /** Only values the online API had served at each label time (ingest_ts <= t). @default false */
  readonly asServed?: boolean;
  /** A local path or `s3://` URI; `.csv` writes CSV, anything else Parquet. */
  readonly out: string;
  /** The labels' time column (epoch ms, a timestamp or ISO-8601 text). @default `event_timestamp` */
  readonly timestampColumn?: string;
}

export interface TrainingSetDeps {
  readonly registry: Registry;
  readonly runner: TrainingSetRunner;
  /** The Glue database of the offline tables (DuckDB uses the same name). */
  readonly database: string;
  /** For labels or output given as `s3://` URIs. */
  readonly s3?: S3Client;
  readonly onProgress?: ProgressListener;
  /** @default a random UUID */
  readonly newId?: () => string;
  /** Where the job keeps its files while it runs. @default the OS temp folder */
  readonly tmpDir?: string;
  /** @default Date.now */
  readonly clock?: () => number;
}

export interface TrainingSetSummary {
  readonly rows: number;
  /** The feature columns, `<view>__<feature>`, in the plan's order. */
  readonly features: readonly string[];
  /** Share of nulls per feature column, 0..1. */
  readonly nullRates: Readonly<Record<string, number>>;
  readonly location: string;
  readonly engine: Engine;
  readonly queryId?: string;
  readonly bytesScanned?: number;
  readonly costUsd?: number;
  readonly elapsedMs: number;
  /** The point-in-time SQL that ran. */
  readonly sql: string;
}

/** Rows per chunk when computing on-demand features. */
const CHUNK = 50_000;

export async function buildTrainingSet(request: TrainingSetRequest, deps: TrainingSetDeps): Promise<TrainingSetSummary> {
  const clock = deps.clock ?? Date.now;
  const started = clock();
  const progress = deps.onProgress ?? (() => {});
  const plan = planOf(request, deps.registry);
  const timestampColumn = request.timestampColumn ?? DEFAULT_TIMESTAMP_COLUMN;
  const runId = (deps.newId ?? randomUUID)().replaceAll('-', '');
  const workDir = await mkdtemp(join(deps.tmpDir ?? tmpdir(), 'tessera-training-'));
  const db = await DuckDbQueryRunner.open();
  try {
    progress({ stage: 'labels', message: `reading the labels ${request.labels}` });
    const labels = await loadLabels(db, request.labels, { plan, timestampColumn, workDir, ...(deps.s3 ? { s3: deps.s3 } : {}) });
    if (labels.count === 0) throw new ValidationError(`labels ${request.labels}: no rows`);
    const labelColumns = labels.columns.map((c) => c.name);
    const labelsTable = `tessera_labels_${runId}`;
    const sql = pointInTimeSql({
      plan,
      labels: { table: { database: deps.database, table: labelsTable }, columns: labelColumns, timestampColumn },
      database: deps.database,
      asServed: request.asServed ?? false,
      ...(labels.timeRange ? { timeRange: labels.timeRange } : {}),
    });
    const views: ViewScan[] = plan.views.map(({ view }) => {
      if (!labels.timeRange) return { view };
      const { from, to } = partitionRange(eventTimeBounds(view, labels.timeRange));
      return { view, ...(from ? { from: `${from.date}/${from.hour}` } : {}), to: `${to.date}/${to.hour}` };
    });
    const result = await deps.runner.run(
      { sql, database: deps.database, labelsTable, labelsFile: labels.file, labelColumns: labels.columns, views, workDir, runId },
      progress,
    );

    await db.exec(
      result.files.length
        ? `CREATE TABLE "__result" AS SELECT * FROM read_parquet([${result.files.map(sqlString).join(', ')}])`
        : `CREATE TABLE "__result" AS SELECT * FROM read_parquet(${sqlString(labels.file)}) WHERE false`,
    );
    const [counted] = await db.run(`SELECT count(*) AS n FROM "__result"`);
    if (Number(counted?.n) !== labels.count) {
      throw new Error(`the ${result.engine} join returned ${counted?.n} rows for ${labels.count} label rows; this is a bug, please report it`);
    }
    const inTypeScript = plan.onDemand.length || storedFeatures(plan).some((f) => f.kind === 'aggregation');
    const onDemand = inTypeScript ? await computeOnDemand(db, plan, labelColumns, labels.count, workDir, progress) : undefined;

    // Row features come straight from the join; aggregates and on-demand features from the TypeScript pass.
    const stored = new Set(
      storedFeatures(plan)
        .filter((f) => f.kind === 'row')
        .map((f) => f.column),
    );
    const output = [...labelColumns.map((c) => `"r".${ident(c)}`), ...featureColumns(plan).map((c) => (stored.has(c) ? `"r".${ident(c)}` : `"o".${ident(c)}`))];
    const final = `SELECT ${output.join(', ')} FROM "__result" AS "r"${onDemand ? ` LEFT JOIN ${onDemand} AS "o" USING (${ident(ROW_COLUMN)})` : ''} ORDER BY "r".${ident(ROW_COLUMN)}`;

    progress({ stage: 'write', message: `writing ${request.out}` });
    const target = parseS3Uri(request.out);
    const file = target ? join(workDir, `out${extname(target.key) || '.parquet'}`) : request.out;
    const format = extname(file).toLowerCase() === '.csv' ? '(FORMAT CSV, HEADER)' : '(FORMAT PARQUET, COMPRESSION SNAPPY)';
    await db.exec(`CREATE TABLE "__final" AS ${final}`);
    await db.exec(`COPY "__final" TO ${sqlString(file)} ${format}`);
    if (target) {
      if (!deps.s3) throw new ValidationError(`out ${request.out}: no S3 client configured`);
      await deps.s3.send(new PutObjectCommand({ Bucket: target.bucket, Key: target.key, Body: await readFile(file) }));
    }

    const columns = featureColumns(plan);
    const [nonNull] = await db.run(`SELECT ${columns.map((c, i) => `count(${ident(c)}) AS "c${i}"`).join(', ') || '0 AS "none"'} FROM "__final"`);
    const nullRates = Object.fromEntries(columns.map((c, i) => [c, 1 - Number(nonNull?.[`c${i}`] ?? 0) / labels.count]));
    return {
      rows: labels.count,
      features: columns,
      nullRates,
      location: request.out,
      engine: result.engine,
      ...(result.queryId ? { queryId: result.queryId } : {}),
      ...(result.bytesScanned !== undefined ? { bytesScanned: result.bytesScanned } : {}),
      ...(result.costUsd !== undefined ? { costUsd: result.costUsd } : {}),
      elapsedMs: clock() - started,
      sql,
    };
  } finally {
    db.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

function planOf(request: TrainingSetRequest, registry: Registry): ReadPlan {
  if ((request.service === undefined) === (request.features === undefined)) throw new ValidationError('give either a service or a list of features');
  return request.service ? registry.servicePlan(request.service) : registry.plan(request.features as string[]);
}

/**
 * The part of every training row that TypeScript computes, chunk by chunk, into a table keyed
 * by `__row` (returns its name): windowed aggregates finished by `finalizeSqlAggregate` (as the
 * tiles are online), then the on-demand features by their own `compute`.
 */
async function computeOnDemand(
  db: DuckDbQueryRunner,
  plan: ReadPlan,
  labelColumns: readonly string[],
  count: number,
  workDir: string,
  progress: ProgressListener,
): Promise<string> {
  const stored = storedFeatures(plan);
  const aggregates = stored.flatMap((f) => {
    const aggregation =
      f.kind === 'aggregation' ? plan.views.find((v) => v.view.name === f.view)?.view.aggregations.find((a) => a.name === f.feature) : undefined;
    return aggregation ? [{ column: f.column, type: f.type, aggregation }] : [];
  });
  const outputs = [
    ...aggregates,
    ...plan.onDemand.flatMap((odfv) => Object.entries(odfv.features).map(([name, type]) => ({ column: `${odfv.name}__${name}`, type }))),
  ];
  const file = join(workDir, 'on-demand.jsonl');
  await writeFile(file, '');
  for (let from = 0; from < count; from += CHUNK) {
    progress({ stage: 'on-demand', message: 'computing on-demand features', done: from, total: count });
    const rows = await db.run(`SELECT * FROM "__result" WHERE ${ident(ROW_COLUMN)} >= ${from} AND ${ident(ROW_COLUMN)} < ${from + CHUNK}`);
    const lines = rows.map((row) => {
      const label: Row = Object.fromEntries(labelColumns.map((c) => [c, row[c] ?? null]));
      const features: Row = Object.fromEntries(stored.map((f) => [f.column, row[f.column] ?? null]));
      for (const a of aggregates) features[a.column] = finalizeSqlAggregate(a.aggregation, features[a.column]);
      const finished = Object.fromEntries(aggregates.map((a) => [a.column, features[a.column]]));
      return JSON.stringify({ [ROW_COLUMN]: row[ROW_COLUMN], ...finished, ...onDemandValues(plan, label, features, Number(row[ROW_COLUMN])) });
    });
    await writeFile(file, `${lines.join('\n')}\n`, { flag: 'a' });
  }
  progress({ stage: 'on-demand', message: 'computing on-demand features', done: count, total: count });
  const types = [`${sqlString(ROW_COLUMN)}: 'BIGINT'`, ...outputs.map((o) => `${sqlString(o.column)}: ${sqlString(duckdbType(o.type))}`)];
  await db.exec(`CREATE TABLE "__on_demand" AS SELECT * FROM read_json(${sqlString(file)}, format = 'newline_delimited', columns = {${types.join(', ')}})`);
  return '"__on_demand"';
}

export interface RunnerAccess {
  readonly engine: Engine;
  readonly s3: S3Client;
  /** The store's bucket (offline rows; Athena's labels and results). */
  readonly bucket: string;
  /** Athena only. */
  readonly athena?: import('@aws-sdk/client-athena').AthenaClient;
  /** Athena only: the store's workgroup. */
  readonly workgroup?: string;
}

/** The training-set runner of an engine, for a composition root (CLI, notebook helper). */
export async function createTrainingSetRunner(access: RunnerAccess): Promise<TrainingSetRunner> {
  if (access.engine === 'duckdb') {
    const { DuckDbTrainingRunner } = await import('../adapters/duckdb-runner.js');
    return new DuckDbTrainingRunner({ s3: access.s3, bucket: access.bucket });
  }
  if (!access.athena || !access.workgroup) throw new ValidationError('the athena engine needs an Athena client and the workgroup name');
  const { AthenaTrainingRunner } = await import('../adapters/athena-runner.js');
  return new AthenaTrainingRunner({ athena: access.athena, s3: access.s3, bucket: access.bucket, workgroup: access.workgroup });
}
