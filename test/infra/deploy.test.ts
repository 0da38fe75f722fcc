/**
 * Deploying again and twice, and operating what is deployed (issue 14): physical names
 * derived from the stack (two stacks in one app collide on nothing), one retention setting
 * for everything holding data, attaching a new stack to retained data, the account-wide API
 * Gateway role only on request, alarms that notify, the raw archive, tracing, reserved
 * serving concurrency and log retention — and the CDK context keys that choose them.
 */
import { App } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { RAW_FILE_EXTENSION, rawLocation } from '../../lambdas/core/batch.js';
import { addFeatureStore, propsFromContext } from '../../lib/app.js';
import { ACCOUNT, buildApp, cdkJsonContext, logicalId, type Synthesized, synthesize, testRegistry, WITHOUT_BUNDLING } from './fixture.js';

type Resources = ReturnType<Template['findResources']>;

let synth: Synthesized;
beforeAll(() => {
  synth = synthesize({ bundle: false, cloudFormationValidation: false });
});
afterAll(() => synth?.cleanup());

const ofType = (template: Template, type: string) => Object.entries(template.findResources(type));

/** The property holding each resource type's physical name, where CloudFormation lets a template set one. */
// biome-ignore lint/suspicious/noExplicitAny: template properties are untyped JSON
const PHYSICAL_NAME: Record<string, (p: Record<string, any>) => unknown> = {
  'AWS::Kinesis::Stream': (p) => p.Name,
  'AWS::DynamoDB::Table': (p) => p.TableName,
  'AWS::S3::Bucket': (p) => p.BucketName,
  'AWS::Lambda::Function': (p) => p.FunctionName,
  'AWS::IAM::Role': (p) => p.RoleName,
  'AWS::SQS::Queue': (p) => p.QueueName,
  'AWS::SNS::Topic': (p) => p.TopicName,
  'AWS::Logs::LogGroup': (p) => p.LogGroupName,
  'AWS::KinesisFirehose::DeliveryStream': (p) => p.DeliveryStreamName,
  'AWS::Glue::Database': (p) => p.DatabaseInput?.Name,
  'AWS::Athena::WorkGroup': (p) => p.Name,
  'AWS::ApiGateway::RestApi': (p) => p.Name,
  'AWS::CloudWatch::Dashboard': (p) => p.DashboardName,
  'AWS::CloudWatch::Alarm': (p) => p.AlarmName,
  'AWS::Events::Rule': (p) => p.Name,
};

/** `type name` of every resource with a physical name set in the template. */
function physicalNames(resources: Resources): string[] {
  return Object.values(resources).flatMap((r) => {
    const name = PHYSICAL_NAME[r.Type]?.(r.Properties ?? {});
    return name === undefined ? [] : [`${r.Type} ${JSON.stringify(name)}`];
  });
}

describe('two stacks, redeploys and retries', () => {
  test('two feature stores in one app and account collide on no physical name, and no stream is named by the template', () => {
    const app = new App({ context: { ...cdkJsonContext(), ...WITHOUT_BUNDLING }, builtinCloudFormationValidation: false });
    const env = { account: ACCOUNT, region: 'eu-west-1' };
    const a = addFeatureStore(app, { registry: testRegistry(), env });
    const b = addFeatureStore(app, { registry: testRegistry(), env, stackId: 'TesseraB' });
    app.synth();
    const [namesA, namesB] = [a, b].map((stack) => physicalNames(Template.fromStack(stack).toJSON().Resources));
    // The names a template does set (Glue database, workgroup, API) are derived from the stack.
    expect(namesA!.length).toBeGreaterThan(0);
    expect(namesA!.filter((name) => namesB!.includes(name))).toEqual([]);
    for (const stack of [a, b]) {
      const streams = ofType(Template.fromStack(stack), 'AWS::Kinesis::Stream');
      expect(streams).toHaveLength(2);
      for (const [, stream] of streams) expect(stream.Properties.Name).toBeUndefined();
    }
  });

  test('the only physical names the stack sets contain the stack name', () => {
    const names = physicalNames(synth.template.toJSON().Resources);
    expect(names.length).toBeGreaterThan(0);
    for (const name of names) expect(name.toLowerCase()).toContain('tessera');
  });
});

