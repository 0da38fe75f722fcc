/**
 * The Tessera stack: the constructs of one feature store wired together by reference, for
 * the definitions of one registry. Its outputs are how the CLI finds the deployed store
 * (DescribeStacks), so their ids are part of the interface.
 */
import { Arn, ArnFormat, CfnOutput, Duration, RemovalPolicy, Stack, type StackProps, Token, Validations } from 'aws-cdk-lib';
import * as cloudwatchActions from 'aws-cdk-lib/aws-cloudwatch-actions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as sns from 'aws-cdk-lib/aws-sns';
import * as subscriptions from 'aws-cdk-lib/aws-sns-subscriptions';
import type { Construct } from 'constructs';
import { STACK_OUTPUT } from '../lambdas/core/deployment.js';
import type { Registry } from '../lambdas/core/registry.js';
import { Audit } from './constructs/audit.js';
import { BatchProcessing } from './constructs/batch-processing.js';
import { Compaction } from './constructs/compaction.js';
import { DriftMonitoring, type DriftMonitoringSettings } from './constructs/drift-monitoring.js';
import { Erasure } from './constructs/erasure.js';
import type { FunctionSettings } from './constructs/handler-function.js';
import { Ingestion } from './constructs/ingestion.js';
import { Monitoring } from './constructs/monitoring.js';
import { OfflineStore } from './constructs/offline-store.js';
import { OnlineStore } from './constructs/online-store.js';
import { Processing } from './constructs/processing.js';
import { RawArchive } from './constructs/raw-archive.js';
import { Serving } from './constructs/serving.js';
import { Training } from './constructs/training.js';

/** Resources a stack uses instead of creating them: data a destroyed stack retained. */
export interface ExistingData {
  /** @default a new table */
  readonly tableName?: string;
  /** @default a new bucket */
  readonly bucketName?: string;
  /** Stream ARNs by stream source name. @default a new stream per source */
  readonly streamArns?: Readonly<Record<string, string>>;
}

export interface FeatureStoreStackProps extends StackProps {
  /** The validated definitions: one stream per stream source, views for the handlers. */
  readonly registry: Registry;
  /**
   * IAM roles (e.g. SageMaker execution roles) allowed to call the read routes of the
   * serving API (features, catalog, health, OpenAPI). The roles must be in the stack's
   * account: the grant is a policy attached to each role.
   * @default none: grant access later with `serving.grantInvoke`
   */
  readonly invokerRoleArns?: readonly string[];
  /**
   * IAM roles allowed to push events (`POST /v1/push`), besides every role a stream source
   * lists in `allowedWriters`; the serve handler then checks the caller per source.
   * @default none: grant it later with `serving.grantPush`
   */
  readonly writerRoleArns?: readonly string[];
  /**
   * IAM roles (data scientists, training pipelines) allowed to build training sets over the
   * views without pii features: queries in the Athena workgroup over those views' tables and
   * `offline/<view>/` rows (`Training.grantQuery`). The roles must be in the stack's account.
   * @default none: grant access later with `training.grantQuery`
   */
  readonly trainingRoleArns?: readonly string[];
  /** As `trainingRoleArns`, over every view, pii views included. @default none */
  readonly piiTrainingRoleArns?: readonly string[];
  /**
   * Locations besides the sources' own that `tessera backfill --location` may read.
   * @default none
   */
  readonly backfillReadLocations?: readonly string[];
  /**
   * Keep what holds data — the online table (with deletion protection), the offline and
   * access-log buckets, the streams and the API access logs — when it leaves the stack
   * (`cdk destroy`, a replacement). Attach a new stack to kept data with `existing`.
   * @default true
   */
  readonly retainData?: boolean;
  /** Data to use instead of creating it, e.g. what a destroyed stack retained. @default none */
  readonly existing?: ExistingData;
  /** @default Duration.hours(24) */
  readonly streamRetention?: Duration;
  /** @default 1000 requests per second */
  readonly apiRateLimit?: number;
  /** @default 2000 requests */
  readonly apiBurstLimit?: number;
  /**
   * Create the account-wide API Gateway logging role and register it in the account (kept
   * when the stack goes). Only for an account that has none registered yet.
   * @default false
   */
  readonly apiGatewayCloudWatchRole?: boolean;
  /** An SNS topic alarms notify instead of the stack's own. @default a topic created by the stack */
  readonly alarmTopicArn?: string;
  /** E-mail addresses subscribed to the alarm topic (each confirms by e-mail). @default none */
  readonly alarmEmails?: readonly string[];
  /** Concurrency reserved for the serve function; `false` reserves none. @default 100 */
  readonly serveReservedConcurrency?: number | false;
  /** Active X-Ray tracing on every function. @default true */
  readonly tracing?: boolean;
  /** Retention of every function's log group. @default logs.RetentionDays.ONE_MONTH */
  readonly logRetention?: logs.RetentionDays;
  /** The daily profile job's schedule and PSI alarm thresholds. @default daily at 00:30 UTC, PSI above 0.2 against the 7 days before */
  readonly driftMonitoring?: DriftMonitoringSettings;
}

