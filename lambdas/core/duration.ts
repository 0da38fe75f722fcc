/**
 * Durations in definitions are written as `<integer><unit>` (`90s`, `5m`, `1h`, `7d`) and held
 * as milliseconds: a view's are parsed once (`viewDurations`), when the registry is built.
 */
import type { Aggregation, FeatureView } from './definitions.js';
import { DefinitionError } from './errors.js';
import { windowProblem } from './windows.js';

const UNIT_MS: Record<string, number> = { s: 1_000, m: 60_000, h: 3_600_000, d: 86_400_000 };

export type Duration = `${number}${'s' | 'm' | 'h' | 'd'}`;

/** Parses a duration; returns undefined for anything that is not `<positive integer><s|m|h|d>`. */
export function parseDuration(text: string): number | undefined {
  const match = /^(\d+)([smhd])$/.exec(text);
  if (!match) return undefined;
  const amount = Number(match[1]);
  const unit = UNIT_MS[match[2] as string] as number;
  return amount > 0 ? amount * unit : undefined;
}

/** The shortest exact spelling of a millisecond duration (`3600000` → `1h`). */
export function formatDuration(ms: number): string {
  for (const unit of ['d', 'h', 'm', 's']) {
    const size = UNIT_MS[unit] as number;
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}

/** A view's durations in milliseconds. */
export interface ViewDurations {
  readonly ttlMs?: number;
  readonly freshnessMs?: number;
  /** Each aggregation's window, in the view's order. */
  readonly windowsMs: readonly number[];
}

const byView = new WeakMap<FeatureView, ViewDurations>();
const byAggregation = new WeakMap<Aggregation, number>();

/**
 * A view's durations, parsed and checked once per view — by the registry as it is built, so a
 * bad one fails at plan and synth time; every path reads them from here afterwards. Throws a
 * DefinitionError naming the view and the duration.
 */
export function viewDurations(view: FeatureView): ViewDurations {
  let durations = byView.get(view);
  if (durations) return durations;
  const fail = (message: string): never => {
    throw new DefinitionError(`feature view "${view.name}"`, message);
  };
  const parse = (field: 'ttl' | 'freshness', text: string | undefined, example: string): number | undefined => {
    if (text === undefined) return undefined;
    return parseDuration(text) ?? fail(`bad ${field} "${text}": write a positive whole number of s, m, h or d, e.g. "${example}"`);
  };
  const windowsMs = view.aggregations.map((aggregation) => parseWindow(aggregation, fail));
  const ttlMs = parse('ttl', view.ttl, '30d');
  const freshnessMs = parse('freshness', view.freshness, '5m');
  durations = { ...(ttlMs !== undefined ? { ttlMs } : {}), ...(freshnessMs !== undefined ? { freshnessMs } : {}), windowsMs };
  byView.set(view, durations);
  return durations;
}

/** An aggregation's window in milliseconds (parsed with its view's durations when it has been seen in one). */
export function windowMs(aggregation: Aggregation): number {
  return (
    byAggregation.get(aggregation) ??
    parseWindow(aggregation, (message) => {
      throw new DefinitionError('aggregation', message);
    })
  );
}

function parseWindow(aggregation: Aggregation, fail: (message: string) => never): number {
  const where = `aggregation "${aggregation.name}"`;
  const ms = parseDuration(aggregation.window) ?? fail(`${where} has a bad window "${aggregation.window}"`);
  const problem = windowProblem(ms);
  if (problem) fail(`${where} window ${aggregation.window}: ${problem}`);
  byAggregation.set(aggregation, ms);
  return ms;
}
