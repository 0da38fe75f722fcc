/**
 * The offline store: the S3 bucket holding transformed rows as Parquet (`offline/`), events
 * that failed validation (`dead-letter/`), whole Kinesis batches the stream mapping gave up
 * on (`aws/lambda/`, a key layout Lambda fixes), and Athena query results (`athena-results/`).
 */
import { Duration, RemovalPolicy, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { S3OnFailureDestination } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { OFFLINE_PREFIX } from '../../lambdas/core/offline.js';

/** Key prefixes of the bucket; each ends with `/`. */
export const PREFIX = {
  /** Transformed rows, `offline/<view>/date=YYYY-MM-DD/hour=HH/<name>.parquet`. */
  offline: OFFLINE_PREFIX,
  /**
   * Events that failed validation or transformation, with the error. The dead-letter adapter
   * owns this prefix; it is repeated here so synth does not load the S3 SDK (a test pins both).
   */
  deadLetter: 'dead-letter/',
  /** Where Lambda's S3 on-failure destination writes: `aws/lambda/<mapping>/<shard>/YYYY/MM/DD/...`. */
  lambdaFailedBatches: 'aws/lambda/',
  /** Failed batches written by Tessera's own tooling (the local event-source poller, replays). */
  failedBatches: 'failed-batches/',
  athenaResults: 'athena-results/',
} as const;

export interface OfflineStoreProps {
  /**
   * What happens to the buckets when they leave the stack. The offline store is the
   * history training sets are built from, so the default keeps it.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
  /** @default Duration.days(30) */
  readonly deadLetterExpiration?: Duration;
  /** @default Duration.days(7) */
  readonly athenaResultsExpiration?: Duration;
  /** @default Duration.days(90) */
  readonly accessLogsExpiration?: Duration;
}

export class OfflineStore extends Construct {
  readonly bucket: s3.Bucket;
  /** Receives the bucket's S3 server access logs. */
  readonly accessLogsBucket: s3.Bucket;

  constructor(scope: Construct, id: string, props: OfflineStoreProps = {}) {
    super(scope, id);
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const deadLetterExpiration = props.deadLetterExpiration ?? Duration.days(30);

    this.accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // Server access log delivery only supports SSE-S3 on the target bucket.
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: props.accessLogsExpiration ?? Duration.days(90) }],
      removalPolicy,
    });
    Validations.of(this.accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log target of the offline bucket; logging it would log its own log deliveries.',
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      // Object names are deterministic, so a retried write overwrites; versions would only pile up.
      versioned: false,
      serverAccessLogsBucket: this.accessLogsBucket,
      serverAccessLogsPrefix: 'offline-store/',
      lifecycleRules: [
        { id: 'expire-dead-letter', prefix: PREFIX.deadLetter, expiration: deadLetterExpiration },
        { id: 'expire-lambda-failed-batches', prefix: PREFIX.lambdaFailedBatches, expiration: deadLetterExpiration },
        { id: 'expire-failed-batches', prefix: PREFIX.failedBatches, expiration: deadLetterExpiration },
        { id: 'expire-athena-results', prefix: PREFIX.athenaResults, expiration: props.athenaResultsExpiration ?? Duration.days(7) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
      ],
      removalPolicy,
    });

    // The query layer over `offline/` (Glue tables with partition projection, the Athena
    // workgroup writing to PREFIX.athenaResults) takes this bucket by reference: see the
    // Training construct (training.ts), composed beside this one in the stack.
  }

  /**
   * Lets `grantee` create objects under the given prefixes, and nothing else: no reads,
   * deletes or multipart aborts (the bucket's `grantPut` would add `s3:Abort*`).
   */
  grantPutObjects(grantee: iam.IGrantable, ...prefixes: string[]): iam.Grant {
    const grant = iam.Grant.addToPrincipal({
      grantee,
      actions: ['s3:PutObject'],
      resourceArns: prefixes.map((prefix) => this.bucket.arnForObjects(`${prefix}*`)),
    });
    acknowledgeObjectPrefixes(grantee, this.bucket, prefixes);
    return grant;
  }

  /**
   * The on-failure destination for a stream event source mapping: Lambda writes each
   * discarded batch, records included, under `aws/lambda/` with the function's role.
   */
  failedBatchDestination(): lambda.IEventSourceDlq {
    return new FailedBatchDestination(this);
  }
}

/**
 * S3OnFailureDestination grants the function read, write and delete on the whole bucket;
 * Lambda needs only s3:PutObject on its own prefix and s3:ListBucket (AWS Lambda developer
 * guide, "on-failure destinations"), so this one grants just that.
 */
class FailedBatchDestination extends S3OnFailureDestination {
  constructor(private readonly store: OfflineStore) {
    super(store.bucket);
  }

  override bind(_target: lambda.IEventSourceMapping, targetHandler: lambda.IFunction): lambda.DlqDestinationConfig {
    this.store.grantPutObjects(targetHandler, PREFIX.lambdaFailedBatches);
    iam.Grant.addToPrincipal({ grantee: targetHandler, actions: ['s3:ListBucket'], resourceArns: [this.store.bucket.bucketArn] });
    return { destination: this.store.bucket.bucketArn };
  }
}

/**
 * A grant on a key prefix is a wildcard resource to cdk-nag (IAM5). Acknowledged on the
 * grantee, one finding per prefix, since a prefix is the narrowest scope S3 offers.
 */
function acknowledgeObjectPrefixes(grantee: iam.IGrantable, bucket: s3.Bucket, prefixes: readonly string[]): void {
  const principal = grantee.grantPrincipal;
  if (!(principal instanceof Construct)) return;
  const bucketLogicalId = Stack.of(bucket).resolve(Stack.of(bucket).getLogicalId(bucket.node.defaultChild as s3.CfnBucket));
  for (const prefix of prefixes) {
    Validations.of(principal).acknowledge({
      id: `AwsSolutions-IAM5[Resource::<${bucketLogicalId}.Arn>/${prefix}*]`,
      reason: `Objects are written under the ${prefix} prefix only; a key prefix is the narrowest scope S3 offers.`,
    });
  }
}
