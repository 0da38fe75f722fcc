/**
 * The synthesized stack, resource by resource: the properties that make Tessera correct,
 * durable and private (mapping error handling, encryption, auth, throttling, grants, the
 * batch schedules and the backfill queue, the training query layer).
 */

import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { App, Stack } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { batchSource } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { BatchProcessing } from '../../lib/constructs/batch-processing.js';
import { Ingestion } from '../../lib/constructs/ingestion.js';
import { OfflineStore } from '../../lib/constructs/offline-store.js';
import { OnlineStore } from '../../lib/constructs/online-store.js';
import { ROUTES } from '../../lib/constructs/serving.js';
import {
  buildApp,
  INVOKER_ROLE_ARN,
  logicalId,
  manualImports,
  type Synthesized,
  synthesize,
  TRAINING_ROLE_ARN,
  testRegistry,
  WITHOUT_BUNDLING,
} from './fixture.js';

/** Resources by logical id, as the assertions library types template JSON. */
type Resources = ReturnType<Template['findResources']>;

let synth: Synthesized;
let resources: Resources;
const ofType = (type: string) => Object.entries(synth.template.findResources(type));
const getAtt = (id: string) => ({ 'Fn::GetAtt': [id, 'Arn'] });
/** The event source mappings that read a Kinesis stream (the others read the backfill queue). */
const kinesisMappings = () => {
  const streams = new Set(ofType('AWS::Kinesis::Stream').map(([id]) => id));
  return ofType('AWS::Lambda::EventSourceMapping').filter(([, m]) => streams.has(m.Properties.EventSourceArn?.['Fn::GetAtt']?.[0]));
};

// Five esbuild bundles and cdk-nag: on a loaded machine this takes longer than the default hook timeout.
beforeAll(() => {
  synth = synthesize();
  resources = synth.template.toJSON().Resources;
}, 300_000);
afterAll(() => synth?.cleanup());

/** Resolves `Fn::Join` and `Ref` the way CloudFormation would, given what each Ref returns. */
function resolve(value: unknown, refs: Record<string, string>): unknown {
  if (Array.isArray(value)) return value.map((v) => resolve(v, refs));
  if (value && typeof value === 'object') {
    const { Ref, 'Fn::Join': join } = value as { Ref?: string; 'Fn::Join'?: [string, unknown[]] };
    if (Ref !== undefined) {
      if (!(Ref in refs)) throw new Error(`no value for Ref ${Ref}`);
      return refs[Ref];
    }
    if (join) return (join[1].map((part) => resolve(part, refs)) as string[]).join(join[0]);
  }
  return value;
}

/** What `Ref` returns for each stream: its physical name, which CloudFormation generates (here: the logical id). */
const streamRefs = (): Record<string, string> => Object.fromEntries(ofType('AWS::Kinesis::Stream').map(([id]) => [id, id]));
/** The logical id of the stream of a source. */
const streamOf = (source: string) => logicalId(synth.template, 'AWS::Kinesis::Stream', `Ingestion${source.replace(/_/g, '')}`);

describe('ingestion', () => {
  test('every stream source gets its own on-demand, KMS-encrypted stream, named by CloudFormation (never a fixed name)', () => {
    const streams = ofType('AWS::Kinesis::Stream');
    expect(streams).toHaveLength(2);
    for (const [, stream] of streams) {
      expect(stream.Properties).toEqual({
        StreamModeDetails: { StreamMode: 'ON_DEMAND' },
        StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' },
        RetentionPeriodHours: 24,
      });
    }
  });
});

