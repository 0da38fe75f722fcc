/**
 * The brute-force definition of a windowed aggregate, written straight from the window
 * semantics in windows.ts, without tiles. Tests hold the online tiles and the offline SQL to it.
 */
import { compareStamps, finalizeAggregate } from './aggregation.js';
import type { Aggregation } from './definitions.js';
import { parseDuration } from './duration.js';
import { estimateOfValues } from './hll.js';
import type { ViewRow } from './ingest.js';
import { windowStart } from './windows.js';

/**
 * The aggregate over `rows` (one entity's rows of one view) at time t. Copies of one event id
 * count once, as the copy ingested first; with `asServed`, only rows ingested by t count.
 */
export function referenceAggregate(aggregation: Aggregation, rows: readonly ViewRow[], t: number, asServed = false): unknown {
  const windowMs = parseDuration(aggregation.window) as number;
  const first = new Map<string, ViewRow>();
  for (const row of rows) {
    const seen = first.get(row.eventId);
    if (!seen || row.ingestTs < seen.ingestTs) first.set(row.eventId, row);
  }
  const from = windowStart(t, windowMs);
  const inWindow = [...first.values()].filter((r) => r.eventTs >= from && r.eventTs <= t && (!asServed || r.ingestTs <= t));
  const column = aggregation.column;
  const values = column ? inWindow.filter((r) => (r.values[column] ?? null) !== null) : inWindow;
  const v = (r: ViewRow) => r.values[column as string] as number;
  if (aggregation.fn === 'count') return finalizeAggregate(aggregation, inWindow.length || undefined);
  if (!values.length) return finalizeAggregate(aggregation, undefined);
  const stamped = (r: ViewRow) => [r.eventTs, r.ingestTs, r.eventId, r.values[column as string]] as const;
  switch (aggregation.fn) {
    case 'sum':
      return finalizeAggregate(
        aggregation,
        values.reduce((s, r) => s + v(r), 0),
      );
    case 'avg':
      return finalizeAggregate(aggregation, [values.reduce((s, r) => s + v(r), 0), values.length]);
    case 'min':
      return values.map(v).reduce((a, b) => (b < a ? b : a));
    case 'max':
      return values.map(v).reduce((a, b) => (b > a ? b : a));
    case 'last':
      return values.map(stamped).sort(compareStamps).at(-1)?.[3];
    case 'last_n':
      return values
        .map(stamped)
        .sort((a, b) => compareStamps(b, a))
        .slice(0, aggregation.n ?? 1)
        .map((s) => s[3]);
    case 'approx_distinct':
      return estimateOfValues(values.map((r) => r.values[column as string]));
  }
}
