/**
 * The generated point-in-time SQL, run on DuckDB over real Parquet partitions, against the
 * brute-force reference on random data built to hit the edges: colliding composite keys,
 * equal timestamps, events exactly at t and exactly at t - ttl, TTL none and tiny, duplicate
 * labels, copies of source rows, late rows, empty views, null keys and times.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../lambdas/core/definitions.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { pointInTimeSql } from '../../lambdas/core/point-in-time.js';
import { referenceTrainingSet } from '../../lambdas/core/point-in-time-reference.js';
import { openPitEngine, type PitEngine } from './pit-engine.js';
import {
  byInts,
  byMerchant,
  byPair,
  byUser,
  DATABASE,
  LABEL_COLUMNS,
  LABELS_TABLE,
  loadLabels,
  loadOfflineRows,
  plan,
  TS,
  VIEWS,
  viewRow,
  withoutRow,
} from './pit-fixtures.js';

const SECOND = 1_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
/** 22:30 UTC: two days of offsets cross midnight and many hours. */
const T0 = Date.UTC(2024, 2, 9, 22, 30, 0);

/** Offsets of events from an anchor time: exactly at it, just around it, exactly at and around each TTL, ahead of it (with a negative lag: known before due). */
const EDGES = [0, -1, 1, -SECOND, -SECOND + 1, -SECOND - 1, -HOUR, -HOUR + 1, -HOUR - 1, -DAY, -DAY + 1, -DAY - 1, SECOND, HOUR];
const offset = fc.oneof(fc.constantFrom(...EDGES), fc.integer({ min: -2 * DAY, max: 0 }));
/** Ingest lag: immediate, tiny, late (hours after the event), exactly at the anchor, or before the event (within a source's maxFutureSkew). */
const lag = fc.oneof(fc.constantFrom(0, 1, 500, 3 * HOUR, -1, -500, -HOUR), fc.constant('at-anchor' as const), fc.integer({ min: 0, max: DAY }));
const STRINGS = ['1', '12', '23', '3'];
const INTS = [1, 12, 23, 3];

const keysArb = fc.record({
  user_id: fc.constantFrom(...STRINGS),
  merchant_id: fc.constantFrom(...STRINGS),
  a: fc.constantFrom(...INTS),
  b: fc.constantFrom(...INTS),
});

const valuesArb = fc.record({
  x: fc.option(fc.integer({ min: -5, max: 5 })),
  s: fc.option(fc.constantFrom('p', 'q')),
  y: fc.option(fc.integer({ min: -8, max: 8 }).map((i) => i / 4)),
  z: fc.option(fc.boolean()),
  tags: fc.option(fc.array(fc.constantFrom('t1', 't2'), { maxLength: 2 })),
  w: fc.option(fc.integer({ min: 0, max: 9 })),
});

const sourceRowArb = fc.record({
  view: fc.constantFrom(...VIEWS.map((v) => v.name)),
  keys: keysArb,
  anchor: fc.nat(),
  offset,
  lag,
  eventId: fc.constantFrom('a', 'b', 'c', 'd'),
  values: valuesArb,
  /** Extra copies of this row (same event), each ingested this much later. */
  copies: fc.array(fc.constantFrom(0, 1, 2 * HOUR), { maxLength: 2 }),
});

const labelArb = fc.record({
  keys: fc.record({
    user_id: fc.option(fc.constantFrom(...STRINGS, '99'), { freq: 12 }),
    merchant_id: fc.option(fc.constantFrom(...STRINGS), { freq: 12 }),
    a: fc.option(fc.constantFrom(...INTS), { freq: 12 }),
    b: fc.option(fc.constantFrom(...INTS), { freq: 12 }),
  }),
  anchor: fc.nat(),
  shift: fc.constantFrom(0, 0, 0, 1, -1, 'null' as const),
  label: fc.integer({ min: 0, max: 1 }),
  repeat: fc.constantFrom(1, 1, 1, 2, 3),
});

const sampleArb = fc.record({
  anchors: fc.uniqueArray(fc.integer({ min: 0, max: 2 * DAY }), { minLength: 1, maxLength: 4 }),
  rows: fc.array(sourceRowArb, { maxLength: 40 }),
  labels: fc.array(labelArb, { minLength: 1, maxLength: 25 }),
});

type Sample = typeof sampleArb extends fc.Arbitrary<infer T> ? T : never;

/**
 * One data set from a batch of samples, each with keys of its own (strings suffixed `~n`,
 * ints offset by 100 n), so samples cannot see each other and one query checks them all:
 * a query on Trino costs about a second, far more than the rows it reads.
 */
function build(samples: readonly Sample[]): { rows: Map<string, ViewRow[]>; labels: Row[] } {
  const rows = new Map<string, ViewRow[]>(VIEWS.map((v) => [v.name, []]));
  const labels: Row[] = [];
  const seen = new Set<string>();
  for (const [n, sample] of samples.entries()) addSample(sample, n, rows, labels, seen);
  return { rows, labels };
}

