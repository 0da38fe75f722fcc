/**
 * Erasure as a job (lambdas/handlers/erase.ts, the backfill's shape): the operator invokes the
 * handler with `{erase: {entity, erasedBy, reason}}` (`tessera erase --stack`); it lists the
 * chunks (online scan segments, offline partitions, raw files, dead letters), writes the job
 * item and queues one message per chunk; an SQS event source mapping runs them on parallel
 * workers. A chunk failing three times lands in the dead-letter queue and is counted failed.
 *
 * Only the operator starts it (lambda:InvokeFunction is granted to no one here, serving
 * principals included); the handler may scan, delete and rewrite online items, rewrite and
 * delete objects under offline/, raw/ and dead-letter/ (their noncurrent versions too) and
 * write receipts under erasure/receipts/ — nothing else.
 */

import { Duration } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { BUCKET_PREFIX, environmentFor } from '../../lambdas/core/deployment.js';
import { ERASURE_MAX_RECEIVES, ERASURE_RECEIPT_PREFIX } from '../../lambdas/core/erasure.js';
import { type FunctionSettings, HandlerFunction, handlerEntry } from './handler-function.js';
import { acknowledgeObjectPrefixes, type OfflineStore } from './offline-store.js';
import type { OnlineStore } from './online-store.js';

export interface ErasureProps {
  readonly onlineStore: OnlineStore;
  readonly offlineStore: OfflineStore;
  /** @default Duration.minutes(15) */
  readonly timeout?: Duration;
  /** Concurrent workers the queue's event source mapping runs, at least 2. @default 5 */
  readonly maxConcurrency?: number;
  /** Tracing and log retention. @default HandlerFunction's defaults */
  readonly functionSettings?: FunctionSettings;
}

/** Scan and delete the subject's items, rewrite other entities' (Get on a conflict), and the job item's Put/Update/Get. */
export const ERASURE_TABLE_ACTIONS = ['Scan', 'DeleteItem', 'PutItem', 'GetItem', 'UpdateItem'] as const;

export class Erasure extends Construct {
  readonly handler: NodejsFunction;
  readonly queue: sqs.Queue;
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: ErasureProps) {
    super(scope, id);
    const { onlineStore, offlineStore } = props;
    const timeout = props.timeout ?? Duration.minutes(15);
    const queueSettings = { encryption: sqs.QueueEncryption.SQS_MANAGED, enforceSSL: true, retentionPeriod: Duration.days(14) };
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', queueSettings);
    this.queue = new sqs.Queue(this, 'Queue', {
      ...queueSettings,
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: ERASURE_MAX_RECEIVES },
    });
    this.handler = new HandlerFunction(this, 'Handler', {
      ...props.functionSettings,
      entry: handlerEntry('erase'),
      description: 'Tessera: erases one entity from every store (the operator starts it; workers apply the chunks)',
      timeout,
      memorySize: 1024,
      environment: environmentFor({ tableName: onlineStore.table.tableName, bucket: offlineStore.bucket.bucketName, erasureQueueUrl: this.queue.queueUrl }),
    }).function;

    onlineStore.grant(this.handler, ...ERASURE_TABLE_ACTIONS);
    const bucket = offlineStore.bucket;
    const erased = [BUCKET_PREFIX.offline, BUCKET_PREFIX.raw, BUCKET_PREFIX.deadLetter];
    const objects = (prefixes: readonly string[]) => prefixes.map((p) => bucket.arnForObjects(`${p}*`));
    const grant = (actions: string[], resourceArns: string[], conditions?: Record<string, Record<string, unknown>>) =>
      iam.Grant.addToPrincipal({ grantee: this.handler, actions, resourceArns, ...(conditions ? { conditions } : {}) });
    grant(['s3:ListBucket', 's3:ListBucketVersions'], [bucket.bucketArn], { StringLike: { 's3:prefix': erased.map((p) => `${p}*`) } });
    grant(['s3:GetBucketVersioning'], [bucket.bucketArn]);
    grant(['s3:GetObject', 's3:DeleteObject', 's3:DeleteObjectVersion'], objects(erased));
    grant(['s3:PutObject'], objects([BUCKET_PREFIX.offline, BUCKET_PREFIX.raw, ERASURE_RECEIPT_PREFIX]));
    acknowledgeObjectPrefixes(
      this.handler,
      bucket,
      [...erased, ERASURE_RECEIPT_PREFIX],
      (prefix) => `Erasure rewrites or deletes any object under ${prefix} that holds the subject; a key prefix is the narrowest scope S3 offers.`,
    );
    iam.Grant.addToPrincipal({ grantee: this.handler, actions: ['sqs:SendMessage'], resourceArns: [this.queue.queueArn] });
    this.handler.addEventSource(new SqsEventSource(this.queue, { batchSize: 1, reportBatchItemFailures: true, maxConcurrency: props.maxConcurrency ?? 5 }));
  }
}
