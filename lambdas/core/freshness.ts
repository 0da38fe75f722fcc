/**
 * Freshness: how long an event takes to become servable, and how old the newest served value
 * is. The lag of a row is `ingest_ts − event_ts` — the time between the event and the
 * pipeline's write that made it servable (online and offline alike). Percentiles are
 * nearest-rank. The same function summarises a batch for the metrics the pipeline emits and
 * the last hour of the offline store for `tessera status`.
 */

export interface TimedRow {
  readonly view: string;
  readonly eventTs: number;
  readonly ingestTs: number;
}

export interface ViewFreshness {
  readonly view: string;
  readonly events: number;
  readonly lagP50Ms: number;
  readonly lagP99Ms: number;
  /** The newest event time applied. */
  readonly newestEventTs: number;
  /** The latest write. */
  readonly lastIngestTs: number;
}

/** Nearest-rank percentile of ascending `sorted` (q in 0..1); 0 for no values. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] as number;
}

/** Per view, in view name order. A negative lag (an event stamped in the future) counts as 0. */
export function freshnessByView(rows: Iterable<TimedRow>): ViewFreshness[] {
  const byView = new Map<string, { lags: number[]; newest: number; last: number }>();
  for (const row of rows) {
    const entry = byView.get(row.view) ?? { lags: [], newest: -Infinity, last: -Infinity };
    byView.set(row.view, entry);
    entry.lags.push(Math.max(0, row.ingestTs - row.eventTs));
    entry.newest = Math.max(entry.newest, row.eventTs);
    entry.last = Math.max(entry.last, row.ingestTs);
  }
  return [...byView]
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
    .map(([view, { lags, newest, last }]) => {
      lags.sort((a, b) => a - b);
      return { view, events: lags.length, lagP50Ms: percentile(lags, 0.5), lagP99Ms: percentile(lags, 0.99), newestEventTs: newest, lastIngestTs: last };
    });
}
