/**
 * The one write path every source goes through — the stream handler, the batch handler and
 * backfills alike. The order of the steps is what makes a batch safe to retry:
 *
 * 1. validate and transform each record (core/ingest); dead-letter the rejects — first, so a
 *    reject that cannot be kept fails the batch rather than being lost;
 * 2. claim each event id for its record's position (adapters/claims.ts): a producer's duplicate at
 *    another position is dropped here, on every view at once;
 * 3. apply the rows to the online store, one conditional write per (group, entity) — its marks
 *    skip rows of positions it has applied, so redeliveries change nothing;
 * 4. write the rows of the items that succeeded offline, so no row is in the offline store
 *    before the API serves its value (a failed item's rows are written by its retry).
 * Same code, same values, whatever the path.
 */
import type { DeadLetter, DeadLetterSink, EventClaims, FreshnessRecorder, OfflineWriter, OnlineStore } from '../adapters/ports.js';
import type { Source } from '../core/definitions.js';
import type { decodePayload, Ingestor, ViewRow } from '../core/ingest.js';
import { compareOffsets, groupKey, type OnlineGroup, onlineGroups, type PositionedRow } from '../core/online.js';
import type { Registry } from '../core/registry.js';
import { writeBatchOffline } from './offline-batch.js';

/** What the pipeline writes to and runs with; a handler's runtime is one. */
export interface PipelinePorts {
  readonly registry: Registry;
  readonly ingestor: Ingestor;
  readonly online: OnlineStore;
  readonly deadLetters: DeadLetterSink;
  /** One record per event id: producer duplicates are applied once. */
  readonly claims: EventClaims;
  readonly offline: OfflineWriter;
  /** Freshness metrics of applied batches. @default none recorded */
  readonly freshness?: FreshnessRecorder;
}

export interface PipelineRecord {
  /** Where the record came from (`shard/sequence`, `file/line`); names its dead letter and its claim. */
  readonly position: string;
  readonly arrivedAt: number;
  /** The record's bytes (base64) as received, kept in its dead letter. */
  readonly payloadBase64: string;
  /** The record, decoded — or why it could not be (see decodePayload). */
  readonly event: ReturnType<typeof decodePayload>;
}

export interface PipelineResult {
  /** Positions of records that were not applied and must be retried. */
  readonly failed: readonly string[];
  readonly deadLettered: number;
  /** Records dropped as copies of an event applied from another position. */
  readonly duplicates: number;
  readonly rows: number;
}

/** A position's partition (shard or file) and offset (sequence or line): split at its last `/`. */
function splitPosition(position: string): { partition: string; offset: string } {
  const at = position.lastIndexOf('/');
  return { partition: position.slice(0, at), offset: position.slice(at + 1) };
}

/**
 * Applies one batch of records of `source` at ingest time `ingestTs`. `batch` names the batch
 * for the offline store: writing the same batch again replaces its objects.
 */
export async function runPipeline(
  runtime: PipelinePorts,
  source: Source,
  records: readonly PipelineRecord[],
  ingestTs: number,
  batch: readonly string[],
): Promise<PipelineResult> {
  const { registry, ingestor, online, deadLetters, claims } = runtime;
  const letters: DeadLetter[] = [];
  const accepted: { position: string; partition: string; offset: string; eventId: string; rows: readonly ViewRow[] }[] = [];
  for (const record of records) {
    const outcome =
      'json' in record.event ? ingestor.ingestEvent(source, record.event.json, ingestTs) : { ok: false as const, rejection: record.event.rejection };
    if (outcome.ok) accepted.push({ position: record.position, ...splitPosition(record.position), eventId: outcome.eventId, rows: outcome.rows });
    else {
      letters.push({
        source: source.name,
        position: record.position,
        arrivedAt: record.arrivedAt,
        rejection: outcome.rejection,
        payloadBase64: record.payloadBase64,
      });
    }
  }
  await deadLetters.write(letters);

  // Every group of a source has the source's dedupe horizon: claims are kept as long as marks.
  const groups = onlineGroups(registry.views);
  const horizon = Math.max(0, ...registry.viewsOfSource(source.name).map((view) => (groups.get(view.name) as OnlineGroup).dedupeHorizonMs));
  const claimed = await claims.claim(source.name, accepted, ingestTs, ingestTs + horizon);
  // A record whose claim failed is retried, and with it every later record of its shard or file:
  // the online items' marks say "every row of this partition up to here is applied", so no
  // row may be applied past a record that is not.
  const firstFailed = new Map<string, string>();
  for (const position of claimed.failed) {
    const { partition, offset } = splitPosition(position);
    const first = firstFailed.get(partition);
    if (first === undefined || compareOffsets(offset, first) < 0) firstFailed.set(partition, offset);
  }
  const held = new Set(
    accepted
      .filter((r) => {
        const first = firstFailed.get(r.partition);
        return first !== undefined && compareOffsets(r.offset, first) >= 0;
      })
      .map((r) => r.position),
  );
  const applicable = accepted.filter((r) => !claimed.duplicates.has(r.position) && !held.has(r.position));

  // group → entity id → rows with their positions, and each item's record positions
  const byGroup = new Map<OnlineGroup, Map<string, PositionedRow[]>>();
  const positionsOf = new Map<string, string[]>(); // item key (groupKey) → record positions
  const itemOf = (row: ViewRow) => groupKey(groups.get(row.view) as OnlineGroup, row.entityId);
  let rowCount = 0;
  for (const record of applicable) {
    const { partition, offset } = record;
    for (const row of record.rows) {
      const group = groups.get(row.view) as OnlineGroup;
      const byEntity = byGroup.get(group) ?? new Map<string, PositionedRow[]>();
      byGroup.set(group, byEntity);
      const rows = byEntity.get(row.entityId) ?? [];
      byEntity.set(row.entityId, rows);
      rows.push({ row, partition, offset });
      const item = itemOf(row);
      const positions = positionsOf.get(item) ?? [];
      positionsOf.set(item, positions);
      positions.push(record.position);
      rowCount++;
    }
  }
  const failedItems = new Set(
    (await Promise.all([...byGroup].map(async ([group, byEntity]) => (await online.apply(group, byEntity, ingestTs)).map((e) => groupKey(group, e))))).flat(),
  );
  const failedPositions = new Set([...held, ...[...failedItems].flatMap((item) => positionsOf.get(item) ?? [])]);
  // Offline after online, leaving out the rows of failed items: their retry writes them (offline-batch.ts).
  const offlineRows = applicable.flatMap((r) => r.rows.filter((row) => !failedItems.has(itemOf(row))));
  runtime.freshness?.record(offlineRows);
  await writeBatchOffline(runtime.offline, registry, offlineRows, batch);
  return { failed: [...failedPositions], deadLettered: letters.length, duplicates: claimed.duplicates.size, rows: rowCount };
}
