/**
 * The stream handler: a Kinesis batch in, features out, through the shared pipeline
 * (app/pipeline.ts). Records whose items could not be written are reported back
 * (ReportBatchItemFailures): Lambda retries from the first of them, and the pipeline's
 * idempotence makes the redelivered records that had succeeded change nothing.
 */
import type { KinesisStreamBatchResponse, KinesisStreamEvent } from 'aws-lambda';
import * as definitions from '../../features/index.js';
import { EmfFreshnessRecorder } from '../adapters/freshness-metrics.js';
import { kinesisBatchName } from '../app/offline-batch.js';
import { type PipelineRecord, runPipeline } from '../app/pipeline.js';
import { decodePayload } from '../core/ingest.js';
import { Registry } from '../core/registry.js';
import { createRuntime, lazyHandler, type Runtime, readConfig } from './runtime.js';

/** The stream name in a Kinesis event source ARN (`arn:aws:kinesis:region:account:stream/NAME`). */
const streamNameOf = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);

export function createStreamHandler(runtime: Runtime): (event: KinesisStreamEvent) => Promise<KinesisStreamBatchResponse> {
  const { registry, logger } = runtime;
  const sourceByStream = new Map(Object.entries(runtime.config.streams).map(([source, stream]) => [stream, registry.sources.get(source)] as const));

  return async (event) => {
    const first = event.Records[0];
    if (!first) return { batchItemFailures: [] };
    // A mapping reads one stream, so one batch is one source.
    const source = sourceByStream.get(streamNameOf(first.eventSourceARN ?? ''));
    if (!source) throw new Error(`no stream source is configured for ${first.eventSourceARN} (TESSERA_STREAMS)`);
    const records: PipelineRecord[] = event.Records.map((record) => ({
      position: `${record.eventID.split(':')[0] ?? 'shard'}/${record.kinesis.sequenceNumber}`,
      arrivedAt: Math.round(record.kinesis.approximateArrivalTimestamp * 1000),
      payloadBase64: record.kinesis.data,
      event: decodePayload(Buffer.from(record.kinesis.data, 'base64')),
    }));
    const sequenceOf = new Map(records.map((r, i) => [r.position, event.Records[i]?.kinesis.sequenceNumber as string]));
    const result = await runPipeline(runtime, source, records, runtime.now(), kinesisBatchName(event));
    if (result.deadLettered || result.failed.length) {
      logger.warn('batch finished with rejected or failed records', {
        records: records.length,
        deadLettered: result.deadLettered,
        failed: result.failed.length,
        why: [
          ...(result.deadLettered ? [`rejected records are under dead-letter/${source.name}/ with their reasons`] : []),
          ...(result.failed.length
            ? [
                'failed records could not be written online (a write conflict with a concurrent batch, throttling or a store error) and are retried by the event source mapping',
              ]
            : []),
        ].join('; '),
      });
    }
    return { batchItemFailures: result.failed.map((position) => ({ itemIdentifier: sequenceOf.get(position) as string })) };
  };
}

export const handler = lazyHandler(() =>
  createStreamHandler(createRuntime(readConfig(process.env), { registry: Registry.fromModule(definitions), freshness: new EmfFreshnessRecorder() })),
);