describe('retention', () => {
  const dataTypes = ['AWS::DynamoDB::Table', 'AWS::S3::Bucket', 'AWS::Kinesis::Stream'];

  test('by default the table (with deletion protection), both buckets, the streams and the API access logs are kept on delete', () => {
    for (const type of dataTypes) {
      const found = ofType(synth.template, type);
      expect(found.length, type).toBeGreaterThan(0);
      for (const [id, r] of found) expect([id, r.DeletionPolicy, r.UpdateReplacePolicy]).toEqual([id, 'Retain', 'Retain']);
    }
    synth.template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: true });
    const accessLogs = logicalId(synth.template, 'AWS::Logs::LogGroup', 'ServingAccessLogs');
    expect(synth.template.toJSON().Resources[accessLogs].DeletionPolicy).toBe('Retain');
  });

  test('retainData: false deletes all of them with the stack, and turns deletion protection off', () => {
    const { stack, cleanup } = buildApp({ bundle: false, cloudFormationValidation: false, props: { retainData: false } });
    try {
      const template = Template.fromStack(stack);
      for (const type of dataTypes) for (const [id, r] of ofType(template, type)) expect([id, r.DeletionPolicy]).toEqual([id, 'Delete']);
      template.hasResourceProperties('AWS::DynamoDB::Table', { DeletionProtectionEnabled: false });
    } finally {
      cleanup();
    }
  });

  test('a new stack attaches to retained data: the existing table, bucket and streams are used, not created, and the handlers and grants point at them', () => {
    const streamArn = `arn:aws:kinesis:eu-west-1:${ACCOUNT}:stream/Tessera-IngestionClicks-AbC123`;
    const { stack, cleanup } = buildApp({
      bundle: false,
      props: { existing: { tableName: 'Tessera-OnlineStoreTable-OLD', bucketName: 'tessera-offlinestorebucket-old', streamArns: { clicks: streamArn } } },
    });
    try {
      const template = Template.fromStack(stack);
      expect(ofType(template, 'AWS::DynamoDB::Table')).toHaveLength(0);
      expect(ofType(template, 'AWS::S3::Bucket')).toHaveLength(0);
      // card_payments has no existing stream: it gets a new one.
      expect(ofType(template, 'AWS::Kinesis::Stream')).toHaveLength(1);
      const [, handler] = ofType(template, 'AWS::Lambda::Function').find(([id]) => id.startsWith('ProcessingStreamHandler'))!;
      expect(handler.Properties.Environment.Variables).toMatchObject({
        TESSERA_TABLE: 'Tessera-OnlineStoreTable-OLD',
        TESSERA_BUCKET: 'tessera-offlinestorebucket-old',
      });
      expect(JSON.stringify(handler.Properties.Environment.Variables.TESSERA_STREAMS)).toContain('Tessera-IngestionClicks-AbC123');
      template.hasResourceProperties('AWS::Lambda::EventSourceMapping', { EventSourceArn: streamArn });
      template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
        KinesisStreamSourceConfiguration: Match.objectLike({ KinesisStreamARN: streamArn }),
      });
      expect(JSON.stringify(template.toJSON())).toContain(':table/Tessera-OnlineStoreTable-OLD');
    } finally {
      cleanup();
    }
  });

  test('an existing stream for a source the definitions do not have is refused', () => {
    expect(() =>
      buildApp({ bundle: false, cloudFormationValidation: false, props: { existing: { streamArns: { nope: 'arn:aws:kinesis:eu-west-1:1:stream/x' } } } }),
    ).toThrow(/"nope".*not a stream source/);
  });
});

describe('the API Gateway CloudWatch role', () => {
  test('is not created or registered by default', () => {
    expect(ofType(synth.template, 'AWS::ApiGateway::Account')).toHaveLength(0);
    const managed = JSON.stringify(synth.template.findResources('AWS::IAM::Role'));
    expect(managed).not.toContain('AmazonAPIGatewayPushToCloudWatchLogs');
  });

  test('is created and registered when asked for', () => {
    const { stack, cleanup } = buildApp({ bundle: false, cloudFormationValidation: false, props: { apiGatewayCloudWatchRole: true } });
    try {
      const template = Template.fromStack(stack);
      expect(ofType(template, 'AWS::ApiGateway::Account')).toHaveLength(1);
      expect(JSON.stringify(template.findResources('AWS::IAM::Role'))).toContain('AmazonAPIGatewayPushToCloudWatchLogs');
    } finally {
      cleanup();
    }
  });
});

describe('alarms', () => {
  test('every alarm notifies the stack’s SNS topic, which refuses requests without TLS', () => {
    const topic = logicalId(synth.template, 'AWS::SNS::Topic', 'AlarmTopic');
    const alarms = ofType(synth.template, 'AWS::CloudWatch::Alarm');
    expect(alarms.length).toBeGreaterThanOrEqual(8);
    for (const [id, alarm] of alarms) expect(alarm.Properties.AlarmActions, id).toEqual([{ Ref: topic }]);
    synth.template.hasResourceProperties('AWS::SNS::TopicPolicy', {
      PolicyDocument: { Statement: Match.arrayWith([Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } })]) },
    });
  });

  test('an existing topic from context is used instead, with e-mail subscriptions on it', () => {
    const topicArn = `arn:aws:sns:eu-west-1:${ACCOUNT}:oncall`;
    const { stack, cleanup } = buildApp({
      bundle: false,
      cloudFormationValidation: false,
      props: { alarmTopicArn: topicArn, alarmEmails: ['oncall@example.com'] },
    });
    try {
      const template = Template.fromStack(stack);
      expect(ofType(template, 'AWS::SNS::Topic')).toHaveLength(0);
      for (const [, alarm] of ofType(template, 'AWS::CloudWatch::Alarm')) expect(alarm.Properties.AlarmActions).toEqual([topicArn]);
      template.hasResourceProperties('AWS::SNS::Subscription', { TopicArn: topicArn, Protocol: 'email', Endpoint: 'oncall@example.com' });
    } finally {
      cleanup();
    }
  });
});

