/**
 * Batch processing: the batch handler (lambdas/handlers/batch.ts over lambdas/app/backfill.ts) — the stream's pipeline
 * fed from files — with the three ways it runs:
 * - on a schedule: one EventBridge rule per batch source that declares `schedule`, sending
 *   `{source, lookback}` with a lookback a bit longer than the period (core/schedule.ts);
 * - on demand: `tessera backfill` invokes it with `{source, from, to}`;
 * - as parallel workers: a run over more than a few files puts one message per file on the
 *   backfill queue, and an SQS event source mapping spreads them over up to `maxConcurrency`
 *   concurrent invocations. A file failing three times lands in the dead-letter queue.
 *
 * It reads files only under the prefixes its sources name (a batch source's `location`, a
 * stream source's raw archive `raw/<source>/`), writes the online table and `offline/` and
 * `dead-letter/` objects, and nothing else.
 */
import { Aws, Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import { SqsEventSource } from 'aws-cdk-lib/aws-lambda-event-sources';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { parseLocation, rawLocation } from '../../lambdas/core/batch.js';
import { BUCKET_PREFIX, DEFAULT_BACKFILL_MAX_RECEIVES, environmentFor } from '../../lambdas/core/deployment.js';
import type { Registry } from '../../lambdas/core/registry.js';
import { scheduledRun } from '../../lambdas/core/schedule.js';
import { type FunctionSettings, HandlerFunction, handlerEntry } from './handler-function.js';
import type { Ingestion } from './ingestion.js';
import { acknowledgeObjectPrefixes, type OfflineStore } from './offline-store.js';
import type { OnlineStore } from './online-store.js';

export interface BatchProcessingProps {
  /** The definitions: which sources the handler reads, and the schedules of batch sources. */
  readonly registry: Registry;
  readonly ingestion: Ingestion;
  readonly onlineStore: OnlineStore;
  readonly offlineStore: OfflineStore;
  /**
   * Further locations (`s3://bucket/prefix/` or a key prefix of the store's bucket) the
   * handler may read, for backfills given `--location` outside the sources' own.
   * @default none
   */
  readonly extraReadLocations?: readonly string[];
  /** @default Duration.minutes(15) */
  readonly timeout?: Duration;
  /** @default 1024 MB */
  readonly memorySize?: number;
  /** Files (chunks) per worker invocation, 1 to 5. @default 1 */
  readonly batchSize?: number;
  /** Concurrent workers the queue's event source mapping runs, at least 2. @default 10 */
  readonly maxConcurrency?: number;
  /** Deliveries of a chunk before it moves to the dead-letter queue. @default 3 */
  readonly maxReceiveCount?: number;
  /** @default `lambdas/handlers/batch.ts` */
  readonly entry?: string;
  /** Tracing and log retention. @default HandlerFunction's defaults */
  readonly functionSettings?: FunctionSettings;
}

/** The pipeline's actions (as the stream handler's) and the job item's: create, count progress, read. */
export const BATCH_TABLE_ACTIONS = ['BatchGetItem', 'GetItem', 'PutItem', 'UpdateItem'] as const;

/** A location the handler reads: a bucket (the store's own, or another by name) and a key prefix. */
interface ReadLocation {
  readonly bucket: string | undefined;
  readonly prefix: string;
}

export class BatchProcessing extends Construct {
  readonly handler: NodejsFunction;
  /** One message per chunk (file) of a large run; the workers consume it. */
  readonly queue: sqs.Queue;
  /** Chunks that failed `maxReceiveCount` times. */
  readonly deadLetterQueue: sqs.Queue;
  /** The schedule of each batch source that declares one, by source name. */
  readonly schedules = new Map<string, events.Rule>();

  constructor(scope: Construct, id: string, props: BatchProcessingProps) {
    super(scope, id);
    const { registry, ingestion, onlineStore, offlineStore } = props;
    const timeout = props.timeout ?? Duration.minutes(15);
    const batchSize = props.batchSize ?? 1;
    if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 5) {
      throw new Error(`BatchProcessing: batchSize ${batchSize} is not 1 to 5; a worker applies its files one after another within ${timeout.toHumanString()}`);
    }

    this.deadLetterQueue = new sqs.Queue(this, 'BackfillDeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // A standard queue's messages expire by their first enqueue time: keep them as long as SQS can.
      retentionPeriod: Duration.days(14),
    });
    this.queue = new sqs.Queue(this, 'BackfillQueue', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      // AWS's advice for SQS event sources: six times the function timeout, so a chunk is not
      // handed to a second worker while the first still applies it (or retries its throttled calls).
      visibilityTimeout: Duration.seconds(timeout.toSeconds() * 6),
      retentionPeriod: Duration.days(14),
      deadLetterQueue: { queue: this.deadLetterQueue, maxReceiveCount: props.maxReceiveCount ?? DEFAULT_BACKFILL_MAX_RECEIVES },
    });

    this.handler = new HandlerFunction(this, 'Handler', {
      ...props.functionSettings,
      entry: props.entry ?? handlerEntry('batch'),
      description: 'Tessera: applies batch source files and backfills with the stream pipeline',
      timeout,
      memorySize: props.memorySize ?? 1024,
      environment: environmentFor({
        tableName: onlineStore.table.tableName,
        bucket: offlineStore.bucket.bucketName,
        streams: ingestion.streamNamesJson(),
        backfillQueueUrl: this.queue.queueUrl,
        backfillMaxReceives: props.maxReceiveCount ?? DEFAULT_BACKFILL_MAX_RECEIVES,
      }),
    }).function;

    onlineStore.grant(this.handler, ...BATCH_TABLE_ACTIONS);
    offlineStore.grantPutObjects(this.handler, BUCKET_PREFIX.offline, BUCKET_PREFIX.deadLetter);
    // The handler sends chunks (SendMessageBatch); the SQS event source mapping adds what it consumes with.
    iam.Grant.addToPrincipal({ grantee: this.handler, actions: ['sqs:SendMessage'], resourceArns: [this.queue.queueArn] });
    this.grantReadLocations(offlineStore.bucket, [...sourceLocations(registry), ...(props.extraReadLocations ?? [])]);

    this.handler.addEventSource(
      new SqsEventSource(this.queue, {
        batchSize,
        reportBatchItemFailures: true,
        maxConcurrency: props.maxConcurrency ?? 10,
      }),
    );

    for (const source of registry.sources.values()) {
      if (source.kind !== 'batch' || source.schedule === undefined) continue;
      // Throws, naming the source, on a schedule EventBridge would refuse at deploy time.
      const run = scheduledRun(source);
      this.schedules.set(
        source.name,
        new events.Rule(this, `Schedule-${source.name}`, {
          description: `Tessera: scheduled batch run of ${source.name}`,
          schedule: events.Schedule.expression(source.schedule),
          targets: [
            new targets.LambdaFunction(this.handler, {
              event: events.RuleTargetInput.fromObject(run),
              // The next run looks back over this one's period too; an old retry would only overlap it.
              retryAttempts: 2,
              maxEventAge: Duration.hours(1),
            }),
          ],
        }),
      );
    }
  }

  /**
   * s3:GetObject on each location's objects and s3:ListBucket on its bucket for that prefix
   * only. The store's own bucket is referenced by its construct; others by name.
   */
  private grantReadLocations(ownBucket: s3.IBucket, locations: readonly string[]): void {
    const parsed = unique(locations.map((location) => readLocation(location)));
    const bucketArn = (bucket: string | undefined) => (bucket === undefined ? ownBucket.bucketArn : `arn:${Aws.PARTITION}:s3:::${bucket}`);
    const objectsArn = (l: ReadLocation) => (l.bucket === undefined ? ownBucket.arnForObjects(`${l.prefix}*`) : `${bucketArn(l.bucket)}/${l.prefix}*`);

    for (const bucket of new Set(parsed.map((l) => l.bucket))) {
      iam.Grant.addToPrincipal({
        grantee: this.handler,
        actions: ['s3:ListBucket'],
        resourceArns: [bucketArn(bucket)],
        conditions: { StringLike: { 's3:prefix': parsed.filter((l) => l.bucket === bucket).map((l) => `${l.prefix}*`) } },
      });
    }
    iam.Grant.addToPrincipal({ grantee: this.handler, actions: ['s3:GetObject'], resourceArns: parsed.map(objectsArn) });

    const reason = (prefix: string) =>
      `The batch handler reads the files of a source under ${prefix || 'the root of its bucket'}; a key prefix is the narrowest scope S3 offers.`;
    acknowledgeObjectPrefixes(
      this.handler,
      ownBucket,
      parsed.filter((l) => l.bucket === undefined).map((l) => l.prefix),
      reason,
    );
    for (const l of parsed.filter((l) => l.bucket !== undefined)) {
      Validations.of(this.handler.role as iam.Role).acknowledge({
        id: `AwsSolutions-IAM5[Resource::arn:<AWS::Partition>:s3:::${l.bucket}/${l.prefix}*]`,
        reason: reason(l.prefix),
      });
    }
  }
}

/** Where each source's files are: a batch source's location, a stream source's raw archive. */
function sourceLocations(registry: Registry): string[] {
  return [...registry.sources.values()].map((source) => (source.kind === 'batch' ? source.location : rawLocation(source.name)));
}

/** A location as the handler resolves it (core/batch.ts), with the store's own bucket left undefined. */
function readLocation(location: string): ReadLocation {
  const OWN = '\0own';
  const { bucket, prefix } = parseLocation(location, OWN);
  return { bucket: bucket === OWN ? undefined : bucket, prefix };
}

function unique(locations: readonly ReadLocation[]): ReadLocation[] {
  const seen = new Map(locations.map((l) => [`${l.bucket ?? ''}/${l.prefix}`, l]));
  return [...seen.values()];
}
