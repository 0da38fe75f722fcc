/**
 * Drift: daily profiles of features and how far what was served has moved from a training set.
 *
 * A numeric profile keeps count, nulls, sum and sum of squares, and a log-bucket sketch (as
 * DDSketch: bucket i holds values in (γ^(i−1), γ^i], negatives mirrored, zero apart; relative
 * accuracy (γ − 1)/2 ≈ 1 %). Every part is a sum, so profiles merge by adding — days into a
 * week, partitions into a day — and the same SQL (profileSql) computes them on Athena and
 * DuckDB. Text and boolean profiles keep value counts (the top ones are shown).
 *
 * PSI = Σ (a − e) · ln(a / e) over bins, e and a the training and served shares (bins: the
 * training set's deciles for numbers, values for text; shares floored at 1e-4). KS = the
 * largest gap between the two cumulative distributions, for numbers.
 */

export const SKETCH_GAMMA = 1.02;

export interface NumericProfile {
  readonly kind: 'numeric';
  readonly count: number;
  readonly nulls: number;
  readonly sum: number;
  readonly sumSquares: number;
  /** Sketch bucket → count; bucket 0 holds zeros, ±i the values of magnitude in (γ^(i−1), γ^i] by sign. */
  readonly buckets: ReadonlyMap<number, number>;
}

export interface CategoricalProfile {
  readonly kind: 'categorical';
  readonly count: number;
  readonly nulls: number;
  readonly values: ReadonlyMap<string, number>;
}

export type Profile = NumericProfile | CategoricalProfile;

/** The sketch bucket of a value (the rule profileSql computes in SQL). */
export function sketchBucket(value: number): number {
  if (value === 0) return 0;
  const index = Math.ceil(Math.log(Math.abs(value)) / Math.log(SKETCH_GAMMA));
  // Magnitudes at or below 1 share bucket ±1 with the smallest positive indexes shifted up: keep sign and order.
  const shifted = index + 1_000_000;
  return value > 0 ? shifted : -shifted;
}

/** A representative value of a bucket (the middle of its range, in relative terms). */
export function bucketValue(bucket: number): number {
  if (bucket === 0) return 0;
  const index = Math.abs(bucket) - 1_000_000;
  const value = (2 * SKETCH_GAMMA ** index) / (1 + SKETCH_GAMMA);
  return bucket > 0 ? value : -value;
}

export function mergeProfiles(a: Profile, b: Profile): Profile {
  if (a.kind === 'numeric' && b.kind === 'numeric') {
    const buckets = new Map(a.buckets);
    for (const [k, n] of b.buckets) buckets.set(k, (buckets.get(k) ?? 0) + n);
    return { kind: 'numeric', count: a.count + b.count, nulls: a.nulls + b.nulls, sum: a.sum + b.sum, sumSquares: a.sumSquares + b.sumSquares, buckets };
  }
  if (a.kind === 'categorical' && b.kind === 'categorical') {
    const values = new Map(a.values);
    for (const [k, n] of b.values) values.set(k, (values.get(k) ?? 0) + n);
    return { kind: 'categorical', count: a.count + b.count, nulls: a.nulls + b.nulls, values };
  }
  throw new Error('cannot merge a numeric and a categorical profile');
}

/** Mean and standard deviation (population) of the non-null values. */
export function moments(p: NumericProfile): { mean: number; stddev: number } {
  const n = p.count - p.nulls;
  if (n === 0) return { mean: 0, stddev: 0 };
  const mean = p.sum / n;
  return { mean, stddev: Math.sqrt(Math.max(0, p.sumSquares / n - mean * mean)) };
}

/** The q-quantile (0..1) from the sketch. */
export function quantile(p: NumericProfile, q: number): number {
  const sorted = [...p.buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, n]) => sum + n, 0);
  let seen = 0;
  for (const [bucket, n] of sorted) {
    seen += n;
    if (seen >= q * total) return bucketValue(bucket);
  }
  return sorted.length ? bucketValue((sorted.at(-1) as [number, number])[0]) : 0;
}

/** The top `k` values and their shares of the non-null count. */
export function topValues(p: CategoricalProfile, k = 5): { value: string; share: number }[] {
  const n = Math.max(1, p.count - p.nulls);
  return [...p.values]
    .sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))
    .slice(0, k)
    .map(([value, count]) => ({ value, share: count / n }));
}

