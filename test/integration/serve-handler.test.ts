/**
 * The serve handler over HTTP: requests sent with fetch to the local HTTP adapter, which hands
 * API Gateway proxy events to the real serve handler, reading the online store on the target
 * TESSERA_TARGET names (default: embedded emulators started for this file). Data gets in the
 * way it does in production: records put into Kinesis, or POST /v1/push, then the event source
 * mapping drained. Time moves only through the runtime's clock parameter.
 */
import { randomUUID } from 'node:crypto';
import { Sha256 } from '@aws-crypto/sha256-js';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { SignatureV4 } from '@smithy/signature-v4';
import { afterAll, describe, expect, it, onTestFinished, type TestContext } from 'vitest';
import type { Transaction } from '../../features/fraud.js';
import { type AwsClients, createClients } from '../../lambdas/adapters/aws.js';
import type { Catalog } from '../../lambdas/core/catalog.js';
import { FeaturesResponse } from '../../lambdas/core/serving.js';
import { LOCAL_OPERATOR } from '../../local/discovery.js';
import type { Invocation } from '../../local/event-source-mapping.js';
import type { ResourceNames } from '../../local/resources.js';
import { type LocalStore, startLocalStore } from '../../local/store.js';
import type { Target } from '../support/target.js';
import { transactionMaker } from '../support/transactions.js';
import { useTarget } from '../support/use-target.js';

const T = useTarget();
const run = randomUUID().slice(0, 8);
const NOW = Date.now();
const DAY = 86_400_000;

function namesFor(target: Target): ResourceNames {
  return {
    table: target.resources?.table ?? `tessera-serve-${run}`,
    bucket: target.resources?.bucket ?? `tessera-serve-${run}`,
    streams: { transactions: target.resources?.stream ?? `tessera-serve-${run}-transactions` },
  };
}

/** The runtime's clock: real time, shifted by a test that needs values to age. */
let clockShift = 0;
let store: LocalStore | undefined;
let clients: AwsClients | undefined;
let names: ResourceNames;
const invocations: Invocation[] = [];

async function setUp(ctx: TestContext): Promise<LocalStore> {
  const target = T.require(ctx);
  if (!store) {
    names = namesFor(target);
    store = await startLocalStore({
      target,
      names,
      port: 0,
      poll: false,
      now: () => Date.now() + clockShift,
      logLevel: 'ERROR',
      mapping: { retryBackoffMs: 0, onInvocation: (invocation) => invocations.push(invocation) },
    });
    clients = createClients(target);
  }
  return store;
}

afterAll(async () => {
  await store?.stop();
  for (const client of Object.values(clients ?? {})) client.destroy();
});

/** A valid transaction with an event id no other test uses. */
const txn = transactionMaker(`serve-${run}`, { merchant_id: 'm0007', lat: 52.52, lon: 13.405, ts: NOW - 60_000 });

/** Events into the stream as a producer sends them, then handled by the stream handler. */
async function ingest(s: LocalStore, events: readonly Transaction[]): Promise<void> {
  const response = await (clients as AwsClients).kinesis.send(
    new PutRecordsCommand({
      StreamName: names.streams.transactions,
      Records: events.map((e) => ({ Data: Buffer.from(JSON.stringify(e)), PartitionKey: e.user_id })),
    }),
  );
  expect(response.FailedRecordCount ?? 0).toBe(0);
  await s.poller.drain();
}

interface Answer {
  readonly status: number;
  readonly body: unknown;
  readonly requestId: string | null;
}

interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string; readonly requestId: string; readonly details?: unknown };
}

/** One request; `asOperator` signs it (SigV4) as local mode's operator, who may push. */
async function call(s: LocalStore, method: string, path: string, body?: unknown, asOperator = false): Promise<Answer> {
  const url = new URL(path, s.url);
  const payload = body === undefined ? undefined : typeof body === 'string' ? body : JSON.stringify(body);
  let headers: Record<string, string> = { host: url.host, 'content-type': 'application/json' };
  if (asOperator) {
    const signer = new SignatureV4({ service: 'execute-api', region: 'us-east-1', credentials: LOCAL_OPERATOR, sha256: Sha256 });
    const request = { method, protocol: url.protocol, hostname: url.hostname, port: Number(url.port), path: url.pathname, headers };
    headers = (await signer.sign(payload === undefined ? request : { ...request, body: payload })).headers as Record<string, string>;
  }
  const { host: _host, ...sendable } = headers;
  const response = await fetch(url, { method, headers: sendable, ...(payload === undefined ? {} : { body: payload }) });
  return { status: response.status, body: await response.json(), requestId: response.headers.get('x-amzn-requestid') };
}

const features = (s: LocalStore, body: unknown) => call(s, 'POST', '/v1/features', body);

