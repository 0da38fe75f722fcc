/**
 * Every shape of read, on every route: requests made of row features only, windowed
 * aggregations only, both, or on-demand features only — by feature service and by feature
 * list — through POST /v1/features, POST /get-online-features and `tessera get --features`,
 * answered by the serve handler over the online store on the target TESSERA_TARGET names.
 * A request of aggregations alone once answered 500 (a projection naming an attribute it did
 * not read, which DynamoDB refuses); this suite holds whatever read path replaces it to the
 * same answers.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import * as z from 'zod';
import * as fraud from '../../features/fraud.js';
import { featureService, onDemandFeature, select } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { FeaturesResponse } from '../../lambdas/core/serving.js';
import { transaction, useServingStore } from './serving-fixture.js';

const run = promisify(execFile);
const CLI = fileURLToPath(new URL('../../bin/tessera.ts', import.meta.url));
const TSX = fileURLToPath(new URL('../../node_modules/.bin/tsx', import.meta.url));

/** An on-demand feature over a non-pii input: the last amount in cents. */
const lastAmountCents = onDemandFeature({
  name: 'last_amount_cents',
  request: z.object({}),
  inputs: ['user_last_txn:amount_usd'],
  features: { cents: 'int' },
  compute: ({ features }) => {
    const usd = features['user_last_txn:amount_usd'] as number | null;
    return { cents: usd === null ? null : Math.round(usd * 100) };
  },
  owner: 'fraud-ml',
  description: 'The last amount, in cents',
});

const SHAPES = {
  rows: ['user_last_txn:amount_usd', 'user_last_txn:currency'],
  aggregations: ['user_txn_stats:txn_count_1h', 'user_txn_stats:amount_sum_1h'],
  mixed: ['user_last_txn:amount_usd', 'user_txn_stats:txn_count_1h'],
  onDemand: ['last_amount_cents:cents'],
} as const;
type Shape = keyof typeof SHAPES;

const services = {
  rowsOnly: featureService({ name: 'shape_rows', features: [select(fraud.userLastTransaction, ['amount_usd', 'currency'])], owner: 't', description: 'rows' }),
  aggregationsOnly: featureService({
    name: 'shape_aggregations',
    features: [select(fraud.userTransactionStats, ['txn_count_1h', 'amount_sum_1h'])],
    owner: 't',
    description: 'aggregations',
  }),
  mixed: featureService({
    name: 'shape_mixed',
    features: [select(fraud.userLastTransaction, ['amount_usd']), select(fraud.userTransactionStats, ['txn_count_1h'])],
    owner: 't',
    description: 'mixed',
  }),
  onDemandOnly: featureService({ name: 'shape_on_demand', features: [lastAmountCents], owner: 't', description: 'on-demand' }),
};
const SERVICE_OF: Record<Shape, string> = { rows: 'shape_rows', aggregations: 'shape_aggregations', mixed: 'shape_mixed', onDemand: 'shape_on_demand' };

const S = useServingStore({ registry: Registry.fromModule({ ...fraud, lastAmountCents, ...services }) });

/** What a card holder with two transactions of 30 and 12 USD in the last hour is served. */
const EXPECTED: Record<string, unknown> = {
  user_last_txn__amount_usd: 12,
  user_last_txn__currency: 'USD',
  user_txn_stats__txn_count_1h: 2,
  user_txn_stats__amount_sum_1h: 42,
  last_amount_cents__cents: 1200,
};
const columnsOf = (shape: Shape) => SHAPES[shape].map((ref) => ref.replace(':', '__'));
const expectedOf = (shape: Shape) => Object.fromEntries(columnsOf(shape).map((c) => [c, EXPECTED[c]]));

async function withHistory(ctx: Parameters<typeof S.setUp>[0], user: string) {
  const s = await S.setUp(ctx);
  await s.ingest([
    transaction(user, S.startedAt, { amount: 30, currency: 'USD', ts: S.startedAt - 120_000 }),
    transaction(user, S.startedAt, { amount: 12, currency: 'USD', ts: S.startedAt - 60_000 }),
  ]);
  return s;
}