describe('processing', () => {
  test('each stream feeds the stream handler with bounded retries, bisection, partial batch responses and whole failed batches kept in S3', () => {
    const bucket = logicalId(synth.template, 'AWS::S3::Bucket', 'OfflineStoreBucket');
    const handler = logicalId(synth.template, 'AWS::Lambda::Function', 'ProcessingStreamHandler');
    for (const [stream] of ofType('AWS::Kinesis::Stream')) {
      synth.template.hasResourceProperties('AWS::Lambda::EventSourceMapping', {
        EventSourceArn: getAtt(stream),
        FunctionName: { Ref: handler },
        StartingPosition: 'TRIM_HORIZON',
        BatchSize: 500,
        MaximumBatchingWindowInSeconds: 1,
        BisectBatchOnFunctionError: true,
        MaximumRetryAttempts: 5,
        MaximumRecordAgeInSeconds: 3600,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ParallelizationFactor: 1,
        DestinationConfig: { OnFailure: { Destination: getAtt(bucket) } },
      });
    }
    expect(kinesisMappings()).toHaveLength(2);
  });

  test('no stream mapping retries forever (-1 or absent means until the record expires)', () => {
    for (const [, mapping] of kinesisMappings()) {
      expect(mapping.Properties.MaximumRetryAttempts).toBeGreaterThanOrEqual(0);
      expect(mapping.Properties.MaximumRecordAgeInSeconds).toBeGreaterThanOrEqual(60);
    }
  });

  test('the stream handler finds the table, the bucket and the physical stream of every source in its environment', () => {
    const [, handler] = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('ProcessingStreamHandler'))!;
    const env = handler.Properties.Environment.Variables;
    expect(handler.Properties).toMatchObject({ Handler: 'index.handler', Timeout: 60, MemorySize: 1024 });
    expect(env).toMatchObject({
      TESSERA_TABLE: { Ref: logicalId(synth.template, 'AWS::DynamoDB::Table', 'OnlineStoreTable') },
      TESSERA_BUCKET: { Ref: logicalId(synth.template, 'AWS::S3::Bucket', 'OfflineStoreBucket') },
      POWERTOOLS_SERVICE_NAME: 'tessera',
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(JSON.parse(resolve(env.TESSERA_STREAMS, streamRefs()) as string)).toEqual({
      clicks: streamOf('clicks'),
      card_payments: streamOf('card_payments'),
    });
  });
});

describe('handlers', () => {
  test('run on nodejs22.x or newer, on arm64', () => {
    const functions = ofType('AWS::Lambda::Function');
    // stream, serve, batch, compaction, profile, erasure
    expect(functions).toHaveLength(6);
    for (const [, fn] of functions) {
      const major = Number(/^nodejs(\d+)\.x$/.exec(fn.Properties.Runtime)?.[1]);
      expect(major).toBeGreaterThanOrEqual(22);
      expect(fn.Properties.Architectures).toEqual(['arm64']);
      expect(fn.Properties.LoggingConfig.LogGroup).toEqual({ Ref: expect.any(String) });
    }
  });

  test('are bundles that load in a fresh Node process and export `handler`', () => {
    for (const [id, fn] of ofType('AWS::Lambda::Function')) {
      const asset = join(synth.outdir, `asset.${String(fn.Properties.Code.S3Key).replace(/\.zip$/, '')}`);
      expect(existsSync(join(asset, 'index.js.map')), `${id} has a source map`).toBe(true);
      // Module-format mistakes (strict-mode globals, require() in ESM) only show when the bundle loads.
      const exported = execFileSync(process.execPath, ['-e', `console.log(typeof require(${JSON.stringify(join(asset, 'index.js'))}).handler)`], {
        encoding: 'utf8',
        env: { PATH: process.env.PATH },
      });
      expect(exported.trim(), id).toBe('function');
    }
  });
});

describe('batch processing', () => {
  const batchHandler = () => logicalId(synth.template, 'AWS::Lambda::Function', 'BatchProcessingHandler');
  const queue = () => logicalId(synth.template, 'AWS::SQS::Queue', 'BatchProcessingBackfillQueue');
  const deadLetters = () => logicalId(synth.template, 'AWS::SQS::Queue', 'BatchProcessingBackfillDeadLetters');

  test('the batch handler runs for up to 15 minutes with 1 GB, and finds the table, the bucket, the streams and the backfill queue', () => {
    const [, handler] = ofType('AWS::Lambda::Function').find(([id]) => id === batchHandler())!;
    expect(handler.Properties).toMatchObject({ Handler: 'index.handler', Timeout: 900, MemorySize: 1024 });
    const env = handler.Properties.Environment.Variables;
    expect(env).toMatchObject({
      TESSERA_TABLE: { Ref: logicalId(synth.template, 'AWS::DynamoDB::Table', 'OnlineStoreTable') },
      TESSERA_BUCKET: { Ref: logicalId(synth.template, 'AWS::S3::Bucket', 'OfflineStoreBucket') },
      TESSERA_BACKFILL_QUEUE: { Ref: queue() },
    });
    expect(JSON.parse(resolve(env.TESSERA_STREAMS, streamRefs()) as string)).toEqual({ clicks: streamOf('clicks'), card_payments: streamOf('card_payments') });
  });

  test('each batch source with a schedule gets a rule that runs the batch handler over a lookback a bit longer than its period', () => {
    const rules = ofType('AWS::Events::Rule').filter(([id]) => id.startsWith('BatchProcessingSchedule'));
    expect(rules).toHaveLength(2);
    const runs = Object.fromEntries(
      rules.map(([, rule]) => {
        const [target] = rule.Properties.Targets;
        expect(target.Arn).toEqual(getAtt(batchHandler()));
        expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 2, MaximumEventAgeInSeconds: 3600 });
        return [rule.Properties.ScheduleExpression, JSON.parse(target.Input)];
      }),
    );
    expect(runs).toEqual({
      // 6 h and half again
      'rate(6 hours)': { source: 'payment_exports', lookback: '9h' },
      // a cron schedule has no fixed period: two days of date= folders
      'cron(0 3 * * ? *)': { source: 'manual_imports', lookback: '2d' },
    });
    for (const [rule] of rules) {
      synth.template.hasResourceProperties('AWS::Lambda::Permission', {
        Action: 'lambda:InvokeFunction',
        Principal: 'events.amazonaws.com',
        FunctionName: getAtt(batchHandler()),
        SourceArn: getAtt(rule),
      });
    }
  });

  test('the backfill queue is encrypted, refuses requests without TLS, hides a chunk for 6x the function timeout and moves it to the DLQ after 3 receives', () => {
    synth.template.hasResourceProperties('AWS::SQS::Queue', {
      SqsManagedSseEnabled: true,
      VisibilityTimeout: 6 * 900,
      MessageRetentionPeriod: 14 * 86_400,
      RedrivePolicy: { deadLetterTargetArn: getAtt(deadLetters()), maxReceiveCount: 3 },
    });
    synth.template.hasResourceProperties('AWS::SQS::Queue', { SqsManagedSseEnabled: true, MessageRetentionPeriod: 14 * 86_400, RedrivePolicy: Match.absent() });
    // the backfill queue and its dead letters, compaction's dead letters, the erasure queue and its dead letters
    expect(ofType('AWS::SQS::Queue')).toHaveLength(5);
    for (const id of [queue(), deadLetters()]) {
      synth.template.hasResourceProperties('AWS::SQS::QueuePolicy', {
        Queues: [{ Ref: id }],
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 'sqs:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });

  test('erasure runs as a job: its queue feeds the erase handler one chunk at a time, up to 5 at once, a chunk moving to its DLQ after 3 receives', () => {
    const eraseHandler = logicalId(synth.template, 'AWS::Lambda::Function', 'ErasureHandler');
    const eraseQueue = logicalId(synth.template, 'AWS::SQS::Queue', 'ErasureQueue');
    const eraseDeadLetters = logicalId(synth.template, 'AWS::SQS::Queue', 'ErasureDeadLetters');
    synth.template.hasResource('AWS::SQS::Queue', {
      Properties: Match.objectLike({ SqsManagedSseEnabled: true, RedrivePolicy: { deadLetterTargetArn: getAtt(eraseDeadLetters), maxReceiveCount: 3 } }),
    });
    const mappings = ofType('AWS::Lambda::EventSourceMapping').filter(
      ([, m]) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(getAtt(eraseQueue)),
    );
    expect(mappings.map(([, m]) => m.Properties)).toEqual([
      expect.objectContaining({
        FunctionName: { Ref: eraseHandler },
        BatchSize: 1,
        FunctionResponseTypes: ['ReportBatchItemFailures'],
        ScalingConfig: { MaximumConcurrency: 5 },
      }),
    ]);
    synth.template.hasResourceProperties('AWS::Lambda::Function', {
      Environment: { Variables: Match.objectLike({ TESSERA_ERASURE_QUEUE: { Ref: eraseQueue } }) },
    });
  });

  test('parallel workers: the queue feeds the batch handler one file at a time, up to 10 at once, with partial batch responses', () => {
    const mappings = ofType('AWS::Lambda::EventSourceMapping').filter(
      ([, m]) => JSON.stringify(m.Properties.EventSourceArn) === JSON.stringify(getAtt(queue())),
    );
    expect(mappings).toHaveLength(1);
    expect(mappings[0]![1].Properties).toMatchObject({
      FunctionName: { Ref: batchHandler() },
      BatchSize: 1,
      FunctionResponseTypes: ['ReportBatchItemFailures'],
      ScalingConfig: { MaximumConcurrency: 10 },
    });
  });

  test('a worker batch size outside 1 to 5 is refused at synth: a worker must finish its files within the function timeout', () => {
    const stack = new Stack(new App({ context: WITHOUT_BUNDLING }), 'BatchSize');
    const registry = testRegistry();
    const stores = {
      registry,
      ingestion: new Ingestion(stack, 'Ingestion', { sources: registry.streamSources() }),
      onlineStore: new OnlineStore(stack, 'OnlineStore'),
      offlineStore: new OfflineStore(stack, 'OfflineStore'),
    };
    expect(() => new BatchProcessing(stack, 'TooMany', { ...stores, batchSize: 6 })).toThrow(/batchSize 6 is not 1 to 5/);
    expect(() => new BatchProcessing(stack, 'None', { ...stores, batchSize: 0 })).toThrow(/batchSize 0/);
  });

  test('a malformed schedule fails before anything is synthesized, naming the batch source', () => {
    const stack = new Stack(new App({ context: WITHOUT_BUNDLING }), 'BadSchedule');
    const synth = () => {
      const registry = new Registry([...testRegistry().sources.values(), batchSource({ ...manualImports, name: 'hourly', schedule: 'rate(1 hours)' })]);
      return new BatchProcessing(stack, 'Batch', {
        registry,
        ingestion: new Ingestion(stack, 'Ingestion', { sources: registry.streamSources() }),
        onlineStore: new OnlineStore(stack, 'OnlineStore'),
        offlineStore: new OfflineStore(stack, 'OfflineStore'),
      });
    };
    expect(synth).toThrow(/batch source "hourly": schedule "rate\(1 hours\)"/);
  });
});

describe('training and compaction', () => {
  test('one Glue database with a table per feature view and the audit table, and the Athena workgroup, named by the stack', () => {
    expect(ofType('AWS::Glue::Database')).toHaveLength(1);
    synth.template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'tessera_tessera' } });
    const tables = ofType('AWS::Glue::Table').map(([, t]) => t.Properties.TableInput.Name);
    expect(tables.sort()).toEqual(['audit_log', 'user_clicks', 'user_exports', 'user_imports', 'user_payments']);
    synth.template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'Tessera-training',
      WorkGroupConfiguration: Match.objectLike({
        EnforceWorkGroupConfiguration: true,
        ResultConfiguration: Match.objectLike({
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: logicalId(synth.template, 'AWS::S3::Bucket', 'OfflineStoreBucket') }, '/athena-results/']] },
        }),
      }),
    });
  });

  test('a role passed in trainingRoleArns may run queries in the workgroup and nothing on the online table or the API', () => {
    const roleName = TRAINING_ROLE_ARN.slice(TRAINING_ROLE_ARN.lastIndexOf('/') + 1);
    const [, policy] = ofType('AWS::IAM::Policy').find(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([roleName]))!;
    const actions = (policy.Properties.PolicyDocument.Statement as { Action: string | string[] }[]).flatMap((st) => [st.Action].flat());
    expect(actions).toEqual(expect.arrayContaining(['athena:StartQueryExecution', 'athena:GetQueryResults', 'glue:GetTable', 's3:GetObject']));
    expect(actions.filter((a) => /^(dynamodb|execute-api|kinesis|sqs|lambda):/.test(a))).toEqual([]);
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('workgroup/Tessera-training');
  });

  test('a training role of another account is refused', () => {
    const foreign = 'arn:aws:iam::210987654321:role/DataScientist';
    expect(() => buildApp({ props: { trainingRoleArns: [foreign] }, bundle: false })).toThrow(/trainingRoleArns: .* not in account 123456789012/);
  });

  test('compaction runs hourly', () => {
    const handler = logicalId(synth.template, 'AWS::Lambda::Function', 'CompactionHandler');
    synth.template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ Arn: getAtt(handler) })],
    });
  });
});

