/**
 * The stream handler over the wire: records really put into Kinesis, delivered by the local
 * event source mapping (or, for a redelivery, as an event built from records really read
 * back), applied to DynamoDB and dead-lettered to S3 — all on the target TESSERA_TARGET
 * names (default: embedded emulators started for this file).
 *
 * No mocks. The one fault (a throttled DynamoDB write) is injected into the handler's real
 * SDK client through its middleware stack, and named so.
 */
import { randomUUID } from 'node:crypto';
import { ProvisionedThroughputExceededException, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import type { Transaction } from '../../features/fraud.js';
import { type AwsClients, createClients } from '../../lambdas/adapters/aws.js';
import { type FeatureValue, readFeatures, type TierItem } from '../../lambdas/core/online.js';
import { createStreamHandler } from '../../lambdas/handlers/stream.js';
import { type Invocation, kinesisEvent } from '../../local/event-source-mapping.js';
import type { ResourceNames } from '../../local/resources.js';
import { type LocalStore, startLocalStore } from '../../local/store.js';
import { hotKey, tiersOf } from '../support/online-items.js';
import type { Target } from '../support/target.js';
import { transactionMaker } from '../support/transactions.js';
import { useTarget } from '../support/use-target.js';

const T = useTarget();
const run = randomUUID().slice(0, 8);
const NOW = Date.now();

/** Resources of this file: fresh ones on emulators, the stack's own on the `aws` target. */
function namesFor(target: Target): ResourceNames {
  return {
    table: target.resources?.table ?? `tessera-it-${run}`,
    bucket: target.resources?.bucket ?? `tessera-it-${run}`,
    streams: { transactions: target.resources?.stream ?? `tessera-it-${run}-transactions` },
  };
}

let store: LocalStore | undefined;
let clients: AwsClients | undefined;
let names: ResourceNames;
const invocations: Invocation[] = [];

async function setUp(ctx: TestContext): Promise<{ store: LocalStore; clients: AwsClients }> {
  const target = T.require(ctx);
  if (!store) {
    names = namesFor(target);
    store = await startLocalStore({
      target,
      names,
      port: 0,
      poll: false,
      logLevel: 'ERROR',
      mapping: { retryBackoffMs: 0, onInvocation: (invocation) => invocations.push(invocation) },
    });
    // The test's own clients, for putting records and reading results: never the handler's.
    clients = createClients(target);
  }
  return { store, clients: clients as AwsClients };
}

afterAll(async () => {
  await store?.stop();
  for (const client of Object.values(clients ?? {})) client.destroy();
});

/** A valid transaction with an event id no other test uses. */
const txn = transactionMaker(`it-${run}`, { ts: NOW - 60_000 });

interface Put {
  readonly shardId: string;
  readonly sequenceNumber: string;
  readonly bytes: Buffer;
}

/** PutRecords with one partition key, so the records land on one shard, in this order. */
async function put(c: AwsClients, payloads: readonly (string | Transaction)[], partitionKey = `pk-${randomUUID()}`): Promise<Put[]> {
  const bytes = payloads.map((p) => Buffer.from(typeof p === 'string' ? p : JSON.stringify(p)));
  const response = await c.kinesis.send(
    new PutRecordsCommand({ StreamName: names.streams.transactions, Records: bytes.map((data) => ({ Data: data, PartitionKey: partitionKey })) }),
  );
  expect(response.FailedRecordCount ?? 0).toBe(0);
  return (response.Records ?? []).map((r, i) => ({ shardId: r.ShardId as string, sequenceNumber: r.SequenceNumber as string, bytes: bytes[i] as Buffer }));
}

/** The hot item holding `view` for an entity (its group's latest rows, marks and newest deltas). */
async function item(s: LocalStore, view: string, ...keys: string[]): Promise<TierItem | undefined> {
  return (await tiersOf(s.runtime.online, s.runtime.registry, view, ...keys))[0];
}

/** Feature values of one entity as the serving path computes them from the stored item. */
async function features(s: LocalStore, view: string, keys: string[], names: string[]): Promise<Record<string, FeatureValue>> {
  const definition = s.runtime.registry.views.get(view);
  if (!definition) throw new Error(`no view ${view}`);
  const values = readFeatures(
    definition,
    await tiersOf(s.runtime.online, s.runtime.registry, view, ...keys),
    names.map((n) => s.runtime.registry.feature(`${view}:${n}`)),
    Date.now(),
  );
  return Object.fromEntries(names.map((n, i) => [n, values[i] as FeatureValue]));
}

const invocationsOf = (records: readonly Put[]) =>
  invocations.filter((inv) => inv.sequenceNumbers.some((seq) => records.some((r) => r.sequenceNumber === seq)));

describe('the stream handler behind the event source mapping', { timeout: 60_000 }, () => {
  it('stores the transformed features of every view for good records', async (ctx) => {
    // Prepare
    const { store: s, clients: c } = await setUp(ctx);
    const event = txn('u1001', { merchant_id: 'm0042', amount: 200, currency: 'GBP', lat: 51.5, lon: -0.12 });
    await put(c, [event]);

    // Act
    await s.poller.drain();

    // Assess
    expect(await features(s, 'user_last_txn', ['u1001'], ['amount_usd', 'currency', 'merchant_id', 'is_foreign'])).toEqual({
      amount_usd: { value: 254, status: 'present', eventTs: event.ts },
      currency: { value: 'GBP', status: 'present', eventTs: event.ts },
      merchant_id: { value: 'm0042', status: 'present', eventTs: event.ts },
      is_foreign: { value: true, status: 'present', eventTs: event.ts },
    });
    expect(await features(s, 'user_location', ['u1001'], ['lat', 'lon'])).toMatchObject({ lat: { value: 51.5 }, lon: { value: -0.12 } });
    expect(await features(s, 'merchant_last_txn', ['m0042'], ['amount_usd'])).toMatchObject({ amount_usd: { value: 254, status: 'present' } });
    expect(await features(s, 'user_merchant_last_txn', ['u1001', 'm0042'], ['amount_usd'])).toMatchObject({ amount_usd: { value: 254 } });
  });

  it('dead-letters malformed JSON, a missing field and a wrong type with the reason and the exact payload, and stores the good records of the batch', async (ctx) => {
    // Prepare
    const { store: s, clients: c } = await setUp(ctx);
    const { merchant_id: _, ...withoutMerchant } = txn('u1102');
    const malformed = '{"event_id": "it-malformed", "user_id": "u1101", ';
    const missingField = JSON.stringify(withoutMerchant);
    const wrongType = JSON.stringify({ ...txn('u1103'), amount: '12.50' });
    const good = [txn('u1104'), txn('u1105'), txn('u1106')];
    const records = await put(c, [good[0] as Transaction, malformed, good[1] as Transaction, missingField, wrongType, good[2] as Transaction]);

    // Act
    await s.poller.drain();

    // Assess: one delivery of the whole batch, nothing reported failed
    expect(invocationsOf(records).map((i) => [i.sequenceNumbers.length, i.outcome.kind])).toEqual([[6, 'ok']]);
    const listed = await c.s3.send(new ListObjectsV2Command({ Bucket: names.bucket, Prefix: 'dead-letter/transactions/' }));
    const letterOf = async (record: Put) => {
      const key = listed.Contents?.map((o) => o.Key as string).find((k) => k.endsWith(`/${record.shardId}-${record.sequenceNumber}.json`));
      expect(key, `a dead letter for ${record.sequenceNumber}`).toMatch(/^dead-letter\/transactions\/date=\d{4}-\d{2}-\d{2}\//);
      const object = await c.s3.send(new GetObjectCommand({ Bucket: names.bucket, Key: key }));
      return JSON.parse(Buffer.from(await (object.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()).toString('utf8'));
    };
    const [letterMalformed, letterMissing, letterWrongType] = await Promise.all([
      letterOf(records[1] as Put),
      letterOf(records[3] as Put),
      letterOf(records[4] as Put),
    ]);
    expect(letterMalformed.rejection).toMatchObject({ code: 'MalformedPayload' });
    expect(letterMissing.rejection).toMatchObject({ code: 'SchemaMismatch', message: expect.stringContaining('merchant_id') });
    expect(letterWrongType.rejection).toMatchObject({ code: 'SchemaMismatch', message: expect.stringContaining('amount') });
    for (const [letter, record] of [
      [letterMalformed, records[1]],
      [letterMissing, records[3]],
      [letterWrongType, records[4]],
    ] as const) {
      expect(letter.source).toBe('transactions');
      expect(Buffer.from(letter.payloadBase64, 'base64').equals((record as Put).bytes)).toBe(true);
      expect(letter.payload).toBe((record as Put).bytes.toString('utf8'));
    }
    for (const event of good) {
      expect(await features(s, 'user_last_txn', [event.user_id], ['amount_usd'])).toEqual({ amount_usd: { value: 108, status: 'present', eventTs: event.ts } });
    }
    expect(await item(s, 'user_last_txn', 'u1101')).toBeUndefined();
    expect(await item(s, 'user_last_txn', 'u1103')).toBeUndefined();
  });

  it('dead-letters an event stamped in the future, one at 2^53−1 and one with an oversize user id, and writes none of their views', async (ctx) => {
    // Prepare: each bad event has a merchant of its own, whose views must stay unwritten
    const { store: s, clients: c } = await setUp(ctx);
    const future = txn('u1201', { merchant_id: 'm1201', ts: Date.now() + 3_600_000 });
    const farFuture = txn('u1202', { merchant_id: 'm1202', ts: Number.MAX_SAFE_INTEGER });
    const oversize = txn(`u${'1'.repeat(3000)}`, { merchant_id: 'm1203' });
    const good = txn('u1204', { merchant_id: 'm1204' });
    const records = await put(c, [future, farFuture, oversize, good]);

    // Act
    await s.poller.drain();

    // Assess: one delivery, nothing failed (so nothing in failed-batches/), three dead letters with their reasons
    expect(invocationsOf(records).map((i) => [i.sequenceNumbers.length, i.outcome.kind])).toEqual([[4, 'ok']]);
    const listed = await c.s3.send(new ListObjectsV2Command({ Bucket: names.bucket, Prefix: 'dead-letter/transactions/' }));
    const rejections = await Promise.all(
      records.slice(0, 3).map(async (record) => {
        const key = listed.Contents?.map((o) => o.Key as string).find((k) => k.endsWith(`/${record.shardId}-${record.sequenceNumber}.json`));
        const object = await c.s3.send(new GetObjectCommand({ Bucket: names.bucket, Key: key }));
        return JSON.parse(await (object.Body as { transformToString(): Promise<string> }).transformToString()).rejection;
      }),
    );
    expect(rejections).toEqual([
      { code: 'EventTimeOutOfRange', message: expect.stringContaining('more than maxFutureSkew 5m ahead of the ingest time') },
      { code: 'EventTimeOutOfRange', message: expect.stringContaining('outside the storable range') },
      { code: 'KeyTooLong', view: 'user_last_txn', message: expect.stringContaining('at most 2016 fit') },
    ]);
    for (const merchant of ['m1201', 'm1202', 'm1203']) expect(await item(s, 'merchant_last_txn', merchant)).toBeUndefined();
    expect(await item(s, 'user_last_txn', 'u1201')).toBeUndefined();
    expect(await item(s, 'merchant_last_txn', 'm1204')).toBeDefined();
  });

  it('keeps the newest value when an older event arrives after it', async (ctx) => {
    // Prepare
    const { store: s, clients: c } = await setUp(ctx);
    const newer = txn('u1201', { amount: 300, ts: NOW - 10_000 });
    const older = txn('u1201', { amount: 5, ts: NOW - 50_000 });
    await put(c, [newer], 'u1201');
    await s.poller.drain();

    // Act
    await put(c, [older], 'u1201');
    await s.poller.drain();

    // Assess
    expect(await features(s, 'user_last_txn', ['u1201'], ['amount_usd'])).toEqual({ amount_usd: { value: 324, status: 'present', eventTs: newer.ts } });
  });

  it('leaves the store unchanged when a batch is delivered again', async (ctx) => {
    // Prepare: a batch processed once, then read back from the stream as Lambda would redeliver it
    const { store: s, clients: c } = await setUp(ctx);
    const records = await put(c, [txn('u1301', { amount: 10 }), txn('u1301', { amount: 20, ts: NOW - 30_000 }), txn('u1302')]);
    await s.poller.drain();
    const first = records[0] as Put;
    const { ShardIterator } = await c.kinesis.send(
      new GetShardIteratorCommand({
        StreamName: names.streams.transactions,
        ShardId: first.shardId,
        ShardIteratorType: 'AT_SEQUENCE_NUMBER',
        StartingSequenceNumber: first.sequenceNumber,
      }),
    );
    const read = await c.kinesis.send(new GetRecordsCommand({ ShardIterator, Limit: records.length }));
    expect(read.Records?.map((r) => r.SequenceNumber)).toEqual(records.map((r) => r.sequenceNumber));
    const event = kinesisEvent(read.Records ?? [], {
      region: s.runtime.config.access.region,
      streamName: names.streams.transactions as string,
      shardId: first.shardId,
    });
    const views = ['user_last_txn', 'user_location', 'user_txn_stats'];
    const before = await Promise.all(views.flatMap((v) => [item(s, v, 'u1301'), item(s, v, 'u1302')]));

    // Act
    const response = await createStreamHandler(s.runtime)(event);

    // Assess
    expect(response).toEqual({ batchItemFailures: [] });
    expect(await Promise.all(views.flatMap((v) => [item(s, v, 'u1301'), item(s, v, 'u1302')]))).toEqual(before);
    expect(await features(s, 'user_last_txn', ['u1301'], ['amount_usd'])).toMatchObject({ amount_usd: { value: 21.6 } });
  });

  it('counts an event id sent twice once', async (ctx) => {
    // Prepare: the producer retries — the same event twice in one batch, and once more later
    const { store: s, clients: c } = await setUp(ctx);
    const event = txn('u1401', { ts: NOW - 5_000 });
    await put(c, [event, event], 'u1401');
    await s.poller.drain();

    // Act
    await put(c, [event], 'u1401');
    await s.poller.drain();

    // Assess
    expect(await features(s, 'user_txn_stats', ['u1401'], ['txn_count_1h', 'amount_sum_1h'])).toMatchObject({
      txn_count_1h: { value: 1, status: 'present' },
      amount_sum_1h: { value: 108 },
    });
    expect((await item(s, 'user_last_txn', 'u1401'))?.version).toBe(1);
  });

  it('reports a failed DynamoDB write in batchItemFailures and stores the record when it is delivered again', async (ctx) => {
    // Prepare: INJECTED FAULT — the handler's own DynamoDB client throttles the first write of
    // one item (thrown before the SDK's retry step, so the adapter sees the failure)
    const { store: s, clients: c } = await setUp(ctx);
    const throttled = hotKey(s.runtime.registry, 'user_last_txn', 'u1502');
    let faults = 1;
    const name = 'injected-fault-throttled-write';
    s.runtime.clients.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        const input = args.input as PutItemCommandInput;
        if (context.commandName === 'PutItemCommand' && input.Item?.pk?.S === throttled && faults > 0) {
          faults -= 1;
          throw new ProvisionedThroughputExceededException({ message: 'injected fault: write throttled', $metadata: {} });
        }
        return next(args);
      },
      { step: 'initialize', name },
    );
    const events = [txn('u1501'), txn('u1502', { amount: 42 }), txn('u1503')];
    const records = await put(c, events);

    // Act
    try {
      await s.poller.drain();
    } finally {
      s.runtime.clients.dynamodb.middlewareStack.remove(name);
    }

    // Assess: the failed record is reported; the mapping redelivers from it, and it is stored
    const [a, b, cc] = records.map((r) => r.sequenceNumber);
    expect(faults).toBe(0);
    expect(invocationsOf(records).map((i) => ({ records: i.sequenceNumbers, attempt: i.attempt, outcome: i.outcome }))).toEqual([
      { records: [a, b, cc], attempt: 0, outcome: { kind: 'partial', failed: [b] } },
      { records: [b, cc], attempt: 1, outcome: { kind: 'ok' } },
    ]);
    expect(await features(s, 'user_last_txn', ['u1502'], ['amount_usd'])).toEqual({
      amount_usd: { value: 45.36, status: 'present', eventTs: (events[1] as Transaction).ts },
    });
    expect((await item(s, 'user_last_txn', 'u1503'))?.version).toBe(1);
  });
});
