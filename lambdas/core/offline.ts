/**
 * The offline store's layout, one definition for every reader and writer: which columns a
 * view's rows have and their types in Parquet, Glue (Hive DDL) and DuckDB; where a row lives
 * (`offline/<view>/date=YYYY-MM-DD/hour=HH/<name>.parquet`, by event time, UTC); which copy of
 * a row written twice counts; and how compaction chooses what to merge. Pure: the S3 writer,
 * the compaction handler, the Glue tables (CDK) and both query engines derive from this file.
 */
import { createHash } from 'node:crypto';
import type { FeatureType, FeatureView } from './definitions.js';
import { encodeEntityId } from './entity-key.js';
import { DefinitionError } from './errors.js';
import type { ViewRow } from './ingest.js';
import { compareStamps, compareText } from './order.js';

export const OFFLINE_PREFIX = 'offline/';

/** Columns every offline row carries besides its join keys and features. Epoch milliseconds. */
export const EVENT_TS = 'event_ts';
export const INGEST_TS = 'ingest_ts';
export const EVENT_ID = 'event_id';
/** Hive partition columns, derived from event_ts (UTC); strings in every engine. */
export const PARTITION_COLUMNS = ['date', 'hour'] as const;

const RESERVED = new Set<string>([EVENT_TS, INGEST_TS, EVENT_ID, ...PARTITION_COLUMNS]);

export type ColumnRole = 'key' | 'system' | 'feature';

export interface OfflineColumn {
  readonly name: string;
  readonly type: FeatureType;
  readonly role: ColumnRole;
}

/**
 * The columns of a view's offline rows, in file order: join keys, event_ts, ingest_ts,
 * event_id, then the row features as declared. Aggregations are not stored: they are
 * computed from these rows. A feature named like a key or a system column would make the
 * table ambiguous, so it is a definition error (raised at synth, where the Glue table is built).
 */
export function offlineColumns(view: FeatureView): OfflineColumn[] {
  const keys: OfflineColumn[] = view.entities.map((e) => ({ name: e.joinKey, type: e.keyType === 'int' ? 'int' : 'string', role: 'key' }));
  const system: OfflineColumn[] = [
    { name: EVENT_TS, type: 'int', role: 'system' },
    { name: INGEST_TS, type: 'int', role: 'system' },
    { name: EVENT_ID, type: 'string', role: 'system' },
  ];
  const taken = new Set(keys.map((k) => k.name));
  for (const key of taken) {
    if (RESERVED.has(key)) throw new DefinitionError(`feature view "${view.name}"`, `join key "${key}" clashes with the offline column of that name`);
  }
  const features = Object.entries(view.features).map(([name, type]): OfflineColumn => {
    if (RESERVED.has(name) || taken.has(name)) {
      throw new DefinitionError(
        `feature view "${view.name}"`,
        `feature "${name}" clashes with the offline ${RESERVED.has(name) ? 'system' : 'join key'} column of that name; rename it`,
      );
    }
    return { name, type, role: 'feature' };
  });
  return [...keys, ...system, ...features];
}

/** Glue / Athena (Hive DDL) type of a column. */
export function hiveType(type: FeatureType): string {
  const scalar: Record<string, string> = { int: 'bigint', float: 'double', string: 'string', bool: 'boolean' };
  return type.endsWith('[]') ? `array<${scalar[type.slice(0, -2)]}>` : (scalar[type] as string);
}

/** DuckDB type of a column. */
export function duckdbType(type: FeatureType): string {
  const scalar: Record<string, string> = { int: 'BIGINT', float: 'DOUBLE', string: 'VARCHAR', bool: 'BOOLEAN' };
  return type.endsWith('[]') ? `${scalar[type.slice(0, -2)]}[]` : (scalar[type] as string);
}

export interface Partition {
  /** `YYYY-MM-DD`, UTC. */
  readonly date: string;
  /** `00`..`23`, UTC. */
  readonly hour: string;
}

/** The partition of an event time. */
export function partitionOf(eventTs: number): Partition {
  const iso = new Date(eventTs).toISOString();
  return { date: iso.slice(0, 10), hour: iso.slice(11, 13) };
}

export const viewPrefix = (view: string): string => `${OFFLINE_PREFIX}${view}/`;

export const partitionPrefix = (view: string, p: Partition): string => `${viewPrefix(view)}date=${p.date}/hour=${p.hour}/`;

/**
 * An object name from the identity of what was written, e.g. a Kinesis batch's shard and
 * first and last sequence numbers: the same batch always gets the same name, so a retry
 * overwrites its own file, and a bisected half (other last sequence number) gets its own.
 */
export function objectName(parts: readonly string[]): string {
  const name = parts.map((p) => p.replace(/[^A-Za-z0-9._-]/g, '_')).join('_');
  return `${name || 'rows'}.parquet`;
}

export const offlineKey = (view: string, p: Partition, name: string): string => `${partitionPrefix(view, p)}${name}`;

export interface OfflineKey extends Partition {
  readonly view: string;
  readonly file: string;
}

const KEY = /^offline\/([^/]+)\/date=(\d{4}-\d{2}-\d{2})\/hour=(\d{2})\/([^/]+\.parquet)$/;

/** The parts of an offline object key; undefined for anything else under the prefix. */
export function parseOfflineKey(key: string): OfflineKey | undefined {
  const m = KEY.exec(key);
  return m ? { view: m[1] as string, date: m[2] as string, hour: m[3] as string, file: m[4] as string } : undefined;
}

/** The order that decides which row is the latest: (event_ts, ingest_ts, event_id), as online. */
export function compareLatest(a: ViewRow, b: ViewRow): number {
  return compareStamps([a.eventTs, a.ingestTs, a.eventId], [b.eventTs, b.ingestTs, b.eventId]);
}

