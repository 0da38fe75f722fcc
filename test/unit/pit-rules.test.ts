/**
 * The point-in-time rules, one named case each, readable as the spec: every case runs the
 * generated SQL on DuckDB over Parquet partitions, and checks it against both the stated
 * expectation and the brute-force reference.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Row } from '../../lambdas/core/definitions.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { readFeatures } from '../../lambdas/core/online.js';
import { pointInTimeSql } from '../../lambdas/core/point-in-time.js';
import { referenceTrainingSet } from '../../lambdas/core/point-in-time-reference.js';
import { MemoryOnlineStore } from '../support/memory-online-store.js';
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
  type RowSpec,
  registry,
  TS,
  viewRow,
  withoutRow,
} from './pit-fixtures.js';

const T = Date.UTC(2024, 5, 1, 12, 0, 0);
const SECOND = 1_000;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let engine: PitEngine;
beforeAll(async () => {
  engine = await openPitEngine();
});
afterAll(() => engine.close());

type Rows = Partial<Record<'by_user' | 'by_pair' | 'by_ints' | 'by_merchant', RowSpec[]>>;
const VIEW_OF = { by_user: byUser, by_pair: byPair, by_ints: byInts, by_merchant: byMerchant };

/** A label row: every key present (so every view can match) unless overridden. */
const label = (t: number | null, keys: Row = {}): Row => ({ user_id: 'u1', merchant_id: 'm1', a: 1, b: 2, [TS]: t, label: 1, ...keys });

/** Runs the SQL and the reference; asserts they agree and returns the rows (label order, no `__row`). */
async function trainingSet(rows: Rows, labels: Row[], options: { asServed?: boolean } = {}): Promise<Row[]> {
  const viewRows = new Map<string, ViewRow[]>(Object.entries(rows).map(([name, specs]) => [name, specs.map((s) => viewRow(VIEW_OF[name as keyof Rows], s))]));
  await loadOfflineRows(engine, viewRows);
  await loadLabels(engine, labels);
  const times = labels.map((l) => l[TS]).filter((t): t is number => typeof t === 'number');
  const sql = pointInTimeSql({
    plan,
    labels: { table: { database: DATABASE, table: LABELS_TABLE }, columns: LABEL_COLUMNS, timestampColumn: TS },
    database: DATABASE,
    asServed: options.asServed ?? false,
    ...(times.length ? { timeRange: { min: Math.min(...times), max: Math.max(...times) } } : {}),
  });
  const actual = withoutRow(await engine.run(sql));
  expect(actual).toEqual(referenceTrainingSet({ plan, rows: viewRows, labels, timestampColumn: TS, asServed: options.asServed ?? false }));
  return actual;
}

const u1 = (eventTs: number, x: number | null, more: Partial<RowSpec> = {}): RowSpec => ({
  keys: { user_id: 'u1' },
  eventTs,
  eventId: `e${x}`,
  values: { x, s: null },
  ...more,
});
const column = (rows: Row[], name: string) => rows.map((r) => r[name]);

