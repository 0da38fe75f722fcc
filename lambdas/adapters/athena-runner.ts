/**
 * Athena as the query engine: queries run in the store's workgroup (engine v3, enforced
 * result location, bytes-scanned limit), polled with backoff; failures surface Athena's own
 * reason with the SQL. Training sets upload the labels as Parquet next to the results,
 * declare them as a Glue table for the duration of the job, UNLOAD the point-in-time join to
 * Parquet in S3, and bring the result files home.
 */
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { type AthenaClient, GetQueryExecutionCommand, GetQueryResultsCommand, type QueryExecution, StartQueryExecutionCommand } from '@aws-sdk/client-athena';
import { DeleteObjectCommand, GetObjectCommand, ListObjectsV2Command, PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { Row } from '../core/definitions.js';
import { ROW_COLUMN } from '../core/point-in-time.js';
import { type ProgressListener, QueryError, type QueryRunner, type TrainingQuery, type TrainingQueryResult, type TrainingSetRunner } from './query-runner.js';

/** Athena's price: $5 per TB scanned, rounded up to the megabyte, 10 MB minimum per query. */
export const USD_PER_TB = 5;
const MB = 1024 * 1024;
const TB = 1024 ** 4;

export function athenaCostUsd(bytesScanned: number): number {
  const billed = Math.max(10 * MB, Math.ceil(bytesScanned / MB) * MB);
  return (billed / TB) * USD_PER_TB;
}

export interface AthenaOptions {
  readonly workgroup: string;
  /** The Glue database queries run in. */
  readonly database?: string;
  /** First poll delay, doubled up to `maxPollMs`. @default 250 */
  readonly pollMs?: number;
  /** @default 5000 */
  readonly maxPollMs?: number;
  /** Give up (and report) after this long. @default 30 minutes */
  readonly timeoutMs?: number;
  /** For tests. @default setTimeout */
  readonly sleep?: (ms: number) => Promise<void>;
}

export interface ExecutedQuery {
  readonly queryId: string;
  readonly bytesScanned: number;
  readonly execution: QueryExecution;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class AthenaQueryRunner implements QueryRunner {
  readonly engine = 'athena' as const;

  constructor(
    private readonly client: AthenaClient,
    private readonly options: AthenaOptions,
  ) {}

  /** Starts a query and waits for it; throws QueryError with Athena's reason when it fails. */
  async execute(sql: string): Promise<ExecutedQuery> {
    const { pollMs = 250, maxPollMs = 5_000, timeoutMs = 30 * 60_000 } = this.options;
    const wait = this.options.sleep ?? sleep;
    let queryId: string | undefined;
    try {
      const started = await this.client.send(
        new StartQueryExecutionCommand({
          QueryString: sql,
          WorkGroup: this.options.workgroup,
          ...(this.options.database ? { QueryExecutionContext: { Database: this.options.database } } : {}),
        }),
      );
      queryId = started.QueryExecutionId;
    } catch (error) {
      throw new QueryError('athena', (error as Error).message, sql, undefined, { cause: error });
    }
    if (!queryId) throw new QueryError('athena', 'StartQueryExecution returned no query id', sql);
    let delay = pollMs;
    for (let waited = 0; ; waited += delay, delay = Math.min(delay * 2, maxPollMs)) {
      const { QueryExecution: execution } = await this.client.send(new GetQueryExecutionCommand({ QueryExecutionId: queryId }));
      const state = execution?.Status?.State;
      if (state === 'SUCCEEDED') return { queryId, bytesScanned: execution?.Statistics?.DataScannedInBytes ?? 0, execution: execution as QueryExecution };
      if (state === 'FAILED' || state === 'CANCELLED') {
        const reason = execution?.Status?.AthenaError?.ErrorMessage ?? execution?.Status?.StateChangeReason ?? state;
        throw new QueryError('athena', reason, sql, queryId);
      }
      if (waited >= timeoutMs) throw new QueryError('athena', `still ${state ?? 'pending'} after ${Math.round(timeoutMs / 1000)} s`, sql, queryId);
      await wait(delay);
    }
  }

  async run(sql: string): Promise<Row[]> {
    const { queryId } = await this.execute(sql);
    const rows: Row[] = [];
    let token: string | undefined;
    let header = true;
    do {
      const page = await this.client.send(new GetQueryResultsCommand({ QueryExecutionId: queryId, NextToken: token }));
      const columns = page.ResultSet?.ResultSetMetadata?.ColumnInfo ?? [];
      for (const row of page.ResultSet?.Rows ?? []) {
        // The first row of a SELECT's first page repeats the column names.
        if (header) {
          header = false;
          if ((row.Data ?? []).every((d, i) => d.VarCharValue === columns[i]?.Name)) continue;
        }
        rows.push(Object.fromEntries(columns.map((c, i) => [c.Name as string, parseValue(c.Type ?? 'varchar', row.Data?.[i]?.VarCharValue)])));
      }
      token = page.NextToken;
    } while (token);
    return rows;
  }
}

/** Athena returns every value as text; numbers and booleans are turned back into values. */
function parseValue(type: string, text: string | undefined): unknown {
  if (text === undefined) return null;
  switch (type.toLowerCase()) {
    case 'bigint':
    case 'integer':
    case 'smallint':
    case 'tinyint': {
      const n = Number(text);
      return Number.isSafeInteger(n) ? n : text;
    }
    case 'double':
    case 'float':
    case 'real':
    case 'decimal':
      return Number(text);
    case 'boolean':
      return text === 'true';
    default:
      return text;
  }
}

export interface AthenaTrainingRunnerOptions extends AthenaOptions {
  readonly athena: AthenaClient;
  readonly s3: S3Client;
  /** The store's bucket; labels and results go under `prefix`. */
  readonly bucket: string;
  /** Inside the workgroup's result location, which the bucket's lifecycle expires. @default `athena-results/training/` */
  readonly prefix?: string;
}

const hiveIdent = (name: string) => `\`${name.replaceAll('`', '``')}\``;
const quoteSql = (text: string) => `'${text.replaceAll("'", "''")}'`;

export class AthenaTrainingRunner implements TrainingSetRunner {
  readonly engine = 'athena' as const;

  constructor(private readonly options: AthenaTrainingRunnerOptions) {}

  async run(query: TrainingQuery, onProgress: ProgressListener = () => {}): Promise<TrainingQueryResult> {
    const { s3, bucket } = this.options;
    const athena = new AthenaQueryRunner(this.options.athena, { ...this.options, database: query.database });
    const base = `${this.options.prefix ?? 'athena-results/training/'}${query.runId}/`;
    const labelsPrefix = `${base}labels/`;
    const resultPrefix = `${base}result/`;
    const labelsTable = `${hiveIdent(query.database)}.${hiveIdent(query.labelsTable)}`;
    try {
      onProgress({ stage: 'upload', message: 'uploading the labels to S3' });
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: `${labelsPrefix}labels.parquet`, Body: await readFile(query.labelsFile) }));
      const columns = [`${hiveIdent(ROW_COLUMN)} bigint`, ...query.labelColumns.map((c) => `${hiveIdent(c.name)} ${c.hiveType}`)];
      await athena.execute(
        `CREATE EXTERNAL TABLE ${labelsTable} (${columns.join(', ')}) STORED AS PARQUET LOCATION ${quoteSql(`s3://${bucket}/${labelsPrefix}`)}`,
      );
      onProgress({ stage: 'query', message: 'running the point-in-time join on Athena' });
      const unload = `UNLOAD (${query.sql}) TO ${quoteSql(`s3://${bucket}/${resultPrefix}`)} WITH (format = 'PARQUET', compression = 'SNAPPY')`;
      let executed: ExecutedQuery;
      try {
        executed = await athena.execute(unload);
      } catch (error) {
        // Report the point-in-time SQL itself: it is what a user would paste into the console.
        if (error instanceof QueryError) throw new QueryError('athena', error.reason, query.sql, error.queryId, { cause: error });
        throw error;
      }
      const files = await this.download(resultPrefix, query.workDir, onProgress);
      return { files, engine: 'athena', queryId: executed.queryId, bytesScanned: executed.bytesScanned, costUsd: athenaCostUsd(executed.bytesScanned) };
    } finally {
      await athena.execute(`DROP TABLE IF EXISTS ${labelsTable}`).catch(() => undefined);
      await this.remove(base).catch(() => undefined);
    }
  }

  private async keys(prefix: string): Promise<string[]> {
    const keys: string[] = [];
    let token: string | undefined;
    do {
      const page = await this.options.s3.send(new ListObjectsV2Command({ Bucket: this.options.bucket, Prefix: prefix, ContinuationToken: token }));
      for (const o of page.Contents ?? []) if (o.Key) keys.push(o.Key);
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return keys;
  }

  private async download(prefix: string, workDir: string, onProgress: ProgressListener): Promise<string[]> {
    const keys = await this.keys(prefix);
    const files: string[] = [];
    for (const [i, key] of keys.entries()) {
      onProgress({ stage: 'download', message: 'downloading the result', done: i, total: keys.length });
      const got = await this.options.s3.send(new GetObjectCommand({ Bucket: this.options.bucket, Key: key }));
      const file = join(workDir, `result-${i}.parquet`);
      await writeFile(file, await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      files.push(file);
    }
    onProgress({ stage: 'download', message: 'downloading the result', done: keys.length, total: keys.length });
    return files;
  }

  private async remove(prefix: string): Promise<void> {
    for (const key of await this.keys(prefix)) await this.options.s3.send(new DeleteObjectCommand({ Bucket: this.options.bucket, Key: key }));
  }
}
