/**
 * The staleness advisor's maths: which "real-time" features lose nothing when served Δ stale,
 * so that a batch run every Δ would do (Rakuten's finding: about 40 % of them).
 *
 * Input: for each label row, every feature's value as of t (fresh) and as of t − Δ for each Δ
 * (what a batch run every Δ serves at worst), and optionally the row's 0/1 label. Output, per
 * feature and Δ:
 * - the share of rows whose value changed between t − Δ and t;
 * - with labels, the AUC on held-out rows of a small logistic regression over that feature
 *   alone, fresh and stale, and of one over every feature with only that feature made stale,
 *   against the all-fresh model (the loss of predictive power is the drop in AUC);
 * - the verdict: the largest Δ up to which the loss stays within the tolerance (with labels;
 *   else the change share) — "batch every Δ is enough" — or "needs streaming".
 *
 * Pure and deterministic: the held-out rows are every third row, the regression is Newton's
 * method with a small ridge penalty from zero weights.
 */
import type { FeatureType } from './definitions.js';

export interface AdvisedFeature {
  /** `view__feature`, as in training sets. */
  readonly column: string;
  readonly view: string;
  readonly type: FeatureType;
}

export interface StalenessSample {
  readonly features: readonly AdvisedFeature[];
  /** Δ in milliseconds, ascending, all > 0. */
  readonly stalenesses: readonly number[];
  /** values[column][k][i]: the value for label row i as of t − Δ_k, where k = 0 is Δ = 0 (fresh) and k ≥ 1 is stalenesses[k − 1]. */
  readonly values: ReadonlyMap<string, readonly (readonly unknown[])[]>;
  /** 0/1 per label row; absent without labels. */
  readonly labels?: readonly number[];
}

export interface AdvisorOptions {
  /** Largest acceptable drop in AUC (of the service's model) from serving the feature stale. @default 0.01 */
  readonly tolerance?: number;
  /** Without labels: largest acceptable share of rows whose value changes. @default 0.05 */
  readonly maxChangeShare?: number;
}

export interface StalenessEffect {
  readonly stalenessMs: number;
  /** Share of label rows whose value at t − Δ differs from the value at t, 0..1. */
  readonly changeShare: number;
  /** With labels: held-out AUC of the feature alone, served Δ stale. */
  readonly aloneAuc?: number;
  /** With labels: held-out AUC of the model over every feature with this one Δ stale. */
  readonly modelAuc?: number;
  /** What the verdict weighs: the model's AUC drop with labels, else the change share. */
  readonly loss: number;
}

export interface FeatureAdvice {
  readonly column: string;
  readonly view: string;
  /** With labels: held-out AUC of the feature alone, fresh. */
  readonly aloneAuc?: number;
  readonly effects: readonly StalenessEffect[];
  /** The largest Δ (ms) a batch schedule may lag by with no loss beyond the tolerance; undefined: needs streaming. */
  readonly batchEveryMs?: number;
}

export interface StalenessAdvice {
  readonly rows: number;
  /** With labels: held-out AUC of the model over every feature, all fresh. */
  readonly modelAuc?: number;
  readonly criterion: 'auc-drop' | 'change-share';
  readonly threshold: number;
  readonly features: readonly FeatureAdvice[];
}

export function adviseStaleness(sample: StalenessSample, options: AdvisorOptions = {}): StalenessAdvice {
  const rows = sample.labels?.length ?? sample.values.get(sample.features[0]?.column ?? '')?.[0]?.length ?? 0;
  const labels = sample.labels && new Set(sample.labels).size === 2 ? sample.labels : undefined;
  const criterion = labels ? 'auc-drop' : 'change-share';
  const threshold = labels ? (options.tolerance ?? 0.01) : (options.maxChangeShare ?? 0.05);
  const at = (column: string, k: number): readonly unknown[] => sample.values.get(column)?.[k] ?? [];
  const split = holdOut(rows);

  let baseline: number | undefined;
  if (labels)
    baseline = heldOutAuc(
      sample.features.map((f) => [f, at(f.column, 0)] as const),
      labels,
      split,
    );

  const features = sample.features.map((feature): FeatureAdvice => {
    const fresh = at(feature.column, 0);
    const aloneFresh = labels ? heldOutAuc([[feature, fresh]], labels, split) : undefined;
    const effects = sample.stalenesses.map((stalenessMs, index): StalenessEffect => {
      const stale = at(feature.column, index + 1);
      const changeShare = changedShare(fresh, stale);
      if (!labels || baseline === undefined) return { stalenessMs, changeShare, loss: changeShare };
      const aloneAuc = heldOutAuc([[feature, stale]], labels, split);
      const modelAuc = heldOutAuc(
        sample.features.map((f) => [f, f.column === feature.column ? stale : at(f.column, 0)] as const),
        labels,
        split,
      );
      return { stalenessMs, changeShare, aloneAuc, modelAuc, loss: Math.max(0, baseline - modelAuc) };
    });
    let batchEveryMs: number | undefined;
    for (const effect of effects) {
      if (effect.loss > threshold) break;
      batchEveryMs = effect.stalenessMs;
    }
    return {
      column: feature.column,
      view: feature.view,
      ...(aloneFresh !== undefined ? { aloneAuc: aloneFresh } : {}),
      effects,
      ...(batchEveryMs !== undefined ? { batchEveryMs } : {}),
    };
  });
  return { rows, ...(baseline !== undefined ? { modelAuc: baseline } : {}), criterion, threshold, features };
}

