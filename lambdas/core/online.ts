/**
 * The online state of one entity of one *group* — the views of one source keyed by the same
 * entities (user_last_txn, user_txn_stats and user_location are one group) — and the rules that
 * change and read it. Pure: the DynamoDB adapter stores the tiers below as items and writes
 * each only over the version it read, so every rule holds under concurrent writers.
 *
 * Why groups and tiers: DynamoDB bills a write by the size of the item written (1 unit per KB)
 * and an item holds at most 400 KB. One event writes its group once; the window state is split
 * by age so that what every event rewrites stays small:
 *
 *   tier 0 (hot, `pk`):   latest row per view, rows stamped in the future, the positions
 *                         applied (marks) and the aggregation deltas since the last seal;
 *   tier 1 (warm, `pk#1`) and tier 2 (cold, `pk#2`): deltas absorbed from the tier above.
 *
 * A tier whose open deltas pass a size limit *seals* them (they stay readable in it); the tier
 * below absorbs a sealed epoch once (it records the epoch), and the sealed copy is dropped
 * after that. A read includes a sealed copy only while the tier below has not absorbed it, so
 * every delta is counted exactly once at every moment. Sealing, absorbing and dropping wait
 * `SETTLE_MS` apart, longer than any read takes, so a read that sees two tiers at slightly
 * different moments still counts each delta once.
 *
 * Exactly once: a row is applied by the hot item only if its position (Kinesis shard +
 * sequence number, batch file + line) is past the item's mark for that partition — so
 * redeliveries, bisected halves, shard replays and re-run files change nothing. Producer
 * duplicates (one event id at another position) are stopped before this, by claims (one
 * record per event id, see claims.ts). Marks and claims are kept for `dedupeHorizonMs`.
 *
 * Latest wins by (event_ts, ingest_ts, event_id) (order.ts), and no read uses a row stamped
 * after the read's time: such rows wait in `pending` until a write or read is past them.
 */
import { type AggregationState, addRows, isEmptyState, lastUseOfState, longestWindowMs, mergeStates, pruneState, readAggregates } from './aggregation.js';
import type { FeatureView, Row } from './definitions.js';
import { viewDurations } from './duration.js';
import { groupName } from './entity-key.js';
import type { ViewRow } from './ingest.js';
import { compareStamps, type Stamp } from './order.js';
import type { ResolvedFeature } from './registry.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

/*
 * Sizes are in JSON characters; the store compresses an item's body (about 2.5× smaller), so a
 * hot item stays under the 1 KB that one write unit buys, and a warm one seals rarely. Chosen by
 * a sweep of the demo's write units per event (README, "The online state").
 */
/** Size of the hot tier's rows and deltas that makes it seal them. */
export const HOT_SEAL_CHARS = 1_200;
/** Size of buffered rows that the hot tier folds into deltas when it cannot seal (a busy entity). */
export const HOT_BUFFER_CHARS = 2_400;
/** Size of open deltas that makes the warm tier seal them for the cold tier. */
export const WARM_SEAL_CHARS = 3_000;
/** How long sealing, absorbing and dropping wait apart; longer than any read of the tiers. */
export const SETTLE_MS = 10_000;
/** Rows stamped in the future kept per view; past this the earliest are applied early. */
export const MAX_PENDING = 64;

/** The views of one source keyed by the same entities: stored together, written once per event. */
export interface OnlineGroup {
  readonly name: string;
  readonly views: readonly FeatureView[];
  /** 3 when a view aggregates (hot, warm, cold), else 1. */
  readonly tiers: number;
  /** How long marks (and claims) are kept: a redelivery or duplicate within it changes nothing. */
  readonly dedupeHorizonMs: number;
}

const groupsByViews = new WeakMap<ReadonlyMap<string, FeatureView>, ReadonlyMap<string, OnlineGroup>>();

/** The group of every view, by view name; derived once per registry (its map of views). */
export function onlineGroups(viewsByName: ReadonlyMap<string, FeatureView>): ReadonlyMap<string, OnlineGroup> {
  let byView = groupsByViews.get(viewsByName);
  if (byView) return byView;
  const views = [...viewsByName.values()];
  const members = new Map<string, FeatureView[]>();
  for (const view of views) {
    const name = groupName(view);
    members.set(name, [...(members.get(name) ?? []), view]);
  }
  const horizonBySource = new Map<string, number>();
  for (const view of views) horizonBySource.set(view.source.name, Math.max(horizonBySource.get(view.source.name) ?? 0, longestWindowMs(view)));
  const built = new Map<string, OnlineGroup>();
  for (const [name, groupViews] of members) {
    const source = (groupViews[0] as FeatureView).source.name;
    const group: OnlineGroup = {
      name,
      views: groupViews,
      tiers: groupViews.some((v) => v.aggregations.length) ? 3 : 1,
      dedupeHorizonMs: dedupeHorizonMs(horizonBySource.get(source) ?? 0),
    };
    for (const view of groupViews) built.set(view.name, group);
  }
  byView = built;
  groupsByViews.set(viewsByName, byView);
  return byView;
}

