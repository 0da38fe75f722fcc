/**
 * The raw archive end to end, in local mode: events pushed through the API are archived by
 * the archive's own consumer of the stream under raw/<source>/date=YYYY-MM-DD/ as gzipped
 * JSON lines (the layout the stack's Firehose writes), and `tessera backfill` of the stream
 * source replays that archive into a fresh table — which then serves exactly what the stream
 * path serves.
 */

import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { GetObjectCommand, ListObjectsV2Command } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { backfillCommand, localBackfillTarget } from '../../cli/backfill.js';
import type { Transaction } from '../../features/fraud.js';
import { TransactionGenerator } from '../../features/generator.js';
import * as definitions from '../../features/index.js';
import { RAW_FILE_EXTENSION, rawLocation } from '../../lambdas/core/batch.js';
import { Registry } from '../../lambdas/core/registry.js';
import { windowStart } from '../../lambdas/core/windows.js';
import { type DiscoveryFile, LOCAL_OPERATOR, readDiscoveryFile, writeDiscoveryFile } from '../../local/discovery.js';
import { EMULATOR_CREDENTIALS } from '../../local/emulators.js';
import { localResourceNames } from '../../local/resources.js';
import { type LocalStore, startLocalStore } from '../../local/store.js';

const NOW = Date.now();
const registry = Registry.fromModule(definitions);
let store: LocalStore;
let replay: LocalStore;
let dir: string;
let discovery: DiscoveryFile;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-raw-archive-'));
  // One clock for both stores: windowed values are compared at the same instant.
  store = await startLocalStore({ port: 0, poll: false, now: () => NOW, logLevel: 'ERROR' });
}, 60_000);

afterAll(async () => {
  discovery?.remove();
  await replay?.stop();
  await store?.stop();
  await rm(dir, { recursive: true, force: true });
}, 60_000);

type Results = { results: { entity: Record<string, unknown>; status: Record<string, string>; values: Record<string, unknown> }[] };

async function post(url: string, path: string, body: unknown): Promise<{ status: number; body: Results }> {
  // Pushes come as local mode's operator, a writer of every source (local mode reads the access key, not the signature).
  const operator = {
    authorization: `AWS4-HMAC-SHA256 Credential=${LOCAL_OPERATOR.accessKeyId}/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0`,
  };
  const response = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...operator }, body: JSON.stringify(body) });
  return { status: response.status, body: (await response.json()) as Results };
}

const capture = () => ({
  text: '',
  isTTY: false,
  write(chunk: string) {
    this.text += chunk;
  },
});

describe('raw archive', { timeout: 180_000 }, () => {
  const users = ['u7001', 'u7002', 'u7003', 'u7004'];
  const merchants = ['m7001', 'm7002', 'm7003'];
  const generator = new TransactionGenerator({ seed: 14, users: 4, merchants: 3, startTs: NOW - 2 * 3_600_000, ratePerSecond: 0.02 });
  const events: Transaction[] = generator
    .take(80)
    .map((e, i) => ({ ...e, event_id: `raw-${i}`, user_id: users[i % users.length] as string, merchant_id: merchants[i % merchants.length] as string }))
    .filter((e) => e.ts <= NOW);

  it('archives every pushed event, as pushed, under raw/<source>/date=YYYY-MM-DD/ in gzipped JSON lines', async () => {
    expect(events.length).toBeGreaterThan(40);
    for (let i = 0; i < events.length; i += 20) {
      const pushed = await post(store.url, '/v1/push', { source: 'transactions', events: events.slice(i, i + 20) });
      expect(pushed.status).toBe(202);
    }
    await store.poller.drain();
    await store.rawArchive.drain();

    const s3 = store.runtime.clients.s3;
    const bucket = store.runtime.config.bucket;
    const listed = await s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: rawLocation('transactions') }));
    const keys = (listed.Contents ?? []).map((o) => o.Key as string);
    expect(keys.length).toBeGreaterThan(0);
    const today = new Date().toISOString().slice(0, 10);
    for (const key of keys) expect(key).toMatch(new RegExp(`^raw/transactions/date=${today}/.+${RAW_FILE_EXTENSION.replace(/\./g, '\\.')}$`));
    const archived: Transaction[] = [];
    for (const key of keys) {
      const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
      const text = gunzipSync(Buffer.from(await object.Body!.transformToByteArray())).toString('utf8');
      expect(text.endsWith('\n')).toBe(true);
      archived.push(
        ...text
          .trimEnd()
          .split('\n')
          .map((line) => JSON.parse(line) as Transaction),
      );
    }
    const byId = (list: Transaction[]) => [...list].sort((a, b) => (a.event_id < b.event_id ? -1 : 1));
    expect(byId(archived)).toEqual(byId(events));
  });

  it('tessera backfill of the stream source replays the archive into a fresh table, which serves the same values as the stream path', async () => {
    const names = { ...localResourceNames(registry), table: 'tessera-replayed' };
    replay = await startLocalStore({
      port: 0,
      poll: false,
      now: () => NOW,
      logLevel: 'ERROR',
      target: { region: store.runtime.config.access.region, credentials: EMULATOR_CREDENTIALS, endpoints: store.endpoints },
      names,
    });
    discovery = await writeDiscoveryFile(replay, join(dir, 'local-endpoints.json'));
    const target = await localBackfillTarget(readDiscoveryFile(discovery.path), registry);
    const stdout = capture();
    const summary = await backfillCommand(
      { source: 'transactions', from: new Date(NOW - 86_400_000).toISOString(), to: new Date(NOW + 86_400_000).toISOString() },
      { registry, target, stdout, stderr: capture() },
    ).finally(() => target.close());
    expect(summary.job).toMatchObject({ source: 'transactions', failed: 0, rejected: 0 });
    expect(summary.job.chunks).toBeGreaterThan(0);

    const request = {
      service: 'fraud_v2',
      entities: users.flatMap((user_id) => merchants.map((merchant_id) => ({ user_id, merchant_id, amount: 250, currency: 'EUR', lat: 48.85, lon: 2.35 }))),
    };
    const [streamed, replayed] = await Promise.all([post(store.url, '/v1/features', request), post(replay.url, '/v1/features', request)]);
    expect(streamed.status).toBe(200);
    expect(replayed.status).toBe(200);
    const statuses = streamed.body.results.flatMap((r) => Object.values(r.status));
    expect(statuses.filter((s) => s === 'present').length).toBeGreaterThan(statuses.length / 2);
    // Both against the window rule itself, so a difference says which path is off.
    const countsOf = (body: Results) => Object.fromEntries(body.results.map((r) => [r.entity.merchant_id, r.values.merchant_txn_stats__txn_count_1h]));
    const expected = Object.fromEntries(
      merchants.map((m) => [m, events.filter((e) => e.merchant_id === m && e.ts >= windowStart(NOW, 3_600_000) && e.ts <= NOW).length]),
    );
    expect({ stream: countsOf(streamed.body), replay: countsOf(replayed.body) }).toEqual({ stream: expected, replay: expected });
    expect(replayed.body.results).toEqual(streamed.body.results);
  });
});
