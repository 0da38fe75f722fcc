/**
 * Compaction: the hourly job that merges the offline store's small Parquet objects per
 * (view, hour) partition and drops copies of events (lambdas/handlers/compact.ts). It may
 * read, write and delete objects under `offline/` and nothing else. EventBridge invokes it
 * asynchronously: a run that fails every attempt lands in a dead-letter queue (alarmed), so
 * a failure leaves a trace beyond the logs.
 */
import { Duration, Validations } from 'aws-cdk-lib';
import * as events from 'aws-cdk-lib/aws-events';
import * as targets from 'aws-cdk-lib/aws-events-targets';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { NodejsFunction } from 'aws-cdk-lib/aws-lambda-nodejs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import * as sqs from 'aws-cdk-lib/aws-sqs';
import { Construct } from 'constructs';
import { COMPACTION_DEFAULTS, compactionBudgetMs, environmentFor } from '../../lambdas/core/deployment.js';
import { OFFLINE_PREFIX } from '../../lambdas/core/offline.js';
import { type FunctionSettings, HandlerFunction, handlerEntry } from './handler-function.js';
import { acknowledgeObjectPrefixes } from './offline-store.js';

export interface CompactionProps {
  /** The offline store's bucket. */
  readonly bucket: s3.IBucket;
  /** @default every hour */
  readonly schedule?: events.Schedule;
  /**
   * Objects younger than this are left for a later run: a retried stream batch may rewrite
   * its object until the event source mapping gives up on it. Keep it above the mapping's
   * maximum record age plus the stream handler's timeout.
   * @default Duration.hours(2)
   */
  readonly minObjectAge?: Duration;
  /** @default Duration.minutes(15) */
  readonly timeout?: Duration;
  /** @default 2048 MB */
  readonly memorySize?: number;
  /** @default `lambdas/handlers/compact.ts` */
  readonly entry?: string;
  /** Tracing and log retention. @default HandlerFunction's defaults */
  readonly functionSettings?: FunctionSettings;
}

export class Compaction extends Construct {
  readonly handler: NodejsFunction;
  readonly rule: events.Rule;
  /** Invocations (scheduled runs) that failed every attempt. */
  readonly deadLetterQueue: sqs.Queue;

  constructor(scope: Construct, id: string, props: CompactionProps) {
    super(scope, id);
    const timeout = props.timeout ?? Duration.minutes(15);
    this.deadLetterQueue = new sqs.Queue(this, 'DeadLetters', {
      encryption: sqs.QueueEncryption.SQS_MANAGED,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.deadLetterQueue).acknowledge({
      id: 'AwsSolutions-SQS3',
      reason: "This queue is the compaction function's dead-letter queue (Lambda DeadLetterConfig); a dead-letter queue has none of its own.",
    });
    this.handler = new HandlerFunction(this, 'Handler', {
      ...props.functionSettings,
      deadLetterQueue: this.deadLetterQueue,
      entry: props.entry ?? handlerEntry('compact'),
      description: 'Tessera: merges small offline Parquet objects per partition and drops copies of events',
      timeout,
      memorySize: props.memorySize ?? 2048,
      environment: environmentFor({
        bucket: props.bucket.bucketName,
        compactionMinAgeMs: props.minObjectAge?.toMilliseconds() ?? COMPACTION_DEFAULTS.minAgeMs,
        // Stop picking up partitions two minutes before the timeout; the next run goes on.
        compactionBudgetMs: compactionBudgetMs(timeout.toMilliseconds()),
      }),
    }).function;

    iam.Grant.addToPrincipal({
      grantee: this.handler,
      actions: ['s3:ListBucket'],
      resourceArns: [props.bucket.bucketArn],
      conditions: { StringLike: { 's3:prefix': [`${OFFLINE_PREFIX}*`] } },
    });
    iam.Grant.addToPrincipal({
      grantee: this.handler,
      actions: ['s3:GetObject', 's3:PutObject', 's3:DeleteObject'],
      resourceArns: [props.bucket.arnForObjects(`${OFFLINE_PREFIX}*`)],
    });
    acknowledgeObjectPrefixes(
      this.handler,
      props.bucket,
      [OFFLINE_PREFIX],
      () => 'Compaction rewrites objects under offline/ only; a key prefix is the narrowest scope S3 offers.',
    );

    this.rule = new events.Rule(this, 'Schedule', {
      description: 'Tessera: hourly offline compaction',
      schedule: props.schedule ?? events.Schedule.rate(Duration.hours(1)),
      // A missed run is made up by the next one; retrying an old one would only overlap it.
      targets: [new targets.LambdaFunction(this.handler, { retryAttempts: 1, maxEventAge: Duration.hours(1) })],
    });
  }
}