describe('raw archive', () => {
  test('one Firehose delivery stream per stream source writes gzipped JSON lines under raw/<source>/date=YYYY-MM-DD/ with the bucket’s encryption', () => {
    const bucket = logicalId(synth.template, 'AWS::S3::Bucket', 'OfflineStoreBucket');
    // Besides the audit log's delivery stream (audit.test.ts), one per stream source.
    const deliveries = ofType(synth.template, 'AWS::KinesisFirehose::DeliveryStream').filter(
      ([, r]) => (r as { Properties: { DeliveryStreamType?: string } }).Properties.DeliveryStreamType === 'KinesisStreamAsSource',
    );
    expect(deliveries).toHaveLength(2);
    for (const [source, stream] of [
      ['clicks', logicalId(synth.template, 'AWS::Kinesis::Stream', 'Ingestionclicks')],
      ['card_payments', logicalId(synth.template, 'AWS::Kinesis::Stream', 'Ingestioncardpayments')],
    ] as const) {
      synth.template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
        DeliveryStreamType: 'KinesisStreamAsSource',
        KinesisStreamSourceConfiguration: Match.objectLike({ KinesisStreamARN: { 'Fn::GetAtt': [stream, 'Arn'] } }),
        ExtendedS3DestinationConfiguration: Match.objectLike({
          BucketARN: { 'Fn::GetAtt': [bucket, 'Arn'] },
          Prefix: `${rawLocation(source)}date=!{timestamp:yyyy-MM-dd}/`,
          ErrorOutputPrefix: Match.stringLikeRegexp(`^raw-errors/${source}/`),
          CompressionFormat: 'GZIP',
          FileExtension: RAW_FILE_EXTENSION,
          EncryptionConfiguration: { NoEncryptionConfig: 'NoEncryption' },
          ProcessingConfiguration: { Enabled: true, Processors: [Match.objectLike({ Type: 'AppendDelimiterToRecord' })] },
        }),
      });
    }
    synth.template.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
      VersioningConfiguration: { Status: 'Enabled' },
    });
  });

  test('each delivery role reads only its stream and writes only its own raw/ and raw-errors/ prefixes', () => {
    const policies = ofType(synth.template, 'AWS::IAM::Policy').filter(([id]) => id.startsWith('RawArchivePolicy'));
    expect(policies).toHaveLength(2);
    for (const [id, policy] of policies) {
      const source = id.includes('clicks') ? 'clicks' : 'card_payments';
      const statements = policy.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[];
      const writes = statements.filter((s) => [s.Action].flat().includes('s3:PutObject')).flatMap((s) => [s.Resource].flat());
      expect(writes.map((r) => JSON.stringify(r).match(/\/(raw[^"]*)"/)?.[1]).sort()).toEqual([`raw-errors/${source}/*`, `raw/${source}/*`]);
      const actions = statements.flatMap((s) => [s.Action].flat());
      expect(actions.filter((a) => /Delete|dynamodb|PutRecord/.test(a))).toEqual([]);
    }
  });
});