const FLOOR = 1e-4;

/** Population stability index between two share vectors over the same bins. */
export function psi(expected: readonly number[], actual: readonly number[]): number {
  let total = 0;
  expected.forEach((e0, i) => {
    const e = Math.max(FLOOR, e0);
    const a = Math.max(FLOOR, actual[i] ?? 0);
    total += (a - e) * Math.log(a / e);
  });
  return total;
}

export interface Comparison {
  /** Bin labels and each side's shares (nulls are a bin of their own). */
  readonly bins: readonly string[];
  readonly expected: readonly number[];
  readonly actual: readonly number[];
  readonly psi: number;
  /** Numbers only. */
  readonly ks?: number;
}

/** Compares `served` against `training`: deciles of the training values for numbers, the training set's top values (+ other) for text. */
export function compareProfiles(training: Profile, served: Profile): Comparison {
  if (training.kind === 'numeric' && served.kind === 'numeric') {
    const edges = [...new Set([0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9].map((q) => sketchBucketOfQuantile(training, q)))];
    const shares = (p: NumericProfile) => {
      const counts = new Array<number>(edges.length + 2).fill(0);
      for (const [bucket, n] of p.buckets) {
        const bin = edges.findIndex((edge) => bucket <= edge);
        counts[bin === -1 ? edges.length : bin] = (counts[bin === -1 ? edges.length : bin] as number) + n;
      }
      counts[edges.length + 1] = p.nulls;
      const total = Math.max(1, p.count);
      return counts.map((c) => c / total);
    };
    const expected = shares(training);
    const actual = shares(served);
    const labels = [...edges.map((edge) => `≤ ${round(bucketValue(edge))}`), `> ${round(bucketValue(edges.at(-1) ?? 0))}`, 'null'];
    return { bins: labels, expected, actual, psi: psi(expected, actual), ks: ks(training, served) };
  }
  if (training.kind === 'categorical' && served.kind === 'categorical') {
    const top = topValues(training, 10).map((t) => t.value);
    const shares = (p: CategoricalProfile) => {
      const total = Math.max(1, p.count);
      const known = top.map((v) => (p.values.get(v) ?? 0) / total);
      const other = (p.count - p.nulls) / total - known.reduce((a, b) => a + b, 0);
      return [...known, Math.max(0, other), p.nulls / total];
    };
    const expected = shares(training);
    const actual = shares(served);
    return { bins: [...top, 'other', 'null'], expected, actual, psi: psi(expected, actual) };
  }
  throw new Error('cannot compare a numeric and a categorical profile');
}

function sketchBucketOfQuantile(p: NumericProfile, q: number): number {
  const sorted = [...p.buckets].sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, n]) => sum + n, 0);
  let seen = 0;
  for (const [bucket, n] of sorted) {
    seen += n;
    if (seen >= q * total) return bucket;
  }
  return sorted.at(-1)?.[0] ?? 0;
}

/** Kolmogorov–Smirnov statistic between two sketches (non-null values). */
export function ks(a: NumericProfile, b: NumericProfile): number {
  const keys = [...new Set([...a.buckets.keys(), ...b.buckets.keys()])].sort((x, y) => x - y);
  const totalA = Math.max(1, a.count - a.nulls);
  const totalB = Math.max(1, b.count - b.nulls);
  let cdfA = 0;
  let cdfB = 0;
  let largest = 0;
  for (const key of keys) {
    cdfA += (a.buckets.get(key) ?? 0) / totalA;
    cdfB += (b.buckets.get(key) ?? 0) / totalB;
    largest = Math.max(largest, Math.abs(cdfA - cdfB));
  }
  return largest;
}

const round = (v: number) => (Math.abs(v) >= 100 ? Math.round(v) : Math.round(v * 100) / 100);

/**
 * The SQL of daily profiles of `column` in `table` (a quoted, qualified name), days from the
 * epoch-ms column `time`: plain aggregates both engines share. Numbers: one row per (day,
 * bucket) with the day's totals repeated; text: one row per (day, value).
 */
