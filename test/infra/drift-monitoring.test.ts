import { Match } from 'aws-cdk-lib/assertions';
import { describe, expect, test } from 'vitest';
import * as z from 'zod';
import { entity, featureService, featureView, streamSource } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { propsFromContext } from '../../lib/app.js';
import { logicalId, synthesize } from './fixture.js';

const user = entity({ name: 'user', joinKey: 'user_id' });
const clicks = streamSource({
  name: 'clicks',
  schema: z.object({ id: z.string(), user_id: z.string(), ts: z.number(), page: z.string() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
const common = { entities: [user], source: clicks, owner: 'infra-tests', description: 'fixture' };
const lastPage = featureView({ ...common, name: 'last_page', features: { page: 'string' } });
const lastClick = featureView({ ...common, name: 'last_click', features: { ts: 'int' } });
const registry = () =>
  new Registry([
    user,
    clicks,
    lastPage,
    lastClick,
    featureService({ name: 'pages_v1', features: [lastPage], owner: 'infra-tests', description: 'fixture' }),
    featureService({ name: 'clicks_v1', features: [lastClick], owner: 'infra-tests', description: 'fixture' }),
  ]);

describe('drift monitoring', () => {
  test('a daily schedule runs the profile job; each feature service has a PSI alarm to the alarm topic, at its own threshold or the default 0.2', () => {
    const synth = synthesize({
      props: { registry: registry(), driftMonitoring: { psiThresholdByService: { pages_v1: 0.1 } } },
      bundle: false,
      cloudFormationValidation: false,
    });
    try {
      const { template } = synth;
      const fn = logicalId(template, 'AWS::Lambda::Function', 'DriftMonitoringHandler');
      template.hasResourceProperties('AWS::Events::Rule', {
        ScheduleExpression: 'cron(30 0 * * ? *)',
        Targets: [Match.objectLike({ Arn: { 'Fn::GetAtt': [fn, 'Arn'] }, RetryPolicy: { MaximumRetryAttempts: 1, MaximumEventAgeInSeconds: 6 * 3600 } })],
      });
      template.hasResourceProperties('AWS::Lambda::Function', {
        Environment: {
          Variables: Match.objectLike({
            TESSERA_GLUE_DATABASE: Match.anyValue(),
            TESSERA_ATHENA_WORKGROUP: Match.anyValue(),
            TESSERA_PROFILE_REFERENCE_DAYS: '7',
          }),
        },
      });
      const topic = logicalId(template, 'AWS::SNS::Topic', 'AlarmTopic');
      const psiAlarms = Object.values(template.findResources('AWS::CloudWatch::Alarm')).filter((a) => a.Properties.MetricName === 'MaxFeaturePsi');
      expect(
        psiAlarms.map((a) => ({
          service: a.Properties.Dimensions.find((d: { Name: string }) => d.Name === 'featureService').Value,
          threshold: a.Properties.Threshold,
          operator: a.Properties.ComparisonOperator,
          period: a.Properties.Period,
          actions: a.Properties.AlarmActions,
        })),
      ).toEqual(
        expect.arrayContaining([
          { service: 'pages_v1', threshold: 0.1, operator: 'GreaterThanThreshold', period: 86_400, actions: [{ Ref: topic }] },
          { service: 'clicks_v1', threshold: 0.2, operator: 'GreaterThanThreshold', period: 86_400, actions: [{ Ref: topic }] },
        ]),
      );
      expect(psiAlarms).toHaveLength(2);
      // A failed run is alarmed too: it leaves a day without a drift reading.
      template.hasResourceProperties('AWS::CloudWatch::Alarm', {
        MetricName: 'Errors',
        Dimensions: [{ Name: 'FunctionName', Value: { Ref: fn } }],
        AlarmActions: [{ Ref: topic }],
      });
    } finally {
      synth.cleanup();
    }
  });

  test("the job may query the services' views in the workgroup and write under profiles/, and nothing else of the bucket", () => {
    const synth = synthesize({ props: { registry: registry() }, bundle: false, cloudFormationValidation: false });
    try {
      const { template } = synth;
      const role = logicalId(template, 'AWS::IAM::Role', 'DriftMonitoringHandler');
      const bucket = logicalId(template, 'AWS::S3::Bucket', 'OfflineStoreBucket');
      const statements = Object.values(template.findResources('AWS::IAM::Policy'))
        .filter((p) => JSON.stringify(p.Properties.Roles) === JSON.stringify([{ Ref: role }]))
        .flatMap((p) => p.Properties.PolicyDocument.Statement);
      const resourcesOf = (action: string) =>
        statements
          .filter((s) => [s.Action].flat().includes(action))
          .flatMap((s) => [s.Resource].flat())
          .map((r) => JSON.stringify(r));
      const own = (prefix: string) => JSON.stringify({ 'Fn::Join': ['', [{ 'Fn::GetAtt': [bucket, 'Arn'] }, `/${prefix}`]] });
      expect(resourcesOf('s3:PutObject').sort()).toEqual([own('athena-results/*'), own('profiles/*')].sort());
      expect(resourcesOf('s3:GetObject').sort()).toEqual([own('athena-results/*'), own('offline/last_click/*'), own('offline/last_page/*')].sort());
      expect(resourcesOf('s3:DeleteObject')).toEqual([]);
      expect(resourcesOf('athena:StartQueryExecution')).toEqual([expect.stringContaining(':workgroup/')]);
      expect(resourcesOf('glue:GetTable').filter((r) => r.includes(':table/'))).toHaveLength(2);
      expect(statements.flatMap((s) => [s.Action].flat()).filter((a: string) => /^glue:(Create|Delete)|^dynamodb:|^kinesis:/.test(a))).toEqual([]);
    } finally {
      synth.cleanup();
    }
  });

  test('tessera:psiThresholds sets the default and per-service thresholds; a threshold for a service not defined fails the synth', () => {
    expect(propsFromContext((key) => (key === 'tessera:psiThresholds' ? '0.25,pages_v1=0.1' : undefined)).driftMonitoring).toEqual({
      psiThreshold: 0.25,
      psiThresholdByService: { pages_v1: 0.1 },
    });
    expect(() => propsFromContext((key) => (key === 'tessera:psiThresholds' ? 'pages_v1=high' : undefined))).toThrow(/not a positive number/);
    expect(() =>
      synthesize({
        props: { registry: registry(), driftMonitoring: { psiThresholdByService: { fraud_v9: 0.1 } } },
        bundle: false,
        cloudFormationValidation: false,
      }),
    ).toThrow(/no feature service named fraud_v9/);
  });
});