describe('functions', () => {
  test('every function traces with X-Ray, logs to its own log group with a retention, and may write to that log group only', () => {
    const functions = ofType(synth.template, 'AWS::Lambda::Function');
    expect(functions).toHaveLength(6);
    const resources = synth.template.toJSON().Resources;
    for (const [id, fn] of functions) {
      expect(fn.Properties.TracingConfig, id).toEqual({ Mode: 'Active' });
      const group = fn.Properties.LoggingConfig.LogGroup.Ref as string;
      expect(resources[group].Properties.RetentionInDays, id).toBe(30);
      const role = fn.Properties.Role['Fn::GetAtt'][0] as string;
      expect(resources[role].Properties.ManagedPolicyArns, id).toBeUndefined();
      const logs = Object.values(resources as Resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy' && JSON.stringify(r.Properties.Roles) === JSON.stringify([{ Ref: role }]))
        .flatMap((r) => r.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[])
        .filter((s) => [s.Action].flat().some((a) => a.startsWith('logs:')));
      expect(
        logs.map((s) => s.Resource),
        id,
      ).toEqual([{ 'Fn::GetAtt': [group, 'Arn'] }]);
    }
  });

  test('the serve function has reserved concurrency (100 by default); tracing can be turned off', () => {
    const serve = logicalId(synth.template, 'AWS::Lambda::Function', 'ServingServeHandler');
    const reserved = ofType(synth.template, 'AWS::Lambda::Function').filter(([, f]) => f.Properties.ReservedConcurrentExecutions !== undefined);
    expect(reserved.map(([id, f]) => [id, f.Properties.ReservedConcurrentExecutions])).toEqual([[serve, 100]]);
    const { stack, cleanup } = buildApp({ bundle: false, cloudFormationValidation: false, props: { tracing: false, serveReservedConcurrency: false } });
    try {
      for (const [, fn] of ofType(Template.fromStack(stack), 'AWS::Lambda::Function')) {
        expect(fn.Properties.TracingConfig).toBeUndefined();
        expect(fn.Properties.ReservedConcurrentExecutions).toBeUndefined();
      }
    } finally {
      cleanup();
    }
  });

  test('compaction’s asynchronous invocations that fail every attempt go to an encrypted dead-letter queue, which is alarmed', () => {
    const queue = logicalId(synth.template, 'AWS::SQS::Queue', 'CompactionDeadLetters');
    const [, compaction] = ofType(synth.template, 'AWS::Lambda::Function').find(([id]) => id.startsWith('CompactionHandler'))!;
    expect(compaction.Properties.DeadLetterConfig).toEqual({ TargetArn: { 'Fn::GetAtt': [queue, 'Arn'] } });
    synth.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true });
    synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', {
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queue, 'QueueName'] } }],
    });
  });
});

describe('context keys', () => {
  test('every key is read into the stack props, lists from comma-separated strings or JSON arrays', () => {
    const context: Record<string, unknown> = {
      'tessera:stackName': 'TesseraB',
      'tessera:invokerRoleArns': 'arn:aws:iam::1:role/A, arn:aws:iam::1:role/B',
      'tessera:writerRoleArns': ['arn:aws:iam::1:role/W'],
      'tessera:trainingRoleArns': 'arn:aws:iam::1:role/T',
      'tessera:piiTrainingRoleArns': 'arn:aws:iam::1:role/P',
      'tessera:backfillReadLocations': 's3://landing/exports/',
      'tessera:retainData': 'false',
      'tessera:existingTableName': 'old-table',
      'tessera:existingBucketName': 'old-bucket',
      'tessera:existingStreamArns': 'transactions=arn:aws:kinesis:eu-west-1:1:stream/old',
      'tessera:apiGatewayCloudWatchRole': 'true',
      'tessera:alarmTopicArn': 'arn:aws:sns:eu-west-1:1:oncall',
      'tessera:alarmEmails': 'a@example.com,b@example.com',
      'tessera:serveReservedConcurrency': 'none',
      'tessera:tracing': 'false',
      'tessera:logRetentionDays': '90',
      'tessera:psiThresholds': '0.3,fraud_v1=0.1',
    };
    expect(propsFromContext((key) => context[key])).toEqual({
      stackId: 'TesseraB',
      invokerRoleArns: ['arn:aws:iam::1:role/A', 'arn:aws:iam::1:role/B'],
      writerRoleArns: ['arn:aws:iam::1:role/W'],
      trainingRoleArns: ['arn:aws:iam::1:role/T'],
      piiTrainingRoleArns: ['arn:aws:iam::1:role/P'],
      backfillReadLocations: ['s3://landing/exports/'],
      retainData: false,
      existing: { tableName: 'old-table', bucketName: 'old-bucket', streamArns: { transactions: 'arn:aws:kinesis:eu-west-1:1:stream/old' } },
      apiGatewayCloudWatchRole: true,
      alarmTopicArn: 'arn:aws:sns:eu-west-1:1:oncall',
      alarmEmails: ['a@example.com', 'b@example.com'],
      serveReservedConcurrency: false,
      tracing: false,
      logRetention: 90,
      driftMonitoring: { psiThreshold: 0.3, psiThresholdByService: { fraud_v1: 0.1 } },
    });
  });

  test('malformed values fail naming the key', () => {
    expect(() => propsFromContext((key) => (key === 'tessera:retainData' ? 'yes' : undefined))).toThrow(/tessera:retainData: "yes"/);
    expect(() => propsFromContext((key) => (key === 'tessera:logRetentionDays' ? '45' : undefined))).toThrow(/tessera:logRetentionDays: 45 is not one of/);
    expect(() => propsFromContext((key) => (key === 'tessera:existingStreamArns' ? 'arn-only' : undefined))).toThrow(/source=arn/);
    expect(() => propsFromContext((key) => (key === 'tessera:serveReservedConcurrency' ? '-1' : undefined))).toThrow(/positive integer/);
  });
});
