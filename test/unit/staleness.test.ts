import { describe, expect, it } from 'vitest';
import { mulberry32 } from '../../features/generator.js';
import { adviseStaleness, auc, batchSavings, changedShare, fitLogistic } from '../../lambdas/core/staleness.js';

const HOUR = 3_600_000;

describe('the staleness advisor', () => {
  it('computes AUC as the share of positive–negative pairs ranked right, ties counting half', () => {
    expect(auc([0.1, 0.4, 0.35, 0.8], [0, 0, 1, 1])).toBe(0.75);
    expect(auc([1, 1, 1, 1], [0, 1, 0, 1])).toBe(0.5);
    expect(auc([3, 2, 1], [1, 1, 1])).toBe(0.5);
  });

  it('fits a logistic regression that ranks a separable sample perfectly', () => {
    const x = [-2, -1, -0.5, 0.5, 1, 2].map((v) => [1, v]);
    const y = [0, 0, 0, 1, 1, 1];
    const w = fitLogistic(x, y);
    expect(w[1]).toBeGreaterThan(1);
    expect(
      auc(
        x.map((row) => (w[0] as number) + (w[1] as number) * (row[1] as number)),
        y,
      ),
    ).toBe(1);
  });

  it('counts a change between null and a value, and compares lists by content', () => {
    expect(changedShare([1, null, ['a'], 'x'], [1, 2, ['a'], 'y'])).toBe(0.5);
  });

  it('says a fast-moving predictive feature needs streaming and a slow-moving one is fine in batch', () => {
    // burst: the label follows it, and it is redrawn between t − 5m and t for most rows;
    // segment: predictive too, but it only changes for 1 % of rows even a day back;
    // noise: changes all the time, and predicts nothing.
    const next = mulberry32(17);
    const n = 3000;
    const stalenesses = [5 * 60_000, HOUR, 6 * HOUR, 24 * HOUR];
    const burst: number[][] = Array.from({ length: stalenesses.length + 1 }, () => []);
    const segment: string[][] = Array.from({ length: stalenesses.length + 1 }, () => []);
    const noise: number[][] = Array.from({ length: stalenesses.length + 1 }, () => []);
    const labels: number[] = [];
    for (let i = 0; i < n; i++) {
      const fresh = next() * 10;
      const seg = next() < 0.5 ? 'gold' : 'basic';
      labels.push(next() < 1 / (1 + Math.exp(-(fresh - 5) * 1.5 - (seg === 'gold' ? 1.5 : -1.5))) ? 1 : 0);
      burst[0]?.push(fresh);
      segment[0]?.push(seg);
      noise[0]?.push(next());
      for (let k = 1; k <= stalenesses.length; k++) {
        burst[k]?.push(next() < 0.8 ? next() * 10 : fresh);
        segment[k]?.push(next() < 0.01 ? (seg === 'gold' ? 'basic' : 'gold') : seg);
        noise[k]?.push(next());
      }
    }

    const advice = adviseStaleness({
      features: [
        { column: 'v__burst', view: 'v', type: 'float' },
        { column: 'v__segment', view: 'v', type: 'string' },
        { column: 'v__noise', view: 'v', type: 'float' },
      ],
      stalenesses,
      values: new Map<string, unknown[][]>([
        ['v__burst', burst],
        ['v__segment', segment],
        ['v__noise', noise],
      ]),
      labels,
    });

    const byColumn = Object.fromEntries(advice.features.map((f) => [f.column, f]));
    expect(advice.criterion).toBe('auc-drop');
    expect(advice.modelAuc).toBeGreaterThan(0.85);
    expect(byColumn.v__burst?.batchEveryMs).toBeUndefined();
    expect(byColumn.v__burst?.effects[0]?.changeShare).toBeGreaterThan(0.7);
    expect(byColumn.v__burst?.effects[0]?.loss).toBeGreaterThan(0.05);
    expect(byColumn.v__segment?.batchEveryMs).toBe(24 * HOUR);
    expect(byColumn.v__segment?.aloneAuc).toBeGreaterThan(0.6);
    expect(byColumn.v__noise?.batchEveryMs).toBe(24 * HOUR);
    expect(byColumn.v__noise?.effects[0]?.changeShare).toBeGreaterThan(0.99);
  });

  it('without labels, judges by the share of values that change', () => {
    const advice = adviseStaleness({
      features: [{ column: 'v__x', view: 'v', type: 'int' }],
      stalenesses: [60_000, HOUR],
      values: new Map([
        [
          'v__x',
          [
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
            [1, 2, 3, 4, 5, 6, 7, 8, 0, 0],
          ],
        ],
      ]),
    });
    expect(advice.criterion).toBe('change-share');
    expect(advice.features[0]?.effects.map((e) => e.changeShare)).toEqual([0, 0.2]);
    expect(advice.features[0]?.batchEveryMs).toBe(60_000);
  });

  it('prices a batch schedule by the item writes it avoids', () => {
    const [saving] = batchSavings({ periodMs: 12 * HOUR, events: 1000, batchWrites: new Map([[HOUR, 100]]) }, { writeUnits: 2, lambdaMs: 5 });
    expect(saving).toEqual({
      stalenessMs: HOUR,
      streamWritesPerDay: 2000,
      batchWritesPerDay: 200,
      writeUnitsSavedPerDay: 3600,
      lambdaSecondsSavedPerDay: 9,
    });
  });
});
