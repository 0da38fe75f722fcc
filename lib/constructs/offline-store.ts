/**
 * The offline store: the S3 bucket holding transformed rows as Parquet (`offline/`), the raw
 * archive of every stream source (`raw/<source>/`, which backfills replay), events that
 * failed validation (`dead-letter/`), whole Kinesis batches the stream mapping gave up on
 * (`aws/lambda/`, a key layout Lambda fixes), and Athena query results (`athena-results/`).
 * Versioned, because compaction deletes and rewrites objects: a bad rewrite can be undone
 * until the noncurrent version expires.
 */
import { Duration, RemovalPolicy, Stack, Token, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import { S3OnFailureDestination } from 'aws-cdk-lib/aws-lambda-event-sources';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { BUCKET_PREFIX } from '../../lambdas/core/deployment.js';

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
  /** How long a replaced or deleted object's previous version is kept. @default Duration.days(30) */
  readonly noncurrentVersionExpiration?: Duration;
  /**
   * A bucket to use instead of creating one (and its access-log bucket), by name: e.g. the
   * bucket a destroyed stack retained. It keeps its own settings.
   * @default none: a new bucket
   */
  readonly existingBucketName?: string;
}

export class OfflineStore extends Construct {
  readonly bucket: s3.IBucket;
  /** Receives the bucket's S3 server access logs; absent when the bucket is an existing one. */
  readonly accessLogsBucket?: s3.Bucket;

  constructor(scope: Construct, id: string, props: OfflineStoreProps = {}) {
    super(scope, id);
    if (props.existingBucketName) {
      this.bucket = s3.Bucket.fromBucketName(this, 'Bucket', props.existingBucketName);
      return;
    }
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    const deadLetterExpiration = props.deadLetterExpiration ?? Duration.days(30);

    const accessLogsBucket = new s3.Bucket(this, 'AccessLogs', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      // Server access log delivery only supports SSE-S3 on the target bucket.
      encryption: s3.BucketEncryption.S3_MANAGED,
      lifecycleRules: [{ id: 'expire-access-logs', expiration: props.accessLogsExpiration ?? Duration.days(90) }],
      removalPolicy,
    });
    this.accessLogsBucket = accessLogsBucket;
    Validations.of(accessLogsBucket).acknowledge({
      id: 'AwsSolutions-S1',
      reason: 'This is the access-log target of the offline bucket; logging it would log its own log deliveries.',
    });

    this.bucket = new s3.Bucket(this, 'Bucket', {
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      enforceSSL: true,
      encryption: s3.BucketEncryption.S3_MANAGED,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      serverAccessLogsBucket: accessLogsBucket,
      serverAccessLogsPrefix: 'offline-store/',
      lifecycleRules: [
        { id: 'expire-dead-letter', prefix: BUCKET_PREFIX.deadLetter, expiration: deadLetterExpiration },
        { id: 'expire-lambda-failed-batches', prefix: BUCKET_PREFIX.lambdaFailedBatches, expiration: deadLetterExpiration },
        { id: 'expire-failed-batches', prefix: BUCKET_PREFIX.failedBatches, expiration: deadLetterExpiration },
        { id: 'expire-raw-errors', prefix: BUCKET_PREFIX.rawErrors, expiration: deadLetterExpiration },
        { id: 'expire-athena-results', prefix: BUCKET_PREFIX.athenaResults, expiration: props.athenaResultsExpiration ?? Duration.days(7) },
        { id: 'abort-incomplete-uploads', abortIncompleteMultipartUploadAfter: Duration.days(1) },
        // Retried writes overwrite deterministic names and compaction replaces objects: without
        // this, every replaced version would be kept (and billed) for good.
        {
          id: 'expire-noncurrent-versions',
          noncurrentVersionExpiration: props.noncurrentVersionExpiration ?? Duration.days(30),
          expiredObjectDeleteMarker: true,
        },
      ],
      removalPolicy,
    });

    // The query layer over `offline/` (Glue tables with partition projection, the Athena
    // workgroup writing to BUCKET_PREFIX.athenaResults) takes this bucket by reference: see the
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
    acknowledgeObjectPrefixes(
      grantee,
      this.bucket,
      prefixes,
      (prefix) => `Objects are written under the ${prefix} prefix only; a key prefix is the narrowest scope S3 offers.`,
    );
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
    this.store.grantPutObjects(targetHandler, BUCKET_PREFIX.lambdaFailedBatches);
    iam.Grant.addToPrincipal({ grantee: targetHandler, actions: ['s3:ListBucket'], resourceArns: [this.store.bucket.bucketArn] });
    return { destination: this.store.bucket.bucketArn };
  }
}

/**
 * A grant on a key prefix is a wildcard resource to cdk-nag (IAM5). Acknowledged on the
 * grantee, one finding per prefix, since a prefix is the narrowest scope S3 offers; any
 * other wildcard still fails the synth.
 */
export function acknowledgeObjectPrefixes(
  grantee: iam.IGrantable | iam.Policy,
  bucket: s3.IBucket,
  prefixes: readonly string[],
  reason: (prefix: string) => string,
): void {
  const principal = grantee instanceof iam.Policy ? grantee : grantee.grantPrincipal;
  if (!(principal instanceof Construct)) return;
  for (const prefix of prefixes) {
    Validations.of(principal).acknowledge({ id: `AwsSolutions-IAM5[Resource::${nagBucketArn(bucket)}/${prefix}*]`, reason: reason(prefix) });
  }
}

/** The bucket's ARN as cdk-nag prints it in a finding: `<LogicalId.Arn>` for one of this app, else the literal ARN. */
export function nagBucketArn(bucket: s3.IBucket): string {
  const stack = Stack.of(bucket);
  const cfn = bucket.node.defaultChild;
  if (cfn instanceof s3.CfnBucket) return `<${stack.resolve(stack.getLogicalId(cfn))}.Arn>`;
  const partition = Token.isUnresolved(stack.partition) ? '<AWS::Partition>' : stack.partition;
  return Token.isUnresolved(bucket.bucketName) ? String(stack.resolve(bucket.bucketArn)) : `arn:${partition}:s3:::${bucket.bucketName}`;
}
