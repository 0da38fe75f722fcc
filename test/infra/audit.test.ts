/**
 * The audit construct in a minimal stack (a bucket, a log group, a Glue database), synthesized
 * with cdk.json's flags and the cdk-nag plugin: the serve handler's audit lines — and only
 * those — reach Firehose through a subscription filter, Firehose unpacks them into JSON lines
 * under audit/date=…/, encrypted, and a Glue table with date projection reads them.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Stack, Validations } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import * as glue from 'aws-cdk-lib/aws-glue';
import * as logs from 'aws-cdk-lib/aws-logs';
import * as s3 from 'aws-cdk-lib/aws-s3';
import { AwsSolutionsChecks } from 'cdk-nag';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Audit } from '../../lib/constructs/audit.js';
import { cdkJsonContext, WITHOUT_BUNDLING } from './fixture.js';

let template: Template;
let outdir: string;

beforeAll(() => {
  outdir = mkdtempSync(join(tmpdir(), 'tessera-audit-infra-'));
  const app = new App({ outdir, context: { ...cdkJsonContext(), ...WITHOUT_BUNDLING }, builtinCloudFormationValidation: false });
  const stack = new Stack(app, 'AuditTest', { env: { account: '123456789012', region: 'eu-west-1' } });
  const bucket = new s3.Bucket(stack, 'Bucket', {
    enforceSSL: true,
    blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
    encryption: s3.BucketEncryption.S3_MANAGED,
  });
  Validations.of(bucket).acknowledge({ id: 'AwsSolutions-S1', reason: 'A test bucket; the real one logs to its access-log bucket.' });
  const logGroup = new logs.LogGroup(stack, 'ServeLogs');
  const database = new glue.CfnDatabase(stack, 'Database', { catalogId: '123456789012', databaseInput: { name: 'tessera_audittest' } });
  new Audit(stack, 'Audit', { bucket, logGroup, databaseName: 'tessera_audittest', database });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
  app.synth(); // throws on an unacknowledged cdk-nag finding
  template = Template.fromStack(stack);
});
afterAll(() => rmSync(outdir, { recursive: true, force: true }));

describe('the audit construct', () => {
  it('subscribes Firehose to the serve handler log group, for audit lines only', () => {
    template.hasResourceProperties('AWS::Logs::SubscriptionFilter', {
      LogGroupName: { Ref: Match.stringLikeRegexp('ServeLogs') },
      FilterPattern: '{ $.message = "feature read" }',
      DestinationArn: { 'Fn::GetAtt': [Match.stringLikeRegexp('AuditDelivery'), 'Arn'] },
    });
  });

  it('has Firehose write the lines, one a row, gzipped and encrypted, under audit/date=YYYY-MM-DD/', () => {
    template.hasResourceProperties('AWS::KinesisFirehose::DeliveryStream', {
      DeliveryStreamEncryptionConfigurationInput: { KeyType: 'AWS_OWNED_CMK' },
      ExtendedS3DestinationConfiguration: Match.objectLike({
        Prefix: 'audit/date=!{timestamp:yyyy-MM-dd}/',
        CompressionFormat: 'GZIP',
        ProcessingConfiguration: {
          Enabled: true,
          Processors: [
            Match.objectLike({ Type: 'Decompression' }),
            { Type: 'CloudWatchLogProcessing', Parameters: [{ ParameterName: 'DataMessageExtraction', ParameterValue: 'true' }] },
            Match.objectLike({ Type: 'AppendDelimiterToRecord' }),
          ],
        },
      }),
    });
  });

  it('lets Firehose put objects under the audit prefixes and nowhere else in the bucket', () => {
    const statements = Object.values(template.findResources('AWS::IAM::Policy'))
      .filter((p) => JSON.stringify(p.Properties.Roles).includes('DeliveryRole'))
      .flatMap((p) => p.Properties.PolicyDocument.Statement as { Action: string | string[]; Resource: unknown }[]);
    const objectResources = statements.filter((s) => [s.Action].flat().some((a) => a.startsWith('s3:PutObject'))).flatMap((s) => [s.Resource].flat());
    expect(JSON.stringify(objectResources)).toMatch(/\/audit\/\*/);
    expect(JSON.stringify(objectResources)).not.toMatch(/"\/\*"/);
  });

  it('creates the Glue table audit_log over audit/ with date projection and a JSON SerDe', () => {
    template.hasResourceProperties('AWS::Glue::Table', {
      DatabaseName: 'tessera_audittest',
      TableInput: Match.objectLike({
        Name: 'audit_log',
        PartitionKeys: [{ Name: 'date', Type: 'string' }],
        Parameters: Match.objectLike({ 'projection.enabled': 'true', 'projection.date.type': 'date' }),
        StorageDescriptor: Match.objectLike({
          Columns: Match.arrayWith([Match.objectLike({ Name: 'audit', Type: Match.stringLikeRegexp('^struct<ts:bigint,') })]),
          SerdeInfo: Match.objectLike({ SerializationLibrary: 'org.openx.data.jsonserde.JsonSerDe' }),
        }),
      }),
    });
  });
});
