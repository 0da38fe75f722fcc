/**
 * Windowed aggregations online: per-tile partial states kept in the entity's item, combined
 * at read time with the window bounds of windows.ts. `finalizeAggregate` is the last step of
 * every path (online tiles, the offline SQL's raw aggregates, the reference implementation),
 * so rounding and empty-window values are decided in one place.
 */
import type { Aggregation, FeatureView, Row } from './definitions.js';
import { parseDuration } from './duration.js';
import type { ViewRow } from './ingest.js';
import { tileSize, tileStart, windowStart } from './windows.js';

/** An ordering key of rows: (event_ts, ingest_ts, event_id), the order of "latest" everywhere. */
export type Stamp = readonly [eventTs: number, ingestTs: number, eventId: string];
type Stamped = readonly [eventTs: number, ingestTs: number, eventId: string, value: unknown];

export const compareStamps = (a: Stamp | Stamped, b: Stamp | Stamped): number =>
  a[0] !== b[0] ? a[0] - b[0] : a[1] !== b[1] ? a[1] - b[1] : a[2] < b[2] ? -1 : a[2] > b[2] ? 1 : 0;

/** Tiles of one tile size: tile start (epoch ms) → aggregation name → partial state. */
export type Tiles = Record<string, Record<string, unknown>>;

export interface AggregationState {
  /** Tile size (ms) → tiles of that size. */
  readonly tiles: Record<string, Tiles>;
  /**
   * The events already counted, as 48-bit hashes of their ids (`eventIdHash`), by the UTC day
   * of their event time; a day is kept while any tile of it is. About 8 bytes an event.
   */
  readonly seen: Record<string, number[]>;
}

const DAY_MS = 86_400_000;
const dayOf = (ts: number) => Math.floor(ts / DAY_MS) * DAY_MS;

/**
 * A 48-bit hash of an event id (two 32-bit FNV-1a hashes with different seeds): ids of one
 * entity's window collide with probability ≈ n² / 2⁴⁹ (1e-7 at n = 10 000 events).
 */
export function eventIdHash(eventId: string): number {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < eventId.length; i++) {
    const c = eventId.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return (a >>> 0) * 0x10000 + ((b >>> 0) >>> 16);
}

export const EMPTY_STATE: AggregationState = { tiles: {}, seen: {} };

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

/**
 * A 32-bit FNV-1a hash of a value's text: what approx_distinct counts. Distinct counts are
 * exact over hashes, so two paths agree to the unit; collisions make them approximate
 * (expected error ≈ n² / 2³³: 0.01 at n = 10 000).
 */
export function distinctHash(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  let hash = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i);
    hash = Math.imul(hash, 0x01000193);
  }
  return hash >>> 0;
}

interface AggregationWindow {
  readonly aggregation: Aggregation;
  readonly windowMs: number;
  readonly tileMs: number;
}

export function aggregationWindows(view: FeatureView): AggregationWindow[] {
  return view.aggregations.map((aggregation) => {
    const windowMs = parseDuration(aggregation.window) as number;
    return { aggregation, windowMs, tileMs: tileSize(windowMs) };
  });
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

/** One row's contribution to a tile's state. */
function add(aggregation: Aggregation, state: unknown, row: ViewRow): unknown {
  const value = aggregation.column ? (row.values[aggregation.column] ?? null) : null;
  if (aggregation.fn === 'count') return ((state as number | undefined) ?? 0) + 1;
  if (value === null) return state;
  const stamped: Stamped = [row.eventTs, row.ingestTs, row.eventId, value];
  return merge(aggregation, state, single(aggregation, value, stamped));
}

function single(aggregation: Aggregation, value: unknown, stamped: Stamped): unknown {
  switch (aggregation.fn) {
    case 'count':
      return 1;
    case 'sum':
    case 'min':
    case 'max':
      return value;
    case 'avg':
      return [value, 1];
    case 'last':
      return stamped;
    case 'last_n':
      return [stamped];
    case 'approx_distinct':
      return [distinctHash(value)];
  }
}

/** Combines two partial states of one aggregation (either may be undefined). */
export function merge(aggregation: Aggregation, a: unknown, b: unknown): unknown {
  if (a === undefined || a === null) return b;
  if (b === undefined || b === null) return a;
  switch (aggregation.fn) {
    case 'count':
    case 'sum':
      return (a as number) + (b as number);
    case 'avg': {
      const [s1, n1] = a as [number, number];
      const [s2, n2] = b as [number, number];
      return [s1 + s2, n1 + n2];
    }
    case 'min':
      return (b as number) < (a as number) ? b : a;
    case 'max':
      return (b as number) > (a as number) ? b : a;
    case 'last':
      return compareStamps(b as Stamped, a as Stamped) > 0 ? b : a;
    case 'last_n':
      return [...(a as Stamped[]), ...(b as Stamped[])].sort((x, y) => compareStamps(y, x)).slice(0, aggregation.n ?? 1);
    case 'approx_distinct':
      return [...new Set([...(a as number[]), ...(b as number[])])].sort((x, y) => x - y);
  }
}

/** The feature value from a combined partial state (undefined: no rows in the window). */
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
      return (state as number[]).length;
  }
}

