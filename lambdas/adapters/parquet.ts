/**
 * Offline rows to and from Parquet bytes (parquetjs-lite, Snappy-compressed), with the columns
 * of core/offline.ts: join keys, event_ts/ingest_ts as INT64 epoch milliseconds, event_id, the
 * features. Lists are standard three-level LIST groups, so Athena, DuckDB and Spark read them
 * as arrays and a null list stays distinct from an empty one.
 */
import { Writable } from 'node:stream';
import parquet, { type FieldDefinition, type ParquetSchema } from 'parquetjs-lite';
import type { FeatureType, FeatureView } from '../core/definitions.js';
import type { ViewRow } from '../core/ingest.js';
import { fromOfflineRecord, offlineColumns, toOfflineRecord } from '../core/offline.js';

const PHYSICAL: Record<string, string> = { int: 'INT64', float: 'DOUBLE', string: 'UTF8', bool: 'BOOLEAN' };

function field(type: FeatureType, optional: boolean): FieldDefinition {
  if (type.endsWith('[]')) {
    return {
      type: 'LIST',
      optional,
      fields: { list: { repeated: true, fields: { element: { type: PHYSICAL[type.slice(0, -2)], optional: true, compression: 'SNAPPY' } } } },
    };
  }
  return { type: PHYSICAL[type], optional, compression: 'SNAPPY' };
}

const schemas = new WeakMap<FeatureView, ParquetSchema>();

export function parquetSchemaOf(view: FeatureView): ParquetSchema {
  let schema = schemas.get(view);
  if (!schema) {
    schema = new parquet.ParquetSchema(Object.fromEntries(offlineColumns(view).map((c) => [c.name, field(c.type, c.role === 'feature')])));
    schemas.set(view, schema);
  }
  return schema;
}

/** The rows of one view as a Parquet file. */
export async function encodeRows(view: FeatureView, rows: readonly ViewRow[]): Promise<Buffer> {
  const columns = offlineColumns(view);
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(chunk, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  const writer = await parquet.ParquetWriter.openStream(parquetSchemaOf(view), sink, { rowGroupSize: 10_000 });
  for (const row of rows) {
    const record = toOfflineRecord(view, row);
    for (const c of columns) {
      const value = record[c.name];
      if (value === null || value === undefined) delete record[c.name];
      else if (c.type.endsWith('[]')) record[c.name] = { list: (value as unknown[]).map((element) => (element === null ? {} : { element })) };
    }
    await writer.appendRow(record);
  }
  await writer.close();
  return Buffer.concat(chunks);
}

/** The rows of a Parquet file written for `view` (perhaps by an older version of it). */
export async function decodeRows(view: FeatureView, bytes: Buffer): Promise<ViewRow[]> {
  const columns = offlineColumns(view);
  const reader = await parquet.ParquetReader.openBuffer(bytes);
  try {
    // Every column is read (a column list would drop nested lists); unknown ones are ignored.
    const cursor = reader.getCursor();
    const rows: ViewRow[] = [];
    for (let record = await cursor.next(); record; record = await cursor.next()) {
      const plain: Record<string, unknown> = {};
      for (const c of columns) plain[c.name] = fromParquet(c.type, record[c.name]);
      rows.push(fromOfflineRecord(view, plain));
    }
    return rows;
  } finally {
    await reader.close();
  }
}

function fromParquet(type: FeatureType, value: unknown): unknown {
  if (value === null || value === undefined) return null;
  if (type.endsWith('[]')) {
    const list = (value as { list?: { element?: unknown }[] }).list ?? [];
    return list.map((item) => fromParquet(type.slice(0, -2) as FeatureType, item.element));
  }
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value)) return value.toString('utf8');
  return value;
}