describe('point-in-time rules', () => {
  it('takes the latest row at or before t', async () => {
    const out = await trainingSet({ by_user: [u1(T - 2 * HOUR, 1), u1(T - HOUR, 2), u1(T + 1, 3)] }, [label(T)]);
    expect(column(out, 'by_user__x')).toEqual([2]);
  });

  it('includes a row exactly at t', async () => {
    const out = await trainingSet({ by_user: [u1(T - 1, 1), u1(T, 2)] }, [label(T)]);
    expect(column(out, 'by_user__x')).toEqual([2]);
  });

  it('excludes a row exactly at t - ttl (Feast keeps it; Tessera serves it as expired)', async () => {
    const m = (eventTs: number, w: number): RowSpec => ({ keys: { merchant_id: 'm1' }, eventTs, eventId: `w${w}`, values: { w } });
    const atBoundary = await trainingSet({ by_merchant: [m(T - DAY, 1)] }, [label(T)]);
    expect(column(atBoundary, 'by_merchant__w')).toEqual([null]);
    const justInside = await trainingSet({ by_merchant: [m(T - DAY + 1, 2)] }, [label(T)]);
    expect(column(justInside, 'by_merchant__w')).toEqual([2]);
  });

  it('applies a tiny TTL to the millisecond', async () => {
    const p = (eventTs: number, y: number): RowSpec => ({ keys: { user_id: 'u1', merchant_id: 'm1' }, eventTs, eventId: `y${y}`, values: { y } });
    const out = await trainingSet({ by_pair: [p(T - SECOND, 1)] }, [label(T), label(T - 1), label(T - SECOND)]);
    expect(column(out, 'by_pair__y')).toEqual([null, 1, 1]);
  });

  it('never expires a view without a TTL', async () => {
    const out = await trainingSet({ by_user: [u1(T - 400 * DAY, 7)] }, [label(T)]);
    expect(column(out, 'by_user__x')).toEqual([7]);
  });

  it('breaks a tie on event_ts by the later ingest_ts, then by the larger event_id', async () => {
    const byIngest = await trainingSet({ by_user: [u1(T - HOUR, 1, { ingestTs: T - 10, eventId: 'z' }), u1(T - HOUR, 2, { ingestTs: T - 5, eventId: 'a' })] }, [
      label(T),
    ]);
    expect(column(byIngest, 'by_user__x')).toEqual([2]);
    const byId = await trainingSet({ by_user: [u1(T - HOUR, 1, { ingestTs: T - 5, eventId: 'b' }), u1(T - HOUR, 2, { ingestTs: T - 5, eventId: 'a' })] }, [
      label(T),
    ]);
    expect(column(byId, 'by_user__x')).toEqual([1]);
  });

  it('breaks a tie on event_ts and ingest_ts by event id in code-point order, as the online store does (U+1F600 after U+FF21)', async () => {
    // By UTF-16 code units (JavaScript's <) '\u{1F600}' would sort first: its surrogates are 0xD83D 0xDE00.
    const ids = ['\uFF21', '\u{1F600}', '\u00E9', 'z'];
    const specs = ids.map((eventId, i) => u1(T - HOUR, i + 1, { ingestTs: T - HOUR + 5, eventId }));
    const store = new MemoryOnlineStore();
    store.applyRows(
      registry.views,
      specs.map((s) => viewRow(byUser, s)),
      T - HOUR + 5,
    );
    const x = plan.views.find((v) => v.view.name === 'by_user')!.features.filter((f) => f.feature === 'x');
    const online = readFeatures(byUser, store.tiersOf(registry.views, 'by_user', viewRow(byUser, specs[0]!).entityId), x, T)[0];
    expect(online?.value).toBe(2);
    for (const asServed of [false, true]) {
      expect(column(await trainingSet({ by_user: specs }, [label(T)], { asServed }), 'by_user__x')).toEqual([online?.value]);
      expect(column(await trainingSet({ by_user: [...specs].reverse() }, [label(T)], { asServed }), 'by_user__x')).toEqual([online?.value]);
    }
  });

  it('gives nulls when nothing matches: unknown entity, only later rows, a null key or a null time', async () => {
    const out = await trainingSet({ by_user: [u1(T, 1)] }, [label(T, { user_id: 'nobody' }), label(T - 1), label(T, { user_id: null }), label(null)]);
    expect(column(out, 'by_user__x')).toEqual([null, null, null, null]);
    expect(out).toHaveLength(4);
  });

  it('keeps every label row once, in order, when the labels repeat themselves', async () => {
    const labels = [label(T, { label: 1 }), label(T, { label: 1 }), label(T - HOUR, { label: 0 }), label(T, { label: 1 })];
    const out = await trainingSet({ by_user: [u1(T - 2 * HOUR, 1), u1(T - 30 * 60_000, 2)] }, labels);
    expect(column(out, 'by_user__x')).toEqual([2, 2, 1, 2]);
    expect(column(out, 'label')).toEqual([1, 1, 0, 1]);
  });

  it('counts copies of one event once, as the copy ingested first', async () => {
    const first = u1(T - HOUR, 1, { eventId: 'same', ingestTs: T - HOUR });
    const copy = u1(T - HOUR, 9, { eventId: 'same', ingestTs: T - HOUR + 5 });
    const other = u1(T - HOUR, 5, { eventId: 'other', ingestTs: T - HOUR + 2 });
    // Without dedupe the copy (later ingest) would win the tie; with it, "other" beats the first copy.
    const out = await trainingSet({ by_user: [first, copy, copy, other] }, [label(T), label(T)]);
    expect(column(out, 'by_user__x')).toEqual([5, 5]);
  });

  it('as served, leaves out rows ingested after t (late rows), reproducing the API at t', async () => {
    const onTime = u1(T - 2 * HOUR, 1, { ingestTs: T - 2 * HOUR });
    const late = u1(T - HOUR, 2, { ingestTs: T + HOUR });
    const atT = u1(T - 30 * 60_000, 3, { ingestTs: T + 1 });
    const rows = { by_user: [onTime, late, atT] };
    expect(column(await trainingSet(rows, [label(T)]), 'by_user__x')).toEqual([3]);
    expect(column(await trainingSet(rows, [label(T)], { asServed: true }), 'by_user__x')).toEqual([1]);
    expect(column(await trainingSet(rows, [label(T + 1)], { asServed: true }), 'by_user__x')).toEqual([3]);
  });

  it('as served, counts a row ingested ahead of its event time (future skew) only from its event time', async () => {
    const ahead = u1(T + 1, 2, { ingestTs: T - HOUR });
    const rows = { by_user: [u1(T - HOUR, 1, { ingestTs: T - HOUR }), ahead] };
    expect(column(await trainingSet(rows, [label(T), label(T + 1)], { asServed: true }), 'by_user__x')).toEqual([1, 2]);
  });

  it('joins views with different entity keys side by side', async () => {
    const out = await trainingSet(
      {
        by_user: [u1(T - HOUR, 1)],
        by_pair: [{ keys: { user_id: 'u1', merchant_id: 'm1' }, eventTs: T - 100, eventId: 'p', values: { y: 0.5 } }],
        by_ints: [{ keys: { a: 1, b: 2 }, eventTs: T - 1, eventId: 'i', values: { z: true, tags: ['x', 'y'] } }],
        by_merchant: [{ keys: { merchant_id: 'm1' }, eventTs: T - DAY / 2, eventId: 'm', values: { w: 4 } }],
      },
      [label(T)],
    );
    expect(out[0]).toEqual({
      user_id: 'u1',
      merchant_id: 'm1',
      a: 1,
      b: 2,
      [TS]: T,
      label: 1,
      by_user__x: 1,
      by_user__s: null,
      by_pair__y: 0.5,
      by_ints__z: true,
      by_ints__tags: ['x', 'y'],
      by_merchant__w: 4,
    });
  });

  it('never confuses composite keys whose concatenations collide: ("1","23") and ("12","3")', async () => {
    const p = (user_id: string, merchant_id: string, y: number): RowSpec => ({
      keys: { user_id, merchant_id },
      eventTs: T - 10,
      eventId: `p${y}`,
      values: { y },
    });
    const i = (a: number, b: number, z: boolean): RowSpec => ({ keys: { a, b }, eventTs: T - 10, eventId: `i${a}`, values: { z, tags: null } });
    const out = await trainingSet({ by_pair: [p('1', '23', 1), p('12', '3', 2)], by_ints: [i(1, 23, true), i(12, 3, false)] }, [
      label(T, { user_id: '12', merchant_id: '3', a: 12, b: 3 }),
      label(T, { user_id: '1', merchant_id: '23', a: 1, b: 23 }),
      label(T, { user_id: '123', merchant_id: '', a: 123, b: 0 }),
    ]);
    expect(column(out, 'by_pair__y')).toEqual([2, 1, null]);
    expect(column(out, 'by_ints__z')).toEqual([false, true, null]);
  });

  it('gives nulls for a view with no rows at all', async () => {
    const out = await trainingSet({ by_user: [u1(T - 1, 1)] }, [label(T)]);
    expect(column(out, 'by_merchant__w')).toEqual([null]);
    expect(column(out, 'by_ints__tags')).toEqual([null]);
  });

  it('keeps a null feature value of the latest row as null (it does not fall back to an older row)', async () => {
    const out = await trainingSet({ by_user: [u1(T - 2, 1), u1(T - 1, null, { eventId: 'n' })] }, [label(T)]);
    expect(column(out, 'by_user__x')).toEqual([null]);
  });

  it('reads a row in a partition far from the labels when the view has no TTL, and prunes by TTL otherwise', async () => {
    const old = T - 40 * DAY;
    const out = await trainingSet({ by_user: [u1(old, 1)], by_merchant: [{ keys: { merchant_id: 'm1' }, eventTs: old, eventId: 'o', values: { w: 1 } }] }, [
      label(T),
    ]);
    expect(column(out, 'by_user__x')).toEqual([1]);
    expect(column(out, 'by_merchant__w')).toEqual([null]);
  });
});
