/**
 * Label files for training sets: a local Parquet or CSV file, or an `s3://` object, read by
 * DuckDB and normalized into the labels table every engine joins — `__row` (the label order),
 * join keys typed as their entities, the time column as epoch milliseconds (numbers are taken
 * as milliseconds; timestamps and ISO-8601 text without a zone as UTC), and every other
 * column kept, as BIGINT, DOUBLE, BOOLEAN or text.
 */
import { writeFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { GetObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import { ValidationError } from '../core/errors.js';
import { ident, labelsProblem, ROW_COLUMN } from '../core/point-in-time.js';
import type { ReadPlan } from '../core/registry.js';
import { type DuckDbQueryRunner, sqlString } from './duckdb-runner.js';
import { type LabelColumn, QueryError } from './query-runner.js';

export interface LoadedLabels {
  /** The normalized labels, a local Parquet file. */
  readonly file: string;
  /** The label columns in file order (without `__row`), with their Glue types. */
  readonly columns: readonly LabelColumn[];
  readonly count: number;
  /** Smallest and largest label time; absent when no row has one. */
  readonly timeRange?: { readonly min: number; readonly max: number };
}

export interface S3Location {
  readonly bucket: string;
  readonly key: string;
}

export function parseS3Uri(uri: string): S3Location | undefined {
  const m = /^s3:\/\/([^/]+)\/(.+)$/.exec(uri);
  return m ? { bucket: m[1] as string, key: m[2] as string } : undefined;
}

const INTEGER = /^(TINYINT|SMALLINT|INTEGER|BIGINT|HUGEINT|UTINYINT|USMALLINT|UINTEGER|UBIGINT|UHUGEINT)$/;
const DECIMAL = /^(FLOAT|DOUBLE|REAL|DECIMAL.*)$/;
const TIMESTAMP = /^(TIMESTAMP.*|DATE)$/;

/** Reads the labels at `source` into `<workDir>/labels.parquet`, normalized for `plan`. */
export async function loadLabels(
  db: DuckDbQueryRunner,
  source: string,
  options: { readonly plan: ReadPlan; readonly timestampColumn: string; readonly workDir: string; readonly s3?: S3Client },
): Promise<LoadedLabels> {
  const path = await localCopy(source, options.workDir, options.s3);
  const format = extname(path).toLowerCase();
  const reader =
    format === '.parquet' || format === '.pq'
      ? `read_parquet(${sqlString(path)})`
      : format === '.csv' || format === '.tsv'
        ? `read_csv(${sqlString(path)}, header = true)`
        : undefined;
  if (!reader) throw new ValidationError(`labels ${source}: give a .parquet or .csv file`);
  await db.exec(`CREATE OR REPLACE TABLE "__raw_labels" AS SELECT * FROM ${reader}`).catch((error: unknown) => {
    throw new ValidationError(`labels ${source} cannot be read: ${error instanceof QueryError ? error.reason : (error as Error).message}`);
  });
  const described = await db.run(`DESCRIBE "__raw_labels"`);
  const names = described.map((c) => c.column_name as string);
  const problem = labelsProblem(options.plan, names, options.timestampColumn);
  if (problem) throw new ValidationError(`labels ${source}: ${problem}`);

  const keyTypes = new Map(options.plan.views.flatMap(({ view }) => view.entities.map((e) => [e.joinKey, e.keyType] as const)));
  const columns: LabelColumn[] = [];
  const select = [`rowid AS ${ident(ROW_COLUMN)}`];
  for (const c of described) {
    const name = c.column_name as string;
    const type = String(c.column_type).toUpperCase();
    const column = ident(name);
    let expression: string;
    let hiveType: string;
    if (name === options.timestampColumn) {
      [expression, hiveType] = [epochMs(column, type), 'bigint'];
    } else if (keyTypes.has(name)) {
      [expression, hiveType] = keyTypes.get(name) === 'int' ? [`CAST(${column} AS BIGINT)`, 'bigint'] : [`CAST(${column} AS VARCHAR)`, 'string'];
    } else if (INTEGER.test(type)) {
      [expression, hiveType] = [`CAST(${column} AS BIGINT)`, 'bigint'];
    } else if (DECIMAL.test(type)) {
      [expression, hiveType] = [`CAST(${column} AS DOUBLE)`, 'double'];
    } else if (type === 'BOOLEAN') {
      [expression, hiveType] = [column, 'boolean'];
    } else {
      [expression, hiveType] = [`CAST(${column} AS VARCHAR)`, 'string'];
    }
    select.push(`${expression} AS ${column}`);
    columns.push({ name, hiveType });
  }
  const file = join(options.workDir, 'labels.parquet');
  try {
    await db.exec(`COPY (SELECT ${select.join(', ')} FROM "__raw_labels" ORDER BY rowid) TO ${sqlString(file)} (FORMAT PARQUET)`);
  } catch (error) {
    throw new ValidationError(`labels ${source}: ${error instanceof QueryError ? error.reason : (error as Error).message}`, undefined, { cause: error });
  }
  const ts = ident(options.timestampColumn);
  const [stats] = await db.run(`SELECT count(*) AS n, min(${ts}) AS lo, max(${ts}) AS hi FROM read_parquet(${sqlString(file)})`);
  await db.exec(`DROP TABLE "__raw_labels"`);
  const count = Number(stats?.n ?? 0);
  const timeRange = stats?.lo === null || stats?.lo === undefined ? undefined : { min: Number(stats.lo), max: Number(stats.hi) };
  return { file, columns, count, ...(timeRange ? { timeRange } : {}) };
}

/** The label time as epoch milliseconds, from whatever type the file gave it. */
function epochMs(column: string, type: string): string {
  if (INTEGER.test(type)) return `CAST(${column} AS BIGINT)`;
  if (DECIMAL.test(type)) return `CAST(round(${column}) AS BIGINT)`;
  if (TIMESTAMP.test(type)) return type.includes('TIME ZONE') ? `epoch_ms(${column})` : `epoch_ms(CAST(${column} AS TIMESTAMP))`;
  // Text: ISO-8601, with or without a zone (UTC then), or digits of epoch milliseconds.
  return `CASE WHEN regexp_full_match(${column}, '\\d+') THEN CAST(${column} AS BIGINT) ELSE epoch_ms(CAST(${column} AS TIMESTAMPTZ)) END`;
}

async function localCopy(source: string, workDir: string, s3: S3Client | undefined): Promise<string> {
  const location = parseS3Uri(source);
  if (!location) return source;
  if (!s3) throw new ValidationError(`labels ${source}: no S3 client configured`);
  const got = await s3.send(new GetObjectCommand({ Bucket: location.bucket, Key: location.key }));
  const path = join(workDir, `labels-source${extname(location.key)}`);
  await writeFile(path, await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
  return path;
}