/**
 * How long an event id is remembered: while any window of its source can still count it, and
 * at least a day (producer retries, redeliveries), plus an hour of margin for clock skew.
 */
export const dedupeHorizonMs = (longestWindow: number): number => Math.max(DAY, longestWindow) + HOUR;

/** The partition key of an entity's hot item in a group; the tiers below append `#1`, `#2`. */
export const groupKey = (group: OnlineGroup, entityId: string): string => `${group.name}#${entityId}`;
export const tierKeys = (group: OnlineGroup, entityId: string): string[] => keysBelow(group, groupKey(group, entityId));
const keysBelow = (group: OnlineGroup, pk: string): string[] => Array.from({ length: group.tiers }, (_, i) => (i === 0 ? pk : `${pk}#${i}`));

/** A row with the place its record came from: what marks compare. */
export interface PositionedRow {
  readonly row: ViewRow;
  /** A Kinesis shard, or a batch file. */
  readonly partition: string;
  /** The record's place in it: a sequence number or a line number (decimal digits). */
  readonly offset: string;
}

export type BufferedRow = readonly [eventTs: number, ingestTs: number, eventId: string, ...values: unknown[]];

const columnsByView = new WeakMap<FeatureView, readonly string[]>();
/** The row features a view's aggregations read, in a fixed order: what a buffered row keeps. */
export function aggregatedColumns(view: FeatureView): readonly string[] {
  let columns = columnsByView.get(view);
  if (!columns) {
    columns = [...new Set(view.aggregations.flatMap((a) => (a.column ? [a.column] : [])))];
    columnsByView.set(view, columns);
  }
  return columns;
}
const toBuffered = (view: FeatureView, r: LatestRow): BufferedRow => [r.s[0], r.s[1], r.s[2], ...aggregatedColumns(view).map((c) => r.f[c] ?? null)];
const fromBuffered = (view: FeatureView, r: BufferedRow): ViewRow => ({
  view: view.name,
  entityId: '',
  keys: {},
  eventTs: r[0],
  ingestTs: r[1],
  eventId: r[2],
  values: Object.fromEntries(aggregatedColumns(view).map((c, i) => [c, r[3 + i]])),
});

export interface LatestRow {
  readonly s: Stamp;
  readonly f: Row;
}

export interface TierItem {
  readonly pk: string;
  /** Bumped on every write; the store writes only over the version it read. */
  readonly version: number;
  /** The epoch the next seal of this tier gets. */
  readonly epoch: number;
  /** The last epoch of the tier above absorbed into this one (0: none) and when. */
  readonly absorbed: number;
  readonly absorbedAt?: number;
  /** Aggregation deltas by view, not yet sealed. */
  readonly open?: Readonly<Record<string, AggregationState>>;
  /**
   * Hot tier: rows of aggregating views not yet folded into deltas — a row is a few dozen bytes
   * where its deltas (one per aggregation) are several times that, so a quiet entity's hot
   * item stays small. Each row is [event_ts, ingest_ts, event_id, ...the aggregated columns].
   */
  readonly buffer?: Readonly<Record<string, readonly BufferedRow[]>>;
  readonly sealed?: {
    readonly epoch: number;
    readonly at: number;
    readonly state: Readonly<Record<string, AggregationState>>;
    readonly rows?: Readonly<Record<string, readonly BufferedRow[]>>;
  };
  /** Hot tier: per partition (hashed), the highest offset applied and when. */
  readonly marks?: Readonly<Record<string, readonly [offset: string, at: number]>>;
  /** Hot tier: the latest row per view, among rows stamped at or before the last write. */
  readonly latest?: Readonly<Record<string, LatestRow>>;
  /** Hot tier: rows stamped after the write that stored them, oldest first. */
  readonly pending?: Readonly<Record<string, readonly LatestRow[]>>;
  /** Epoch seconds after which DynamoDB may delete the item. */
  readonly expiresAt?: number;
}

