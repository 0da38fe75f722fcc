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
 * online tiers of online.ts are states merged on read). What each function merges, finishes
 * and yields is its entry in aggregation-functions.ts; this module only keeps the states.
 */
import { type AggregationFunctionSpec, emptyValue, functionOf, type Stamped, type TiledFunction, type TopFunction } from './aggregation-functions.js';
import type { Aggregation, FeatureView, Row } from './definitions.js';
import { viewDurations } from './duration.js';
import { type Sketch, sketchEstimate, sketchMerge, sketchOf, sketchPrune } from './hll.js';
import type { ViewRow } from './ingest.js';
import { compareStamps, newestFirst } from './order.js';
import { tileSize, tileStart, windowStart } from './windows.js';

export type { Stamped } from './aggregation-functions.js';

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
  readonly fn: AggregationFunctionSpec;
  readonly windowMs: number;
  readonly tileMs: number;
  readonly key: string;
}

const windowsByView = new WeakMap<FeatureView, readonly AggregationWindow[]>();

export function aggregationWindows(view: FeatureView): readonly AggregationWindow[] {
  let windows = windowsByView.get(view);
  if (!windows) {
    const { windowsMs } = viewDurations(view);
    windows = view.aggregations.map((aggregation, i) => {
      const windowMs = windowsMs[i] as number;
      const tileMs = tileSize(windowMs);
      return { aggregation, fn: functionOf(aggregation), windowMs, tileMs, key: `${aggregation.name}@${tileMs / 60_000}` };
    });
    windowsByView.set(view, windows);
  }
  return windows;
}

/** How long after `now` a read may still use what an event at `eventTs` added: the longest window. */
export function longestWindowMs(view: FeatureView): number {
  return Math.max(0, ...aggregationWindows(view).map((w) => w.windowMs));
}

/** Combines two partials of one tiled aggregation (either may be undefined). */
function mergePartial(fn: TiledFunction, a: unknown, b: unknown): unknown {
  if (a === undefined || a === null) return b;
  if (b === undefined || b === null) return a;
  return fn.merge(a, b);
}

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
      if (a.column && value === null) continue;
      if (w.fn.state === 'tile') {
        const index = String(tileStart(row.eventTs, w.tileMs) / w.tileMs);
        const tiles = out.tiles[w.key] ?? {};
        out.tiles[w.key] = tiles;
        tiles[index] = mergePartial(w.fn, tiles[index], w.fn.partial(value));
      } else if (w.fn.state === 'sketch') {
        const byTile = sketchValues.get(w.key) ?? new Map<number, unknown[]>();
        sketchValues.set(w.key, byTile);
        const tile = tileStart(row.eventTs, w.tileMs) / w.tileMs;
        byTile.set(tile, [...(byTile.get(tile) ?? []), value]);
      } else {
        out.tops[w.key] = mergeTops(w.fn.keeps(a), out.tops[w.key], [[row.eventTs, row.ingestTs, row.eventId, value]]);
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
    if (w.fn.state === 'tile') {
      const from = b?.tiles?.[w.key];
      if (!from) continue;
      const tiles = out.tiles[w.key] ?? {};
      out.tiles[w.key] = tiles;
      for (const [index, partial] of Object.entries(from)) tiles[index] = mergePartial(w.fn, tiles[index], partial);
    } else if (w.fn.state === 'sketch') {
      if (b?.sketches?.[w.key]) out.sketches[w.key] = sketchMerge(out.sketches[w.key], b.sketches[w.key]);
    } else if (b?.tops?.[w.key]) {
      out.tops[w.key] = mergeTops(w.fn.keeps(w.aggregation), out.tops[w.key], b.tops[w.key]);
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
    const fn = w.fn;
    if (fn.state === 'tile') {
      let combined: unknown;
      for (const state of all) {
        for (const [index, partial] of Object.entries(state?.tiles?.[w.key] ?? {})) {
          const i = Number(index);
          if (i >= fromTile && i <= toTile) combined = mergePartial(fn, combined, partial);
        }
      }
      out[a.name] = combined === undefined || combined === null ? emptyValue(a) : fn.finish(combined);
    } else if (fn.state === 'sketch') {
      out[a.name] = sketchEstimate(
        all.map((s) => s?.sketches?.[w.key]),
        fromTile,
        toTile,
      );
    } else {
      out[a.name] = readTops(fn, a, all, w.key, from, t);
    }
  }
  return out;
}

/** A top aggregation at t: the newest values stamped in [from, t] across the states, finished. */
function readTops(fn: TopFunction, a: Aggregation, states: readonly (AggregationState | undefined)[], key: string, from: number, t: number): unknown {
  let tops: Stamped[] = [];
  for (const state of states)
    tops = mergeTops(
      fn.keeps(a),
      tops,
      (state?.tops?.[key] ?? []).filter((s) => s[0] >= from && s[0] <= t),
    );
  return tops.length ? fn.finish(tops) : emptyValue(a);
}