/** Every error answers `{error: {code, message, requestId}}` (and maybe `details`), nothing else. */
function expectError(response: Answer, status: number, code: string): ErrorBody['error'] {
  expect(response.status).toBe(status);
  const { error } = response.body as ErrorBody;
  expect(Object.keys(response.body as object)).toEqual(['error']);
  expect(error).toMatchObject({ code, message: expect.any(String), requestId: response.requestId });
  expect(error.requestId).toMatch(/\S/);
  for (const key of Object.keys(error)) expect(['code', 'message', 'details', 'requestId']).toContain(key);
  return error;
}

const USER_LAST_TXN = ['user_last_txn__amount_usd', 'user_last_txn__currency', 'user_last_txn__merchant_id', 'user_last_txn__is_foreign'];
const LOCATION = ['user_location__lat', 'user_location__lon'];

describe('POST /v1/features', { timeout: 60_000 }, () => {
  it('returns present values and their event timestamps for a stored card holder', async (ctx) => {
    // Prepare
    const s = await setUp(ctx);
    const event = txn('u3001');
    await ingest(s, [event]);

    // Act
    const response = await features(s, { service: 'fraud_v1', entities: [{ user_id: 'u3001' }] });

    // Assess
    expect(response.status).toBe(200);
    const body = FeaturesResponse.parse(response.body);
    expect(body.service).toBe('fraud_v1');
    expect(body.features).toEqual(expect.arrayContaining([...USER_LAST_TXN, ...LOCATION]));
    const [row] = body.results;
    expect(row?.entity).toEqual({ user_id: 'u3001' });
    expect(row?.values).toMatchObject({
      user_last_txn__amount_usd: 108,
      user_last_txn__currency: 'EUR',
      user_last_txn__merchant_id: 'm0007',
      user_last_txn__is_foreign: true,
      user_location__lat: 52.52,
      user_location__lon: 13.405,
    });
    for (const column of [...USER_LAST_TXN, ...LOCATION]) {
      expect(row?.status[column]).toBe('present');
      expect(row?.eventTimestamps[column]).toBe(event.ts);
    }
  });

  it('answers an entity with no data with status missing', async (ctx) => {
    // Prepare
    const s = await setUp(ctx);

    // Act
    const response = await features(s, { service: 'fraud_v1', entities: [{ user_id: 'u3999' }] });

    // Assess
    expect(response.status).toBe(200);
    const [row] = FeaturesResponse.parse(response.body).results;
    for (const column of [...USER_LAST_TXN, ...LOCATION]) {
      expect(row?.status[column]).toBe('missing');
      expect(row?.values[column]).toBeNull();
      expect(row?.eventTimestamps[column]).toBeNull();
    }
  });

  it('answers a value older than its view TTL with status expired', async (ctx) => {
    // Prepare: a value served as present now, then the clock moved past the 30-day TTL
    const s = await setUp(ctx);
    const event = txn('u3002');
    await ingest(s, [event]);
    const fresh = await features(s, { service: 'fraud_v1', entities: [{ user_id: 'u3002' }] });
    expect(FeaturesResponse.parse(fresh.body).results[0]?.status.user_last_txn__amount_usd).toBe('present');
    clockShift = 31 * DAY;
    onTestFinished(() => {
      clockShift = 0;
    });

    // Act
    const response = await features(s, { service: 'fraud_v1', entities: [{ user_id: 'u3002' }] });

    // Assess
    expect(response.status).toBe(200);
    const [row] = FeaturesResponse.parse(response.body).results;
    for (const column of [...USER_LAST_TXN, ...LOCATION]) {
      expect(row?.status[column]).toBe('expired');
      expect(row?.values[column]).toBeNull();
      expect(row?.eventTimestamps[column]).toBe(event.ts);
    }
  });

  it.for([
    ['malformed JSON', '{"service": "fraud_v1", "entities": [{"user_id": '],
    ['a missing join key', { service: 'fraud_v1', entities: [{ merchant_id: 'm0001' }] }],
    ['unknown fields', { service: 'fraud_v1', entities: [{ user_id: 'u0001' }], include_everything: true }],
    ['no entities', { service: 'fraud_v1', entities: [] }],
  ] as const)('rejects %s with 400', async ([, body], ctx) => {
    // Prepare
    const s = await setUp(ctx);

    // Act
    const response = await features(s, body);

    // Assess
    expectError(response, 400, 'ValidationError');
  });

  it.for([
    ['an unknown service', { service: 'fraud_v9', entities: [{ user_id: 'u0001' }] }],
    ['an unknown feature', { features: ['user_last_txn:no_such_feature'], entities: [{ user_id: 'u0001' }] }],
  ] as const)('answers %s with 404', async ([, body], ctx) => {
    // Prepare
    const s = await setUp(ctx);

    // Act
    const response = await features(s, body);

    // Assess
    expectError(response, 404, 'NotFoundError');
  });

  it('answers more than 100 entities with 413', async (ctx) => {
    // Prepare
    const s = await setUp(ctx);
    const entities = Array.from({ length: 101 }, (_, i) => ({ user_id: `u${String(i + 1).padStart(4, '0')}` }));

    // Act
    const response = await features(s, { service: 'fraud_v1', entities });

    // Assess
    expectError(response, 413, 'PayloadTooLargeError');
  });
});

