/**
 * approx_distinct's sketch (lambdas/core/hll.ts) on its own: how close the estimate is, and that
 * the sliding sketch kept online answers every window as the offline path's registers do while
 * staying small. The aggregation and point-in-time suites check it through whole views.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { estimateOfValues, PRECISION, registerOf, type Sketch, sketchEstimate, sketchMerge, sketchOf, sketchPrune } from '../../lambdas/core/hll.js';

const M = 1 << PRECISION;
/** Three standard errors of HyperLogLog with m registers: 1.04/√m each. */
const TOLERANCE = (3 * 1.04) / Math.sqrt(M);
const distinct = (n: number, prefix = 'user-') => Array.from({ length: n }, (_, i) => `${prefix}${i}`);

describe('approx_distinct estimates', () => {
  it('count small sets nearly exactly and large ones within three standard errors (3 × 3.25 %)', () => {
    expect(estimateOfValues([])).toBe(0);
    expect(estimateOfValues(['only'])).toBe(1);
    expect(estimateOfValues(distinct(10))).toBe(10);
    for (const n of [100, 1_000, 2_000, 5_000, 20_000, 100_000, 400_000]) {
      const estimate = estimateOfValues(distinct(n));
      expect(Math.abs(estimate - n) / n, `${n} distinct values, estimated ${estimate}`).toBeLessThan(TOLERANCE);
    }
  });

  it('count a value once however often it comes, and ignore nulls', () => {
    const values = distinct(300);
    const repeated = [...values, ...values, null, undefined, ...values.slice(0, 50)];
    expect(estimateOfValues(repeated)).toBe(estimateOfValues(values));
  });

  it('give the same answer for the same values in any order', () => {
    const values = distinct(3_000, 'card-');
    expect(estimateOfValues([...values].reverse())).toBe(estimateOfValues(values));
  });

  it('place every value in one of the 2^10 registers with a rank of 1 to 23', () => {
    for (const value of [...distinct(2_000), 0, 1.5, true, { a: 1 }]) {
      const [register, rank] = registerOf(value);
      expect(register).toBeGreaterThanOrEqual(0);
      expect(register).toBeLessThan(M);
      expect(rank).toBeGreaterThanOrEqual(1);
      expect(rank).toBeLessThanOrEqual(32 - PRECISION + 1);
    }
  });
});

/** Values by tile index, as a view's rows fall into tiles. */
const tilesArbitrary = fc
  .array(fc.record({ tile: fc.integer({ min: 0, max: 20 }), values: fc.array(fc.integer({ min: 0, max: 400 }), { maxLength: 60 }) }), { maxLength: 25 })
  .map((entries) => {
    const byTile = new Map<number, number[]>();
    for (const { tile, values } of entries) byTile.set(tile, [...(byTile.get(tile) ?? []), ...values]);
    return byTile;
  });
const valuesIn = (byTile: ReadonlyMap<number, readonly number[]>, from: number, to: number) =>
  [...byTile].flatMap(([tile, values]) => (tile >= from && tile <= to ? values : []));
const entries = (sketch: Sketch) =>
  Object.entries(sketch).flatMap(([tile, packed]) => packed.map((p) => ({ tile: Number(tile), register: Math.floor(p / 64), rank: p % 64 })));

describe('the sliding sketch kept online', () => {
  it('answers every window — its tail at any tile, its head at the newest — as the registers of its values do (the offline path)', () => {
    fc.assert(
      fc.property(tilesArbitrary, fc.integer({ min: 0, max: 20 }), (byTile, from) => {
        const head = Math.max(0, ...byTile.keys());
        expect(sketchEstimate([sketchOf(byTile)], from, head)).toBe(estimateOfValues(valuesIn(byTile, from, head)));
      }),
      { numRuns: 200 },
    );
  });

  it('merges the sketches of two writers into the sketch of all their values', () => {
    fc.assert(
      fc.property(tilesArbitrary, tilesArbitrary, fc.integer({ min: 0, max: 20 }), (first, second, from) => {
        const all = new Map(first);
        for (const [tile, values] of second) all.set(tile, [...(all.get(tile) ?? []), ...values]);
        const merged = sketchMerge(sketchOf(first), sketchOf(second));
        expect(merged).toEqual(sketchOf(all));
        expect(sketchEstimate([merged], from, 20)).toBe(estimateOfValues(valuesIn(all, from, 20)));
      }),
      { numRuns: 200 },
    );
  });

  it('keeps no entry that a newer or equal tile outranks in its register, so it stays small at any rate', () => {
    fc.assert(
      fc.property(tilesArbitrary, (byTile) => {
        const kept = entries(sketchOf(byTile));
        for (const e of kept) {
          expect(kept.some((o) => o !== e && o.register === e.register && o.tile >= e.tile && o.rank >= e.rank)).toBe(false);
        }
      }),
      { numRuns: 200 },
    );
    // 200 tiles of 500 distinct values each: a few entries per register, not one per value.
    const busy = new Map(Array.from({ length: 200 }, (_, tile) => [tile, distinct(500, `t${tile}-`)] as const));
    expect(entries(sketchOf(busy)).length).toBeLessThan(8 * M);
  });

  it('after pruning before a tile, holds no older tile and answers the ranges from it unchanged', () => {
    fc.assert(
      fc.property(tilesArbitrary, fc.integer({ min: 0, max: 20 }), (byTile, from) => {
        const sketch = sketchOf(byTile);
        const pruned = sketchPrune(sketch, from);
        expect(Object.keys(pruned).every((tile) => Number(tile) >= from)).toBe(true);
        expect(sketchEstimate([pruned], from, 20)).toBe(sketchEstimate([sketch], from, 20));
        expect(sketchEstimate([pruned], 0, 20)).toBe(estimateOfValues(valuesIn(byTile, from, 20)));
      }),
      { numRuns: 200 },
    );
  });

  it('reads several sketches (the tiers of an item) as one', () => {
    fc.assert(
      fc.property(tilesArbitrary, tilesArbitrary, (first, second) => {
        const all = new Map(first);
        for (const [tile, values] of second) all.set(tile, [...(all.get(tile) ?? []), ...values]);
        expect(sketchEstimate([sketchOf(first), undefined, sketchOf(second)], 0, 20)).toBe(estimateOfValues(valuesIn(all, 0, 20)));
      }),
      { numRuns: 100 },
    );
  });
});
