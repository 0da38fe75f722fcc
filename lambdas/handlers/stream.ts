/**
 * The stream handler: a Kinesis batch in, features out. Records are validated and transformed
 * (core/ingest), invalid ones dead-lettered with their reason, rows grouped per item and
 * applied to the online store in one conditional write per item, and the records whose
 * items could not be written reported back (ReportBatchItemFailures) for Lambda to retry.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent, KinesisStreamRecord } from 'aws-lambda';
import { itemKey } from '../core/entity-key.js';
import type { ViewRow } from '../core/ingest.js';
import type { DeadLetter } from '../adapters/dead-letters.js';
import { createRuntime, lazyHandler, readConfig, type Runtime } from './runtime.js';

/** The stream name in a Kinesis event source ARN (`arn:aws:kinesis:region:account:stream/NAME`). */
const streamNameOf = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);

export function createStreamHandler(runtime: Runtime): (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse> {
  const { registry, ingestor, online, deadLetters, logger } = runtime;
  const sourceByStream = new Map(
    Object.entries(runtime.config.streams).map(([source, stream]) => [stream, registry.sources.get(source)] as const),
  );

  return async (event) => {
    const ingestTs = runtime.now();
    const letters: DeadLetter[] = [];
    // view → item key → rows, and item key → sequence numbers of the records that wrote it
    const rowsByView = new Map<string, Map<string, ViewRow[]>>();
    const recordsByPk = new Map<string, string[]>();
    for (const record of event.Records) {
      const source = sourceByStream.get(streamNameOf(record.eventSourceARN ?? ''));
      if (!source) {
        throw new Error(`no stream source is configured for ${record.eventSourceARN} (TESSERA_STREAMS)`);
      }
      const outcome = ingestor.ingest(source, Buffer.from(record.kinesis.data, 'base64'), ingestTs);
      if (!outcome.ok) {
        letters.push(deadLetter(source.name, record, outcome.rejection));
        continue;
      }
      for (const row of outcome.rows) {
        const pk = itemKey(row.view, row.entityId);
        const byPk = rowsByView.get(row.view) ?? new Map<string, ViewRow[]>();
        rowsByView.set(row.view, byPk);
        byPk.set(pk, [...(byPk.get(pk) ?? []), row]);
        recordsByPk.set(pk, [...(recordsByPk.get(pk) ?? []), record.kinesis.sequenceNumber]);
      }
    }
    // Dead letters first: if they cannot be kept, the whole batch is retried rather than lost.
    await deadLetters.write(letters);
    const failedPks = (
      await Promise.all([...rowsByView].map(([view, byPk]) => online.apply(registry.views.get(view)!, byPk, ingestTs)))
    ).flat();
    const failedSequences = [...new Set(failedPks.flatMap((pk) => recordsByPk.get(pk) ?? []))];
    if (letters.length || failedSequences.length) {
      logger.warn('batch finished with rejected or failed records', { records: event.Records.length, deadLettered: letters.length, failed: failedSequences.length });
    }
    return { batchItemFailures: failedSequences.map((itemIdentifier) => ({ itemIdentifier })) };
  };
}

function deadLetter(source: string, record: KinesisStreamRecord, rejection: DeadLetter['rejection']): DeadLetter {
  return {
    source,
    position: `${record.eventID.split(':')[0] ?? 'shard'}/${record.kinesis.sequenceNumber}`,
    arrivedAt: Math.round(record.kinesis.approximateArrivalTimestamp * 1000),
    rejection,
    payloadBase64: record.kinesis.data,
  };
}

export const handler = lazyHandler(() => createStreamHandler(createRuntime(readConfig(process.env))));
