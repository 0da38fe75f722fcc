/**
 * Local mode end to end, as `npm start` runs it (`startLocalStore`, background polling), on a
 * free port: events in through POST /v1/push (signed as local mode's operator, who may push) and straight into Kinesis, features out through
 * POST /v1/features, and after stop() nothing of it still listening.
 */
import { connect } from 'node:net';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TesseraClient } from '../../client/tessera-client.js';
import type { Transaction } from '../../features/fraud.js';
import { TransactionGenerator } from '../../features/generator.js';
import { type AwsClients, createClients } from '../../lambdas/adapters/aws.js';
import { FeaturesResponse } from '../../lambdas/core/serving.js';
import { LOCAL_OPERATOR } from '../../local/discovery.js';
import { EMULATOR_CREDENTIALS } from '../../local/emulators.js';
import { type LocalStore, startLocalStore } from '../../local/store.js';

const NOW = Date.now();

let store: LocalStore;
let clients: AwsClients;

beforeAll(async () => {
  store = await startLocalStore({ port: 0, logLevel: 'ERROR' });
  // A producer of its own, as an application next to local mode would have.
  clients = createClients({ region: store.runtime.config.access.region, credentials: EMULATOR_CREDENTIALS, endpoints: store.endpoints });
}, 60_000);

afterAll(async () => {
  for (const client of Object.values(clients ?? {})) client.destroy();
  await store?.stop();
}, 60_000);

async function post(path: string, body: unknown): Promise<{ status: number; body: unknown }> {
  const response = await fetch(`${store.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: response.status, body: await response.json() };
}

/** Resolves to the error code of a TCP connection attempt, or 'connected'. */
function probe(url: string): Promise<string> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve) => {
    const socket = connect({ host: hostname, port: Number(port) });
    socket.once('connect', () => {
      socket.destroy();
      resolve('connected');
    });
    socket.once('error', (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

describe('local mode', { timeout: 60_000 }, () => {
  it('serves an event pushed over HTTP, with on-demand features from the request context', async () => {
    // Prepare
    const event: Transaction = {
      event_id: 'e2e-push-1',
      user_id: 'u0001',
      merchant_id: 'm0001',
      amount: 50,
      currency: 'USD',
      lat: 40.7128,
      lon: -74.006,
      ts: NOW - 30_000,
    };

    // Act
    const operator = new TesseraClient({ url: store.url, signing: { region: 'us-east-1', credentials: LOCAL_OPERATOR } });
    const pushed = await operator.push('transactions', [event]);
    await store.poller.drain();
    const response = await post('/v1/features', {
      service: 'fraud_v2',
      entities: [{ user_id: 'u0001', merchant_id: 'm0001', amount: 150, currency: 'USD', lat: 40.7128, lon: -74.006 }],
    });

    // Assess
    expect(pushed).toEqual({ source: 'transactions', accepted: 1 });
    expect(response.status).toBe(200);
    const [row] = FeaturesResponse.parse(response.body).results;
    expect(row?.values).toMatchObject({
      user_last_txn__amount_usd: 50,
      merchant_last_txn__amount_usd: 50,
      user_merchant_last_txn__amount_usd: 50,
      txn_risk__amount_ratio: 3,
    });
    expect(row?.status).toMatchObject({ user_last_txn__amount_usd: 'present', merchant_last_txn__amount_usd: 'present', txn_risk__amount_ratio: 'present' });
    expect(row?.eventTimestamps.user_last_txn__amount_usd).toBe(event.ts);
  });

  it('serves the newest transaction of each card holder from generated Kinesis traffic with late and duplicate events', async () => {
    // Prepare: synthetic traffic, spread over the shards by event id, so it arrives out of order
    const generator = new TransactionGenerator({
      seed: 7,
      users: 20,
      merchants: 12,
      startTs: NOW - 10 * 60_000,
      ratePerSecond: 2,
      lateFraction: 0.2,
      maxLatenessMs: 30_000,
      duplicateFraction: 0.1,
    });
    const events = generator.take(120).map((e) => ({ ...e, user_id: e.user_id.replace(/^u00/, 'u50') }));
    const newest = new Map<string, Transaction>();
    for (const e of events) if ((newest.get(e.user_id)?.ts ?? -1) < e.ts) newest.set(e.user_id, e);
    // A user with two different events at the newest time is decided by ingest order: leave them out.
    const decided = [...newest.values()].filter(
      (n) => events.filter((e) => e.user_id === n.user_id && e.ts === n.ts && e.event_id !== n.event_id).length === 0,
    );

    // Act
    const put = await clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: store.runtime.config.streams.transactions,
        Records: events.map((e) => ({ Data: Buffer.from(JSON.stringify(e)), PartitionKey: e.event_id })),
      }),
    );
    await store.poller.drain();
    const response = await post('/v1/features', { service: 'fraud_v1', entities: decided.map((n) => ({ user_id: n.user_id })) });

    // Assess
    expect(put.FailedRecordCount ?? 0).toBe(0);
    expect(decided.length).toBeGreaterThan(10);
    expect(response.status).toBe(200);
    const served = FeaturesResponse.parse(response.body).results.map((r) => ({
      user_id: r.entity.user_id,
      merchant_id: r.values.user_last_txn__merchant_id,
      currency: r.values.user_last_txn__currency,
      ts: r.eventTimestamps.user_last_txn__merchant_id,
    }));
    expect(served).toEqual(decided.map((n) => ({ user_id: n.user_id, merchant_id: n.merchant_id, currency: n.currency, ts: n.ts })));
  });

  it('answers GET /v1/health while running, and leaves nothing listening once stopped', async () => {
    // Prepare
    const health = await fetch(`${store.url}/v1/health`);
    expect(health.status).toBe(200);
    const addresses = [store.url, ...Object.values(store.endpoints).filter((url): url is string => typeof url === 'string')];
    expect(addresses).toHaveLength(4);

    // Act
    await store.stop();

    // Assess
    expect(await Promise.all(addresses.map(probe))).toEqual(addresses.map(() => 'ECONNREFUSED'));
  });
});
