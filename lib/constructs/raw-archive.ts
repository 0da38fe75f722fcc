/**
 * The raw archive: one Firehose delivery stream per stream source, reading the source's
 * Kinesis stream and writing its events, as produced, to the offline bucket under
 * `raw/<source>/date=YYYY-MM-DD/` — one JSON line per record (Firehose appends the newline),
 * GZIP-compressed, `.jsonl.gz`, encrypted by the bucket's default encryption. This is what
 * `tessera backfill` of a stream source replays (lambdas/app/backfill.ts reads
 * `rawLocation(source)`), and local mode writes the same layout (local/raw-archive.ts).
 *
 * The date folder is the day Firehose received the record (UTC), not the event time: a
 * backfill range should reach a little past the events it means to replay.
 */
import { ArnFormat, Duration, RemovalPolicy, Size, Stack, Validations } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kinesis from 'aws-cdk-lib/aws-kinesis';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { RAW_FILE_EXTENSION, rawLocation } from '../../lambdas/core/batch.js';
import { BUCKET_PREFIX } from '../../lambdas/core/deployment.js';
import { acknowledgeObjectPrefixes } from './offline-store.js';

export interface RawArchiveProps {
  /** The streams by source name. */
  readonly streams: ReadonlyMap<string, kinesis.IStream>;
  /** The offline store's bucket. */
  readonly bucket: s3.IBucket;
  /** How long Firehose gathers records before writing an object. @default Duration.minutes(5) */
  readonly bufferingInterval?: Duration;
  /** @default Size.mebibytes(64) */
  readonly bufferingSize?: Size;
  /** Retention of the delivery error log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
}

export class RawArchive extends Construct {
  /** The delivery stream of each source, by source name. */
  readonly deliveryStreams = new Map<string, firehose.CfnDeliveryStream>();
  readonly logGroup: logs.LogGroup;

  constructor(scope: Construct, id: string, props: RawArchiveProps) {
    super(scope, id);
    // Delivery errors are operational, not records of truth; they go with the stack.
    this.logGroup = new logs.LogGroup(this, 'Logs', { retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH, removalPolicy: RemovalPolicy.DESTROY });

    for (const [source, stream] of props.streams) {
      const dataPrefix = rawLocation(source);
      const errorPrefix = `${BUCKET_PREFIX.rawErrors}${source}/`;
      const logStream = new logs.LogStream(this, `Delivery-${source}`, { logGroup: this.logGroup });
      // One role per delivery stream: it reads its own stream and writes its own prefixes.
      const role = new iam.Role(this, `Role-${source}`, { assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com') });
      const policy = new iam.Policy(this, `Policy-${source}`, {
        roles: [role],
        statements: [
          new iam.PolicyStatement({
            actions: ['kinesis:DescribeStream', 'kinesis:GetShardIterator', 'kinesis:GetRecords', 'kinesis:ListShards'],
            resources: [stream.streamArn],
          }),
          new iam.PolicyStatement({
            actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'],
            resources: [props.bucket.bucketArn],
          }),
          new iam.PolicyStatement({
            actions: ['s3:PutObject', 's3:GetObject', 's3:AbortMultipartUpload'],
            resources: [props.bucket.arnForObjects(`${dataPrefix}*`), props.bucket.arnForObjects(`${errorPrefix}*`)],
          }),
          new iam.PolicyStatement({
            actions: ['logs:PutLogEvents'],
            resources: [
              Stack.of(this).formatArn({
                service: 'logs',
                resource: 'log-group',
                resourceName: `${this.logGroup.logGroupName}:log-stream:${logStream.logStreamName}`,
                arnFormat: ArnFormat.COLON_RESOURCE_NAME,
              }),
            ],
          }),
        ],
      });
      acknowledgeObjectPrefixes(
        policy,
        props.bucket,
        [dataPrefix, errorPrefix],
        (prefix) => `Firehose writes the raw archive of ${source} under ${prefix} only (multipart uploads); a key prefix is the narrowest scope S3 offers.`,
      );

      const delivery = new firehose.CfnDeliveryStream(this, source, {
        deliveryStreamType: 'KinesisStreamAsSource',
        kinesisStreamSourceConfiguration: { kinesisStreamArn: stream.streamArn, roleArn: role.roleArn },
        extendedS3DestinationConfiguration: {
          bucketArn: props.bucket.bucketArn,
          roleArn: role.roleArn,
          prefix: `${dataPrefix}date=!{timestamp:yyyy-MM-dd}/`,
          errorOutputPrefix: `${errorPrefix}!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/`,
          fileExtension: RAW_FILE_EXTENSION,
          compressionFormat: 'GZIP',
          bufferingHints: {
            intervalInSeconds: (props.bufferingInterval ?? Duration.minutes(5)).toSeconds(),
            sizeInMBs: (props.bufferingSize ?? Size.mebibytes(64)).toMebibytes(),
          },
          // One event per line: Kinesis records carry no delimiter of their own.
          processingConfiguration: { enabled: true, processors: [{ type: 'AppendDelimiterToRecord', parameters: [] }] },
          // No KMS key here: objects take the bucket's default encryption.
          encryptionConfiguration: { noEncryptionConfig: 'NoEncryption' },
          cloudWatchLoggingOptions: { enabled: true, logGroupName: this.logGroup.logGroupName, logStreamName: logStream.logStreamName },
        },
      });
      // Firehose checks its role when the delivery stream is created.
      delivery.node.addDependency(policy);
      Validations.of(delivery).acknowledge({
        id: 'AwsSolutions-KDF1',
        reason:
          'Firehose server-side encryption is only available for Direct PUT sources; this one reads a KMS-encrypted Kinesis stream and writes objects with the bucket default encryption.',
      });
      this.deliveryStreams.set(source, delivery);
    }
  }
}