describe('online store', () => {
  test('is one pay-per-request table keyed by pk, with point-in-time recovery, TTL, encryption and deletion protection, retained on delete', () => {
    expect(ofType('AWS::DynamoDB::Table')).toHaveLength(1);
    synth.template.hasResource('AWS::DynamoDB::Table', {
      DeletionPolicy: 'Retain',
      UpdateReplacePolicy: 'Retain',
      Properties: {
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        BillingMode: 'PAY_PER_REQUEST',
        PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
        TimeToLiveSpecification: { AttributeName: 'ttl', Enabled: true },
        SSESpecification: { SSEEnabled: true },
        DeletionProtectionEnabled: true,
      },
    });
  });
});

describe('offline store', () => {
  test('the bucket blocks public access, encrypts, keeps versions (expiring replaced ones), logs access and expires transient prefixes', () => {
    const logs = logicalId(synth.template, 'AWS::S3::Bucket', 'OfflineStoreAccessLogs');
    synth.template.hasResource('AWS::S3::Bucket', {
      DeletionPolicy: 'Retain',
      Properties: {
        PublicAccessBlockConfiguration: { BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true },
        BucketEncryption: { ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }] },
        VersioningConfiguration: { Status: 'Enabled' },
        LoggingConfiguration: { DestinationBucketName: { Ref: logs } },
      },
    });
    const expirations = [
      ['dead-letter/', 30],
      ['failed-batches/', 30],
      // Where Lambda's S3 on-failure destination writes whole failed batches.
      ['aws/lambda/', 30],
      ['athena-results/', 7],
      // What the raw archive's Firehose could not deliver.
      ['raw-errors/', 30],
    ] as const;
    for (const [prefix, days] of expirations) {
      synth.template.hasResourceProperties('AWS::S3::Bucket', {
        LifecycleConfiguration: { Rules: Match.arrayWith([Match.objectLike({ Prefix: prefix, ExpirationInDays: days, Status: 'Enabled' })]) },
      });
    }
  });

  test('compaction and retried writes replace objects: replaced versions expire after 30 days, and the raw archive is kept', () => {
    const [, bucket] = ofType('AWS::S3::Bucket').find(([id]) => id.startsWith('OfflineStoreBucket'))!;
    const rules = bucket.Properties.LifecycleConfiguration.Rules as { Prefix?: string; NoncurrentVersionExpiration?: unknown; Status: string }[];
    expect(rules).toEqual(expect.arrayContaining([expect.objectContaining({ NoncurrentVersionExpiration: { NoncurrentDays: 30 }, Status: 'Enabled' })]));
    expect(rules.filter((r) => r.Prefix === undefined || 'raw/'.startsWith(r.Prefix)).filter((r) => 'ExpirationInDays' in r)).toEqual([]);
  });

  test('both buckets refuse requests without TLS and block public access', () => {
    const buckets = ofType('AWS::S3::Bucket');
    expect(buckets).toHaveLength(2);
    for (const [bucket, { Properties }] of buckets) {
      expect(Properties.PublicAccessBlockConfiguration).toEqual({
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      });
      synth.template.hasResourceProperties('AWS::S3::BucketPolicy', {
        Bucket: { Ref: bucket },
        PolicyDocument: {
          Statement: Match.arrayWith([
            Match.objectLike({ Effect: 'Deny', Action: 's3:*', Principal: { AWS: '*' }, Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
          ]),
        },
      });
    }
  });
});

