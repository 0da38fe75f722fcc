/**
 * The subject inside other entities' data: a view keyed by another entity can carry the
 * subject's id as a feature (merchant_txn_stats stores `user_id`), so a merchant's latest row,
 * its buffered rows, its `last`/`last_n` values and the merchant view's offline rows can name
 * the erased card holder. Those rows are the merchant's and stay; what names the subject in
 * them is nulled: the column named like the entity's join key and, in a view tagged pii, every
 * feature of the row (a pii row that names the subject describes the subject); a `last`/`last_n`
 * value of that column is dropped from its list.
 *
 * Not touched, by design: approx_distinct sketches (HyperLogLog registers keep a register's
 * maximum, never a value or its hash) and min/max partials over such a column (none is
 * defined; a string min/max of ids would need the same nulling). Pure.
 */
import type { FeatureView, Row } from './definitions.js';
import type { ErasureSubject } from './erasure.js';
import { aggregatedColumns, type BufferedRow, type LatestRow, onlineGroups, type TierItem } from './online.js';
import type { Registry } from './registry.js';

/** Per view that carries the subject's join key without being keyed by its entity: the columns to null in a row naming the subject. */
export type ScrubPlan = ReadonlyMap<string, readonly string[]>;

export function scrubPlan(registry: Registry, subject: ErasureSubject): ScrubPlan {
  const plan = new Map<string, string[]>();
  const joinKey = subject.entity.joinKey;
  for (const view of registry.views.values()) {
    if (view.entities.some((e) => e.name === subject.entity.name) || !(joinKey in view.features)) continue;
    plan.set(view.name, view.tags.includes('pii') ? Object.keys(view.features) : [joinKey]);
  }
  return plan;
}

/** The online item key prefixes (`<group>#`) of the groups holding a view of the plan: the items a scan must read whole. */
export function scrubbedGroupPrefixes(registry: Registry, plan: ScrubPlan): string[] {
  const groups = onlineGroups(registry.views);
  return [...new Set([...plan.keys()].map((view) => `${groups.get(view)?.name}#`))];
}

const names = (value: unknown, subject: ErasureSubject): boolean => value !== null && value !== undefined && String(value) === String(subject.value);

/** A row with the subject's columns nulled, or undefined when the row does not name the subject. */
export function scrubRow(row: Readonly<Row>, columns: readonly string[], subject: ErasureSubject): Row | undefined {
  if (!names(row[subject.entity.joinKey], subject)) return undefined;
  return { ...row, ...Object.fromEntries(columns.map((c) => [c, null])) };
}

/**
 * An online tier item (any tier) with every value naming the subject nulled, and how many
 * rows and values were; undefined when nothing names it. The layout (tiers, epochs, marks)
 * is kept: only values change, and the version is bumped so the store writes over the one read.
 */
export function scrubTierItem(
  views: readonly FeatureView[],
  item: TierItem,
  plan: ScrubPlan,
  subject: ErasureSubject,
): { item: TierItem; scrubbed: number } | undefined {
  let scrubbed = 0;
  const latest = { ...(item.latest ?? {}) };
  const pending = { ...(item.pending ?? {}) };
  const buffer = { ...(item.buffer ?? {}) };
  const sealedRows = { ...(item.sealed?.rows ?? {}) };
  const scrubLatest = (r: LatestRow, columns: readonly string[]): LatestRow => {
    const f = scrubRow(r.f, columns, subject);
    if (!f) return r;
    scrubbed += 1;
    return { ...r, f };
  };
  const scrubBuffered = (rows: readonly BufferedRow[], view: FeatureView, columns: readonly string[]): BufferedRow[] => {
    const at = aggregatedColumns(view);
    const key = at.indexOf(subject.entity.joinKey);
    return rows.map((r) => {
      if (key < 0 || !names(r[3 + key], subject)) return r;
      scrubbed += 1;
      return r.map((value, i) => (i >= 3 && columns.includes(at[i - 3] as string) ? null : value)) as unknown as BufferedRow;
    });
  };
  for (const view of views) {
    const columns = plan.get(view.name);
    if (!columns) continue;
    const row = latest[view.name];
    if (row) latest[view.name] = scrubLatest(row, columns);
    if (pending[view.name]) pending[view.name] = (pending[view.name] ?? []).map((r) => scrubLatest(r, columns));
    if (buffer[view.name]) buffer[view.name] = scrubBuffered(buffer[view.name] ?? [], view, columns);
    if (sealedRows[view.name]) sealedRows[view.name] = scrubBuffered(sealedRows[view.name] ?? [], view, columns);
  }
  const scrubTops = (states: TierItem['open']): TierItem['open'] => {
    if (!states) return states;
    const out = { ...states };
    for (const view of views) {
      const columns = plan.get(view.name);
      const state = out[view.name];
      if (!columns || !state?.tops) continue;
      const tops = { ...state.tops };
      for (const a of view.aggregations) {
        if (!a.column || !columns.includes(a.column) || a.column !== subject.entity.joinKey) continue;
        for (const key of Object.keys(tops).filter((k) => k.startsWith(`${a.name}@`))) {
          // Dropped, not nulled: a null value is never added to a top (aggregation.ts), so the list reads as the offline SQL's over nulled rows.
          const kept = (tops[key] ?? []).filter((s) => !names(s[3], subject));
          scrubbed += (tops[key] ?? []).length - kept.length;
          tops[key] = kept;
        }
      }
      out[view.name] = { ...state, tops };
    }
    return out;
  };
  const open = scrubTops(item.open);
  const sealed = item.sealed && { ...item.sealed, state: scrubTops(item.sealed.state) ?? {}, ...(item.sealed.rows ? { rows: sealedRows } : {}) };
  if (scrubbed === 0) return undefined;
  return {
    scrubbed,
    item: {
      ...item,
      version: item.version + 1,
      ...(item.latest ? { latest } : {}),
      ...(item.pending ? { pending } : {}),
      ...(item.buffer ? { buffer } : {}),
      ...(item.open ? { open } : {}),
      ...(sealed ? { sealed } : {}),
    },
  };
}
