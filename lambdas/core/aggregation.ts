/**
 * Windowed aggregations online: one mergeable state per (view, entity) that every path adds
 * rows to and every read combines, with the window bounds of windows.ts.
 *
 * - count, sum, avg, min, max keep a partial per tile (the window's tail moves tile by tile);
 * - approx_distinct keeps a sliding HyperLogLog sketch (hll.ts): a few entries per register;
 * - last and last_n keep the n newest stamped values: an older value is never read again once
 *   n newer ones exist, since every window that holds it holds them too.
 *
 * Every part is bounded by the definitions (window / tile size, sketch precision, n) and
 * pruned at each write, so the state never grows with the event rate. States merge (the
 * online tiers of online.ts are states merged on read). `finalizeAggregate` is the last step
 * of every path (online, the offline SQL's raw aggregates, the reference implementation), so
 * rounding and empty-window values are decided in one place.
 */
import type { Aggregation, FeatureView, Row } from './definitions.js';
import { parseDuration } from './duration.js';
import { estimateOfValues, type Sketch, sketchEstimate, sketchMerge, sketchOf, sketchPrune } from './hll.js';
import type { ViewRow } from './ingest.js';
import { compareStamps } from './order.js';
import { tileSize, tileStart, windowStart } from './windows.js';

export { compareStamps, type Stamp } from './order.js';

/** A value with the stamp that orders it: (event_ts, ingest_ts, event_id, value). */
export type Stamped = readonly [eventTs: number, ingestTs: number, eventId: string, value: unknown];

/**
 * The aggregation state of one view for one entity. Keys are `<aggregation>@<tile minutes>`,
 * so a changed window never reads tiles of another size.
 */
export interface AggregationState {
  /** Tile index (tile start / tile size) → partial, per tiled aggregation. */
  readonly tiles?: Record<string, Record<string, unknown>>;
  readonly sketches?: Record<string, Sketch>;
  /** Newest first. */
  readonly tops?: Record<string, Stamped[]>;
}

interface AggregationWindow {
  readonly aggregation: Aggregation;
  readonly windowMs: number;
  readonly tileMs: number;
  readonly key: string;
  readonly kind: 'tile' | 'sketch' | 'top';
}

const windowsByView = new WeakMap<FeatureView, readonly AggregationWindow[]>();

export function aggregationWindows(view: FeatureView): readonly AggregationWindow[] {
  let windows = windowsByView.get(view);
  if (!windows) {
    windows = view.aggregations.map((aggregation) => {
      const windowMs = parseDuration(aggregation.window) as number;
      const tileMs = tileSize(windowMs);
      const kind = aggregation.fn === 'approx_distinct' ? 'sketch' : aggregation.fn === 'last' || aggregation.fn === 'last_n' ? 'top' : 'tile';
      return { aggregation, windowMs, tileMs, key: `${aggregation.name}@${tileMs / 60_000}`, kind };
    });
    windowsByView.set(view, windows);
  }
  return windows;
}

/** How long after `now` a read may still use what an event at `eventTs` added: the longest window. */
export function longestWindowMs(view: FeatureView): number {
  return Math.max(0, ...aggregationWindows(view).map((w) => w.windowMs));
}

/** The value a window with no rows has: 0 for counts and sums, an empty list, else null. */
export function emptyValue(aggregation: Aggregation): unknown {
  switch (aggregation.fn) {
    case 'count':
    case 'sum':
    case 'approx_distinct':
      return 0;
    case 'last_n':
      return [];
    default:
      return null;
  }
}

const SUM_DECIMALS = 1e6;
const round = (x: number) => Math.round(x * SUM_DECIMALS) / SUM_DECIMALS;
/**
 * Sums are added in a different order on every path (tiles, SQL engines, the reference), so
 * they differ in the last bits. Rounding to 9 decimals first gives every path the same double
 * (`SUM_EXACT_DECIMALS` in the SQL too); only then is an average divided and rounded to 6, so
 * a value exactly halfway at the 7th decimal rounds the same way everywhere.
 */
export const SUM_EXACT_DECIMALS = 9;
const exact = (x: number) => Math.round(x * 10 ** SUM_EXACT_DECIMALS) / 10 ** SUM_EXACT_DECIMALS;

/** Combines two partials of one tiled aggregation (either may be undefined). */
function mergePartial(aggregation: Aggregation, a: unknown, b: unknown): unknown {
  if (a === undefined || a === null) return b;
  if (b === undefined || b === null) return a;
  switch (aggregation.fn) {
    case 'avg': {
      const [s1, n1] = a as [number, number];
      const [s2, n2] = b as [number, number];
      return [s1 + s2, n1 + n2];
    }
    case 'min':
      return (b as number) < (a as number) ? b : a;
    case 'max':
      return (b as number) > (a as number) ? b : a;
    default: // count, sum
      return (a as number) + (b as number);
  }
}

