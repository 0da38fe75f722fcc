/**
 * The brute-force definition of a windowed aggregate, written straight from the window
 * semantics in windows.ts, without tiles: the rows in the window, each event once, handed to
 * the function's own `reference` (aggregation-functions.ts). Tests hold the online tiles and
 * the offline SQL to it.
 */
import { emptyValue, functionOf, type Stamped } from './aggregation-functions.js';
import type { Aggregation } from './definitions.js';
import { windowMs } from './duration.js';
import type { ViewRow } from './ingest.js';
import { windowStart } from './windows.js';

/**
 * The aggregate over `rows` (one entity's rows of one view) at time t. Copies of one event id
 * count once, as the copy ingested first; with `asServed`, only rows ingested by t count.
 */
export function referenceAggregate(aggregation: Aggregation, rows: readonly ViewRow[], t: number, asServed = false): unknown {
  const first = new Map<string, ViewRow>();
  for (const row of rows) {
    const seen = first.get(row.eventId);
    if (!seen || row.ingestTs < seen.ingestTs) first.set(row.eventId, row);
  }
  const from = windowStart(t, windowMs(aggregation));
  const column = aggregation.column;
  const values: Stamped[] = [...first.values()]
    .filter((r) => r.eventTs >= from && r.eventTs <= t && (!asServed || r.ingestTs <= t))
    .map((r) => [r.eventTs, r.ingestTs, r.eventId, column ? (r.values[column] ?? null) : null] as const)
    .filter((s) => !column || s[3] !== null);
  return values.length ? functionOf(aggregation).reference(values, aggregation) : emptyValue(aggregation);
}
