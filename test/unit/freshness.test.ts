import { Metrics } from '@aws-lambda-powertools/metrics';
import { describe, expect, it, vi } from 'vitest';
import * as z from 'zod';
import { EmfFreshnessRecorder } from '../../lambdas/adapters/freshness-metrics.js';
import { entity, featureView, streamSource } from '../../lambdas/core/definitions.js';
import { freshnessByView, percentile } from '../../lambdas/core/freshness.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { Registry } from '../../lambdas/core/registry.js';

const user = entity({ name: 'user', joinKey: 'user_id' });
const source = streamSource({
  name: 'clicks',
  schema: z.object({ id: z.string(), user_id: z.string(), ts: z.number() }),
  eventTimeField: 'ts',
  eventIdField: 'id',
});
const view = (freshness?: string) =>
  featureView({
    name: 'clicks_by_user',
    entities: [user],
    source,
    features: { id: 'string' },
    owner: 't',
    description: 't',
    ...(freshness ? { freshness: freshness as '5m' } : {}),
  });

describe('freshness', () => {
  it('reads a view’s freshness objective once, in milliseconds, and refuses a bad one naming the view', () => {
    expect(new Registry([user, source, view('5m')]).freshnessMs.get('clicks_by_user')).toBe(300_000);
    expect(new Registry([user, source, view()]).freshnessMs.has('clicks_by_user')).toBe(false);
    expect(() => new Registry([user, source, view('soon')])).toThrow(/clicks_by_user.*bad freshness "soon"/);
  });

  it('summarises event → servable lag per view with nearest-rank percentiles', () => {
    expect(percentile([1, 2, 3, 4], 0.5)).toBe(2);
    expect(percentile([], 0.99)).toBe(0);
    const rows = Array.from({ length: 100 }, (_, i) => ({ view: 'a', eventTs: 1000, ingestTs: 1000 + (i + 1) * 10 }));
    const [a, b] = freshnessByView([...rows, { view: 'b', eventTs: 5000, ingestTs: 4000 }]);
    expect(a).toEqual({ view: 'a', events: 100, lagP50Ms: 500, lagP99Ms: 990, newestEventTs: 1000, lastIngestTs: 2000 });
    expect(b).toMatchObject({ view: 'b', lagP50Ms: 0 });
  });

  it('emits the lag percentiles and last-update age per view as one EMF document', () => {
    const lines: string[] = [];
    const metrics = new Metrics({ namespace: 'Tessera', serviceName: 'tessera' });
    // EMF goes to standard output, where Lambda hands it to CloudWatch.
    const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk: string | Uint8Array) => {
      if (String(chunk).startsWith('{"_aws"')) lines.push(String(chunk));
      return true;
    });
    const row = (pk: string, eventTs: number, ingestTs: number): ViewRow => ({
      view: 'clicks_by_user',
      entityId: pk,
      keys: { user_id: pk },
      eventTs,
      ingestTs,
      eventId: `${pk}${eventTs}`,
      values: {},
    });

    new EmfFreshnessRecorder(metrics).record([row('a', 1_000, 3_000), row('b', 2_000, 3_000)]);
    write.mockRestore();

    expect(lines).toHaveLength(1);
    const emf = JSON.parse(lines[0] as string);
    expect(emf._aws.CloudWatchMetrics[0]).toMatchObject({ Namespace: 'Tessera', Dimensions: [expect.arrayContaining(['service', 'view'])] });
    expect(emf).toMatchObject({ view: 'clicks_by_user', service: 'tessera', EventToServableLagP50: 1000, EventToServableLagP99: 2000, LastUpdateAge: 1000 });
  });
});