/** A 48-bit hash of a partition name, base 36: marks stay short whatever the names. */
function partitionId(partition: string): string {
  let a = 0x811c9dc5;
  let b = 0x050c5d1f;
  for (let i = 0; i < partition.length; i++) {
    const c = partition.charCodeAt(i);
    a = Math.imul(a ^ c, 0x01000193);
    b = Math.imul(b ^ c, 0x01000193);
  }
  return ((a >>> 0) * 0x10000 + ((b >>> 0) >>> 16)).toString(36);
}

/** Compares two offsets (decimal digits without leading zeros; Kinesis's exceed 2^53). */
export const compareOffsets = (a: string, b: string): number => (a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0);

const emptyTier = (pk: string, epoch = 1): TierItem => ({ pk, version: 0, epoch, absorbed: 0 });
const sizeOf = (state: object | undefined): number => (state ? JSON.stringify(state).length : 0);
const toViewRow = (view: string, r: LatestRow): ViewRow => ({ view, entityId: '', keys: {}, eventTs: r.s[0], ingestTs: r.s[1], eventId: r.s[2], values: r.f });
const newer = (a: LatestRow | undefined, b: LatestRow): LatestRow => (a && compareStamps(a.s, b.s) >= 0 ? a : b);

type Mutable<T> = { -readonly [K in keyof T]: T[K] };

/** The items to write, tier by tier (undefined: unchanged), and how many rows were new. */
export interface GroupWrite {
  readonly tiers: readonly (TierItem | undefined)[];
  readonly applied: number;
}

/**
 * Applies rows of one entity of a group at time `now` (the batch's ingest time) to the tiers as
 * read (`read[i]` undefined: no item yet). The store writes the returned tiers in order, each
 * only over the version read, and stops at the first that fails: rows live in tier 0 alone,
 * so only its failure fails them; a later tier's failure leaves its step to the next write.
 */
