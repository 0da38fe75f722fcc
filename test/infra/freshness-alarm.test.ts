import { expect, test } from 'vitest';
import * as z from 'zod';
import { entity, featureView, streamSource } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { synthesize } from './fixture.js';

test('a view with a freshness objective gets an alarm on its p99 event → servable lag; a view without one gets none', () => {
  const user = entity({ name: 'user', joinKey: 'user_id' });
  const clicks = streamSource({
    name: 'clicks',
    schema: z.object({ id: z.string(), user_id: z.string(), ts: z.number() }),
    eventTimeField: 'ts',
    eventIdField: 'id',
  });
  const common = { entities: [user], source: clicks, features: { id: 'string' as const }, owner: 'infra-tests', description: 'fixture' };
  const registry = new Registry([
    user,
    clicks,
    featureView({ ...common, name: 'fresh_clicks', freshness: '2m' }),
    featureView({ ...common, name: 'any_clicks' }),
  ]);

  const synth = synthesize({ props: { registry }, bundle: false, cloudFormationValidation: false });
  try {
    const alarms = Object.values(synth.template.findResources('AWS::CloudWatch::Alarm')).filter((a) => a.Properties.Namespace === 'Tessera');
    expect(alarms.map((a) => a.Properties)).toEqual([
      expect.objectContaining({
        MetricName: 'EventToServableLagP99',
        Dimensions: expect.arrayContaining([
          { Name: 'view', Value: 'fresh_clicks' },
          { Name: 'service', Value: 'tessera' },
        ]),
        Statistic: 'Maximum',
        Threshold: 120_000,
        ComparisonOperator: 'GreaterThanThreshold',
      }),
    ]);
  } finally {
    synth.cleanup();
  }
});
