/**
 * `tessera audit`: who read which features, from the audit rows under `audit/date=…/`. A
 * deployed store answers through Athena over the Glue table; local mode through DuckDB over
 * the same rows, fetched through the S3 API (DuckDB cannot reach S3 itself here). Both run
 * `auditQuerySql`, unchanged.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { BucketObjects } from '../lambdas/adapters/bucket-objects.js';
import { DuckDbQueryRunner, sqlString } from '../lambdas/adapters/duckdb-runner.js';
import type { QueryRunner } from '../lambdas/adapters/query-runner.js';
import { AUDIT_PREFIX, AUDIT_TABLE, type AuditQuery, auditDate, auditQuerySql } from '../lambdas/core/audit.js';
import type { Row } from '../lambdas/core/definitions.js';

/** The audit rows' columns as DuckDB reads them (the Glue table's, in DuckDB types). */
const DUCKDB_COLUMNS = `{message: 'VARCHAR', audit: 'STRUCT(ts BIGINT, request_id VARCHAR, principal VARCHAR, route VARCHAR, service VARCHAR, features VARCHAR[], pii_features VARCHAR[], entity_count INTEGER, status INTEGER)'}`;

/** Runs the audit query on Athena (deployed): `runner` is bound to the store's Glue database. */
export function queryAuditWithAthena(runner: QueryRunner, query: AuditQuery): Promise<Row[]> {
  return runner.run(auditQuerySql(AUDIT_TABLE, query));
}

/** Runs the audit query on DuckDB over the audit objects of `objects` from the day of `query.since` on. */
export async function queryAuditWithDuckDb(objects: BucketObjects, query: AuditQuery): Promise<Row[]> {
  const from = `${AUDIT_PREFIX}date=${auditDate(query.since)}`;
  const keys = (await objects.list(AUDIT_PREFIX)).map((o) => o.key).filter((key) => key >= from);
  if (!keys.length) return [];
  const folder = await mkdtemp(join(tmpdir(), 'tessera-audit-'));
  const db = await DuckDbQueryRunner.open({ threads: '2' });
  try {
    for (const key of keys) {
      const file = join(folder, key);
      await mkdir(dirname(file), { recursive: true });
      await writeFile(file, await objects.get(key));
    }
    await db.exec(
      `CREATE VIEW ${AUDIT_TABLE} AS SELECT * FROM read_json(${sqlString(join(folder, AUDIT_PREFIX, '**', '*'))}, format = 'newline_delimited', ` +
        `hive_partitioning = true, hive_types = {'date': 'VARCHAR'}, columns = ${DUCKDB_COLUMNS})`,
    );
    return await db.run(auditQuerySql(AUDIT_TABLE, query));
  } finally {
    db.close();
    await rm(folder, { recursive: true, force: true });
  }
}
