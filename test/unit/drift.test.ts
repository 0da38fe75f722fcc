import { describe, expect, it } from 'vitest';
import { previousDay } from '../../lambdas/app/profile-job.js';
import {
  bucketValue,
  compareProfiles,
  dayDrift,
  dayNumber,
  ks,
  mergeProfiles,
  type NumericProfile,
  type Profile,
  psi,
  quantile,
  sketchBucket,
} from '../../lambdas/core/drift.js';

const profileOf = (values: readonly (number | null)[]): NumericProfile => {
  const buckets = new Map<number, number>();
  let sum = 0;
  let sumSquares = 0;
  for (const v of values) {
    if (v === null) continue;
    buckets.set(sketchBucket(v), (buckets.get(sketchBucket(v)) ?? 0) + 1);
    sum += v;
    sumSquares += v * v;
  }
  return { kind: 'numeric', count: values.length, nulls: values.filter((v) => v === null).length, sum, sumSquares, buckets };
};

describe('drift', () => {
  it('keeps quantiles within the sketch’s 1 % relative accuracy, for negatives and zero too', () => {
    for (const v of [0.003, 1, 42.5, 1e6, -7.25]) expect(Math.abs(bucketValue(sketchBucket(v)) - v)).toBeLessThanOrEqual(Math.abs(v) * 0.01);
    expect(bucketValue(sketchBucket(0))).toBe(0);
    const p = profileOf(Array.from({ length: 1000 }, (_, i) => i + 1));
    expect(quantile(p, 0.5)).toBeCloseTo(500, -1);
    expect(quantile(p, 0.9)).toBeCloseTo(900, -1);
  });

  it('merges profiles by adding them: two halves give the profile of the whole', () => {
    const values = Array.from({ length: 200 }, (_, i) => (i % 7 === 0 ? null : i * 1.5));
    expect(mergeProfiles(profileOf(values.slice(0, 77)), profileOf(values.slice(77)))).toEqual(profileOf(values));
  });

  it('gives PSI 0 and KS 0 for the same distribution, and large values for a shifted one', () => {
    const base = profileOf(Array.from({ length: 1000 }, (_, i) => 100 + (i % 50)));
    const same = compareProfiles(base, profileOf(Array.from({ length: 500 }, (_, i) => 100 + (i % 50))));
    expect(same.psi).toBeCloseTo(0, 6);
    expect(same.ks).toBeCloseTo(0, 6);
    const shifted = compareProfiles(base, profileOf(Array.from({ length: 500 }, (_, i) => 140 + (i % 50))));
    expect(shifted.psi).toBeGreaterThan(1);
    expect(ks(base, profileOf([200, 300]))).toBeCloseTo(1, 9);
    expect(psi([0.5, 0.5], [0.5, 0.5])).toBe(0);
  });

  it('compares text by the training set’s top values, other and null', () => {
    const cat = (entries: [string, number][], nulls = 0) => ({
      kind: 'categorical' as const,
      count: entries.reduce((a, [, n]) => a + n, 0) + nulls,
      nulls,
      values: new Map(entries),
    });
    const c = compareProfiles(
      cat([
        ['FR', 50],
        ['DE', 50],
      ]),
      cat(
        [
          ['FR', 25],
          ['DE', 25],
          ['JP', 25],
        ],
        25,
      ),
    );
    expect(c.bins).toEqual(['DE', 'FR', 'other', 'null']);
    expect(c.actual).toEqual([0.25, 0.25, 0.25, 0.25]);
    expect(c.psi).toBeGreaterThan(0.25);
  });

  it('compares a day with the days before it only, merged: not with itself, nor with days outside the reference', () => {
    const day = dayNumber('2026-07-08');
    const days = new Map<number, Profile>([
      [day - 8, profileOf([1000, 1000])], // outside a 7-day reference
      [day - 7, profileOf([10, 11])],
      [day - 1, profileOf([12, 13])],
      [day, profileOf([10, 11, 12, 13])],
      [day + 1, profileOf([500])],
    ]);

    const drift = dayDrift(days, day, 7);

    expect(drift.reference).toEqual(mergeProfiles(days.get(day - 7) as Profile, days.get(day - 1) as Profile));
    expect(drift.comparison?.psi).toBeLessThan(0.01);
    expect(dayDrift(days, day - 8, 7)).toEqual({ profile: days.get(day - 8) });
    expect(previousDay(Date.parse('2026-07-09T00:30:00Z'))).toBe('2026-07-08');
  });
});