/** Share of positions where the two value lists differ (null and a value differ; lists compare by content). */
export function changedShare(fresh: readonly unknown[], stale: readonly unknown[]): number {
  if (fresh.length === 0) return 0;
  let changed = 0;
  for (let i = 0; i < fresh.length; i++) if (!sameValue(fresh[i], stale[i])) changed++;
  return changed / fresh.length;
}

function sameValue(a: unknown, b: unknown): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(a));
  if (typeof a === 'object' || typeof b === 'object') return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  return (a ?? null) === (b ?? null);
}

/** Area under the ROC curve of `scores` for 0/1 `labels` (Mann–Whitney, ties count half); 0.5 when a class is missing. */
export function auc(scores: readonly number[], labels: readonly number[]): number {
  const order = scores.map((s, i) => [s, labels[i] as number] as const).sort((a, b) => a[0] - b[0]);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < order.length; ) {
    let j = i;
    while (j < order.length && (order[j] as readonly [number, number])[0] === (order[i] as readonly [number, number])[0]) j++;
    const meanRank = (i + 1 + j) / 2;
    for (let k = i; k < j; k++) {
      if ((order[k] as readonly [number, number])[1] === 1) {
        positives++;
        rankSum += meanRank;
      }
    }
    i = j;
  }
  const negatives = order.length - positives;
  if (positives === 0 || negatives === 0) return 0.5;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/** Rows used for fitting (two of three) and for measuring (every third). */
interface Split {
  readonly train: readonly number[];
  readonly test: readonly number[];
}

function holdOut(rows: number): Split {
  const train: number[] = [];
  const test: number[] = [];
  for (let i = 0; i < rows; i++) (i % 3 === 2 ? test : train).push(i);
  return { train, test };
}

/** Held-out AUC of a logistic regression over the given feature columns. */
function heldOutAuc(columns: readonly (readonly [AdvisedFeature, readonly unknown[]])[], labels: readonly number[], split: Split): number {
  const encoders = columns.map(([feature, values]) =>
    encoder(
      feature.type,
      split.train.map((i) => values[i]),
      split.train.map((i) => labels[i] as number),
    ),
  );
  const design = (i: number) => [1, ...columns.flatMap(([, values], c) => (encoders[c] as Encoder)(values[i]))];
  const weights = fitLogistic(
    split.train.map(design),
    split.train.map((i) => labels[i] as number),
  );
  const scores = split.test.map((i) => dot(weights, design(i)));
  return auc(
    scores,
    split.test.map((i) => labels[i] as number),
  );
}

type Encoder = (value: unknown) => number[];

/**
 * Numbers (and booleans) standardised with the training rows' mean and deviation, plus a
 * missing indicator; text by its smoothed label rate in the training rows; lists by length.
 */
function encoder(type: FeatureType, values: readonly unknown[], labels: readonly number[]): Encoder {
  const numeric = (value: unknown): number | undefined =>
    typeof value === 'number' && Number.isFinite(value) ? value : typeof value === 'boolean' ? Number(value) : Array.isArray(value) ? value.length : undefined;
  if (type === 'string') {
    const prior = labels.reduce((a, b) => a + b, 0) / Math.max(1, labels.length);
    const counts = new Map<string, [number, number]>();
    values.forEach((value, i) => {
      const key = JSON.stringify(value ?? null);
      const seen = counts.get(key) ?? [0, 0];
      counts.set(key, [seen[0] + (labels[i] as number), seen[1] + 1]);
    });
    const SMOOTHING = 10;
    return (value) => {
      const [positives, total] = counts.get(JSON.stringify(value ?? null)) ?? [0, 0];
      return [((positives + SMOOTHING * prior) / (total + SMOOTHING) - prior) * 10];
    };
  }
  const present = values.map(numeric).filter((v): v is number => v !== undefined);
  const mean = present.reduce((a, b) => a + b, 0) / Math.max(1, present.length);
  const deviation = Math.sqrt(present.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, present.length)) || 1;
  return (value) => {
    const v = numeric(value);
    return v === undefined ? [0, 1] : [(v - mean) / deviation, 0];
  };
}

