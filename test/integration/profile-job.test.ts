/**
 * The scheduled profile job, as deployed (lambdas/handlers/profile.ts), on the emulators with
 * DuckDB as its engine: purchases go through the real stream handler over eight days; on the
 * last day amounts jump from around 100 to around 150 while the countries keep their mix. The
 * run the schedule starts after midnight must write that day's profiles, read the amount as
 * drifted against the seven days before (PSI above the 0.2 alarm threshold) and the country as
 * stable, and say so in EMF; a re-run of the same day replaces its profiles.
 */

import { randomUUID } from 'node:crypto';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { mulberry32 } from '../../features/generator.js';
import { EmfPsiRecorder } from '../../lambdas/adapters/profile-store.js';
import { duckDbOfflineSql } from '../../lambdas/app/offline-query.js';
import { createProfileHandler } from '../../lambdas/handlers/profile.js';
import { createRuntime, readConfig } from '../../lambdas/handlers/runtime.js';
import { handlerEnvironment } from '../../local/store.js';
import { shopRegistry } from '../support/shop-orders.js';
import { streamEvents } from '../support/stream-events.js';
import { useTarget } from '../support/use-target.js';

const T = useTarget();
const run = randomUUID().slice(0, 8);
const DAY = 86_400_000;
const T0 = Date.UTC(2026, 6, 1);
/** The profiled day: the eighth, 2026-07-08; the schedule fires at 00:30 the day after. */
const PROFILED = T0 + 7 * DAY;
const FIRED = new Date(PROFILED + DAY + 30 * 60_000).toISOString();

const registry = shopRegistry();

const next = mulberry32(11);
const gaussian = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
const countries = ['FR', 'FR', 'DE', 'JP'];
/** `count` orders spread over `[from, from + span)`, amounts around `mean`. */
const orderEvents = (tag: string, from: number, span: number, count: number, mean: number) =>
  Array.from({ length: count }, (_, i) => ({
    id: `${run}-${tag}-${i}`,
    ts: from + Math.floor((i + next()) * (span / count)),
    user_id: `u${1000 + Math.floor(next() * 40)}`,
    amount: Math.round((mean + 10 * gaussian()) * 100) / 100,
    country: countries[Math.floor(next() * 4)] as string,
  }));

afterEach(() => vi.restoreAllMocks());

describe('the scheduled profile job', { timeout: 300_000 }, () => {
  it("writes the day's profiles, flags the drifted feature and not the stable one, and a re-run of the day replaces them", async (ctx) => {
    const target = T.require(ctx);
    const names = {
      table: target.resources?.table ?? `tessera-profile-${run}`,
      bucket: target.resources?.bucket ?? `tessera-profile-${run}`,
      streams: { orders: `tessera-profile-${run}` },
    };
    const stream = (events: ReturnType<typeof orderEvents>) =>
      streamEvents(target, names, registry, events, { batchSize: 50, ingestedAt: (batch) => (batch.at(-1)?.ts ?? 0) + 1000 });
    // Seven reference days around 100, then the profiled day around 150.
    const clients = await stream([...orderEvents('before', T0, 7 * DAY, 700, 100), ...orderEvents('day', PROFILED, DAY, 150, 150)]);
    const runtime = createRuntime(readConfig(handlerEnvironment(target, names, 'ERROR')), { registry });
    const profile = createProfileHandler({
      ...runtime,
      s3: runtime.clients.s3,
      bucket: runtime.config.bucket,
      database: 'tessera',
      sql: duckDbOfflineSql(clients.s3, names.bucket, 'tessera'),
      metrics: new EmfPsiRecorder(),
    });
    const stdout = vi.spyOn(process.stdout, 'write');

    const report = await profile({ time: FIRED });

    const emf = stdout.mock.calls
      .flatMap(([chunk]) => String(chunk).split('\n'))
      .filter((line) => line.includes('"_aws"'))
      .map((line) => JSON.parse(line));
    stdout.mockRestore();
    const objects = async () =>
      (await clients.s3.send(new ListObjectsV2Command({ Bucket: names.bucket, Prefix: 'profiles/shop_v1/' }))).Contents?.map((o) => o.Key) ?? [];
    const lines = async () => {
      const body = await (
        await clients.s3.send(new GetObjectCommand({ Bucket: names.bucket, Key: 'profiles/shop_v1/date=2026-07-08/profiles.jsonl' }))
      ).Body?.transformToString();
      return new Map(
        (body ?? '')
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l))
          .map((row) => [row.feature as string, row]),
      );
    };
    expect(report.date).toBe('2026-07-08');
    expect(report.reference).toEqual({ from: '2026-07-01', to: '2026-07-07' });
    expect(await objects()).toEqual(['profiles/shop_v1/date=2026-07-08/profiles.jsonl']);
    const first = await lines();
    const amount = first.get('last_order__amount');
    const country = first.get('last_order__country');
    expect(amount).toMatchObject({ service: 'shop_v1', date: '2026-07-08', rows: 150, referenceRows: 700 });
    expect(amount.psi).toBeGreaterThan(0.2);
    expect(amount.ks).toBeGreaterThan(0.8);
    expect(amount.profile.mean).toBeGreaterThan(140);
    expect(amount.profile.mean).toBeLessThan(160);
    expect(country.psi).toBeLessThan(0.2);
    expect(country.profile.top.map((t: { value: string }) => t.value)[0]).toBe('FR');
    // EMF: PSI per feature, and the largest per service, which the stack's alarm watches.
    const metric = (name: string) => emf.filter((doc) => doc._aws.CloudWatchMetrics[0].Metrics.some((m: { Name: string }) => m.Name === name));
    expect(metric('FeaturePsi').map((doc) => [doc.feature, doc.FeaturePsi])).toEqual([
      ['last_order__amount', amount.psi],
      ['last_order__country', country.psi],
    ]);
    expect(metric('MaxFeaturePsi')).toEqual([expect.objectContaining({ featureService: 'shop_v1', service: 'tessera', MaxFeaturePsi: amount.psi })]);

    // Late events of the day arrive; the day is redone, by date: its object is replaced, not added to.
    (await stream(orderEvents('late', PROFILED, DAY, 50, 150))).s3.destroy();
    await profile({ date: '2026-07-08' });
    expect(await objects()).toEqual(['profiles/shop_v1/date=2026-07-08/profiles.jsonl']);
    const second = await lines();
    expect([...second.keys()]).toEqual(['last_order__amount', 'last_order__country']);
    expect(second.get('last_order__amount')).toMatchObject({ rows: 200, referenceRows: 700 });
    for (const client of Object.values(clients)) client.destroy();
  });
});