export function applyToGroup(group: OnlineGroup, pk: string, read: readonly (TierItem | undefined)[], rows: readonly PositionedRow[], now: number): GroupWrite {
  const keys = keysBelow(group, pk);
  const tiers: Mutable<TierItem>[] = keys.map((key, i) => ({ ...(read[i] ?? emptyTier(key)) }));
  const changed = tiers.map(() => false);
  // A tier created anew (its item expired) must not reuse epochs the tier below has absorbed.
  for (let i = 0; i < tiers.length - 1; i++) {
    const tier = tiers[i] as Mutable<TierItem>;
    const below = tiers[i + 1] as TierItem;
    if (!read[i] && below.absorbed >= tier.epoch) tier.epoch = below.absorbed + 1;
  }
  // Sealed deltas the tier below absorbed a while ago are dropped.
  for (let i = 0; i < tiers.length - 1; i++) {
    const tier = tiers[i] as Mutable<TierItem>;
    const below = tiers[i + 1] as TierItem;
    if (tier.sealed && below.absorbed >= tier.sealed.epoch && now - (below.absorbedAt ?? 0) >= SETTLE_MS) {
      delete tier.sealed;
      changed[i] = true;
    }
  }

  const hot = tiers[0] as Mutable<TierItem>;
  const marks = { ...(hot.marks ?? {}) };
  const fresh = rows.filter(({ partition, offset }) => {
    const mark = marks[partitionId(partition)];
    return !mark || compareOffsets(offset, mark[0]) > 0;
  });
  for (const { partition, offset } of fresh) {
    const id = partitionId(partition);
    const mark = marks[id];
    if (!mark || compareOffsets(offset, mark[0]) > 0) marks[id] = [offset, now];
  }
  for (const [id, [, at]] of Object.entries(marks)) if (at < now - group.dedupeHorizonMs) delete marks[id];
  if (fresh.length || Object.keys(marks).length !== Object.keys(hot.marks ?? {}).length) changed[0] = true;
  hot.marks = marks;

  const latest: Record<string, LatestRow> = { ...(hot.latest ?? {}) };
  const pending: Record<string, LatestRow[]> = Object.fromEntries(Object.entries(hot.pending ?? {}).map(([v, p]) => [v, [...p]]));
  const open: Record<string, AggregationState> = { ...(hot.open ?? {}) };
  const buffer: Record<string, BufferedRow[]> = Object.fromEntries(Object.entries(hot.buffer ?? {}).map(([v, b]) => [v, [...b]]));
  for (const view of group.views) {
    const mine = fresh.filter((r) => r.row.view === view.name).map(({ row }) => ({ s: [row.eventTs, row.ingestTs, row.eventId] as Stamp, f: row.values }));
    const waiting = [...(pending[view.name] ?? []), ...mine].sort((a, b) => compareStamps(a.s, b.s));
    const dueCount = Math.max(waiting.filter((r) => r.s[0] <= now).length, waiting.length - MAX_PENDING);
    const due = waiting.slice(0, dueCount);
    const later = waiting.slice(dueCount);
    if (later.length) pending[view.name] = later;
    else delete pending[view.name];
    if (!due.length) continue;
    changed[0] = true;
    for (const r of due) latest[view.name] = newer(latest[view.name], r);
    if (view.aggregations.length) buffer[view.name] = [...(buffer[view.name] ?? []), ...due.map((r) => toBuffered(view, r))];
  }
  hot.latest = latest;
  hot.pending = pending;
  hot.open = pruneStates(group, open, now);
  hot.buffer = pruneBuffers(group, buffer, now);
  if (hot.sealed) hot.sealed = { ...hot.sealed, state: pruneStates(group, hot.sealed.state, now), rows: pruneBuffers(group, hot.sealed.rows ?? {}, now) };
  // A busy entity cannot seal while its last seal settles: its rows are folded into deltas, which merge by tile.
  if (hot.sealed && sizeOf(hot.buffer) > HOT_BUFFER_CHARS) {
    hot.open = Object.fromEntries(
      group.views.flatMap((view) => {
        const rows = hot.buffer?.[view.name] ?? [];
        const state = rows.length
          ? addRows(
              view,
              hot.open?.[view.name],
              rows.map((r) => fromBuffered(view, r)),
            )
          : hot.open?.[view.name];
        return state && !isEmptyState(state) ? [[view.name, state]] : [];
      }),
    );
    hot.buffer = {};
  }

  // Seal and absorb down the tiers.
  for (let i = 0; i < tiers.length; i++) {
    const tier = tiers[i] as Mutable<TierItem>;
    if (i > 0) {
      const above = tiers[i - 1] as TierItem;
      if (above.sealed && tier.absorbed < above.sealed.epoch && now - above.sealed.at >= SETTLE_MS) {
        tier.open = mergeTierStates(group, tier.open, sealedStates(group, above.sealed), now);
        tier.absorbed = above.sealed.epoch;
        tier.absorbedAt = now;
        changed[i] = true;
      }
    }
    const limit = i === 0 ? HOT_SEAL_CHARS : WARM_SEAL_CHARS;
    if (i < tiers.length - 1 && !tier.sealed && sizeOf(tier.open) + sizeOf(tier.buffer) > limit && (i === 0 || changed[i])) {
      tier.sealed = { epoch: tier.epoch, at: now, state: tier.open ?? {}, ...(tier.buffer && Object.keys(tier.buffer).length ? { rows: tier.buffer } : {}) };
      tier.open = {};
      if (i === 0) tier.buffer = {};
      tier.epoch += 1;
      changed[i] = true;
    }
  }

  const out = tiers.map((tier, i) => (changed[i] ? finish(group, tier, i, now) : undefined));
  return { tiers: out, applied: fresh.length };
}

/** A sealed epoch as states: its deltas with its rows folded in. */
function sealedStates(group: OnlineGroup, sealed: NonNullable<TierItem['sealed']>): Record<string, AggregationState> {
  const out: Record<string, AggregationState> = { ...sealed.state };
  for (const view of group.views) {
    const rows = sealed.rows?.[view.name];
    if (rows?.length)
      out[view.name] = addRows(
        view,
        out[view.name],
        rows.map((r) => fromBuffered(view, r)),
      );
  }
  return out;
}

function pruneStates(group: OnlineGroup, states: TierItem['open'], now: number): Record<string, AggregationState> {
  const out: Record<string, AggregationState> = {};
  for (const view of group.views) {
    const state = states?.[view.name];
    if (!state) continue;
    const pruned = pruneState(view, state, now);
    if (!isEmptyState(pruned)) out[view.name] = pruned;
  }
  return out;
}

/** Drops buffered rows older than every window of their view can reach. */
function pruneBuffers(group: OnlineGroup, buffers: TierItem['buffer'], now: number): Record<string, BufferedRow[]> {
  const out: Record<string, BufferedRow[]> = {};
  for (const view of group.views) {
    const rows = (buffers?.[view.name] ?? []).filter((r) => r[0] > now - longestWindowMs(view));
    if (rows.length) out[view.name] = rows;
  }
  return out;
}