const SHAPE_NAMES = Object.keys(SHAPES) as Shape[];
const CASES = SHAPE_NAMES.flatMap((shape, i) => [[shape, 'service', i] as const, [shape, 'list', i] as const]);

describe('every shape of request, by service and by list', { timeout: 60_000 }, () => {
  it.for(CASES)('POST /v1/features answers %s features requested by %s with their values', async ([shape, by, i], ctx) => {
    // Prepare
    const user = `u71${i}${by === 'service' ? 0 : 1}`;
    const s = await withHistory(ctx, user);
    const request = by === 'service' ? { service: SERVICE_OF[shape] } : { features: [...SHAPES[shape]] };

    // Act
    const answer = await s.call('POST', '/v1/features', { ...request, entities: [{ user_id: user }] });

    // Assess
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const [row] = FeaturesResponse.parse(answer.body).results;
    expect(row?.values).toEqual(expectedOf(shape));
    expect(Object.values(row?.status ?? {}).every((status) => status === 'present')).toBe(true);
  });

  it.for(CASES)('POST /get-online-features answers %s features requested by %s with their values', async ([shape, by, i], ctx) => {
    // Prepare
    const user = `u72${i}${by === 'service' ? 0 : 1}`;
    const s = await withHistory(ctx, user);
    const request = by === 'service' ? { feature_service: SERVICE_OF[shape] } : { features: [...SHAPES[shape]] };

    // Act
    const answer = await s.call('POST', '/get-online-features', { ...request, entities: { user_id: [user] }, full_feature_names: true });

    // Assess
    expect(answer.status, JSON.stringify(answer.body)).toBe(200);
    const body = answer.body as { metadata: { feature_names: string[] }; results: { values: unknown[]; statuses: string[] }[] };
    const byName = Object.fromEntries(body.metadata.feature_names.map((name, k) => [name, body.results[k]?.values[0]]));
    expect(byName).toEqual({ user_id: user, ...expectedOf(shape) });
    expect(body.results.every((r) => r.statuses[0] === 'PRESENT')).toBe(true);
  });

  it.for(SHAPE_NAMES.map((shape, i) => [shape, i] as const))('`tessera get --features` answers %s features with their values', async ([shape, i], ctx) => {
    // Prepare
    const user = `u73${i}0`;
    const s = await withHistory(ctx, user);

    // Act
    const { stdout } = await run(TSX, [CLI, 'get', '--url', s.store.url, '--features', SHAPES[shape].join(','), '--entity', `user_id=${user}`, '--json'], {
      timeout: 60_000,
    });

    // Assess
    const [row] = FeaturesResponse.parse(JSON.parse(stdout)).results;
    expect(row?.values).toEqual(expectedOf(shape));
  });
});

describe('`tessera push` against local mode', { timeout: 60_000 }, () => {
  it("signs as local mode's operator, so its events are accepted and served, and counts a rejected line with its reason", async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);
    const file = join(mkdtempSync(join(tmpdir(), 'tessera-push-')), 'events.jsonl');
    const good = transaction('u7401', S.startedAt, { amount: 9, currency: 'USD' });
    const ahead = transaction('u7402', S.startedAt, { ts: Date.now() + 3_600_000 });
    writeFileSync(file, `${JSON.stringify(good)}\n${JSON.stringify(ahead)}\n`);

    // Act
    const { stdout } = await run(TSX, [CLI, 'push', '--url', s.store.url, '--file', file], { timeout: 60_000 }).catch((error: { stdout: string }) => error);
    await s.store.poller.drain();

    // Assess
    expect(stdout).toContain(`1 event sent to transactions on local mode at ${s.store.url}; 1 rejected.`);
    expect(stdout).toMatch(/line 2: EventTimeOutOfRange: "ts": event time .* is more than maxFutureSkew 5m ahead/);
    const read = await s.call('POST', '/v1/features', { features: ['user_last_txn:amount_usd'], entities: [{ user_id: 'u7401' }] });
    expect(FeaturesResponse.parse(read.body).results[0]?.values).toEqual({ user_last_txn__amount_usd: 9 });
  });
});