export class FeatureStoreStack extends Stack {
  readonly ingestion: Ingestion;
  readonly rawArchive: RawArchive;
  readonly onlineStore: OnlineStore;
  readonly offlineStore: OfflineStore;
  readonly processing: Processing;
  readonly batchProcessing: BatchProcessing;
  readonly compaction: Compaction;
  readonly erasure: Erasure;
  readonly training: Training;
  readonly serving: Serving;
  readonly alarmTopic: sns.ITopic;
  readonly monitoring: Monitoring;
  readonly driftMonitoring: DriftMonitoring;
  readonly audit: Audit;

  constructor(scope: Construct, id: string, props: FeatureStoreStackProps) {
    super(scope, id, props);
    const sources = props.registry.streamSources();
    const removalPolicy = (props.retainData ?? true) ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY;
    const functionSettings: FunctionSettings = { tracing: props.tracing ?? true, logRetention: props.logRetention ?? logs.RetentionDays.ONE_MONTH };

    this.ingestion = new Ingestion(this, 'Ingestion', {
      sources,
      retention: props.streamRetention,
      removalPolicy,
      existingStreamArns: props.existing?.streamArns,
    });
    this.onlineStore = new OnlineStore(this, 'OnlineStore', { removalPolicy, existingTableName: props.existing?.tableName });
    this.offlineStore = new OfflineStore(this, 'OfflineStore', { removalPolicy, existingBucketName: props.existing?.bucketName });
    this.rawArchive = new RawArchive(this, 'RawArchive', {
      streams: this.ingestion.streams,
      bucket: this.offlineStore.bucket,
      logRetention: functionSettings.logRetention,
    });
    const stores = { ingestion: this.ingestion, onlineStore: this.onlineStore, offlineStore: this.offlineStore, functionSettings };
    this.processing = new Processing(this, 'Processing', stores);
    this.batchProcessing = new BatchProcessing(this, 'BatchProcessing', {
      ...stores,
      registry: props.registry,
      extraReadLocations: props.backfillReadLocations,
    });
    this.erasure = new Erasure(this, 'Erasure', stores);
    this.compaction = new Compaction(this, 'Compaction', { bucket: this.offlineStore.bucket, functionSettings });
    this.training = new Training(this, 'Training', { registry: props.registry, bucket: this.offlineStore.bucket });
    this.serving = new Serving(this, 'Serving', {
      ...stores,
      throttlingRateLimit: props.apiRateLimit,
      throttlingBurstLimit: props.apiBurstLimit,
      cloudWatchRole: props.apiGatewayCloudWatchRole ?? false,
      reservedConcurrency: props.serveReservedConcurrency,
      accessLogsRemovalPolicy: removalPolicy,
    });

    this.alarmTopic = props.alarmTopicArn ? sns.Topic.fromTopicArn(this, 'AlarmTopic', props.alarmTopicArn) : this.createAlarmTopic();
    for (const email of props.alarmEmails ?? []) this.alarmTopic.addSubscription(new subscriptions.EmailSubscription(email));
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
      compactionDeadLetterQueue: this.compaction.deadLetterQueue,
      erasureDeadLetterQueue: this.erasure.deadLetterQueue,
      rawArchiveStreams: new Map([...this.rawArchive.deliveryStreams].map(([source, delivery]) => [source, delivery.ref])),
      alarmActions: [new cloudwatchActions.SnsAction(this.alarmTopic)],
      freshnessObjectives: new Map([...props.registry.freshnessMs].map(([view, ms]) => [view, Duration.millis(ms)])),
    });
    this.driftMonitoring = new DriftMonitoring(this, 'DriftMonitoring', {
      ...props.driftMonitoring,
      registry: props.registry,
      bucket: this.offlineStore.bucket,
      training: this.training,
      alarmActions: [new cloudwatchActions.SnsAction(this.alarmTopic)],
      functionSettings,
    });

    for (const role of this.importRoles('invokerRoleArns', 'Invoker', props.invokerRoleArns, 'execute-api:Invoke')) this.serving.grantInvoke(role);
    for (const role of this.importRoles('writerRoleArns', 'Writer', writerRoleArns(props), 'execute-api:Invoke on POST /v1/push')) this.serving.grantPush(role);
    for (const role of this.importRoles('trainingRoleArns', 'Trainer', props.trainingRoleArns, 'training-set queries'))
      this.training.grantQuery(role, { pii: false });
    for (const role of this.importRoles('piiTrainingRoleArns', 'PiiTrainer', props.piiTrainingRoleArns, 'training-set queries'))
      this.training.grantQuery(role, { pii: true });

    new CfnOutput(this, STACK_OUTPUT.apiUrl, { value: this.serving.url, description: 'Base URL of the serving API (SigV4, execute-api)' });
    new CfnOutput(this, STACK_OUTPUT.tableName, { value: this.onlineStore.table.tableName, description: 'DynamoDB online store table' });
    new CfnOutput(this, STACK_OUTPUT.bucketName, { value: this.offlineStore.bucket.bucketName, description: 'S3 offline store bucket' });
    new CfnOutput(this, STACK_OUTPUT.glueDatabase, {
      value: this.training.databaseName,
      description: 'Glue database of the offline tables, one per feature view',
    });
    new CfnOutput(this, STACK_OUTPUT.athenaWorkgroup, { value: this.training.workgroupName, description: 'Athena workgroup of training-set queries' });
    new CfnOutput(this, STACK_OUTPUT.alarmTopicArn, { value: this.alarmTopic.topicArn, description: 'SNS topic the alarms notify' });
    new CfnOutput(this, STACK_OUTPUT.batchFunctionName, {
      value: this.batchProcessing.handler.functionName,
      description: 'Batch handler: tessera backfill invokes it with {source, from, to}',
    });
    new CfnOutput(this, STACK_OUTPUT.eraseFunctionName, {
      value: this.erasure.handler.functionName,
      description: 'Erase handler: tessera erase --stack invokes it with {erase: {entity, erasedBy, reason}} (operators only)',
    });
    for (const [source, stream] of this.ingestion.streams) {
      new CfnOutput(this, STACK_OUTPUT.streamName(source), { value: stream.streamName, description: `Kinesis stream of source ${source}` });
      new CfnOutput(this, STACK_OUTPUT.streamArn(source), {
        value: stream.streamArn,
        description: `ARN of the stream of ${source}: pass it in tessera:existingStreamArns to attach a later stack to it`,
      });
    }
  }

  /**
   * The alarm topic: TLS only. Not KMS-encrypted: CloudWatch cannot publish to a topic under
   * the AWS-managed SNS key, and alarm notifications carry metric names, not data.
   */
  private createAlarmTopic(): sns.Topic {
    const topic = new sns.Topic(this, 'AlarmTopic', { displayName: `${this.stackName} alarms`, enforceSSL: true });
    Validations.of(topic).acknowledge({
      id: 'AwsSolutions-SNS2',
      reason:
        'CloudWatch alarms cannot publish to a topic encrypted with the AWS-managed SNS key, and the notifications carry alarm and metric names only, no feature data.',
    });
    return topic;
  }

  /**
   * The roles of `arns` imported once each, so grants can attach policies to them. A role of
   * another account would silently ignore a policy added to it here, so one is refused.
   */
  private importRoles(prop: string, idPrefix: string, arns: readonly string[] | undefined, what: string): iam.IRole[] {
    return [...new Set(arns ?? [])].map((arn) => {
      const { account: roleAccount, service, resource } = Arn.split(arn, ArnFormat.SLASH_RESOURCE_NAME);
      if (service !== 'iam' || resource !== 'role') throw new Error(`${prop}: ${arn} is not an IAM role ARN; grant it ${what} with a policy of its own`);
      if (!Token.isUnresolved(this.account) && roleAccount !== this.account) {
        throw new Error(`${prop}: ${arn} is not in account ${this.account}; grant it ${what} from its own account`);
      }
      return iam.Role.fromRoleArn(this, `${idPrefix}-${roleName(arn)}`, arn);
    });
  }
}

/**
 * Who may push: the roles given, and every role a stream source lists as a writer. Read
 * defensively: `allowedWriters` is an optional field of stream sources.
 */
function writerRoleArns(props: FeatureStoreStackProps): string[] {
  const fromSources = props.registry.streamSources().flatMap((source) => (source as { allowedWriters?: readonly string[] }).allowedWriters ?? []);
  return [...(props.writerRoleArns ?? []), ...fromSources];
}

/** The last path segment of a role ARN: a readable, stable construct id per role. */
const roleName = (arn: string): string => arn.slice(arn.lastIndexOf('/') + 1);
