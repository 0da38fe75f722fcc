/**
 * The offline layout the point-in-time SQL relies on: partitions by event time (UTC),
 * deterministic object names, which copy of an event counts, Parquet round trips, and the
 * compaction plan (idempotent, leaves fresh objects alone).
 */
import { describe, expect, it } from 'vitest';
import { decodeRows, encodeRows } from '../../lambdas/adapters/parquet.js';
import { entity, featureView } from '../../lambdas/core/definitions.js';
import { DefinitionError } from '../../lambdas/core/errors.js';
import {
  compactRows,
  dedupeCopies,
  hiveType,
  objectName,
  offlineColumns,
  parseOfflineKey,
  partitionOf,
  planCompaction,
  type StoredObject,
} from '../../lambdas/core/offline.js';
import { compareText } from '../../lambdas/core/order.js';
import { byInts, byUser, events, viewRow } from './pit-fixtures.js';

const HOUR = 3_600_000;

describe('offline layout', () => {
  it('partitions by the UTC date and hour of event_ts', () => {
    expect(partitionOf(Date.UTC(2024, 0, 1, 0, 0, 0))).toEqual({ date: '2024-01-01', hour: '00' });
    expect(partitionOf(Date.UTC(2024, 0, 1, 23, 59, 59, 999))).toEqual({ date: '2024-01-01', hour: '23' });
  });

  it('names objects by the batch, so a retry overwrites its own object', () => {
    expect(objectName(['shardId-000000000001', '4954', '4960'])).toBe('shardId-000000000001_4954_4960.parquet');
    expect(objectName(['a/b', 'c d'])).toBe('a_b_c_d.parquet');
    expect(parseOfflineKey('offline/by_user/date=2024-01-01/hour=05/x.parquet')).toEqual({
      view: 'by_user',
      date: '2024-01-01',
      hour: '05',
      file: 'x.parquet',
    });
    expect(parseOfflineKey('offline/by_user/other.json')).toBeUndefined();
  });

  it('lays out columns as keys, event_ts, ingest_ts, event_id, features, with Glue types', () => {
    expect(offlineColumns(byInts).map((c) => [c.name, hiveType(c.type)])).toEqual([
      ['a', 'bigint'],
      ['b', 'bigint'],
      ['event_ts', 'bigint'],
      ['ingest_ts', 'bigint'],
      ['event_id', 'string'],
      ['z', 'boolean'],
      ['tags', 'array<string>'],
    ]);
  });

  it('refuses a feature named like a join key or a system column', () => {
    const user = entity({ name: 'user', joinKey: 'user_id' });
    const clash = featureView({ name: 'v', entities: [user], source: events, features: { event_ts: 'int' }, owner: 'o', description: 'd' });
    expect(() => offlineColumns(clash)).toThrow(DefinitionError);
  });

  it('keeps the first-ingested copy of an event; another event time is another event', () => {
    const a = viewRow(byUser, { keys: { user_id: 'u' }, eventTs: 10, ingestTs: 20, eventId: 'e', values: { x: 1, s: null } });
    const later = { ...a, ingestTs: 30, values: { x: 2, s: null } };
    const earlier = { ...a, ingestTs: 15, values: { x: 3, s: null } };
    const otherTime = { ...a, eventTs: 11 };
    expect(dedupeCopies([a, later, earlier, otherTime])).toEqual([earlier, otherTime]);
  });

  it('compares text by code point, as SQL engines compare VARCHAR', () => {
    expect(compareText('a', 'b')).toBe(-1);
    expect(compareText('ab', 'a')).toBe(1);
    // U+FF5E sorts before U+1F600 by code point; JavaScript's < says otherwise (UTF-16 surrogates).
    expect(compareText('\uff5e', '\u{1f600}')).toBe(-1);
    expect('\uff5e' < '\u{1f600}').toBe(false);
  });
});

describe('Parquet rows', () => {
  it('round-trip every type, nulls and empty lists included', async () => {
    const rows = [
      viewRow(byInts, {
        keys: { a: 9_007_199_254_740_991, b: -3 },
        eventTs: 1_700_000_000_123,
        ingestTs: 1_700_000_000_456,
        eventId: 'é',
        values: { z: true, tags: ['x', 'y'] },
      }),
      viewRow(byInts, { keys: { a: 1, b: 2 }, eventTs: 1, eventId: 'n', values: { z: null, tags: null } }),
      viewRow(byInts, { keys: { a: 1, b: 2 }, eventTs: 2, eventId: 'm', values: { z: false, tags: [] } }),
    ];
    expect(await decodeRows(byInts, await encodeRows(byInts, rows))).toEqual(rows);
  });

  it('read a file of an older version of the view, the new feature as null', async () => {
    const older = featureView({ ...byUser, features: { x: 'int' } });
    const row = viewRow(older, { keys: { user_id: 'u' }, eventTs: 5, eventId: 'e', values: { x: 1 } });
    expect((await decodeRows(byUser, await encodeRows(older, [row])))[0]?.values).toEqual({ x: 1, s: null });
  });
});

describe('compaction plan', () => {
  const now = Date.UTC(2024, 0, 2);
  const object = (file: string, ageHours: number, hour = '05'): StoredObject => ({
    key: `offline/by_user/date=2024-01-01/hour=${hour}/${file}`,
    etag: `"${file}"`,
    size: 100,
    lastModified: now - ageHours * HOUR,
  });
  const options = { minAgeMs: 2 * HOUR, maxInputs: 100 };
  const views = new Set(['by_user']);

  it('merges the settled objects of a partition into one named by its inputs', () => {
    const tasks = planCompaction([object('b.parquet', 3), object('a.parquet', 5), object('c.parquet', 1)], views, now, options);
    expect(tasks).toHaveLength(1);
    expect(tasks[0]?.inputs.map((i) => i.key.split('/').pop())).toEqual(['a.parquet', 'b.parquet']);
    expect(tasks[0]?.output).toMatch(/^offline\/by_user\/date=2024-01-01\/hour=05\/compacted-[0-9a-f]{32}\.parquet$/);
    // The same inputs give the same name: a concurrent run writes the same object.
    expect(planCompaction([object('a.parquet', 5), object('b.parquet', 3)], views, now, options)[0]?.output).toBe(tasks[0]?.output);
  });

  it('leaves a partition holding one compacted object alone, so a second run changes nothing', () => {
    expect(planCompaction([object('compacted-abc.parquet', 5)], views, now, options)).toEqual([]);
    expect(planCompaction([object('batch.parquet', 5)], views, now, options)).toHaveLength(1);
  });

  it('ignores objects of unknown views and fresh objects', () => {
    expect(planCompaction([object('a.parquet', 1), object('b.parquet', 1)], views, now, options)).toEqual([]);
    expect(planCompaction([object('a.parquet', 5), object('b.parquet', 5)], new Set(['other']), now, options)).toEqual([]);
  });

  it('orders compacted rows deterministically and drops copies', () => {
    const r = (eventTs: number, ingestTs: number, eventId: string) =>
      viewRow(byUser, { keys: { user_id: 'u' }, eventTs, ingestTs, eventId, values: { x: 1, s: null } });
    expect(compactRows([r(2, 5, 'b'), r(1, 3, 'a'), r(2, 4, 'b')]).map((x) => [x.eventTs, x.ingestTs, x.eventId])).toEqual([
      [1, 3, 'a'],
      [2, 4, 'b'],
    ]);
  });
});
