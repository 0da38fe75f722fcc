/**
 * Every aggregation function, one object each: what it reads and yields (validation, output
 * type, the definitions reference), how its online state merges and finishes, its SQL in the
 * point-in-time query and how the SQL's raw aggregate finishes, and its brute-force
 * definition. A function is a handful of methods, as a Kysely dialect is; aggregation.ts,
 * point-in-time.ts, aggregation-reference.ts, the registry and the definition schema read this
 * table and hold no knowledge of any one function. A new function is one new entry here.
 */
import type { Aggregation, AggregationFunction, FeatureType } from './definitions.js';
import { estimateOfValues } from './hll.js';
import { newestFirst } from './order.js';

/** A value with the stamp that orders it: (event_ts, ingest_ts, event_id, value). */
export type Stamped = readonly [eventTs: number, ingestTs: number, eventId: string, value: unknown];

/** What the point-in-time SQL gives a function to build its aggregate over one window from. */
export interface AggregateSqlParts {
  /** The input column of a joined row (quoted), or `1` without one. */
  readonly value: string;
  /** Whether the row is inside the window. */
  readonly inWindow: string;
  /** `CASE WHEN <in window> THEN <then> END`. */
  when(then: string): string;
  /**
   * A VARCHAR that sorts rows as "latest wins" does (order.ts: event_ts, ingest_ts, event_id by
   * code point — how both engines compare VARCHAR); NULL outside the window or for a null value.
   */
  readonly latestKey: string;
  /** The digits a sum is rounded to before it is divided (`SUM_EXACT_DECIMALS`). */
  readonly exactDecimals: number;
}

interface FunctionBase {
  /** For the definitions reference. */
  readonly description: string;
  /** The result type, in words, for the definitions reference. */
  readonly result: string;
  /** The input column it reads, if any, and of which types. */
  readonly column?: 'any' | 'numeric';
  /** Takes `n` (1-100). */
  readonly takesN?: boolean;
  /** The feature type it yields for an input column of type `input`. */
  outputType(input: FeatureType | undefined): FeatureType;
  /** The value of a window with no rows. */
  empty(): unknown;
  /** The SQL aggregate over a window; its raw result goes through `finishSql`. */
  sql(parts: AggregateSqlParts, aggregation: Aggregation): string;
  /** The feature value from the SQL's raw aggregate (never null). */
  finishSql(raw: unknown): unknown;
  /** The brute-force definition over the window's values (non-null, each event once; never empty). */
  reference(values: readonly Stamped[], aggregation: Aggregation): unknown;
}

/** Kept online as one partial per tile, partials merged by `merge`. */
export interface TiledFunction extends FunctionBase {
  readonly state: 'tile';
  /** The partial of one value. */
  partial(value: unknown): unknown;
  /** Two partials combined (neither null). */
  merge(a: unknown, b: unknown): unknown;
  /** The feature value from the combined partial of a window (never null). */
  finish(partial: unknown): unknown;
}

/** Kept online as the newest stamped values. */
export interface TopFunction extends FunctionBase {
  readonly state: 'top';
  /** How many of the newest values are kept. */
  keeps(aggregation: Aggregation): number;
  /** The feature value from the window's newest values, newest first (never empty). */
  finish(newestFirst: readonly Stamped[]): unknown;
}

/** Kept online as a sliding HyperLogLog sketch (hll.ts); its estimate is the value. */
export interface SketchFunction extends FunctionBase {
  readonly state: 'sketch';
}

export type AggregationFunctionSpec = TiledFunction | TopFunction | SketchFunction;

const SUM_DECIMALS = 1e6;
/** Rounded, and -0 made 0: values that cancel end on either side of zero depending on the path's order. */
const round = (x: number) => Math.round(x * SUM_DECIMALS) / SUM_DECIMALS + 0;
/**
 * Sums are added in a different order on every path (tiles, SQL engines, the reference), so
 * they differ in the last bits. Rounding to 9 decimals first gives every path the same double
 * (`SUM_EXACT_DECIMALS` in the SQL too); only then is an average divided and rounded to 6, so
 * a value exactly halfway at the 7th decimal rounds the same way everywhere.
 */
export const SUM_EXACT_DECIMALS = 9;
const exact = (x: number) => Math.round(x * 10 ** SUM_EXACT_DECIMALS) / 10 ** SUM_EXACT_DECIMALS;

const numbers = (values: readonly Stamped[]) => values.map((s) => s[3] as number);
const add = (a: unknown, b: unknown) => (a as number) + (b as number);
const byNewest = (values: readonly Stamped[]) => [...values].sort(newestFirst);

const extreme = (fn: 'min' | 'max', description: string): TiledFunction => {
  const wins = fn === 'min' ? (a: unknown, b: unknown) => (b as number) < (a as number) : (a: unknown, b: unknown) => (b as number) > (a as number);
  return {
    state: 'tile',
    description,
    column: 'any',
    result: "the column's type",
    outputType: (input) => input ?? 'float',
    empty: () => null,
    partial: (value) => value,
    merge: (a, b) => (wins(a, b) ? b : a),
    finish: (partial) => partial,
    sql: ({ when, value }) => `${fn}(${when(value)})`,
    finishSql: (raw) => raw,
    reference: (values) => values.map((s) => s[3]).reduce((a, b) => (wins(a, b) ? b : a)),
  };
};