describe('serving', () => {
  /** Method and full path of every API method, rebuilt from the resource tree. */
  function apiRoutes(): string[] {
    const pathOf = (resourceId: string): string => {
      const { ParentId, PathPart } = resources[resourceId]!.Properties;
      return 'Ref' in ParentId ? `${pathOf(ParentId.Ref)}/${PathPart}` : `/${PathPart}`;
    };
    return ofType('AWS::ApiGateway::Method').map(([, m]) => `${m.Properties.HttpMethod} ${pathOf(m.Properties.ResourceId.Ref)}`);
  }

  test('the API has exactly the routes the serve handler answers, each a Lambda proxy integration', () => {
    expect(apiRoutes().sort()).toEqual(ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    const handler = logicalId(synth.template, 'AWS::Lambda::Function', 'ServingServeHandler');
    for (const [, method] of ofType('AWS::ApiGateway::Method')) {
      expect(method.Properties.Integration.Type).toBe('AWS_PROXY');
      expect(JSON.stringify(method.Properties.Integration.Uri)).toContain(handler);
    }
  });

  test('every API method requires IAM (SigV4) authorization', () => {
    const methods = ofType('AWS::ApiGateway::Method');
    expect(methods.length).toBeGreaterThan(0);
    for (const [id, method] of methods) expect(method.Properties.AuthorizationType, id).toBe('AWS_IAM');
  });

  test('the stage throttles, writes JSON access logs with the caller, and has metrics, tracing and error logging on', () => {
    const accessLogs = logicalId(synth.template, 'AWS::Logs::LogGroup', 'ServingAccessLogs');
    synth.template.hasResourceProperties('AWS::ApiGateway::Stage', {
      TracingEnabled: true,
      MethodSettings: Match.arrayWith([
        Match.objectLike({
          HttpMethod: '*',
          ResourcePath: '/*',
          ThrottlingRateLimit: 1000,
          ThrottlingBurstLimit: 2000,
          MetricsEnabled: true,
          LoggingLevel: 'ERROR',
          DataTraceEnabled: false,
        }),
      ]),
    });
    const [, stage] = ofType('AWS::ApiGateway::Stage')[0]!;
    expect(JSON.stringify(stage.Properties.AccessLogSetting.DestinationArn)).toContain(accessLogs);
    const format = JSON.parse(stage.Properties.AccessLogSetting.Format);
    expect(format).toMatchObject({ requestId: '$context.requestId', status: '$context.status', userArn: '$context.identity.userArn' });
  });

  test('the serve handler reads the online table with reserved concurrency, and may put records on every stream', () => {
    const [, handler] = ofType('AWS::Lambda::Function').find(([id]) => id.startsWith('ServingServeHandler'))!;
    expect(handler.Properties).toMatchObject({ Timeout: 10, MemorySize: 1024, ReservedConcurrentExecutions: 100 });
    expect(JSON.parse(resolve(handler.Properties.Environment.Variables.TESSERA_STREAMS, streamRefs()) as string)).toEqual({
      clicks: streamOf('clicks'),
      card_payments: streamOf('card_payments'),
    });
    const role = logicalId(synth.template, 'AWS::IAM::Role', 'ServingServeHandler');
    const statements = ofType('AWS::IAM::Policy')
      .filter(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const resourcesOf = (action: string) => statements.filter((st) => [st.Action].flat().includes(action)).flatMap((st) => [st.Resource].flat());
    expect(resourcesOf('dynamodb:BatchGetItem')).toEqual([getAtt(logicalId(synth.template, 'AWS::DynamoDB::Table', 'OnlineStoreTable'))]);
    expect(resourcesOf('kinesis:PutRecords')).toEqual(expect.arrayContaining(ofType('AWS::Kinesis::Stream').map(([id]) => getAtt(id))));
    expect(resourcesOf('kinesis:PutRecords')).toHaveLength(2);
  });

  /** The execute-api ARNs the role's policy allows, with the API and stage ids as API and STAGE. */
  function invokeArns(roleArn: string): string[] {
    const api = logicalId(synth.template, 'AWS::ApiGateway::RestApi', 'ServingApi');
    const stage = logicalId(synth.template, 'AWS::ApiGateway::Stage', 'ServingApiDeploymentStage');
    const roleName = roleArn.slice(roleArn.lastIndexOf('/') + 1);
    const [, policy] = ofType('AWS::IAM::Policy').find(([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([roleName]))!;
    const statements = policy.Properties.PolicyDocument.Statement;
    expect(statements).toHaveLength(1);
    expect(statements[0]).toMatchObject({ Effect: 'Allow', Action: 'execute-api:Invoke' });
    return ([statements[0].Resource].flat() as unknown[]).map((arn) => resolve(arn, { [api]: 'API', [stage]: 'STAGE' }) as string).sort();
  }
  const routeArn = (r: { method: string; path: string }) => `arn:aws:execute-api:eu-west-1:123456789012:API/STAGE/${r.method}${r.path}`;

  test('a role passed in invokerRoleArns may invoke the read routes on the deployed stage — not push, nor anything else', () => {
    const arns = invokeArns(INVOKER_ROLE_ARN);
    expect(arns).toEqual(
      ROUTES.filter((r) => r.access === 'read')
        .map(routeArn)
        .sort(),
    );
    expect(arns).not.toContain(routeArn({ method: 'POST', path: '/v1/push' }));
  });

  test('push is granted apart: to writerRoleArns and to every writer a stream source lists, on POST /v1/push only', () => {
    const writer = 'arn:aws:iam::123456789012:role/PaymentSwitch';
    const listed = 'arn:aws:iam::123456789012:role/ClickCollector';
    const registry = testRegistry();
    const clicks = registry.sources.get('clicks')!;
    // allowedWriters: the stream source's list of who may push (the DSL field of issue 11).
    const writable = { ...clicks, allowedWriters: [listed] };
    const withWriters = new Registry([
      ...registry.entities.values(),
      ...[...registry.sources.values()].map((s) => (s === clicks ? writable : s)),
      ...[...registry.views.values()].map((v) => (v.source === clicks ? { ...v, source: writable } : v)),
    ]);
    const { stack, cleanup } = buildApp({ bundle: false, cloudFormationValidation: false, props: { registry: withWriters, writerRoleArns: [writer] } });
    try {
      const template = Template.fromStack(stack);
      for (const name of ['PaymentSwitch', 'ClickCollector']) {
        const [, policy] = Object.entries(template.findResources('AWS::IAM::Policy')).find(
          ([, p]) => JSON.stringify(p.Properties.Roles) === JSON.stringify([name]),
        )!;
        const [statement] = policy.Properties.PolicyDocument.Statement;
        expect(policy.Properties.PolicyDocument.Statement).toHaveLength(1);
        expect(statement.Action).toBe('execute-api:Invoke');
        expect(JSON.stringify(statement.Resource)).toContain('/POST/v1/push');
        expect(JSON.stringify(statement.Resource)).not.toMatch(/features|catalog/);
      }
    } finally {
      cleanup();
    }
  });

  test('a role of another account is refused: a policy attached to it in this stack would be ignored', () => {
    const foreign = 'arn:aws:iam::210987654321:role/SageMakerExecutionRole';
    expect(() => buildApp({ props: { invokerRoleArns: [foreign] }, bundle: false })).toThrow(/not in account 123456789012/);
  });
});

describe('monitoring', () => {
  test('alarms watch handler errors, iterator age per stream, API 5XX rate and p99 latency', () => {
    const alarm = (props: Record<string, unknown>) => synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', props);
    for (const prefix of ['ProcessingStreamHandler', 'ServingServeHandler']) {
      alarm({
        Namespace: 'AWS/Lambda',
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: logicalId(synth.template, 'AWS::Lambda::Function', prefix) } }],
        Threshold: 0,
      });
    }
    for (const [stream] of ofType('AWS::Kinesis::Stream')) {
      alarm({
        Namespace: 'AWS/Kinesis',
        MetricName: 'GetRecords.IteratorAgeMilliseconds',
        Dimensions: [{ Name: 'StreamName', Value: { Ref: stream } }],
        Threshold: 300_000,
      });
    }
    alarm({ Namespace: 'AWS/ApiGateway', MetricName: '5XXError', Statistic: 'Average', Threshold: 0.01 });
    alarm({ Namespace: 'AWS/ApiGateway', MetricName: 'Latency', ExtendedStatistic: 'p99', Threshold: 500 });
    expect(ofType('AWS::CloudWatch::Dashboard')).toHaveLength(1);
  });

  test('alarms watch the batch handler, backfill chunks in the dead-letter queue and compaction', () => {
    const alarm = (props: Record<string, unknown>) => synth.template.hasResourceProperties('AWS::CloudWatch::Alarm', props);
    const fn = (prefix: string) => [{ Name: 'FunctionName', Value: { Ref: logicalId(synth.template, 'AWS::Lambda::Function', prefix) } }];
    alarm({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: fn('BatchProcessingHandler'), Statistic: 'Sum', Period: 300, Threshold: 0 });
    // Hourly runs: an hour-long period keeps a failed run in alarm until the next one.
    alarm({ Namespace: 'AWS/Lambda', MetricName: 'Errors', Dimensions: fn('CompactionHandler'), Statistic: 'Sum', Period: 3600, Threshold: 0 });
    alarm({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [
        { Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(synth.template, 'AWS::SQS::Queue', 'BatchProcessingBackfillDeadLetters'), 'QueueName'] } },
      ],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    alarm({
      Namespace: 'AWS/SQS',
      MetricName: 'ApproximateNumberOfMessagesVisible',
      Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [logicalId(synth.template, 'AWS::SQS::Queue', 'ErasureDeadLetters'), 'QueueName'] } }],
      ComparisonOperator: 'GreaterThanThreshold',
      Threshold: 0,
    });
    // 2 handlers + 2 streams + 2 API + batch, dead letters, compaction, its dead letters, erasure dead letters, 2 raw archives,
    // the profile job (no feature service in this registry, so no PSI alarm: test/infra/drift-monitoring.test.ts)
    expect(ofType('AWS::CloudWatch::Alarm')).toHaveLength(14);
  });
});