/**
 * A raw aggregate of the point-in-time SQL (count, sum, sum/count, min, max, max_by, top-n
 * max_by, count distinct over a window's rows) finished the way the tiles are online.
 */
export function finalizeSqlAggregate(aggregation: Aggregation, raw: unknown): unknown {
  if (raw === null || raw === undefined) return emptyValue(aggregation);
  switch (aggregation.fn) {
    case 'count':
      return Number(raw);
    case 'approx_distinct': // the SQL returns the window's distinct values
      return Array.isArray(raw) ? new Set(raw).size : Number(raw);
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

/**
 * Adds rows to the tiles, once per event id. Tiles that no window can reach any more at
 * `now` (and rows that would land in them) are dropped, which bounds the item's size.
 */
export function applyToTiles(view: FeatureView, state: AggregationState, rows: readonly ViewRow[], now: number): AggregationState | undefined {
  const windows = aggregationWindows(view);
  if (!windows.length) return undefined;
  const horizon = new Map<number, number>(); // tile size → oldest tile start still needed
  for (const w of windows) horizon.set(w.tileMs, Math.min(horizon.get(w.tileMs) ?? Number.POSITIVE_INFINITY, windowStart(now, w.windowMs)));
  const oldestNeeded = Math.min(...horizon.values());
  const tiles: Record<string, Tiles> = {};
  for (const [size, byStart] of Object.entries(state.tiles)) {
    const keep = horizon.get(Number(size));
    if (keep === undefined) continue;
    tiles[size] = Object.fromEntries(Object.entries(byStart).filter(([start]) => Number(start) >= keep));
  }
  const seen: Record<string, number[]> = Object.fromEntries(Object.entries(state.seen).filter(([day]) => Number(day) + DAY_MS > oldestNeeded));
  let changed = Object.keys(seen).length !== Object.keys(state.seen).length;
  const lookups = new Map<string, Set<number>>();
  for (const row of rows) {
    if (row.eventTs < oldestNeeded) continue;
    const day = String(dayOf(row.eventTs));
    const hash = eventIdHash(row.eventId);
    let known = lookups.get(day);
    if (!known) {
      known = new Set(seen[day] ?? []);
      lookups.set(day, known);
    }
    if (known.has(hash)) continue;
    known.add(hash);
    changed = true;
    for (const w of windows) {
      const start = tileStart(row.eventTs, w.tileMs);
      if (start < (horizon.get(w.tileMs) as number)) continue;
      const bySize = tiles[w.tileMs] ?? {};
      tiles[w.tileMs] = bySize;
      const tile = bySize[start] ?? {};
      bySize[start] = tile;
      tile[w.aggregation.name] = add(w.aggregation, tile[w.aggregation.name], row);
    }
  }
  for (const [day, known] of lookups) if (known.size !== (seen[day]?.length ?? 0)) seen[day] = [...known];
  for (const [size, byStart] of Object.entries(tiles)) {
    if (Object.keys(byStart).length !== Object.keys(state.tiles[size] ?? {}).length) changed = true;
  }
  return changed ? { tiles, seen } : undefined;
}

/** The aggregation features of a view at time t, from its tiles. */
export function readAggregates(view: FeatureView, state: AggregationState | undefined, t: number): Row {
  const out: Row = {};
  for (const w of aggregationWindows(view)) {
    const from = windowStart(t, w.windowMs);
    const to = tileStart(t, w.tileMs);
    let combined: unknown;
    for (const [start, tile] of Object.entries(state?.tiles[w.tileMs] ?? {})) {
      const s = Number(start);
      if (s >= from && s <= to) combined = merge(w.aggregation, combined, tile[w.aggregation.name]);
    }
    out[w.aggregation.name] = finalizeAggregate(w.aggregation, combined);
  }
  return out;
}

/** The latest tile end of any window, for the item's DynamoDB TTL. */
export function lastUseOfTiles(view: FeatureView, state: AggregationState): number | undefined {
  let last: number | undefined;
  for (const w of aggregationWindows(view)) {
    for (const start of Object.keys(state.tiles[w.tileMs] ?? {})) {
      const end = Number(start) + w.windowMs;
      last = last === undefined ? end : Math.max(last, end);
    }
  }
  return last;
}