/**
 * Rows that are copies of one event (same entity, event id and event time — a producer
 * retry, a redelivered or re-run batch) count once: the copy ingested first, the one the
 * online store applied. A reused id with another event time is another event, as online.
 * First-seen wins a tie, so within one batch the result is the online store's.
 */
export function dedupeCopies(rows: readonly ViewRow[]): ViewRow[] {
  const kept = new Map<string, ViewRow>();
  for (const row of rows) {
    const id = `${row.entityId}\u0000${row.eventId}\u0000${row.eventTs}`;
    const seen = kept.get(id);
    if (!seen || row.ingestTs < seen.ingestTs) kept.set(id, row);
  }
  return [...kept.values()];
}

/** A row as its offline record: keys, system columns and features by column name. */
export function toOfflineRecord(view: FeatureView, row: ViewRow): Record<string, unknown> {
  const record: Record<string, unknown> = {};
  for (const e of view.entities) record[e.joinKey] = row.keys[e.joinKey];
  record[EVENT_TS] = row.eventTs;
  record[INGEST_TS] = row.ingestTs;
  record[EVENT_ID] = row.eventId;
  for (const name of Object.keys(view.features)) record[name] = row.values[name] ?? null;
  return record;
}

/** The row of an offline record; columns the record lacks (older files) are null. */
export function fromOfflineRecord(view: FeatureView, record: Readonly<Record<string, unknown>>): ViewRow {
  const keys = Object.fromEntries(view.entities.map((e) => [e.joinKey, record[e.joinKey] as string | number]));
  return {
    view: view.name,
    entityId: encodeEntityId(view.entities.map((e) => keys[e.joinKey] as string | number)),
    keys,
    eventTs: Number(record[EVENT_TS]),
    ingestTs: Number(record[INGEST_TS]),
    eventId: String(record[EVENT_ID]),
    values: Object.fromEntries(Object.keys(view.features).map((name) => [name, record[name] ?? null])),
  };
}

/** Groups rows by the partition of their event time. */
export function byPartition(rows: readonly ViewRow[]): Map<string, { partition: Partition; rows: ViewRow[] }> {
  const groups = new Map<string, { partition: Partition; rows: ViewRow[] }>();
  for (const row of rows) {
    const partition = partitionOf(row.eventTs);
    const id = `${partition.date}/${partition.hour}`;
    const group = groups.get(id) ?? { partition, rows: [] };
    group.rows.push(row);
    groups.set(id, group);
  }
  return groups;
}

// --- Compaction -------------------------------------------------------------------------

export const COMPACTED_PREFIX = 'compacted-';

export interface StoredObject {
  readonly key: string;
  readonly etag: string;
  readonly size: number;
  /** Epoch milliseconds. */
  readonly lastModified: number;
}

export interface CompactionTask {
  readonly view: string;
  readonly partition: Partition;
  /** The objects to merge; each is deleted (if unchanged) once the merged object is written. */
  readonly inputs: readonly StoredObject[];
  /** The merged object's key: named by its inputs, so a re-run or a concurrent run writes the same object. */
  readonly output: string;
}

export interface CompactionOptions {
  /**
   * Objects written more recently than this are left alone: a retried batch may still
   * overwrite its object until the stream mapping's maximum record age has passed, and
   * deleting an object that is being rewritten would lose the rewrite.
   */
  readonly minAgeMs: number;
  /** At most this many objects are merged into one per run. */
  readonly maxInputs: number;
}

/**
 * What to merge: per (view, partition), the settled objects, when there are two or more or
 * the only one is not itself a compaction output (it may hold copies of one event). A
 * partition holding one compacted object is done, so a second run changes nothing.
 */
export function planCompaction(objects: readonly StoredObject[], views: ReadonlySet<string>, now: number, options: CompactionOptions): CompactionTask[] {
  const groups = new Map<string, { view: string; partition: Partition; inputs: StoredObject[] }>();
  for (const object of objects) {
    const parsed = parseOfflineKey(object.key);
    if (!parsed || !views.has(parsed.view) || now - object.lastModified < options.minAgeMs) continue;
    const id = `${parsed.view}/${parsed.date}/${parsed.hour}`;
    const group = groups.get(id) ?? { view: parsed.view, partition: { date: parsed.date, hour: parsed.hour }, inputs: [] };
    group.inputs.push(object);
    groups.set(id, group);
  }
  const tasks: CompactionTask[] = [];
  for (const group of groups.values()) {
    const inputs = [...group.inputs].sort((a, b) => compareText(a.key, b.key)).slice(0, options.maxInputs);
    const only = inputs[0] as StoredObject;
    if (inputs.length === 1 && parseOfflineKey(only.key)?.file.startsWith(COMPACTED_PREFIX)) continue;
    const digest = createHash('sha256');
    for (const input of inputs) digest.update(`${input.key}\u0000${input.etag}\u0000`);
    const output = offlineKey(group.view, group.partition, `${COMPACTED_PREFIX}${digest.digest('hex').slice(0, 32)}.parquet`);
    tasks.push({ view: group.view, partition: group.partition, inputs, output });
  }
  return tasks.sort((a, b) => compareText(a.output, b.output));
}

/** The rows of a compacted object: copies dropped, in a fixed order so equal inputs give equal bytes. */
export function compactRows(rows: readonly ViewRow[]): ViewRow[] {
  return dedupeCopies(rows).sort(
    (a, b) => a.eventTs - b.eventTs || compareText(a.entityId, b.entityId) || compareText(a.eventId, b.eventId) || a.ingestTs - b.ingestTs,
  );
}
