/**
 * The pipeline's offline write: the rows of a batch to S3 Parquet, one object per view, named
 * by the batch (a Kinesis shard with its first and last sequence numbers, or a batch file) so
 * a retry of the same batch overwrites its objects and a bisected half writes its own.
 *
 * The pipeline leaves out rows of items whose online write failed: Lambda redelivers their
 * records, and they are written then, with the ingest_ts the online store applies them at — so
 * the offline copy that counts (the first ingested) carries the time the API started serving
 * it, and "as served" training sets reproduce the API. Records redelivered with them that had
 * succeeded are written again with a later ingest_ts; the query drops those copies.
 */
import type { KinesisStreamEvent } from 'aws-lambda';
import type { OfflineWriter } from '../adapters/ports.js';
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

/** Writes rows of a batch, one object per view. */
export async function writeBatchOffline(offline: OfflineWriter, registry: Registry, rows: readonly ViewRow[], batch: readonly string[]): Promise<void> {
  const byView = new Map<string, ViewRow[]>();
  for (const row of rows) {
    const viewRows = byView.get(row.view) ?? [];
    byView.set(row.view, viewRows);
    viewRows.push(row);
  }
  await Promise.all([...byView].map(([view, viewRows]) => offline.write(registry.views.get(view) as FeatureView, viewRows, batch)));
}
