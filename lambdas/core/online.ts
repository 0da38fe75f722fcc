/**
 * The online state of one (feature view, entity) and the rules that change and read it.
 * Pure: the DynamoDB adapter stores this object as one item and writes it back only if the
 * version it read is still there, so every rule below holds under concurrent writers.
 *
 * The latest row wins by (event_ts, ingest_ts, event_id), the order the point-in-time SQL
 * uses, so an older event never overwrites a newer value. Event ids already applied at the
 * latest event time are remembered, so a redelivered or duplicated event changes nothing.
 */
import { type AggregationState, applyToTiles, EMPTY_STATE, lastUseOfTiles, readAggregates } from './aggregation.js';
import type { FeatureView, Row } from './definitions.js';
import { parseDuration } from './duration.js';
import type { ViewRow } from './ingest.js';
import type { ResolvedFeature } from './registry.js';

export interface LatestRow {
  readonly eventTs: number;
  readonly ingestTs: number;
  readonly eventId: string;
  readonly values: Row;
  /** Ids of every event applied with this event time (ties are decided once). */
  readonly idsAtEventTs: readonly string[];
}

export interface OnlineItem {
  readonly pk: string;
  /** Bumped on every write; the store writes only over the version it read. */
  readonly version: number;
  readonly latest?: LatestRow;
  /** Tiles of the view's windowed aggregations, when it has any. */
  readonly aggregates?: AggregationState;
  /** Epoch seconds after which DynamoDB may delete the item (the view's TTL past the latest event). */
  readonly expiresAt?: number;
}

const newer = (a: { eventTs: number; ingestTs: number; eventId: string }, b: LatestRow): boolean =>
  a.eventTs !== b.eventTs ? a.eventTs > b.eventTs : a.ingestTs !== b.ingestTs ? a.ingestTs > b.ingestTs : a.eventId > b.eventId;

/**
 * The item after applying rows of one (view, entity) at time `now` (the batch's ingest time);
 * undefined when nothing changes.
 */
export function applyRows(view: FeatureView, pk: string, item: OnlineItem | undefined, rows: readonly ViewRow[], now: number): OnlineItem | undefined {
  let latest = item?.latest;
  const aggregates = applyToTiles(view, item?.aggregates ?? EMPTY_STATE, rows, now) ?? item?.aggregates;
  let changed = aggregates !== item?.aggregates;
  for (const row of rows) {
    if (latest && row.eventTs < latest.eventTs) continue;
    if (latest && row.eventTs === latest.eventTs) {
      if (latest.idsAtEventTs.includes(row.eventId)) continue;
      const ids = [...latest.idsAtEventTs, row.eventId];
      latest = newer(row, latest)
        ? { eventTs: row.eventTs, ingestTs: row.ingestTs, eventId: row.eventId, values: row.values, idsAtEventTs: ids }
        : { ...latest, idsAtEventTs: ids };
    } else {
      latest = { eventTs: row.eventTs, ingestTs: row.ingestTs, eventId: row.eventId, values: row.values, idsAtEventTs: [row.eventId] };
    }
    changed = true;
  }
  if (!changed) return undefined;
  return { pk, version: (item?.version ?? 0) + 1, ...(latest ? { latest } : {}), ...(aggregates ? { aggregates } : {}), ...expiry(view, latest, aggregates) };
}

/** DynamoDB may delete the item once no read can see anything in it: the TTL past the latest row, the longest window past the last tile. */
function expiry(view: FeatureView, latest: LatestRow | undefined, aggregates: AggregationState | undefined): { expiresAt?: number } {
  const ttlMs = view.ttl ? (parseDuration(view.ttl) as number) : undefined;
  const latestUntil = latest && ttlMs !== undefined ? latest.eventTs + ttlMs : undefined;
  const tilesUntil = aggregates ? lastUseOfTiles(view, aggregates) : undefined;
  if (latest && ttlMs === undefined) return {};
  const until = Math.max(latestUntil ?? 0, tilesUntil ?? 0);
  return until > 0 ? { expiresAt: Math.ceil(until / 1000) } : {};
}

export type FeatureStatus = 'present' | 'missing' | 'expired';

export interface FeatureValue {
  readonly value: unknown;
  readonly status: FeatureStatus;
  readonly eventTs: number | null;
}

const MISSING: FeatureValue = { value: null, status: 'missing', eventTs: null };

/**
 * The values of some features of a view at time `now`. A value is expired once
 * event_ts <= now - ttl (the training set drops the same rows); null values are missing.
 */
export function readFeatures(view: FeatureView, item: OnlineItem | undefined, features: readonly ResolvedFeature[], now: number): FeatureValue[] {
  const latest = item?.latest;
  const aggregates = features.some((f) => f.kind === 'aggregation') ? readAggregates(view, item?.aggregates, now) : {};
  const ttlMs = view.ttl ? parseDuration(view.ttl) : undefined;
  const expired = latest !== undefined && ttlMs !== undefined && latest.eventTs <= now - ttlMs;
  return features.map((f) => {
    if (f.kind === 'aggregation') {
      const value = aggregates[f.feature] ?? null;
      return { value, status: value === null ? 'missing' : 'present', eventTs: null };
    }
    if (!latest) return MISSING;
    const value = latest.values[f.feature] ?? null;
    if (expired) return { value: null, status: 'expired', eventTs: latest.eventTs };
    return value === null ? { value: null, status: 'missing', eventTs: latest.eventTs } : { value, status: 'present', eventTs: latest.eventTs };
  });
}
