/**
 * How the serving path reads the online store, over HTTP against local mode: values age
 * into `expired` at their view's TTL (time moves only through the runtime's clock), a request
 * is one round of parallel BatchGetItem calls of at most 100 keys each, and throttled reads are retried within the read deadline.
 *
 * No emulator throttles, so throttling is INJECTED: a middleware on the handler's own
 * DynamoDB client answers part of a BatchGetItem as UnprocessedKeys, the way DynamoDB does
 * under load, and the adapter's retry runs for real.
 */
import type { BatchGetItemCommandInput, BatchGetItemCommandOutput, KeysAndAttributes } from '@aws-sdk/client-dynamodb';
import type { InitializeMiddleware } from '@smithy/types';
import { describe, expect, it, onTestFinished } from 'vitest';
import { FeaturesResponse } from '../../lambdas/core/serving.js';
import { expectError, type ServingStore, transaction, useServingStore } from './serving-fixture.js';

const S = useServingStore();
const DAY = 86_400_000;

interface BatchGetCall {
  readonly keys: number;
  readonly unprocessed: number;
  readonly input: KeysAndAttributes;
}

/**
 * Watches (and, with `unprocessed`, throttles) the BatchGetItem calls of the serve handler's
 * DynamoDB client until the test ends. `unprocessed(call, keys)` says how many of a call's
 * keys DynamoDB "did not get to": those are answered as UnprocessedKeys, the rest read for real.
 */
function onBatchGets(s: ServingStore, unprocessed: (call: number, keys: number) => number = () => 0): BatchGetCall[] {
  const calls: BatchGetCall[] = [];
  const name = `injected-batch-get-${Math.random()}`;
  const middleware: InitializeMiddleware<object, object> = (next, context) => async (args) => {
    if (context.commandName !== 'BatchGetItemCommand') return next(args);
    const input = args.input as BatchGetItemCommandInput;
    const [table, request] = Object.entries(input.RequestItems ?? {})[0] as [string, KeysAndAttributes];
    const keys = request.Keys ?? [];
    const left = Math.min(keys.length, unprocessed(calls.length, keys.length));
    calls.push({ keys: keys.length, unprocessed: left, input: request });
    const served = keys.slice(0, keys.length - left);
    const unprocessedKeys = left ? { [table]: { ...request, Keys: keys.slice(keys.length - left) } } : {};
    if (served.length === 0) {
      const output: BatchGetItemCommandOutput = { Responses: { [table]: [] }, UnprocessedKeys: unprocessedKeys, $metadata: {} };
      return { output, response: {} };
    }
    const result = await next({ ...args, input: { ...input, RequestItems: { [table]: { ...request, Keys: served } } } });
    return { ...result, output: { ...(result.output as BatchGetItemCommandOutput), UnprocessedKeys: unprocessedKeys } };
  };
  s.store.runtime.clients.dynamodb.middlewareStack.add(middleware as never, { step: 'initialize', name });
  onTestFinished(() => {
    s.store.runtime.clients.dynamodb.middlewareStack.remove(name);
  });
  return calls;
}

const users = (from: number, count: number) => Array.from({ length: count }, (_, i) => `u${from + i}`);

describe('expiry', { timeout: 60_000 }, () => {
  it("answers a view's values as expired from the moment they are one TTL old, each view with its own TTL", async (ctx) => {
    // Prepare: user_location keeps values 7 days, user_last_txn 30 days
    const s = await S.setUp(ctx);
    const event = transaction('u7001', S.startedAt);
    await s.ingest([event]);
    onTestFinished(() => s.setClock(0));
    const read = async (now: number) => {
      s.setClock(now - S.startedAt);
      const answer = await s.call('POST', '/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u7001' }] });
      return FeaturesResponse.parse(answer.body).results[0];
    };

    // Act
    const justBefore = await read(event.ts + 7 * DAY - 1);
    const atTtl = await read(event.ts + 7 * DAY);

    // Assess
    expect(justBefore?.status).toMatchObject({ user_location__lat: 'present', user_last_txn__amount_usd: 'present' });
    expect(atTtl?.status).toMatchObject({ user_location__lat: 'expired', user_location__lon: 'expired', user_last_txn__amount_usd: 'present' });
    expect(atTtl?.values).toMatchObject({ user_location__lat: null, user_last_txn__amount_usd: 108 });
    expect(atTtl?.eventTimestamps.user_location__lat).toBe(event.ts);
  });
});

describe('reading the online store', { timeout: 60_000 }, () => {
  it("reads 100 entities of a service in one round of three 100-key BatchGetItem calls: each entity's hot item and the two tiers below it", async (ctx) => {
    // Prepare
    const s = await S.setUp(ctx);
    const ids = users(7100, 100);
    await s.ingest(ids.map((id, i) => transaction(id, S.startedAt, { amount: i + 1, currency: 'USD' })));
    const calls = onBatchGets(s);

    // Act
    const answer = await s.call('POST', '/v1/features', { service: 'fraud_v1', entities: ids.map((user_id) => ({ user_id })) });

    // Assess
    const rows = FeaturesResponse.parse(answer.body).results;
    expect(rows.map((r) => r.values.user_last_txn__amount_usd)).toEqual(ids.map((_, i) => i + 1));
    expect(calls.map((c) => c.keys)).toEqual([100, 100, 100]);
    const keys = calls.flatMap((c) => (c.input.Keys ?? []).map((k) => k.pk?.S as string)).sort();
    expect(keys.slice(0, 3)).toEqual(['transactions:user_id#u7100', 'transactions:user_id#u7100#1', 'transactions:user_id#u7100#2']);
  });

  it('retries keys a throttled BatchGetItem leaves unprocessed and answers the same values', async (ctx) => {
    // Prepare: the first three calls each leave half their keys unprocessed (INJECTED)
    const s = await S.setUp(ctx);
    const ids = users(7300, 20);
    await s.ingest(ids.map((id, i) => transaction(id, S.startedAt, { amount: 10 * (i + 1), currency: 'USD' })));
    const request = { service: 'fraud_v1', entities: ids.map((user_id) => ({ user_id })) };
    const unthrottled = await s.call('POST', '/v1/features', request);
    const calls = onBatchGets(s, (call, keys) => (call < 3 ? Math.ceil(keys / 2) : 0));

    // Act
    const throttled = await s.call('POST', '/v1/features', request);

    // Assess
    expect(throttled.status).toBe(200);
    expect(throttled.body).toEqual(unthrottled.body);
    expect(calls.map((c) => [c.keys, c.unprocessed])).toEqual([
      [60, 30],
      [30, 15],
      [15, 8],
      [8, 0],
    ]);
  });

  it('answers 503 ServiceUnavailable within the read deadline when the keys stay unprocessed', async (ctx) => {
    // Prepare: every call leaves every key unprocessed (INJECTED)
    const s = await S.setUp(ctx);
    const calls = onBatchGets(s, (_, keys) => keys);

    // Act
    const answer = await s.call('POST', '/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u7001' }] });

    // Assess: the adapter gives up before its 1 s deadline would pass during a backoff, so the
    // answer comes within the deadline plus one call (slack left for a loaded machine)
    expect(expectError(answer, 503, 'ServiceUnavailable').message).toBe('the online store did not answer in time; retry');
    expect(calls.length).toBeGreaterThan(1);
    expect(answer.ms).toBeLessThan(2_000);
  });
});