const newestFirst = (a: Stamped, b: Stamped) => compareStamps(b, a);

function mergeTops(n: number, a: readonly Stamped[] | undefined, b: readonly Stamped[] | undefined): Stamped[] {
  const all = [...(a ?? []), ...(b ?? [])].sort(newestFirst);
  const out: Stamped[] = [];
  for (const s of all) {
    if (out.length === n) break;
    const previous = out[out.length - 1];
    if (!previous || compareStamps(previous, s) !== 0) out.push(s);
  }
  return out;
}

type MutableState = { tiles: Record<string, Record<string, unknown>>; sketches: Record<string, Sketch>; tops: Record<string, Stamped[]> };

const mutable = (state: AggregationState | undefined): MutableState => ({
  tiles: Object.fromEntries(Object.entries(state?.tiles ?? {}).map(([k, v]) => [k, { ...v }])),
  sketches: { ...(state?.sketches ?? {}) },
  tops: { ...(state?.tops ?? {}) },
});

function frozen(state: MutableState): AggregationState {
  const tiles = Object.fromEntries(Object.entries(state.tiles).filter(([, v]) => Object.keys(v).length));
  const sketches = Object.fromEntries(Object.entries(state.sketches).filter(([, v]) => Object.keys(v).length));
  const tops = Object.fromEntries(Object.entries(state.tops).filter(([, v]) => v.length));
  return {
    ...(Object.keys(tiles).length ? { tiles } : {}),
    ...(Object.keys(sketches).length ? { sketches } : {}),
    ...(Object.keys(tops).length ? { tops } : {}),
  };
}

export const isEmptyState = (state: AggregationState | undefined): boolean =>
  !state || (!Object.keys(state.tiles ?? {}).length && !Object.keys(state.sketches ?? {}).length && !Object.keys(state.tops ?? {}).length);

/** Adds rows (each once: the caller has removed what was applied before). */
export function addRows(view: FeatureView, state: AggregationState | undefined, rows: readonly ViewRow[]): AggregationState {
  const out = mutable(state);
  const sketchValues = new Map<string, Map<number, unknown[]>>();
  for (const row of rows) {
    for (const w of aggregationWindows(view)) {
      const a = w.aggregation;
      const value = a.column ? (row.values[a.column] ?? null) : null;
      if (a.fn !== 'count' && value === null) continue;
      if (w.kind === 'tile') {
        const index = String(tileStart(row.eventTs, w.tileMs) / w.tileMs);
        const tiles = out.tiles[w.key] ?? {};
        out.tiles[w.key] = tiles;
        const single = a.fn === 'count' ? 1 : a.fn === 'avg' ? [value, 1] : value;
        tiles[index] = mergePartial(a, tiles[index], single);
      } else if (w.kind === 'sketch') {
        const byTile = sketchValues.get(w.key) ?? new Map<number, unknown[]>();
        sketchValues.set(w.key, byTile);
        const tile = tileStart(row.eventTs, w.tileMs) / w.tileMs;
        byTile.set(tile, [...(byTile.get(tile) ?? []), value]);
      } else {
        out.tops[w.key] = mergeTops(a.n ?? 1, out.tops[w.key], [[row.eventTs, row.ingestTs, row.eventId, value]]);
      }
    }
  }
  for (const [key, byTile] of sketchValues) out.sketches[key] = sketchMerge(out.sketches[key], sketchOf(byTile));
  return frozen(out);
}

/** One state holding what both hold. */
export function mergeStates(view: FeatureView, a: AggregationState | undefined, b: AggregationState | undefined): AggregationState {
  if (isEmptyState(a)) return b ?? {};
  if (isEmptyState(b)) return a ?? {};
  const out = mutable(a);
  for (const w of aggregationWindows(view)) {
    if (w.kind === 'tile') {
      const from = b?.tiles?.[w.key];
      if (!from) continue;
      const tiles = out.tiles[w.key] ?? {};
      out.tiles[w.key] = tiles;
      for (const [index, partial] of Object.entries(from)) tiles[index] = mergePartial(w.aggregation, tiles[index], partial);
    } else if (w.kind === 'sketch') {
      if (b?.sketches?.[w.key]) out.sketches[w.key] = sketchMerge(out.sketches[w.key], b.sketches[w.key]);
    } else if (b?.tops?.[w.key]) {
      out.tops[w.key] = mergeTops(w.aggregation.n ?? 1, out.tops[w.key], b.tops[w.key]);
    }
  }
  return frozen(out);
}

/**
 * Drops what no read at `now` or later can use: tiles and sketch entries before the window's
 * first tile, top values older than it, and the state of aggregations no longer defined.
 */