/** Logistic regression weights by Newton's method with ridge penalty `l2` (the intercept, column 0, unpenalised). */
export function fitLogistic(x: readonly (readonly number[])[], y: readonly number[], l2 = 1e-2, iterations = 25): number[] {
  const d = x[0]?.length ?? 0;
  let w = new Array<number>(d).fill(0);
  for (let iteration = 0; iteration < iterations; iteration++) {
    const gradient = w.map((wj, j) => (j === 0 ? 0 : l2 * wj));
    const hessian = Array.from({ length: d }, (_, j) => Array.from({ length: d }, (_, k) => (j === k && j > 0 ? l2 : 0)));
    x.forEach((row, i) => {
      const p = sigmoid(dot(w, row));
      const r = p - (y[i] as number);
      const s = Math.max(p * (1 - p), 1e-9);
      for (let j = 0; j < d; j++) {
        gradient[j] = (gradient[j] as number) + r * (row[j] as number);
        const hj = hessian[j] as number[];
        for (let k = 0; k <= j; k++) hj[k] = (hj[k] as number) + s * (row[j] as number) * (row[k] as number);
      }
    });
    for (let j = 0; j < d; j++) for (let k = j + 1; k < d; k++) (hessian[j] as number[])[k] = (hessian[k] as number[])[j] as number;
    const step = solve(hessian, gradient);
    w = w.map((wj, j) => wj - (step[j] as number));
    if (Math.max(...step.map(Math.abs)) < 1e-8) break;
  }
  return w;
}

const sigmoid = (z: number): number => 1 / (1 + Math.exp(-Math.max(-35, Math.min(35, z))));
const dot = (a: readonly number[], b: readonly number[]): number => a.reduce((sum, v, i) => sum + v * (b[i] as number), 0);

/** Solves A x = b by Gaussian elimination with partial pivoting (A small, symmetric positive definite here). */
function solve(a: readonly (readonly number[])[], b: readonly number[]): number[] {
  const n = b.length;
  const m = a.map((row, i) => [...row, b[i] as number]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let r = c + 1; r < n; r++) if (Math.abs((m[r] as number[])[c] as number) > Math.abs((m[pivot] as number[])[c] as number)) pivot = r;
    [m[c], m[pivot]] = [m[pivot] as number[], m[c] as number[]];
    const row = m[c] as number[];
    const p = row[c] as number;
    if (Math.abs(p) < 1e-12) continue;
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const other = m[r] as number[];
      const factor = (other[c] as number) / p;
      if (factor !== 0) for (let k = c; k <= n; k++) other[k] = (other[k] as number) - factor * (row[k] as number);
    }
  }
  return m.map((row, i) => {
    const p = row[i] as number;
    return Math.abs(p) < 1e-12 ? 0 : (row[n] as number) / p;
  });
}

/** What serving a view from a batch run every Δ instead of the stream would save, per day. */
export interface BatchSaving {
  readonly stalenessMs: number;
  /** Online item writes per day: streaming (one per event) and batch (one per entity active in each Δ). */
  readonly streamWritesPerDay: number;
  readonly batchWritesPerDay: number;
  readonly writeUnitsSavedPerDay: number;
  readonly lambdaSecondsSavedPerDay: number;
}

export interface WriteCounts {
  /** Length of the period counted, ms. */
  readonly periodMs: number;
  /** Events the view applied in the period. */
  readonly events: number;
  /** Per Δ: distinct (entity, floor(event_ts / Δ)) pairs in the period — the item writes of a batch run every Δ. */
  readonly batchWrites: ReadonlyMap<number, number>;
}

export interface CostPerWrite {
  /** DynamoDB write units per item write (1 per KB of the item). */
  readonly writeUnits: number;
  /** Lambda milliseconds per item write (read-modify-write of the item, conditional put). */
  readonly lambdaMs: number;
}

export function batchSavings(counts: WriteCounts, cost: CostPerWrite): BatchSaving[] {
  const perDay = 86_400_000 / Math.max(1, counts.periodMs);
  return [...counts.batchWrites].map(([stalenessMs, writes]) => {
    const saved = Math.max(0, counts.events - writes) * perDay;
    return {
      stalenessMs,
      streamWritesPerDay: counts.events * perDay,
      batchWritesPerDay: writes * perDay,
      writeUnitsSavedPerDay: saved * cost.writeUnits,
      lambdaSecondsSavedPerDay: (saved * cost.lambdaMs) / 1000,
    };
  });
}
