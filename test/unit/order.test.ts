/**
 * The one order of "latest" (lambdas/core/order.ts): event time, then ingest time, then event id
 * by code point — the order DuckDB and Trino give the same rows, so every path picks the same
 * winner of a tie.
 */
import { describe, expect, it } from 'vitest';
import { compareStamps, compareText, type Stamp } from '../../lambdas/core/order.js';

const sign = (n: number) => Math.sign(n);
/** Sorts ids as the SQL engines sort VARCHAR. */
const sortIds = (ids: string[]) => [...ids].sort(compareText);

describe('event ids compare by code point, as the SQL engines compare text', () => {
  it('put a prefix before the longer id, whichever side it is on', () => {
    expect(sortIds(['abc', 'ab', 'abcd', 'a'])).toEqual(['a', 'ab', 'abc', 'abcd']);
    expect(sign(compareText('ab', 'abc'))).toBe(-1);
    expect(sign(compareText('abc', 'ab'))).toBe(1);
  });

  it('are equal only for the same id', () => {
    expect(compareText('evt-1', 'evt-1')).toBe(0);
    expect(compareText('', '')).toBe(0);
    expect(sign(compareText('', 'a'))).toBe(-1);
  });

  it('put characters above U+FFFF after those in U+E000–U+FFFF, unlike JavaScript’s <', () => {
    expect(sortIds(['\u{1F600}', '\uFF5E', '\uE000', 'z'])).toEqual(['z', '\uE000', '\uFF5E', '\u{1F600}']);
    expect(sign(compareText('\u{1F600}', '\uFFFF'))).toBe(1);
  });

  it('go on past a character above U+FFFF, or U+FFFF itself, to the next one', () => {
    expect(sign(compareText('\u{1F600}a', '\u{1F600}b'))).toBe(-1);
    expect(sign(compareText('\u{1F600}b', '\u{1F600}a'))).toBe(1);
    expect(sign(compareText('\uFFFFa', '\uFFFFb'))).toBe(-1);
    expect(sign(compareText('x\u{1F600}', 'x\u{1F600}!'))).toBe(-1);
  });
});

describe('rows order by event time, then ingest time, then event id', () => {
  const stamps: Stamp[] = [
    [2_000, 1, 'a'],
    [1_000, 9, 'z'],
    [1_000, 5, 'b'],
    [1_000, 5, 'a'],
    [1_000, 7, 'a'],
  ];

  it('older first, whatever the later fields say', () => {
    expect([...stamps].sort(compareStamps)).toEqual([
      [1_000, 5, 'a'],
      [1_000, 5, 'b'],
      [1_000, 7, 'a'],
      [1_000, 9, 'z'],
      [2_000, 1, 'a'],
    ]);
  });

  it('compare each pair the same from either side, and a stamp equal only to itself', () => {
    for (const a of stamps) {
      for (const b of stamps) {
        expect(sign(compareStamps(a, b)) + sign(compareStamps(b, a))).toBe(0);
        expect(compareStamps(a, b) === 0).toBe(a === b);
      }
    }
  });
});