function addSample(sample: Sample, n: number, rows: Map<string, ViewRow[]>, labels: Row[], seen: Set<string>): void {
  const own = (key: string | number | null) => (key === null ? null : typeof key === 'string' ? `${key}~${n}` : key + 100 * n);
  const ownKeys = <R extends Record<string, string | number | null>>(keys: R): R => Object.fromEntries(Object.entries(keys).map(([k, v]) => [k, own(v)])) as R;
  const anchors = sample.anchors.map((a) => T0 + a);
  const at = (i: number) => anchors[i % anchors.length] as number;
  for (const r of sample.rows) {
    const view = VIEWS.find((v) => v.name === r.view)!;
    const eventTs = at(r.anchor) + r.offset;
    const ingestTs = r.lag === 'at-anchor' ? Math.max(eventTs, at(r.anchor)) : eventTs + r.lag;
    const values = Object.fromEntries(Object.keys(view.features).map((f) => [f, (r.values as Row)[f] ?? null]));
    const row = viewRow(view, { keys: ownKeys(r.keys), eventTs, ingestTs, eventId: r.eventId, values });
    // Two different rows with one (entity, id, event time, ingest time) have no defined winner: keep the first.
    const identity = `${row.entityId}|${row.eventId}|${row.eventTs}|${row.ingestTs}`;
    if (seen.has(identity)) continue;
    seen.add(identity);
    rows.get(view.name)!.push(row);
    for (const later of r.copies) {
      const copy = { ...row, ingestTs: row.ingestTs + later };
      const copyIdentity = `${row.entityId}|${row.eventId}|${row.eventTs}|${copy.ingestTs}`;
      if (later !== 0 && seen.has(copyIdentity)) continue;
      seen.add(copyIdentity);
      rows.get(view.name)!.push(copy);
    }
  }
  for (const l of sample.labels) {
    const t = l.shift === 'null' ? null : at(l.anchor) + l.shift;
    for (let i = 0; i < l.repeat; i++) labels.push({ ...ownKeys(l.keys), [TS]: t, label: l.label });
  }
}

describe('point-in-time SQL against the reference (property)', () => {
  let engine: PitEngine;
  beforeAll(async () => {
    engine = await openPitEngine();
  });
  afterAll(() => engine.close());

  const check = async (samples: Sample[]) => {
    const { rows, labels } = build(samples);
    await loadOfflineRows(engine, rows);
    await loadLabels(engine, labels);
    const times = labels.map((l) => l[TS]).filter((t): t is number => typeof t === 'number');
    const timeRange = times.length ? { min: Math.min(...times), max: Math.max(...times) } : undefined;
    for (const asServed of [false, true]) {
      const sql = pointInTimeSql({
        plan,
        labels: { table: { database: DATABASE, table: LABELS_TABLE }, columns: LABEL_COLUMNS, timestampColumn: TS },
        database: DATABASE,
        asServed,
        ...(timeRange ? { timeRange } : {}),
      });
      const actual = withoutRow(await engine.run(sql));
      const expected = referenceTrainingSet({ plan, rows, labels, timestampColumn: TS, asServed });
      expect(actual.length).toBe(labels.length);
      expect(actual).toEqual(expected);
    }
  };

  it('matches the reference on random rows and labels, with and without asServed', { timeout: 600_000 }, async () => {
    // About 100 samples in 4 batches (a failing batch shrinks to the samples that fail).
    await fc.assert(fc.asyncProperty(fc.array(sampleArb, { minLength: 10, maxLength: 40 }), check), { numRuns: 4, seed: 20240309, endOnFailure: true });
  });

  it('matches the reference when the rows are dense around few anchors (many ties)', { timeout: 600_000 }, async () => {
    // One anchor, two entities per key, event times within 3 ms and ingest lags within 4 ms: ties everywhere.
    const two = <K>(pool: readonly K[], k: K) => pool[pool.indexOf(k) % 2] as K;
    const dense = sampleArb.map((s) => ({
      ...s,
      anchors: s.anchors.slice(0, 1),
      rows: s.rows.map((r) => ({
        ...r,
        keys: { user_id: two(STRINGS, r.keys.user_id), merchant_id: two(STRINGS, r.keys.merchant_id), a: two(INTS, r.keys.a), b: two(INTS, r.keys.b) },
        offset: r.offset % 3,
        lag: typeof r.lag === 'number' ? r.lag % 4 : r.lag,
      })),
    }));
    await fc.assert(fc.asyncProperty(fc.array(dense, { minLength: 10, maxLength: 40 }), check), { numRuns: 2, seed: 7, endOnFailure: true });
  });

  it('covers every fixture view', () => {
    expect(plan.views.map((v) => v.view)).toEqual([byUser, byPair, byInts, byMerchant]);
  });
});
