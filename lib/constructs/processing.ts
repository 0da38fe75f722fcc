/**
 * Processing: the stream handler and one Kinesis event source mapping per stream. The
 * mapping's error settings are the product's delivery guarantee: bounded retries and record
 * age (the defaults, infinite, let one poison record block a shard for the retention
 * period), bisection to isolate a bad record, partial batch responses so good records are
 * not replayed, and whole failed batches kept in S3.
 */
import { Duration } from 'aws-cdk-lib';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import { KinesisEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import { Construct } from 'constructs';
import { BUCKET_PREFIX, environmentFor } from '../../lambdas/core/deployment.js';
import { type FunctionSettings, HandlerFunction, handlerEntry } from './handler-function.js';
import type { Ingestion } from './ingestion.js';
import type { OfflineStore } from './offline-store.js';
import type { OnlineStore } from './online-store.js';

/** What the stream handler's pipeline sends to the table (lambdas/adapters/online-store.ts). */
export const STREAM_TABLE_ACTIONS = ['BatchGetItem', 'PutItem'] as const;

export interface ProcessingProps {
  readonly ingestion: Ingestion;
  readonly onlineStore: OnlineStore;
  readonly offlineStore: OfflineStore;
  /** @default `lambdas/handlers/stream.ts` */
  readonly entry?: string;
  /** Records per invocation, at most. @default 500 */
  readonly batchSize?: number;
  /** How long the mapping waits to fill a batch. @default Duration.seconds(1) */
  readonly maxBatchingWindow?: Duration;
  /** Retries of a failed batch (halves from bisection do not count). @default 5 */
  readonly retryAttempts?: number;
  /** Records older than this are sent to the failure destination instead. @default Duration.hours(1) */
  readonly maxRecordAge?: Duration;
  /** Tracing and log retention. @default HandlerFunction's defaults */
  readonly functionSettings?: FunctionSettings;
}

export class Processing extends Construct {
  readonly streamHandler: NodejsFunction;

  constructor(scope: Construct, id: string, props: ProcessingProps) {
    super(scope, id);
    const { ingestion, onlineStore, offlineStore } = props;

    this.streamHandler = new HandlerFunction(this, 'StreamHandler', {
      ...props.functionSettings,
      entry: props.entry ?? handlerEntry('stream'),
      description: 'Tessera: transforms stream events into the online and offline stores',
      timeout: Duration.seconds(60),
      environment: environmentFor({
        tableName: onlineStore.table.tableName,
        bucket: offlineStore.bucket.bucketName,
        streams: ingestion.streamNamesJson(),
      }),
    }).function;

    onlineStore.grant(this.streamHandler, ...STREAM_TABLE_ACTIONS);
    offlineStore.grantPutObjects(this.streamHandler, BUCKET_PREFIX.offline, BUCKET_PREFIX.deadLetter);

    for (const stream of ingestion.streams.values()) {
      this.streamHandler.addEventSource(
        new KinesisEventSource(stream, {
          startingPosition: lambda.StartingPosition.TRIM_HORIZON,
          batchSize: props.batchSize ?? 500,
          maxBatchingWindow: props.maxBatchingWindow ?? Duration.seconds(1),
          bisectBatchOnError: true,
          retryAttempts: props.retryAttempts ?? 5,
          maxRecordAge: props.maxRecordAge ?? Duration.hours(1),
          reportBatchItemFailures: true,
          // One batch per shard at a time: each hot item keeps a position mark per shard (the
          // highest sequence number it has applied) and skips rows at or below it as redeliveries;
          // producer duplicates are stopped by claims (core/online.ts, adapters/claims.ts). That is
          // right only while a shard's records reach an item in sequence order, which concurrent
          // batches of one shard would break.
          parallelizationFactor: 1,
          onFailure: offlineStore.failedBatchDestination(),
        }),
      );
    }
  }
}
