/**
 * DuckDB as the query engine of local mode and of laptops without Athena: the offline
 * Parquet objects are fetched through the S3 API (the emulator or AWS alike — DuckDB cannot
 * download its httpfs extension here) into a private folder, exposed as one view per feature
 * view with the Glue table's columns and types, and the point-in-time SQL runs unchanged.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, type S3Client } from '@aws-sdk/client-s3';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import type { Row } from '../core/definitions.js';
import { duckdbType, offlineColumns, parseOfflineKey, viewPrefix } from '../core/offline.js';
import { ident } from '../core/point-in-time.js';
import {
  type ProgressListener,
  plainValue,
  QueryError,
  type QueryRunner,
  type TrainingQuery,
  type TrainingQueryResult,
  type TrainingSetRunner,
  type ViewScan,
} from './query-runner.js';

export const sqlString = (text: string): string => `'${text.replaceAll("'", "''")}'`;

export class DuckDbQueryRunner implements QueryRunner {
  readonly engine = 'duckdb' as const;

  private constructor(
    private readonly instance: DuckDBInstance,
    readonly connection: DuckDBConnection,
  ) {}

  /** An in-memory database. @param options DuckDB settings, e.g. `{ threads: '2' }` */
  static async open(options: Record<string, string> = {}): Promise<DuckDbQueryRunner> {
    const instance = await DuckDBInstance.create(':memory:', options);
    const connection = await instance.connect();
    // Label times written without a zone are read as UTC, as everywhere else in Tessera.
    await connection.run(`SET TimeZone = 'UTC'`);
    return new DuckDbQueryRunner(instance, connection);
  }

  async run(sql: string): Promise<Row[]> {
    try {
      const reader = await this.connection.runAndReadAll(sql);
      return reader.getRowObjectsJS().map((row) => Object.fromEntries(Object.entries(row).map(([k, v]) => [k, plainValue(v)])));
    } catch (error) {
      throw new QueryError('duckdb', (error as Error).message, sql, undefined, { cause: error });
    }
  }

  /** Runs statements that return nothing of interest (DDL, COPY). */
  async exec(sql: string): Promise<void> {
    try {
      await this.connection.run(sql);
    } catch (error) {
      throw new QueryError('duckdb', (error as Error).message, sql, undefined, { cause: error });
    }
  }

  close(): void {
    this.connection.closeSync();
    this.instance.closeSync();
  }
}

/**
 * Creates `database`.`<view>` over the Parquet files under `directory` (hive-partitioned
 * `date=`/`hour=` folders), with the offline columns and types; a column no file has yet (a
 * feature added since) reads as null, and a view with no files is an empty table.
 */
export async function createOfflineView(db: DuckDbQueryRunner, database: string, scan: ViewScan, directory: string | undefined): Promise<void> {
  const columns = offlineColumns(scan.view);
  const name = `${ident(database)}.${ident(scan.view.name)}`;
  await db.exec(`CREATE SCHEMA IF NOT EXISTS ${ident(database)}`);
  if (directory === undefined) {
    const typed = [
      ...columns.map((c) => `CAST(NULL AS ${duckdbType(c.type)}) AS ${ident(c.name)}`),
      `CAST(NULL AS VARCHAR) AS "date"`,
      `CAST(NULL AS VARCHAR) AS "hour"`,
    ];
    await db.exec(`CREATE OR REPLACE VIEW ${name} AS SELECT ${typed.join(', ')} WHERE false`);
    return;
  }
  const source = `read_parquet(${sqlString(join(directory, '**', '*.parquet'))}, hive_partitioning = true, hive_types = {'date': VARCHAR, 'hour': VARCHAR}, union_by_name = true)`;
  const present = new Set((await db.run(`DESCRIBE SELECT * FROM ${source}`)).map((r) => r.column_name as string));
  const typed = columns.map((c) =>
    present.has(c.name) ? `CAST(${ident(c.name)} AS ${duckdbType(c.type)}) AS ${ident(c.name)}` : `CAST(NULL AS ${duckdbType(c.type)}) AS ${ident(c.name)}`,
  );
  await db.exec(`CREATE OR REPLACE VIEW ${name} AS SELECT ${[...typed, '"date"', '"hour"'].join(', ')} FROM ${source}`);
}

export interface DuckDbTrainingRunnerOptions {
  readonly s3: S3Client;
  readonly bucket: string;
  /** Parallel object downloads. @default 16 */
  readonly concurrency?: number;
  /** DuckDB settings. @default {} */
  readonly settings?: Record<string, string>;
}

export class DuckDbTrainingRunner implements TrainingSetRunner {
  readonly engine = 'duckdb' as const;

  constructor(private readonly options: DuckDbTrainingRunnerOptions) {}

  async run(query: TrainingQuery, onProgress: ProgressListener = () => {}): Promise<TrainingQueryResult> {
    const directories = await this.fetch(query, onProgress);
    const db = await DuckDbQueryRunner.open(this.options.settings);
    try {
      for (const scan of query.views) await createOfflineView(db, query.database, scan, directories.get(scan.view.name));
      await db.exec(`CREATE TABLE ${ident(query.database)}.${ident(query.labelsTable)} AS SELECT * FROM read_parquet(${sqlString(query.labelsFile)})`);
      onProgress({ stage: 'query', message: 'running the point-in-time join on DuckDB' });
      const file = join(query.workDir, 'result.parquet');
      try {
        await db.connection.run(`COPY (${query.sql}) TO ${sqlString(file)} (FORMAT PARQUET, COMPRESSION SNAPPY)`);
      } catch (error) {
        throw new QueryError('duckdb', (error as Error).message, query.sql, undefined, { cause: error });
      }
      return { files: [file], engine: 'duckdb' };
    } finally {
      db.close();
    }
  }

  /** Downloads each view's objects in its partition range; the folder per view that has any. */
  private async fetch(query: TrainingQuery, onProgress: ProgressListener): Promise<Map<string, string>> {
    const { s3, bucket } = this.options;
    const wanted: { view: string; key: string }[] = [];
    for (const scan of query.views) {
      const prefix = viewPrefix(scan.view.name);
      let token: string | undefined;
      do {
        const page = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: prefix, ContinuationToken: token }));
        for (const o of page.Contents ?? []) {
          const parsed = o.Key ? parseOfflineKey(o.Key) : undefined;
          if (!parsed || parsed.view !== scan.view.name) continue;
          const at = `${parsed.date}/${parsed.hour}`;
          if ((scan.from && at < scan.from) || (scan.to && at > scan.to)) continue;
          wanted.push({ view: scan.view.name, key: o.Key as string });
        }
        token = page.IsTruncated ? page.NextContinuationToken : undefined;
      } while (token);
    }
    const directories = new Map<string, string>();
    let done = 0;
    onProgress({ stage: 'fetch', message: 'fetching offline objects', done, total: wanted.length });
    const queue = [...wanted];
    const worker = async () => {
      for (let item = queue.shift(); item; item = queue.shift()) {
        const got = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: item.key }));
        const bytes = await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray();
        const path = join(query.workDir, item.key);
        await mkdir(dirname(path), { recursive: true });
        await writeFile(path, bytes);
        directories.set(item.view, join(query.workDir, viewPrefix(item.view)));
        onProgress({ stage: 'fetch', message: 'fetching offline objects', done: ++done, total: wanted.length });
      }
    };
    await Promise.all(Array.from({ length: this.options.concurrency ?? 16 }, worker));
    return directories;
  }
}