export function pruneState(view: FeatureView, state: AggregationState | undefined, now: number): AggregationState {
  const out: MutableState = { tiles: {}, sketches: {}, tops: {} };
  for (const w of aggregationWindows(view)) {
    const from = windowStart(now, w.windowMs);
    const fromTile = from / w.tileMs;
    const tiles = state?.tiles?.[w.key];
    if (tiles) out.tiles[w.key] = Object.fromEntries(Object.entries(tiles).filter(([index]) => Number(index) >= fromTile));
    const sketch = state?.sketches?.[w.key];
    if (sketch) out.sketches[w.key] = sketchPrune(sketch, fromTile);
    const tops = state?.tops?.[w.key];
    if (tops) out.tops[w.key] = tops.filter((s) => s[0] >= from);
  }
  return frozen(out);
}

/** The latest time a read can still see anything of the state (for the item's DynamoDB TTL). */
export function lastUseOfState(view: FeatureView, state: AggregationState | undefined): number | undefined {
  let last: number | undefined;
  const use = (end: number) => {
    last = last === undefined ? end : Math.max(last, end);
  };
  for (const w of aggregationWindows(view)) {
    for (const index of Object.keys(state?.tiles?.[w.key] ?? {})) use(Number(index) * w.tileMs + w.windowMs);
    for (const index of Object.keys(state?.sketches?.[w.key] ?? {})) use(Number(index) * w.tileMs + w.windowMs);
    for (const s of state?.tops?.[w.key] ?? []) use(tileStart(s[0], w.tileMs) + w.windowMs);
  }
  return last;
}

/**
 * The aggregation features of a view at time t from the states that together hold its rows
 * (the online tiers) and rows not yet in any state (events stamped after the last write).
 */
export function readAggregates(view: FeatureView, states: readonly (AggregationState | undefined)[], t: number, extraRows: readonly ViewRow[] = []): Row {
  const all = extraRows.length ? [...states, addRows(view, undefined, extraRows)] : states;
  const out: Row = {};
  for (const w of aggregationWindows(view)) {
    const from = windowStart(t, w.windowMs);
    const fromTile = from / w.tileMs;
    const toTile = tileStart(t, w.tileMs) / w.tileMs;
    const a = w.aggregation;
    if (w.kind === 'tile') {
      let combined: unknown;
      for (const state of all) {
        for (const [index, partial] of Object.entries(state?.tiles?.[w.key] ?? {})) {
          const i = Number(index);
          if (i >= fromTile && i <= toTile) combined = mergePartial(a, combined, partial);
        }
      }
      out[a.name] = finalizeAggregate(a, combined);
    } else if (w.kind === 'sketch') {
      out[a.name] = sketchEstimate(
        all.map((s) => s?.sketches?.[w.key]),
        fromTile,
        toTile,
      );
    } else {
      let tops: Stamped[] = [];
      for (const state of all)
        tops = mergeTops(
          a.n ?? 1,
          tops,
          (state?.tops?.[w.key] ?? []).filter((s) => s[0] >= from && s[0] <= t),
        );
      out[a.name] = finalizeAggregate(a, tops.length ? (a.fn === 'last' ? tops[0] : tops) : undefined);
    }
  }
  return out;
}

/** The feature value from a combined partial (undefined: no rows in the window). */
export function finalizeAggregate(aggregation: Aggregation, state: unknown): unknown {
  if (state === undefined || state === null) return emptyValue(aggregation);
  switch (aggregation.fn) {
    case 'count':
      return state;
    case 'sum':
      return round(exact(state as number));
    case 'avg': {
      const [sum, n] = state as [number, number];
      return n === 0 ? null : round(exact(sum) / n);
    }
    case 'min':
    case 'max':
      return state;
    case 'last':
      return (state as Stamped)[3];
    case 'last_n':
      return (state as Stamped[]).map((s) => s[3]);
    case 'approx_distinct':
      return state;
  }
}

/**
 * A raw aggregate of the point-in-time SQL (count, sum, sum/count, min, max, max_by, top-n
 * max_by, the distinct values of a window) finished the way the tiles are online.
 */
export function finalizeSqlAggregate(aggregation: Aggregation, raw: unknown): unknown {
  if (raw === null || raw === undefined) return emptyValue(aggregation);
  switch (aggregation.fn) {
    case 'count':
      return Number(raw);
    case 'approx_distinct': // the SQL returns the window's distinct values: the same sketch as online
      return estimateOfValues(raw as unknown[]);
    case 'sum':
      return round(exact(Number(raw)));
    case 'avg': // the SQL divides the sum rounded to SUM_EXACT_DECIMALS
      return round(Number(raw));
    case 'last_n':
      return [...(raw as unknown[])];
    default:
      return raw;
  }
}
