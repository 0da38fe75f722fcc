/**
 * The stream handler's offline write: every transformed row of a Kinesis batch to S3 Parquet,
 * named by the batch (shard, first and last sequence number) so a retry of the same batch
 * overwrites its objects and a bisected half writes its own.
 *
 * Rows of items whose online write failed are left out: Lambda redelivers their records, and
 * they are written then, with the ingest_ts the online store applies them at — so the
 * offline copy that counts (the first ingested) carries the time the API started serving it,
 * and "as served" training sets reproduce the API. Records redelivered with them that had
 * succeeded are written again with a later ingest_ts; the query drops those copies.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import type { OfflineWriter } from '../adapters/offline-writer.js';
import type { FeatureView } from '../core/definitions.js';
import type { ViewRow } from '../core/ingest.js';
import type { Registry } from '../core/registry.js';

/** What names a Kinesis batch: its shard and its first and last sequence numbers. */
export function kinesisBatchName(event: KinesisStreamEvent): string[] {
  const first = event.Records[0];
  const last = event.Records[event.Records.length - 1];
  if (!first || !last) return ['empty'];
  return [first.eventID?.split(':')[0] || 'shard', first.kinesis.sequenceNumber, last.kinesis.sequenceNumber];
}

/** Writes the rows of a batch, grouped view → item key → rows, except those of `failedPks`. */
export async function writeBatchOffline(
  offline: OfflineWriter,
  registry: Registry,
  rowsByView: ReadonlyMap<string, ReadonlyMap<string, readonly ViewRow[]>>,
  failedPks: readonly string[],
  batch: readonly string[],
): Promise<void> {
  const failed = new Set(failedPks);
  await Promise.all(
    [...rowsByView].map(([view, byPk]) => {
      const rows = [...byPk].filter(([pk]) => !failed.has(pk)).flatMap(([, r]) => r);
      return rows.length ? offline.write(registry.views.get(view) as FeatureView, rows, batch) : undefined;
    }),
  );
}