describe('the HTTP adapter', { timeout: 60_000 }, () => {
  it('answers an unknown route with 404', async (ctx) => {
    // Prepare
    const s = await setUp(ctx);

    // Act
    const response = await call(s, 'GET', '/v1/no-such-route');

    // Assess
    expectError(response, 404, 'NotFoundError');
  });

  it('refuses a body over 1 MiB with 413, whether its length is declared or streamed', async (ctx) => {
    // Prepare
    const s = await setUp(ctx);
    const big = JSON.stringify({ service: 'fraud_v1', entities: [{ user_id: 'u0001', padding: 'x'.repeat(1_100_000) }] });
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        for (let i = 0; i < 20; i++) controller.enqueue(new Uint8Array(100_000).fill(0x20));
        controller.close();
      },
    });

    // Act
    const declared = await fetch(`${s.url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: big });
    const streamed = await fetch(`${s.url}/v1/features`, { method: 'POST', body: chunks, duplex: 'half' } as RequestInit);

    // Assess
    for (const response of [declared, streamed]) {
      expectError({ status: response.status, body: await response.json(), requestId: response.headers.get('x-amzn-requestid') }, 413, 'PayloadTooLargeError');
    }
  });
});

describe('GET /v1/catalog', { timeout: 60_000 }, () => {
  it('lists fraud_v1 with its lineage from source to service', async (ctx) => {
    // Prepare
    const s = await setUp(ctx);

    // Act
    const response = await call(s, 'GET', '/v1/catalog');

    // Assess
    expect(response.status).toBe(200);
    const catalog = response.body as Catalog;
    const service = catalog.featureServices.find((f) => f.name === 'fraud_v1');
    expect(service).toMatchObject({ name: 'fraud_v1', version: 1, features: expect.arrayContaining(['user_last_txn:amount_usd', 'user_location:lat']) });
    expect(catalog.lineage).toEqual(
      expect.arrayContaining([
        { from: 'source:transactions', to: 'view:user_last_txn' },
        { from: 'view:user_last_txn', to: 'feature:user_last_txn:amount_usd' },
        { from: 'feature:user_last_txn:amount_usd', to: 'service:fraud_v1' },
      ]),
    );
  });
});

describe('POST /v1/push', { timeout: 60_000 }, () => {
  it('writes valid events to the stream, served once the stream is handled', async (ctx) => {
    // Prepare
    const s = await setUp(ctx);
    const events = [txn('u3101', { amount: 10 }), txn('u3102', { amount: 20 })];

    // Act
    const pushed = await call(s, 'POST', '/v1/push', { source: 'transactions', events }, true);
    await s.poller.drain();

    // Assess
    expect(pushed).toMatchObject({ status: 202, body: { source: 'transactions', accepted: 2 } });
    const response = await features(s, { service: 'fraud_v1', entities: [{ user_id: 'u3101' }, { user_id: 'u3102' }] });
    const rows = FeaturesResponse.parse(response.body).results;
    expect(rows.map((r) => [r.values.user_last_txn__amount_usd, r.status.user_last_txn__amount_usd])).toEqual([
      [10.8, 'present'],
      [21.6, 'present'],
    ]);
  });

  it('rejects a batch with one invalid event with 400 naming it, and writes none of the batch', async (ctx) => {
    // Prepare
    const s = await setUp(ctx);
    await s.poller.drain();
    const handledBefore = invocations.length;
    const events = [txn('u3201'), { ...txn('u3202'), amount: -5 }];

    // Act
    const response = await call(s, 'POST', '/v1/push', { source: 'transactions', events }, true);
    await s.poller.drain();

    // Assess
    const error = expectError(response, 400, 'ValidationError');
    expect((error.details as { rejected: unknown[] }).rejected).toEqual([
      expect.objectContaining({ index: 1, code: 'SchemaMismatch', message: expect.stringContaining('amount') }),
    ]);
    expect(invocations.length).toBe(handledBefore);
    const read = await features(s, { service: 'fraud_v1', entities: [{ user_id: 'u3201' }] });
    expect(FeaturesResponse.parse(read.body).results[0]?.status.user_last_txn__amount_usd).toBe('missing');
  });
});
