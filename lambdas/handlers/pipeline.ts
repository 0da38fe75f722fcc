/**
 * The one write path every source goes through — the stream handler, the batch handler and
 * backfills alike: validate and transform each record (core/ingest), dead-letter the rejects,
 * apply the rows to the online store in one conditional write per item, then write the rows
 * of the items that succeeded offline. Same code, same values, whatever the path.
 */

import type { DeadLetter } from '../adapters/dead-letters.js';
import type { Source } from '../core/definitions.js';
import { itemKey } from '../core/entity-key.js';
import type { decodePayload, ViewRow } from '../core/ingest.js';
import { writeBatchOffline } from './offline-batch.js';
import type { Runtime } from './runtime.js';

export interface PipelineRecord {
  /** Where the record came from (`shard/sequence`, `file/line`); names its dead letter. */
  readonly position: string;
  readonly arrivedAt: number;
  /** The record's bytes (base64) as received, kept in its dead letter. */
  readonly payloadBase64: string;
  /** The record, decoded — or why it could not be (see decodePayload). */
  readonly event: ReturnType<typeof decodePayload>;
}

export interface PipelineResult {
  /** Positions of records whose online write failed: they must be retried. */
  readonly failed: readonly string[];
  readonly deadLettered: number;
  readonly rows: number;
}

/**
 * Applies one batch of records of `source` at ingest time `ingestTs`. `batch` names the batch
 * for the offline store: writing the same batch again replaces its objects.
 */
export async function runPipeline(
  runtime: Runtime,
  source: Source,
  records: readonly PipelineRecord[],
  ingestTs: number,
  batch: readonly string[],
): Promise<PipelineResult> {
  const { registry, ingestor, online, deadLetters } = runtime;
  const letters: DeadLetter[] = [];
  // view → item key → rows, and item key → positions of the records that wrote it
  const rowsByView = new Map<string, Map<string, ViewRow[]>>();
  const positionsByPk = new Map<string, string[]>();
  let rowCount = 0;
  for (const record of records) {
    const outcome =
      'json' in record.event ? ingestor.ingestEvent(source, record.event.json, ingestTs) : { ok: false as const, rejection: record.event.rejection };
    if (!outcome.ok) {
      letters.push({
        source: source.name,
        position: record.position,
        arrivedAt: record.arrivedAt,
        rejection: outcome.rejection,
        payloadBase64: record.payloadBase64,
      });
      continue;
    }
    for (const row of outcome.rows) {
      const pk = itemKey(row.view, row.entityId);
      const byPk = rowsByView.get(row.view) ?? new Map<string, ViewRow[]>();
      rowsByView.set(row.view, byPk);
      const rowsOfPk = byPk.get(pk) ?? [];
      byPk.set(pk, rowsOfPk);
      rowsOfPk.push(row);
      const positions = positionsByPk.get(pk) ?? [];
      positionsByPk.set(pk, positions);
      positions.push(record.position);
      rowCount++;
    }
  }
  // Dead letters first: if they cannot be kept, the whole batch is retried rather than lost.
  await deadLetters.write(letters);
  const failedPks = (await Promise.all([...rowsByView].map(([view, byPk]) => online.apply(registry.views.get(view)!, byPk, ingestTs)))).flat();
  runtime.freshness?.record([...rowsByView.values()].flatMap((byPk) => [...byPk].flatMap(([pk, rows]) => (failedPks.includes(pk) ? [] : rows))));
  // Offline after online, leaving out rows of failed items: their retry writes them (offline-batch.ts).
  await writeBatchOffline(runtime.offline, registry, rowsByView, failedPks, batch);
  const failed = [...new Set(failedPks.flatMap((pk) => positionsByPk.get(pk) ?? []))];
  return { failed, deadLettered: letters.length, rows: rowCount };
}
