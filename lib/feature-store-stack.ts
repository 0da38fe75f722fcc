/**
 * The Tessera stack: the constructs of one feature store wired together by reference, for
 * the definitions of one registry. Its outputs are how the CLI finds the deployed store
 * (DescribeStacks), so their ids are part of the interface.
 */
import { Arn, ArnFormat, CfnOutput, type Duration, type RemovalPolicy, Stack, type StackProps, Token } from 'aws-cdk-lib';
import type * as cloudwatch from 'aws-cdk-lib/aws-cloudwatch';
import * as iam from 'aws-cdk-lib/aws-iam';
import type { Construct } from 'constructs';
import type { Registry } from '../lambdas/core/registry.js';
import { Audit } from './constructs/audit.js';
import { BatchProcessing } from './constructs/batch-processing.js';
import { Compaction } from './constructs/compaction.js';
import { Ingestion } from './constructs/ingestion.js';
import { Monitoring } from './constructs/monitoring.js';
import { OfflineStore } from './constructs/offline-store.js';
import { OnlineStore } from './constructs/online-store.js';
import { Processing } from './constructs/processing.js';
import { Serving } from './constructs/serving.js';
import { Training } from './constructs/training.js';

export interface FeatureStoreStackProps extends StackProps {
  /** The validated definitions: one stream per stream source, views for the handlers. */
  readonly registry: Registry;
  /**
   * IAM roles (e.g. SageMaker execution roles) allowed to call the serving API. The roles
   * must be in the stack's account: the grant is a policy attached to each role.
   * @default none: grant access later with `serving.grantInvoke`
   */
  readonly invokerRoleArns?: readonly string[];
  /**
   * IAM roles (data scientists, training pipelines) allowed to build training sets: run
   * queries in the Athena workgroup over the offline tables (`Training.grantQuery`). The
   * roles must be in the stack's account.
   * @default none: grant access later with `training.grantQuery`
   */
  readonly trainingRoleArns?: readonly string[];
  /**
   * Locations besides the sources' own that `tessera backfill --location` may read.
   * @default none
   */
  readonly backfillReadLocations?: readonly string[];
  /**
   * Removal policy of the online table and the offline buckets.
   * @default RemovalPolicy.RETAIN
   */
  readonly dataRemovalPolicy?: RemovalPolicy;
  /** @default Duration.hours(24) */
  readonly streamRetention?: Duration;
  /** @default 1000 requests per second */
  readonly apiRateLimit?: number;
  /** @default 2000 requests */
  readonly apiBurstLimit?: number;
  /**
   * Create and register the account-wide API Gateway logging role.
   * @default true
   */
  readonly apiGatewayCloudWatchRole?: boolean;
  /** @default none: alarms show on the dashboard only */
  readonly alarmActions?: readonly cloudwatch.IAlarmAction[];
}

export class FeatureStoreStack extends Stack {
  readonly ingestion: Ingestion;
  readonly onlineStore: OnlineStore;
  readonly offlineStore: OfflineStore;
  readonly processing: Processing;
  readonly batchProcessing: BatchProcessing;
  readonly compaction: Compaction;
  readonly training: Training;
  readonly serving: Serving;
  readonly monitoring: Monitoring;
  readonly audit: Audit;

  constructor(scope: Construct, id: string, props: FeatureStoreStackProps) {
    super(scope, id, props);
    const sources = props.registry.streamSources();

    this.ingestion = new Ingestion(this, 'Ingestion', { sources, retention: props.streamRetention });
    this.onlineStore = new OnlineStore(this, 'OnlineStore', { removalPolicy: props.dataRemovalPolicy });
    this.offlineStore = new OfflineStore(this, 'OfflineStore', { removalPolicy: props.dataRemovalPolicy });
    const stores = { ingestion: this.ingestion, onlineStore: this.onlineStore, offlineStore: this.offlineStore };
    this.processing = new Processing(this, 'Processing', stores);
    this.batchProcessing = new BatchProcessing(this, 'BatchProcessing', {
      ...stores,
      registry: props.registry,
      extraReadLocations: props.backfillReadLocations,
    });
    this.compaction = new Compaction(this, 'Compaction', { bucket: this.offlineStore.bucket });
    this.training = new Training(this, 'Training', { registry: props.registry, bucket: this.offlineStore.bucket });
    this.serving = new Serving(this, 'Serving', {
      ...stores,
      throttlingRateLimit: props.apiRateLimit,
      throttlingBurstLimit: props.apiBurstLimit,
      cloudWatchRole: props.apiGatewayCloudWatchRole,
    });
    this.audit = new Audit(this, 'Audit', {
      bucket: this.offlineStore.bucket,
      logGroup: this.serving.serveHandler.logGroup,
      databaseName: this.training.databaseName,
      database: this.training.database,
    });
    this.monitoring = new Monitoring(this, 'Monitoring', {
      streamHandler: this.processing.streamHandler,
      serveHandler: this.serving.serveHandler,
      streams: this.ingestion.streams,
      api: this.serving.api,
      batchHandler: this.batchProcessing.handler,
      backfillDeadLetterQueue: this.batchProcessing.deadLetterQueue,
      compactionHandler: this.compaction.handler,
      alarmActions: props.alarmActions,
    });

    for (const role of this.importRoles('invokerRoleArns', 'Invoker', props.invokerRoleArns, 'execute-api:Invoke')) this.serving.grantInvoke(role);
    for (const role of this.importRoles('trainingRoleArns', 'Trainer', props.trainingRoleArns, 'training-set queries')) this.training.grantQuery(role);

    new CfnOutput(this, 'ApiUrl', { value: this.serving.url, description: 'Base URL of the serving API (SigV4, execute-api)' });
    new CfnOutput(this, 'TableName', { value: this.onlineStore.table.tableName, description: 'DynamoDB online store table' });
    new CfnOutput(this, 'BucketName', { value: this.offlineStore.bucket.bucketName, description: 'S3 offline store bucket' });
    new CfnOutput(this, 'GlueDatabase', { value: this.training.databaseName, description: 'Glue database of the offline tables, one per feature view' });
    new CfnOutput(this, 'AthenaWorkgroup', { value: this.training.workgroupName, description: 'Athena workgroup of training-set queries' });
    new CfnOutput(this, 'BatchFunctionName', {
      value: this.batchProcessing.handler.functionName,
      description: 'Batch handler: tessera backfill invokes it with {source, from, to}',
    });
    for (const [source, stream] of this.ingestion.streams) {
      new CfnOutput(this, `StreamName${pascalCase(source)}`, { value: stream.streamName, description: `Kinesis stream of source ${source}` });
    }
  }

  /**
   * The roles of `arns` imported once each, so grants can attach policies to them. A role of
   * another account would silently ignore a policy added to it here, so one is refused.
   */
  private importRoles(prop: string, idPrefix: string, arns: readonly string[] | undefined, what: string): iam.IRole[] {
    return [...new Set(arns ?? [])].map((arn) => {
      const roleAccount = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME).account;
      if (!Token.isUnresolved(this.account) && roleAccount !== this.account) {
        throw new Error(`${prop}: ${arn} is not in account ${this.account}; grant it ${what} from its own account`);
      }
      return iam.Role.fromRoleArn(this, `${idPrefix}-${roleName(arn)}`, arn);
    });
  }
}

/** The last path segment of a role ARN: a readable, stable construct id per role. */
const roleName = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);

const pascalCase = (name: string): string =>
  name
    .split('_')
    .map((part) => part.charAt(0).toUpperCase() + part.slice(1))
    .join('');
