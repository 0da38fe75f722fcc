/**
 * The point-in-time rules, brute force: for every label row, scan every row of every view.
 * Slow and obviously right; the generated SQL (point-in-time.ts) is tested against it on
 * random data, on every engine. The rules are stated once, in point-in-time.ts.
 */
import type { Row } from './definitions.js';
import type { ViewRow } from './ingest.js';
import { compareLatest, dedupeCopies } from './offline.js';
import { storedFeatures, ttlMs } from './point-in-time.js';
import type { ReadPlan } from './registry.js';

export interface ReferenceInput {
  readonly plan: ReadPlan;
  /** Offline rows by view name, as written (copies included); views left out have none. */
  readonly rows: ReadonlyMap<string, readonly ViewRow[]>;
  readonly labels: readonly Row[];
  readonly timestampColumn: string;
  readonly asServed?: boolean;
}

/** Each label row (its own fields) plus `<view>__<feature>` for every stored feature of the plan. */
export function referenceTrainingSet(input: ReferenceInput): Row[] {
  const { plan, labels, timestampColumn } = input;
  const deduped = new Map(plan.views.map(({ view }) => [view.name, dedupeCopies(input.rows.get(view.name) ?? [])]));
  const columns = storedFeatures(plan);
  return labels.map((label) => {
    const out: Row = { ...label };
    for (const c of columns) out[c.column] = null;
    const t = label[timestampColumn];
    if (typeof t !== 'number') return out;
    for (const { view, joinKeys, features } of plan.views) {
      const ttl = ttlMs(view);
      let best: ViewRow | undefined;
      for (const row of deduped.get(view.name) ?? []) {
        if (!joinKeys.every((k) => label[k] !== null && label[k] !== undefined && label[k] === row.keys[k])) continue;
        if (row.eventTs > t) continue;
        if (ttl !== undefined && row.eventTs <= t - ttl) continue;
        if (input.asServed && row.ingestTs > t) continue;
        if (!best || compareLatest(row, best) > 0) best = row;
      }
      if (best) for (const f of features) out[f.column] = best.values[f.feature] ?? null;
    }
    return out;
  });
}
