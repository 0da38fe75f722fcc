/**
 * approx_distinct as a HyperLogLog sketch over a sliding window, the same on every path.
 *
 * Each distinct value is hashed (`valueHash`: FNV-1a of its text, then murmur3's finaliser);
 * the top `PRECISION` bits pick one of 2^PRECISION registers, the rank is the position of the
 * first 1 bit in the rest. A window's estimate is HyperLogLog's (with linear counting for small
 * counts) over the registers' maxima of the values in the window: standard error ≈ 1.04/√m,
 * 3.25 % at m = 1024.
 *
 * Online, a window's tail moves tile by tile, and registers cannot be subtracted. So instead
 * of registers per tile, the sketch keeps, per register, the ranks that can still be the
 * register's maximum in some future window ("sliding HyperLogLog", Chabchoub & Hébrail): an
 * entry (tile, rank) is dropped once a newer-or-equal tile holds a rank at least as high. That
 * is a few entries per register whatever the event rate, and it answers every window exactly
 * as registers kept per tile would. Offline, the SQL returns the distinct values of a window
 * and `estimateOfValues` builds the same registers from them: both paths agree to the unit.
 */

export const PRECISION = 10;
const M = 1 << PRECISION;
const RANK_BITS = 32 - PRECISION;

/** A 32-bit hash of a value's text: FNV-1a over UTF-16 code units, then murmur3's fmix32. */
export function valueHash(value: unknown): number {
  const text = typeof value === 'string' ? value : JSON.stringify(value);
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The register and rank (1 + leading zeros of the remaining bits) of a value. */
export function registerOf(value: unknown): [register: number, rank: number] {
  const h = valueHash(value);
  const register = h >>> RANK_BITS;
  const rest = (h << PRECISION) >>> 0;
  const rank = rest === 0 ? RANK_BITS + 1 : Math.clz32(rest) + 1;
  return [register, rank];
}

/** HyperLogLog's estimate from registers (register → max rank; absent = 0), rounded. */
export function estimate(registers: ReadonlyMap<number, number>): number {
  if (registers.size === 0) return 0;
  let sum = M - registers.size; // 2^-0 for every empty register
  for (const rank of registers.values()) sum += 2 ** -rank;
  const alpha = 0.7213 / (1 + 1.079 / M);
  const raw = (alpha * M * M) / sum;
  const empty = M - registers.size;
  if (raw <= 2.5 * M && empty > 0) return Math.round(M * Math.log(M / empty));
  if (raw > 2 ** 32 / 30) return Math.round(-(2 ** 32) * Math.log(1 - raw / 2 ** 32));
  return Math.round(raw);
}

/** The estimate for a set of raw values: what the offline path finishes its SQL with. */
export function estimateOfValues(values: Iterable<unknown>): number {
  const registers = new Map<number, number>();
  for (const value of values) {
    if (value === null || value === undefined) continue;
    const [register, rank] = registerOf(value);
    if ((registers.get(register) ?? 0) < rank) registers.set(register, rank);
  }
  return estimate(registers);
}

/**
 * A sliding sketch: entries `register × 64 + rank` by tile index. Stored as
 * `{ [tileIndex]: number[] }`, so one tile's entries share its key.
 */
export type Sketch = Record<string, number[]>;

const pack = (register: number, rank: number) => register * 64 + rank;
const unpack = (entry: number): [number, number] => [Math.floor(entry / 64), entry % 64];

/** The sketch of values seen in tiles (tile index → values). */
export function sketchOf(valuesByTile: ReadonlyMap<number, readonly unknown[]>): Sketch {
  const raw: Sketch = {};
  for (const [tile, values] of valuesByTile) {
    const ranks = new Map<number, number>();
    for (const value of values) {
      const [register, rank] = registerOf(value);
      if ((ranks.get(register) ?? 0) < rank) ranks.set(register, rank);
    }
    raw[tile] = [...ranks].map(([register, rank]) => pack(register, rank));
  }
  return sketchMerge(raw, {});
}

/**
 * Merges two sketches and drops every entry that a newer-or-equal tile dominates (an equal or
 * higher rank in the same register): such an entry is never a window's maximum.
 */
export function sketchMerge(a: Sketch | undefined, b: Sketch | undefined): Sketch {
  const tiles = [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})].map(Number))].sort((x, y) => y - x);
  const best = new Map<number, number>(); // register → highest rank in newer tiles
  const out: Sketch = {};
  for (const tile of tiles) {
    const ranks = new Map<number, number>();
    for (const entry of [...(a?.[tile] ?? []), ...(b?.[tile] ?? [])]) {
      const [register, rank] = unpack(entry);
      if ((ranks.get(register) ?? 0) < rank) ranks.set(register, rank);
    }
    const kept: number[] = [];
    for (const [register, rank] of ranks) {
      if ((best.get(register) ?? 0) >= rank) continue;
      best.set(register, rank);
      kept.push(pack(register, rank));
    }
    if (kept.length) out[tile] = kept.sort((x, y) => x - y);
  }
  return out;
}

/** Drops the tiles before `fromTile`. */
export function sketchPrune(sketch: Sketch, fromTile: number): Sketch {
  const out: Sketch = {};
  for (const [tile, entries] of Object.entries(sketch)) if (Number(tile) >= fromTile) out[tile] = entries;
  return out;
}

/** The estimate over tiles fromTile..toTile of some sketches. */
export function sketchEstimate(sketches: readonly (Sketch | undefined)[], fromTile: number, toTile: number): number {
  const registers = new Map<number, number>();
  for (const sketch of sketches) {
    for (const [tile, entries] of Object.entries(sketch ?? {})) {
      const t = Number(tile);
      if (t < fromTile || t > toTile) continue;
      for (const entry of entries) {
        const [register, rank] = unpack(entry);
        if ((registers.get(register) ?? 0) < rank) registers.set(register, rank);
      }
    }
  }
  return estimate(registers);
}
