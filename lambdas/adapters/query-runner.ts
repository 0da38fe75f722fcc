/**
 * Query engines behind one small interface: `QueryRunner.run(sql)` for any query, and
 * `TrainingSetRunner.run(job)` for the point-in-time join, which also has to make the labels
 * and the offline tables visible to the engine under the names the SQL uses. Athena reads
 * the Glue tables over S3; DuckDB reads the same Parquet objects, fetched through the S3 API.
 */
import type { FeatureView, Row } from '../core/definitions.js';
import { TesseraError } from '../core/errors.js';

export type Engine = 'athena' | 'duckdb';

export interface QueryRunner {
  readonly engine: Engine;
  /** The rows of a query; BIGINTs as numbers when they fit, else as strings. Throws QueryError. */
  run(sql: string): Promise<Row[]>;
}

/** A query the engine refused or failed: its own message, and the SQL it was given. */
export class QueryError extends TesseraError {
  constructor(
    readonly engine: Engine,
    readonly reason: string,
    readonly sql: string,
    readonly queryId?: string,
    options?: ErrorOptions,
  ) {
    super('QueryError', `${engine} query failed${queryId ? ` (${queryId})` : ''}: ${reason}`, undefined, options);
  }
}

export interface LabelColumn {
  readonly name: string;
  /** Glue/Hive type: bigint, double, boolean or string. */
  readonly hiveType: string;
}

/** One point-in-time join for a training-set runner. */
export interface TrainingQuery {
  /** The SQL from `pointInTimeSql`, referring to `database`.`<view>` and `database`.`labelsTable`. */
  readonly sql: string;
  readonly database: string;
  readonly labelsTable: string;
  /** The normalized labels as a local Parquet file (`__row`, keys, epoch-ms time, other columns). */
  readonly labelsFile: string;
  readonly labelColumns: readonly LabelColumn[];
  /** The views the SQL reads, with the event-time partitions it can match (inclusive). */
  readonly views: readonly ViewScan[];
  /** A private local folder for this job; removed by the caller afterwards. */
  readonly workDir: string;
  /** A unique id of the job, for object and table names. */
  readonly runId: string;
}

export interface ViewScan {
  readonly view: FeatureView;
  /** Inclusive partition bounds ("YYYY-MM-DD/HH"); `from` absent means from the beginning. */
  readonly from?: string;
  readonly to?: string;
}

export interface TrainingQueryResult {
  /** Local Parquet files holding the result rows, in any order (they carry `__row`). */
  readonly files: readonly string[];
  readonly engine: Engine;
  readonly queryId?: string;
  readonly bytesScanned?: number;
  /** At Athena's $5 per TB scanned (10 MB minimum per query). */
  readonly costUsd?: number;
}

export type ProgressStage = 'labels' | 'fetch' | 'upload' | 'query' | 'download' | 'on-demand' | 'write';

export interface Progress {
  readonly stage: ProgressStage;
  readonly message: string;
  /** Units done and in total, when the stage can count them. */
  readonly done?: number;
  readonly total?: number;
}

export type ProgressListener = (progress: Progress) => void;

export interface TrainingSetRunner {
  readonly engine: Engine;
  run(query: TrainingQuery, onProgress?: ProgressListener): Promise<TrainingQueryResult>;
}

/** Converts a DuckDB/Athena value to plain JSON-like JavaScript: safe BIGINTs as numbers. */
export function plainValue(value: unknown): unknown {
  if (typeof value === 'bigint') return value >= BigInt(Number.MIN_SAFE_INTEGER) && value <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(value) : value.toString();
  if (Array.isArray(value)) return value.map(plainValue);
  return value;
}
