/**
 * The raw archive in local mode: what the stack's Firehose delivery streams do in AWS
 * (lib/constructs/raw-archive.ts), on the emulators. A second consumer of every stream — an
 * event source mapping of its own, beside the stream handler's, as Firehose is a consumer of
 * its own — writes each batch of records, as produced, one JSON line per record, gzipped, to
 * `raw/<source>/date=YYYY-MM-DD/<stream>-<shard>-<first sequence number>.jsonl.gz` in the
 * store's bucket, dated by the batch's oldest arrival (UTC). `tessera backfill` of a stream
 * source replays exactly these objects. A retried batch rewrites the same object.
 */
import { gzipSync } from 'node:zlib';
import type { KinesisClient } from '@aws-sdk/client-kinesis';
import { PutObjectCommand, type S3Client } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { RAW_FILE_EXTENSION, rawLocation } from '../lambdas/core/batch.js';
import { EventSourceMapping, type MappingLogger, type StreamHandler } from './event-source-mapping.js';

export interface RawArchiveOptions {
  readonly kinesis: KinesisClient;
  readonly s3: S3Client;
  readonly bucket: string;
  readonly region: string;
  /** Source name → stream name, as the handlers' TESSERA_STREAMS. */
  readonly streams: Readonly<Record<string, string>>;
  readonly logger?: MappingLogger;
}

/** The object key of one archived batch. */
export function rawObjectKey(source: string, stream: string, shardId: string, firstSequence: string, arrivedAtMs: number): string {
  const date = new Date(arrivedAtMs).toISOString().slice(0, 10);
  return `${rawLocation(source)}date=${date}/${stream}-${shardId}-${firstSequence}${RAW_FILE_EXTENSION}`;
}

/** A handler that archives each Kinesis batch it is given as one gzipped JSON-lines object. */
export function createRawArchiver(s3: S3Client, bucket: string, streams: Readonly<Record<string, string>>): StreamHandler {
  const sourceOfStream = new Map(Object.entries(streams).map(([source, stream]) => [stream, source]));
  return async (event: KinesisStreamEvent) => {
    const [first] = event.Records;
    if (!first) return { batchItemFailures: [] };
    const stream = first.eventSourceARN.slice(first.eventSourceARN.lastIndexOf('/') + 1);
    const source = sourceOfStream.get(stream);
    if (!source) throw new Error(`no stream source reads ${stream}`);
    // Firehose's AppendDelimiterToRecord: each record's bytes, then a newline.
    const lines = event.Records.map((r) => Buffer.concat([Buffer.from(r.kinesis.data, 'base64'), Buffer.from('\n')]));
    const oldest = Math.min(...event.Records.map((r) => r.kinesis.approximateArrivalTimestamp * 1000));
    const shardId = first.eventID.split(':')[0] ?? 'shard';
    const key = rawObjectKey(source, stream, shardId, first.kinesis.sequenceNumber, oldest);
    // A Buffer body: s3rver stores streamed uploads with the SDK's checksum framing.
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: gzipSync(Buffer.concat(lines)) }));
    return { batchItemFailures: [] };
  };
}

/** The archive's own event source mapping over every stream; start it, or `drain()` it in tests. */
export function rawArchiveMapping(options: RawArchiveOptions): EventSourceMapping {
  return new EventSourceMapping({
    ...(options.logger ? { logger: options.logger } : {}),
    kinesis: options.kinesis,
    s3: options.s3,
    bucket: options.bucket,
    region: options.region,
    streams: [...new Set(Object.values(options.streams))],
    // Firehose reads up to 10 000 records a call; bigger objects, fewer of them.
    batchSize: 10_000,
    handler: createRawArchiver(options.s3, options.bucket, options.streams),
  });
}
