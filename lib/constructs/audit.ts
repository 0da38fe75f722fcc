/**
 * The audit trail of feature reads, delivered off the request path: the serve handler writes
 * one structured log line per read (lambdas/adapters/audit-trail.ts); a CloudWatch Logs
 * subscription filter selects those lines and hands them to Firehose, which unpacks them
 * (gunzip, message extraction, one line per record) and writes them, gzipped, as JSON lines
 * under `audit/date=YYYY-MM-DD/` in the store's bucket; a Glue table with partition
 * projection over them lets Athena (and `tessera audit --stack`) ask who read what.
 */

import { Aws, Duration, Validations } from 'aws-cdk-lib';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as firehose from 'aws-cdk-lib/aws-kinesisfirehose';
import * as logs from 'aws-cdk-lib/aws-logs';
import type * as s3 from 'aws-cdk-lib/aws-s3';
import { Construct } from 'constructs';
import { AUDIT_COLUMNS, AUDIT_LOG_MESSAGE, AUDIT_PREFIX, AUDIT_TABLE } from '../../lambdas/core/audit.js';
import { nagBucketArn } from './offline-store.js';

export interface AuditProps {
  /** The store's bucket: rows go under `audit/`. */
  readonly bucket: s3.IBucket;
  /** The serve handler's log group, whose audit lines are delivered. */
  readonly logGroup: logs.ILogGroup;
  /** The Glue database the audit table is created in (the training database). */
  readonly databaseName: string;
  /** Created before the table. */
  readonly database?: glue.CfnDatabase;
  /** How long Firehose buffers before writing an object. @default Duration.seconds(300) */
  readonly bufferInterval?: Duration;
  /** The first date the table's partition projection covers. @default '2020-01-01' */
  readonly earliestDate?: string;
}

export class Audit extends Construct {
  readonly deliveryStream: firehose.CfnDeliveryStream;
  readonly table: glue.CfnTable;

