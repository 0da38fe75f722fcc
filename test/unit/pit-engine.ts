/**
 * The engine the point-in-time tests execute the generated SQL on, chosen by the target
 * (`sqlEngine()` in test/support/target.ts): DuckDB in-process over real Parquet partitions,
 * as local mode reads them; or Trino 476 — Athena's engine — with the same rows in its memory
 * connector's catalog. The tests are written once against this interface, so the same
 * generated text meets the same brute-force reference on both engines.
 *
 * Why the memory connector rather than Hive over the Parquet objects: what can differ
 * between the engines is how they evaluate the SQL (comparisons, arithmetic, windows, NULL
 * order), not how they read Parquet; the memory connector needs no metastore and loads a
 * table in one statement; the property tests check their samples in batches (a Trino query
 * costs about a second whatever its size), which keeps them within CI's minutes.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createOfflineView, DuckDbQueryRunner, sqlString } from '../../lambdas/adapters/duckdb-runner.js';
import { encodeRows } from '../../lambdas/adapters/parquet.js';
import type { FeatureType, FeatureView, Row } from '../../lambdas/core/definitions.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { byPartition, duckdbType, offlineColumns, offlineKey, partitionOf, toOfflineRecord } from '../../lambdas/core/offline.js';
import { ident } from '../../lambdas/core/point-in-time.js';
import { sqlEngine } from '../support/target.js';
import { TrinoClient } from '../support/trino.js';

export interface TableColumn {
  readonly name: string;
  readonly type: FeatureType;
}

export interface PitEngine {
  readonly name: 'duckdb' | 'trino';
  /** Each view's offline rows as the table `<database>.<view>` (with `date`/`hour`), replacing what was there. */
  loadViews(database: string, views: readonly FeatureView[], rows: ReadonlyMap<string, readonly ViewRow[]>): Promise<void>;
  /** The table `<database>.<table>` of these columns and rows, replacing what was there. */
  loadTable(database: string, table: string, columns: readonly TableColumn[], rows: readonly Row[]): Promise<void>;
  run(sql: string): Promise<Row[]>;
  close(): Promise<void>;
}

/** The engine of the current target. */
export async function openPitEngine(): Promise<PitEngine> {
  const choice = sqlEngine();
  return choice.engine === 'trino' ? new TrinoEngine(new TrinoClient(choice.endpoint)) : DuckDbEngine.open();
}

const sqlLiteral = (value: unknown): string => (typeof value === 'string' ? sqlString(value) : String(value));

class DuckDbEngine implements PitEngine {
  readonly name = 'duckdb';
  private loads = 0;
  private constructor(
    private readonly db: DuckDbQueryRunner,
    private readonly dir: string,
  ) {}

  static async open(): Promise<DuckDbEngine> {
    return new DuckDbEngine(await DuckDbQueryRunner.open({ threads: '1' }), await mkdtemp(join(tmpdir(), 'tessera-pit-')));
  }

  /**
   * Parquet under `<dir>/<n>/offline/<view>/date=…/hour=…/`, two objects a partition (as two
   * batches would write); a new folder each time, as DuckDB caches files by path.
   */
  async loadViews(database: string, views: readonly FeatureView[], rows: ReadonlyMap<string, readonly ViewRow[]>): Promise<void> {
    await rm(join(this.dir, String(this.loads)), { recursive: true, force: true });
    const root = join(this.dir, String(++this.loads));
    for (const view of views) {
      const all = rows.get(view.name) ?? [];
      for (const { partition, rows: inPartition } of byPartition(all).values()) {
        for (let f = 0; f < 2; f++) {
          const part = inPartition.filter((_, i) => i % 2 === f);
          if (!part.length) continue;
          const path = join(root, offlineKey(view.name, partition, `batch-${f}.parquet`));
          await mkdir(join(path, '..'), { recursive: true });
          await writeFile(path, await encodeRows(view, part));
        }
      }
      await createOfflineView(this.db, database, { view }, all.length ? join(root, 'offline', view.name) : undefined);
    }
  }

  async loadTable(database: string, table: string, columns: readonly TableColumn[], rows: readonly Row[]): Promise<void> {
    const name = `${ident(database)}.${ident(table)}`;
    await this.db.exec(`CREATE SCHEMA IF NOT EXISTS ${ident(database)}`);
    await this.db.exec(`CREATE OR REPLACE TABLE ${name} (${columns.map((c) => `${ident(c.name)} ${duckdbType(c.type)}`).join(', ')})`);
    if (!rows.length) return;
    const literal = (v: unknown) => (v === null || v === undefined ? 'NULL' : Array.isArray(v) ? `[${v.map(sqlLiteral).join(', ')}]` : sqlLiteral(v));
    await this.db.exec(`INSERT INTO ${name} VALUES ${rows.map((r) => `(${columns.map((c) => literal(r[c.name])).join(', ')})`).join(', ')}`);
  }

  run(sql: string): Promise<Row[]> {
    return this.db.run(sql);
  }

  async close(): Promise<void> {
    this.db.close();
    await rm(this.dir, { recursive: true, force: true });
  }
}

/** Trino type of a column. */
function trinoType(type: FeatureType): string {
  const scalar: Record<string, string> = { int: 'BIGINT', float: 'DOUBLE', string: 'VARCHAR', bool: 'BOOLEAN' };
  return type.endsWith('[]') ? `ARRAY(${scalar[type.slice(0, -2)]})` : (scalar[type] as string);
}

class TrinoEngine implements PitEngine {
  readonly name = 'trino';
  private readonly schemas = new Set<string>();
  constructor(private readonly trino: TrinoClient) {}

  async loadViews(database: string, views: readonly FeatureView[], rows: ReadonlyMap<string, readonly ViewRow[]>): Promise<void> {
    await Promise.all(
      views.map(async (view) => {
        const columns: TableColumn[] = [...offlineColumns(view), { name: 'date', type: 'string' }, { name: 'hour', type: 'string' }];
        const records = (rows.get(view.name) ?? []).map((row) => ({ ...toOfflineRecord(view, row), ...partitionOf(row.eventTs) }));
        await this.loadTable(database, view.name, columns, records);
      }),
    );
  }

  /**
   * One CREATE TABLE AS over the rows as one JSON text cast to an array of typed rows (Trino
   * plans a long VALUES list slowly; a JSON literal is parsed at run time), after dropping
   * the old table.
   */
  async loadTable(database: string, table: string, columns: readonly TableColumn[], rows: readonly Row[]): Promise<void> {
    if (!this.schemas.has(database)) {
      await this.trino.run(`CREATE SCHEMA IF NOT EXISTS ${ident(database)}`);
      this.schemas.add(database);
    }
    const name = `${ident(database)}.${ident(table)}`;
    await this.trino.run(`DROP TABLE IF EXISTS ${name}`);
    const json = JSON.stringify(rows.map((r) => Object.fromEntries(columns.map((c) => [c.name, r[c.name] ?? null]))));
    const rowType = `ARRAY(ROW(${columns.map((c) => `${ident(c.name)} ${trinoType(c.type)}`).join(', ')}))`;
    await this.trino.run(`CREATE TABLE ${name} AS SELECT * FROM UNNEST(CAST(JSON ${sqlString(json)} AS ${rowType}))`);
  }

  run(sql: string): Promise<Row[]> {
    return this.trino.run(sql);
  }

  async close(): Promise<void> {}
}