/** The table: every function the definitions may name. */
export const AGGREGATION_FUNCTIONS: Readonly<Record<AggregationFunction, AggregationFunctionSpec>> = {
  count: {
    state: 'tile',
    description: 'Events in the window.',
    result: 'int',
    outputType: () => 'int',
    empty: () => 0,
    partial: () => 1,
    merge: add,
    finish: (partial) => partial,
    sql: ({ when }) => `count(${when('1')})`,
    finishSql: (raw) => Number(raw),
    reference: (values) => values.length,
  },
  sum: {
    state: 'tile',
    description: 'Sum of the column.',
    column: 'numeric',
    result: 'int for an int column, else float',
    outputType: (input) => (input === 'int' ? 'int' : 'float'),
    empty: () => 0,
    partial: (value) => value,
    merge: add,
    finish: (partial) => round(exact(partial as number)),
    sql: ({ when, value }) => `sum(${when(value)})`,
    finishSql: (raw) => round(exact(Number(raw))),
    reference: (values) => round(exact(numbers(values).reduce((s, x) => s + x, 0))),
  },
  avg: {
    state: 'tile',
    description: 'Mean of the column (rounded to 6 decimals).',
    column: 'numeric',
    result: 'float',
    outputType: () => 'float',
    empty: () => null,
    partial: (value) => [value, 1],
    merge: (a, b) => {
      const [s1, n1] = a as [number, number];
      const [s2, n2] = b as [number, number];
      return [s1 + s2, n1 + n2];
    },
    finish: (partial) => {
      const [sum, n] = partial as [number, number];
      return n === 0 ? null : round(exact(sum) / n);
    },
    // The sum is rounded to SUM_EXACT_DECIMALS before the division, as `finish` does online.
    sql: ({ when, value, exactDecimals }) => `round(CAST(sum(${when(value)}) AS DOUBLE), ${exactDecimals}) / nullif(count(${when(value)}), 0)`,
    finishSql: (raw) => round(Number(raw)),
    reference: (values) => round(exact(numbers(values).reduce((s, x) => s + x, 0)) / values.length),
  },
  min: extreme('min', 'Smallest value of the column.'),
  max: extreme('max', 'Largest value of the column.'),
  last: {
    state: 'top',
    description: 'The latest value of the column (by event time).',
    column: 'any',
    result: "the column's type",
    outputType: (input) => input ?? 'float',
    empty: () => null,
    keeps: () => 1,
    finish: (top) => (top[0] as Stamped)[3],
    sql: ({ value, latestKey }) => `max_by(${value}, ${latestKey})`,
    finishSql: (raw) => raw,
    reference: (values) => (byNewest(values)[0] as Stamped)[3],
  },
  last_n: {
    state: 'top',
    description: 'The latest `n` values, newest first.',
    column: 'any',
    takesN: true,
    result: "a list of the column's type",
    outputType: (input) => `${input ?? 'string'}[]` as FeatureType,
    empty: () => [],
    keeps: (aggregation) => aggregation.n ?? 1,
    finish: (top) => top.map((s) => s[3]),
    sql: ({ value, latestKey }, aggregation) => `max_by(${value}, ${latestKey}, ${aggregation.n ?? 1})`,
    finishSql: (raw) => [...(raw as unknown[])],
    reference: (values, aggregation) =>
      byNewest(values)
        .slice(0, aggregation.n ?? 1)
        .map((s) => s[3]),
  },
  approx_distinct: {
    state: 'sketch',
    description: 'About how many distinct values the column had (the same estimate online and in training sets).',
    column: 'any',
    result: 'int',
    outputType: () => 'int',
    empty: () => 0,
    // The window's distinct values themselves (NULL for none): `finishSql` builds the registers from them as online.
    sql: ({ value, inWindow }) => `array_agg(DISTINCT ${value}) FILTER (WHERE ${inWindow} AND ${value} IS NOT NULL)`,
    finishSql: (raw) => estimateOfValues(raw as unknown[]),
    reference: (values) => estimateOfValues(values.map((s) => s[3])),
  },
};

/** The entry of an aggregation's function. */
export const functionOf = (aggregation: Aggregation): AggregationFunctionSpec => AGGREGATION_FUNCTIONS[aggregation.fn];

/** The value a window with no rows has: 0 for counts and sums, an empty list, else null. */
export const emptyValue = (aggregation: Aggregation): unknown => functionOf(aggregation).empty();

/** A raw aggregate of the point-in-time SQL finished the way the online state is. */
export function finalizeSqlAggregate(aggregation: Aggregation, raw: unknown): unknown {
  return raw === null || raw === undefined ? emptyValue(aggregation) : functionOf(aggregation).finishSql(raw);
}

/** Why an aggregation cannot read its column, or undefined when it can (`input`: the column's declared type). */
export function aggregationProblem(aggregation: Aggregation, input: FeatureType | undefined): string | undefined {
  const spec = functionOf(aggregation);
  if (spec.column) {
    if (input === undefined) return `it reads column "${aggregation.column ?? ''}", which is not a feature of the view`;
    if (spec.column === 'numeric' && input !== 'int' && input !== 'float') return `${aggregation.fn} needs a numeric column`;
    if (input.endsWith('[]')) return 'list columns cannot be aggregated';
  }
  // `n` (an integer 1-100 where the function takes it) is the definition schema's rule (definition-schema.ts).
  return undefined;
}