  constructor(scope: Construct, id: string, props: AuditProps) {
    super(scope, id);
    const location = `s3://${props.bucket.bucketName}/${AUDIT_PREFIX}`;

    const deliveryRole = new iam.Role(this, 'DeliveryRole', {
      assumedBy: new iam.ServicePrincipal('firehose.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } } }),
      description: 'Tessera: Firehose writes audit rows under audit/ (and failures under audit-errors/)',
    });
    // What Firehose's S3 destination needs, on the audit prefixes only (no wildcard actions).
    deliveryRole.addToPolicy(
      new iam.PolicyStatement({
        actions: ['s3:PutObject', 's3:AbortMultipartUpload'],
        resources: [props.bucket.arnForObjects(`${AUDIT_PREFIX}*`), props.bucket.arnForObjects('audit-errors/*')],
      }),
    );
    deliveryRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['s3:GetBucketLocation', 's3:ListBucket', 's3:ListBucketMultipartUploads'], resources: [props.bucket.bucketArn] }),
    );
    const failures = new logs.LogGroup(this, 'DeliveryErrors', { retention: logs.RetentionDays.ONE_MONTH });
    const failureStream = failures.addStream('S3Delivery');
    failures.grantWrite(deliveryRole);

    this.deliveryStream = new firehose.CfnDeliveryStream(this, 'Delivery', {
      deliveryStreamType: 'DirectPut',
      deliveryStreamEncryptionConfigurationInput: { keyType: 'AWS_OWNED_CMK' },
      extendedS3DestinationConfiguration: {
        bucketArn: props.bucket.bucketArn,
        roleArn: deliveryRole.roleArn,
        prefix: `${AUDIT_PREFIX}date=!{timestamp:yyyy-MM-dd}/`,
        errorOutputPrefix: 'audit-errors/!{firehose:error-output-type}/date=!{timestamp:yyyy-MM-dd}/',
        compressionFormat: 'GZIP',
        bufferingHints: { intervalInSeconds: (props.bufferInterval ?? Duration.seconds(300)).toSeconds(), sizeInMBs: 64 },
        cloudWatchLoggingOptions: { enabled: true, logGroupName: failures.logGroupName, logStreamName: failureStream.logStreamName },
        processingConfiguration: {
          enabled: true,
          processors: [
            // CloudWatch Logs sends gzipped batches in its envelope; these three turn them into our lines.
            { type: 'Decompression', parameters: [{ parameterName: 'CompressionFormat', parameterValue: 'GZIP' }] },
            { type: 'CloudWatchLogProcessing', parameters: [{ parameterName: 'DataMessageExtraction', parameterValue: 'true' }] },
            { type: 'AppendDelimiterToRecord', parameters: [{ parameterName: 'Delimiter', parameterValue: '\\n' }] },
          ],
        },
      },
    });
    this.deliveryStream.node.addDependency(deliveryRole);

    const subscriptionRole = new iam.Role(this, 'SubscriptionRole', {
      assumedBy: new iam.ServicePrincipal('logs.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': Aws.ACCOUNT_ID } } }),
      description: 'Tessera: CloudWatch Logs hands the serve handler audit lines to Firehose',
    });
    subscriptionRole.addToPolicy(
      new iam.PolicyStatement({ actions: ['firehose:PutRecord', 'firehose:PutRecordBatch'], resources: [this.deliveryStream.attrArn] }),
    );
    const subscription = new logs.CfnSubscriptionFilter(this, 'Subscription', {
      logGroupName: props.logGroup.logGroupName,
      filterPattern: `{ $.message = "${AUDIT_LOG_MESSAGE}" }`,
      destinationArn: this.deliveryStream.attrArn,
      roleArn: subscriptionRole.roleArn,
    });
    subscription.node.addDependency(subscriptionRole);

    this.table = new glue.CfnTable(this, 'Table', {
      catalogId: Aws.ACCOUNT_ID,
      databaseName: props.databaseName,
      tableInput: {
        name: AUDIT_TABLE,
        description: 'Tessera: every feature read (principal, service, features, pii, entity count, status, request id)',
        tableType: 'EXTERNAL_TABLE',
        partitionKeys: [{ name: 'date', type: 'string' }],
        parameters: {
          classification: 'json',
          EXTERNAL: 'TRUE',
          'projection.enabled': 'true',
          'projection.date.type': 'date',
          'projection.date.format': 'yyyy-MM-dd',
          'projection.date.range': `${props.earliestDate ?? '2020-01-01'},NOW`,
          'projection.date.interval': '1',
          'projection.date.interval.unit': 'DAYS',
          'storage.location.template': `${location}date=\${date}/`,
        },
        storageDescriptor: {
          location,
          columns: [...AUDIT_COLUMNS],
          inputFormat: 'org.apache.hadoop.mapred.TextInputFormat',
          outputFormat: 'org.apache.hadoop.hive.ql.io.HiveIgnoreKeyTextOutputFormat',
          // Log lines carry more keys (level, timestamp, service…): the SerDe ignores them.
          serdeInfo: { serializationLibrary: 'org.openx.data.jsonserde.JsonSerDe', parameters: { 'ignore.malformed.json': 'true' } },
        },
      },
    });
    if (props.database) this.table.addResourceDependency(props.database, 'the table lives in the database');

    const bucketArn = nagBucketArn(props.bucket);
    Validations.of(deliveryRole).acknowledge(
      {
        id: `AwsSolutions-IAM5[Resource::${bucketArn}/${AUDIT_PREFIX}*]`,
        reason: 'Firehose names its own objects under audit/; a key prefix is the narrowest scope S3 offers.',
      },
      { id: `AwsSolutions-IAM5[Resource::${bucketArn}/audit-errors/*]`, reason: 'Firehose writes records it could not deliver under audit-errors/ only.' },
    );
  }
}
