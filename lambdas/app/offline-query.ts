/**
 * Any read-only SQL over the offline views, run by a training-set runner: the same engine,
 * tables and partition pruning as a training set (Athena's UNLOAD deployed, DuckDB over the
 * fetched Parquet objects locally), so one SQL text serves both. The runner's protocol needs
 * a labels table; a one-row placeholder stands in.
 */
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { S3Client } from '@aws-sdk/client-s3';
import { DuckDbQueryRunner, DuckDbTrainingRunner, sqlString } from '../adapters/duckdb-runner.js';
import type { TrainingSetRunner, ViewScan } from '../adapters/query-runner.js';
import type { OfflineSql } from '../app/profile-job.js';
import type { Row } from '../core/definitions.js';

export interface OfflineQuery {
  readonly sql: string;
  readonly database: string;
  /** The views the SQL reads, with the partitions it may need. */
  readonly views: readonly ViewScan[];
}

let serial = 0;

export async function runOfflineQuery(runner: TrainingSetRunner, query: OfflineQuery, tmpDir = tmpdir()): Promise<Row[]> {
  const workDir = await mkdtemp(join(tmpDir, 'tessera-query-'));
  const db = await DuckDbQueryRunner.open();
  try {
    const runId = `q${process.pid}x${++serial}x${Date.now().toString(36)}`;
    const labelsFile = join(workDir, 'placeholder.parquet');
    await db.exec(`COPY (SELECT 0 AS "__row") TO ${sqlString(labelsFile)} (FORMAT PARQUET)`);
    const jobDir = join(workDir, 'job');
    await mkdir(jobDir, { recursive: true });
    const result = await runner.run({
      sql: query.sql,
      database: query.database,
      labelsTable: `tessera_labels_${runId}`,
      labelsFile,
      labelColumns: [],
      views: query.views,
      workDir: jobDir,
      runId,
    });
    if (result.files.length === 0) return [];
    return await db.run(`SELECT * FROM read_parquet([${result.files.map(sqlString).join(', ')}])`);
  } finally {
    db.close();
    await rm(workDir, { recursive: true, force: true });
  }
}

/** Offline SQL on DuckDB over the store's objects, fetched through the S3 API (local mode, tests): the profile job's local engine. */
export function duckDbOfflineSql(s3: S3Client, bucket: string, database: string, tmpDir?: string): OfflineSql {
  const runner = new DuckDbTrainingRunner({ s3, bucket });
  return { run: (sql, views) => runOfflineQuery(runner, { sql, database, views }, tmpDir) };
}