function mergeTierStates(group: OnlineGroup, a: TierItem['open'], b: TierItem['open'], now: number): Record<string, AggregationState> {
  const merged: Record<string, AggregationState> = {};
  for (const view of group.views) if (a?.[view.name] || b?.[view.name]) merged[view.name] = mergeStates(view, a?.[view.name], b?.[view.name]);
  return pruneStates(group, merged, now);
}

/** Bumps the version and works out when DynamoDB may delete the item: once no read can see anything in it. */
function finish(group: OnlineGroup, tier: Mutable<TierItem>, index: number, now: number): TierItem {
  let until = 0;
  let forever = false;
  const use = (end: number | undefined) => {
    if (end !== undefined) until = Math.max(until, end);
  };
  for (const view of group.views) {
    const { ttlMs } = viewDurations(view);
    const rows = [tier.latest?.[view.name], ...(tier.pending?.[view.name] ?? [])].filter((r): r is LatestRow => r !== undefined);
    for (const r of rows) {
      if (ttlMs === undefined) forever = true;
      else use(r.s[0] + Math.max(ttlMs, longestWindowMs(view)));
    }
    use(lastUseOfState(view, tier.open?.[view.name]));
    use(lastUseOfState(view, tier.sealed?.state[view.name]));
    for (const r of [...(tier.buffer?.[view.name] ?? []), ...(tier.sealed?.rows?.[view.name] ?? [])]) use(r[0] + longestWindowMs(view));
  }
  if (index === 0) for (const [, at] of Object.values(tier.marks ?? {})) use(at + group.dedupeHorizonMs);
  const { expiresAt: _, ...rest } = tier;
  return { ...rest, version: tier.version + 1, ...(!forever && until > 0 ? { expiresAt: Math.ceil(Math.max(until, now) / 1000) } : {}) };
}

/** What of a view the tiers hold: open deltas and buffered rows, and sealed ones not yet absorbed below. */
function visible(view: FeatureView, tiers: readonly (TierItem | undefined)[]): { states: (AggregationState | undefined)[]; rows: ViewRow[] } {
  const states: (AggregationState | undefined)[] = [];
  const rows: ViewRow[] = [];
  tiers.forEach((tier, i) => {
    states.push(tier?.open?.[view.name]);
    for (const r of tier?.buffer?.[view.name] ?? []) rows.push(fromBuffered(view, r));
    const below = tiers[i + 1];
    if (tier?.sealed && !(below && below.absorbed >= tier.sealed.epoch)) {
      states.push(tier.sealed.state[view.name]);
      for (const r of tier.sealed.rows?.[view.name] ?? []) rows.push(fromBuffered(view, r));
    }
  });
  return { states, rows };
}

export type FeatureStatus = 'present' | 'missing' | 'expired';

export interface FeatureValue {
  readonly value: unknown;
  readonly status: FeatureStatus;
  readonly eventTs: number | null;
}

const MISSING: FeatureValue = { value: null, status: 'missing', eventTs: null };

/**
 * The values of some features of a view at time `now`, from its group's tiers as read. A value
 * is expired once event_ts <= now - ttl (the training set drops the same rows); null values are
 * missing; rows stamped after `now` are not used.
 */
export function readFeatures(view: FeatureView, tiers: readonly (TierItem | undefined)[], features: readonly ResolvedFeature[], now: number): FeatureValue[] {
  const hot = tiers[0];
  const due = (hot?.pending?.[view.name] ?? []).filter((r) => r.s[0] <= now);
  let latest = hot?.latest?.[view.name];
  if (latest && latest.s[0] > now) latest = undefined;
  for (const r of due) latest = newer(latest, r);
  let aggregates: Row = {};
  if (features.some((f) => f.kind === 'aggregation')) {
    const { states, rows } = visible(view, tiers);
    const extra = [...rows.filter((r) => r.eventTs <= now), ...due.map((r) => toViewRow(view.name, r))];
    aggregates = readAggregates(view, states, now, extra);
  }
  const { ttlMs } = viewDurations(view);
  const expired = latest !== undefined && ttlMs !== undefined && latest.s[0] <= now - ttlMs;
  return features.map((f) => {
    if (f.kind === 'aggregation') {
      const value = aggregates[f.feature] ?? null;
      return { value, status: value === null ? 'missing' : 'present', eventTs: null };
    }
    if (!latest) return MISSING;
    const eventTs = latest.s[0];
    const value = latest.f[f.feature] ?? null;
    if (expired) return { value: null, status: 'expired', eventTs };
    return value === null ? { value: null, status: 'missing', eventTs } : { value, status: 'present', eventTs };
  });
}