export function profileSql(table: string, column: string, time: string, numeric: boolean): string {
  const day = `(${time} - ${time} % 86400000) / 86400000`;
  if (!numeric) {
    return `SELECT ${day} AS "day", CAST(${column} AS VARCHAR) AS "value", count(*) AS "n" FROM ${table} GROUP BY 1, 2`;
  }
  const x = `CAST(${column} AS DOUBLE)`;
  const bucket = `CASE WHEN ${x} IS NULL THEN NULL WHEN ${x} = 0 THEN 0 WHEN ${x} > 0 THEN CAST(ceil(ln(${x}) / ln(${SKETCH_GAMMA})) AS BIGINT) + 1000000 ELSE -(CAST(ceil(ln(-${x}) / ln(${SKETCH_GAMMA})) AS BIGINT) + 1000000) END`;
  return `SELECT ${day} AS "day", ${bucket} AS "bucket", count(*) AS "n", sum(${x}) AS "sum", sum(${x} * ${x}) AS "sum_squares" FROM ${table} GROUP BY 1, 2`;
}

/** Profiles per day from profileSql's rows. */
export function profilesFromRows(rows: readonly Record<string, unknown>[], numeric: boolean): Map<number, Profile> {
  const days = new Map<number, Profile>();
  for (const row of rows) {
    const day = Number(row.day);
    const n = Number(row.n);
    let part: Profile;
    if (numeric) {
      const isNull = row.bucket === null || row.bucket === undefined;
      part = {
        kind: 'numeric',
        count: n,
        nulls: isNull ? n : 0,
        sum: Number(row.sum ?? 0),
        sumSquares: Number(row.sum_squares ?? 0),
        buckets: isNull ? new Map() : new Map([[Number(row.bucket), n]]),
      };
    } else {
      const isNull = row.value === null || row.value === undefined;
      part = { kind: 'categorical', count: n, nulls: isNull ? n : 0, values: isNull ? new Map() : new Map([[String(row.value), n]]) };
    }
    const seen = days.get(day);
    days.set(day, seen ? mergeProfiles(seen, part) : part);
  }
  return days;
}

const DAY_MS = 86_400_000;

/** Day number (days since the epoch, as profileSql's "day") of an ISO date `YYYY-MM-DD`. */
export const dayNumber = (date: string): number => Date.parse(`${date}T00:00:00Z`) / DAY_MS;
export const isoDay = (day: number): string => new Date(day * DAY_MS).toISOString().slice(0, 10);

/** A profile as plain JSON (sketch buckets and value counts as objects), e.g. a row of a stored daily profile. */
export function profileToJson(p: Profile): Record<string, unknown> {
  if (p.kind === 'numeric') {
    const { mean, stddev } = moments(p);
    const quantiles = Object.fromEntries([0.05, 0.25, 0.5, 0.75, 0.95].map((q) => [`p${Math.round(q * 100)}`, quantile(p, q)]));
    return {
      kind: p.kind,
      count: p.count,
      nulls: p.nulls,
      mean,
      stddev,
      ...quantiles,
      sum: p.sum,
      sumSquares: p.sumSquares,
      buckets: Object.fromEntries(p.buckets),
    };
  }
  return { kind: p.kind, count: p.count, nulls: p.nulls, top: topValues(p), values: Object.fromEntries(p.values) };
}

export interface DayDrift {
  /** The day's profile; absent when the day has no rows. */
  readonly profile?: Profile;
  /** The reference: the days before it, merged; absent when none of them has rows. */
  readonly reference?: Profile;
  /** Against the reference, when both exist. */
  readonly comparison?: Comparison;
}

/**
 * One day of a feature against the `referenceDays` days before it (the reference), from
 * profiles by day number: the rule of the scheduled profile job.
 */
export function dayDrift(days: ReadonlyMap<number, Profile>, day: number, referenceDays: number): DayDrift {
  const profile = days.get(day);
  let reference: Profile | undefined;
  for (let d = day - referenceDays; d < day; d++) {
    const p = days.get(d);
    if (p) reference = reference ? mergeProfiles(reference, p) : p;
  }
  return {
    ...(profile ? { profile } : {}),
    ...(reference ? { reference } : {}),
    ...(profile && reference ? { comparison: compareProfiles(reference, profile) } : {}),
  };
}

/** The CloudWatch namespace and metric names of the daily profile job (EMF), which the PSI alarms watch. */
export const DRIFT_NAMESPACE = 'Tessera';
export const DRIFT_METRICS = { featurePsi: 'FeaturePsi', maxFeaturePsi: 'MaxFeaturePsi' } as const;
