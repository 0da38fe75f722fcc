/**
 * The training constructs in a minimal stack (a bucket, Training, Compaction, one role
 * granted queries), synthesized with cdk.json's flags and the cdk-nag plugin: the Glue tables
 * have the columns and types of the definitions, partition projection on date/hour, the
 * Athena workgroup enforces engine v3, an encrypted result location and a scan limit, and the
 * grants are exactly what a training build and the compaction job need.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { entity, featureView, streamSource } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { Compaction } from '../../lib/constructs/compaction.js';
import { Training } from '../../lib/constructs/training.js';
import { byInts, byUser, registry } from '../unit/pit-fixtures.js';
import { cdkJsonContext, WITHOUT_BUNDLING } from './fixture.js';

let template: Template;
let outdir: string;
let training: Training;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'tessera-training-infra-'));
  const app = new App({ outdir, context: { ...cdkJsonContext(), ...WITHOUT_BUNDLING }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'TrainingTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const bucket = new s3.Bucket(stack, 'Bucket', {
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
  });
  Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'A test bucket; the real one logs to its access-log bucket.' });
  training = new Training(stack, 'Training', { registry, bucket, bytesScannedCutoffPerQuery: 10 * 1024 ** 3 });
  new Compaction(stack, 'Compaction', { bucket });
  const scientist = new iam.Role(stack, 'Scientist', { assumedBy: new iam.AccountRootPrincipal() });
  training.grantQuery(scientist);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth(); // throws on an unacknowledged cdk-nag finding
  template = Template.fromStack(stack);
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

type Statement = { Effect: string; Action: string | string[]; Resource: unknown; Condition?: unknown };
const statementsOf = (rolePrefix: string): Statement[] =>
  Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => JSON.stringify(p.Properties.Roles).includes(rolePrefix))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as Statement[]);
const actions = (statements: Statement[]) => statements.flatMap((s) => [s.Action].flat()).sort();

describe('the training constructs', () => {
  it('create one Glue database and one table per feature view, named as the views', () => {
    template.resourceCountIs('AWS::Glue::Database', 1);
    template.hasResourceProperties('AWS::Glue::Database', { DatabaseInput: { Name: 'tessera_trainingtest' } });
    template.resourceCountIs('AWS::Glue::Table', registry.views.size);
    expect(training.databaseName).toBe('tessera_trainingtest');
  });

  it('give each table the columns and types of its view: keys, event_ts, ingest_ts, event_id, features', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'tessera_trainingtest',
      TableInput: Match.objectLike({
        Name: byInts.name,
        TableType: 'EXTERNAL_TABLE',
        PartitionKeys: [
          { Name: 'date', Type: 'string' },
          { Name: 'hour', Type: 'string' },
        ],
        StorageDescriptor: Match.objectLike({
          Columns: [
            { Name: 'a', Type: 'bigint' },
            { Name: 'b', Type: 'bigint' },
            { Name: 'event_ts', Type: 'bigint' },
            { Name: 'ingest_ts', Type: 'bigint' },
            { Name: 'event_id', Type: 'string' },
            { Name: 'z', Type: 'boolean' },
            { Name: 'tags', Type: 'array<string>' },
          ],
          InputFormat: 'org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat',
          SerdeInfo: { SerializationLibrary: 'org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe' },
        }),
      }),
    });
  });

  it('project partitions on date (days since the earliest date) and hour (00-23) onto offline/<view>/date=/hour=/', () => {
    const table = Object.values(template.findResources('AWS::Glue::Table')).find((t) => t.Properties.TableInput.Name === byUser.name);
    const parameters = table?.Properties.TableInput.Parameters;
    expect(parameters).toMatchObject({
      'projection.enabled': 'true',
      'projection.date.type': 'date',
      'projection.date.format': 'yyyy-MM-dd',
      'projection.date.range': '2020-01-01,NOW',
      'projection.date.interval': '1',
      'projection.date.interval.unit': 'DAYS',
      'projection.hour.type': 'integer',
      'projection.hour.range': '0,23',
      'projection.hour.digits': '2',
      classification: 'parquet',
    });
    const location = JSON.stringify(parameters['storage.location.template']);
    // biome-ignore lint/suspicious/noTemplateCurlyInString: Athena's placeholders, filled in by partition projection
    expect(location).toContain('/offline/by_user/date=${date}/hour=${hour}/');
    template.resourceCountIs('AWS::Glue::Crawler', 0);
  });

  it('configure the Athena workgroup: engine v3, enforced encrypted results in the bucket, a scan limit', () => {
    template.hasResourceProperties('AWS::Athena::WorkGroup', {
      Name: 'TrainingTest-training',
      RecursiveDeleteOption: true,
      WorkGroupConfiguration: {
        EnforceWorkGroupConfiguration: true,
        EngineVersion: { SelectedEngineVersion: 'Athena engine version 3' },
        BytesScannedCutoffPerQuery: 10 * 1024 ** 3,
        PublishCloudWatchMetricsEnabled: true,
        ResultConfiguration: {
          OutputLocation: { 'Fn::Join': ['', ['s3://', { Ref: Match.stringLikeRegexp('^Bucket') }, '/athena-results/']] },
          EncryptionConfiguration: { EncryptionOption: 'SSE_S3' },
        },
      },
    });
  });

  it('grantQuery allows queries in the workgroup, reads of the view tables and offline rows, and labels tables and results only', () => {
    const statements = statementsOf('Scientist');
    expect(actions(statements)).toEqual(
      [
        'athena:GetQueryExecution',
        'athena:GetQueryResults',
        'athena:GetWorkGroup',
        'athena:StartQueryExecution',
        'athena:StopQueryExecution',
        'glue:CreateTable',
        'glue:DeleteTable',
        'glue:GetDatabase',
        'glue:GetPartition',
        'glue:GetPartitions',
        'glue:GetTable',
        'glue:GetTables',
        's3:AbortMultipartUpload',
        's3:DeleteObject',
        's3:GetBucketLocation',
        's3:GetObject',
        's3:GetObject',
        's3:ListBucket',
        's3:ListMultipartUploadParts',
        's3:PutObject',
      ].sort(),
    );
    const resources = (action: string) => JSON.stringify(statements.filter((s) => [s.Action].flat().includes(action)).map((s) => s.Resource));
    expect(resources('athena:StartQueryExecution')).toContain('workgroup/TrainingTest-training');
    expect(resources('glue:CreateTable')).toContain('table/tessera_trainingtest/tessera_labels_*');
    expect(resources('glue:CreateTable')).not.toContain('table/tessera_trainingtest/by_user');
    expect(resources('glue:GetTable')).toContain('table/tessera_trainingtest/by_user');
    expect(resources('s3:PutObject')).toContain('/athena-results/*');
    expect(resources('s3:PutObject')).not.toContain('/offline/');
    expect(resources('s3:DeleteObject')).not.toContain('/offline/');
  });

  it('no grant uses a wildcard action', () => {
    for (const role of ['Scientist', 'CompactionHandler']) expect(actions(statementsOf(role)).filter((a) => a.includes('*'))).toEqual([]);
  });

  it('compaction runs hourly and may list, read, write and delete objects under offline/ only', () => {
    template.hasResourceProperties('AWS::Events::Rule', {
      ScheduleExpression: 'rate(1 hour)',
      Targets: [Match.objectLike({ RetryPolicy: { MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 3600 } })],
    });
    template.hasResourceProperties('AWS::Lambda::Function', {
      Description: Match.stringLikeRegexp('merges small offline Parquet objects'),
      Timeout: 900,
      Environment: { Variables: Match.objectLike({ TESSERA_COMPACTION_MIN_AGE_MINUTES: '120', TESSERA_COMPACTION_BUDGET_SECONDS: '780' }) },
    });
    const statements = statementsOf('CompactionHandler').filter((s) => actions([s]).some((a) => a.startsWith('s3:')));
    expect(actions(statements)).toEqual(['s3:DeleteObject', 's3:GetObject', 's3:ListBucket', 's3:PutObject']);
    const objects = statements.find((s) => [s.Action].flat().includes('s3:DeleteObject'));
    expect(JSON.stringify(objects?.Resource)).toContain('/offline/*');
    expect(statements.find((s) => s.Action === 's3:ListBucket')?.Condition).toEqual({ StringLike: { 's3:prefix': ['offline/*'] } });
  });
});

it('a training role reads the tables and offline/<view>/ rows of the views without pii only, unless granted pii views too', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-training-infra-'));
  try {
    const app = new App({ outdir: dir, context: { ...cdkJsonContext(), ...WITHOUT_BUNDLING }, builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Pii', { env: { account: '123456789012', region: 'eu-west-1' } });
    const bucket = new s3.Bucket(stack, 'Bucket', { enforceSSL: true });
    Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'A test bucket; the real one logs to its access-log bucket.' });
    const schema = z.object({ event_id: z.string(), user_id: z.string(), lat: z.number(), amount: z.number(), ts: z.number() });
    const user = entity({ name: 'user', joinKey: 'user_id' });
    const events = streamSource({ name: 'events', schema, eventTimeField: 'ts', eventIdField: 'event_id' });
    const view = (name: string, features: Record<string, 'float'>, tags: string[]) =>
      featureView({ name, entities: [user], source: events, features, ttl: '7d', owner: 'tests', description: name, tags });
    const piiRegistry = new Registry([user, events, view('user_amounts', { amount: 'float' }, []), view('user_location', { lat: 'float' }, ['pii'])]);
    const training = new Training(stack, 'Training', { registry: piiRegistry, bucket });
    const plain = new iam.Role(stack, 'Plain', { assumedBy: new iam.AccountRootPrincipal() });
    const trusted = new iam.Role(stack, 'Trusted', { assumedBy: new iam.AccountRootPrincipal() });
    training.grantQuery(plain);
    training.grantQuery(trusted, { pii: true });
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    app.synth();
    const t = Template.fromStack(stack);
    const policyOf = (role: string) =>
      JSON.stringify(Object.values(t.findResources('AWS::IAM::Policy')).filter((p) => JSON.stringify(p.Properties.Roles).includes(role)));
    expect(training.viewsFor({ pii: false })).toEqual(['user_amounts']);
    expect(policyOf('Plain')).toContain('/offline/user_amounts/*');
    expect(policyOf('Plain')).toContain('table/tessera_pii/user_amounts');
    expect(policyOf('Plain')).not.toContain('user_location');
    expect(policyOf('Plain')).not.toContain('/offline/*');
    expect(policyOf('Trusted')).toContain('/offline/user_location/*');
    expect(policyOf('Trusted')).toContain('table/tessera_pii/user_location');
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

it('passes cdk-nag in an environment-agnostic stack too (pseudo parameters in the acknowledged ARNs)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'tessera-training-infra-'));
  try {
    const app = new App({ outdir: dir, context: { ...cdkJsonContext(), ...WITHOUT_BUNDLING }, builtinCloudFormationValidation: false });
    const stack = new Stack(app, 'Agnostic');
    const bucket = new s3.Bucket(stack, 'Bucket', { enforceSSL: true });
    Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'A test bucket.' });
    new Training(stack, 'Training', { registry, bucket }).grantQuery(new iam.Role(stack, 'Scientist', { assumedBy: new iam.AccountRootPrincipal() }));
    Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
    expect(() => app.synth()).not.toThrow();
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