describe('outputs', () => {
  test('name the API URL, the table, the bucket, the training database and workgroup, the batch function and one stream per source under stable ids', () => {
    const outputs = synth.template.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(Object.keys(outputs).sort()).toEqual([
      'AlarmTopicArn',
      'ApiUrl',
      'AthenaWorkgroup',
      'BatchFunctionName',
      'BucketName',
      'EraseFunctionName',
      'GlueDatabase',
      'StreamArnCardPayments',
      'StreamArnClicks',
      'StreamNameCardPayments',
      'StreamNameClicks',
      'TableName',
    ]);
    expect(outputs.BatchFunctionName!.Value).toEqual({ Ref: logicalId(synth.template, 'AWS::Lambda::Function', 'BatchProcessingHandler') });
    expect(outputs.EraseFunctionName!.Value).toEqual({ Ref: logicalId(synth.template, 'AWS::Lambda::Function', 'ErasureHandler') });
    expect(outputs.GlueDatabase!.Value).toBe('tessera_tessera');
    expect(outputs.AthenaWorkgroup!.Value).toBe('Tessera-training');
    expect(outputs.TableName!.Value).toEqual({ Ref: logicalId(synth.template, 'AWS::DynamoDB::Table', 'OnlineStoreTable') });
    expect(outputs.BucketName!.Value).toEqual({ Ref: logicalId(synth.template, 'AWS::S3::Bucket', 'OfflineStoreBucket') });
    expect(resolve(outputs.StreamNameCardPayments!.Value, streamRefs())).toBe(streamOf('card_payments'));
    expect(resolve(outputs.StreamNameClicks!.Value, streamRefs())).toBe(streamOf('clicks'));
    expect(outputs.StreamArnClicks!.Value).toEqual(getAtt(streamOf('clicks')));
    expect(JSON.stringify(outputs.ApiUrl!.Value)).toContain(logicalId(synth.template, 'AWS::ApiGateway::RestApi', 'ServingApi'));
  });
});
