/**
 * `tessera backfill` against local mode, as a user runs it: local mode started (embedded
 * emulators) and its discovery file written the way `npm start` writes it, JSON-lines files
 * uploaded under the stream source's raw archive with the SDK, the command run in-process —
 * the real batch handler on local mode's stores — and then the job item is complete and the
 * serving API answers with the backfilled values. Also: local mode's timers run the batch
 * handler of scheduled batch sources as EventBridge would.
 */
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type BackfillTarget, backfillCommand, backfillRequest, localBackfillTarget } from '../../cli/backfill.js';
import { type Transaction, transactions, user } from '../../features/fraud.js';
import { TransactionGenerator } from '../../features/generator.js';
import * as definitions from '../../features/index.js';
import { createClients } from '../../lambdas/adapters/aws.js';
import type { JobProgress } from '../../lambdas/adapters/ports.js';
import { batchSource, featureView } from '../../lambdas/core/definitions.js';
import { Registry } from '../../lambdas/core/registry.js';
import { accessOf, type DiscoveryFile, LocalModeNotRunning, readDiscoveryFile, writeDiscoveryFile } from '../../local/discovery.js';
import { type LocalStore, startLocalStore } from '../../local/store.js';
import { scheduledJobs, startTimers } from '../../local/timers.js';
import { latestOf } from '../support/online-items.js';

/** A batch source beside the demo's stream source: CSV exports in the store's bucket, every 5 minutes. */
const cardExports = batchSource({
  name: 'card_exports',
  schema: transactions.schema,
  eventTimeField: 'ts',
  eventIdField: 'event_id',
  location: 'exports/cards/',
  format: 'csv',
  schedule: 'rate(5 minutes)',
});
const nightly = batchSource({ ...cardExports, name: 'nightly_exports', location: 'exports/nightly/', schedule: 'cron(0 3 * * ? *)' });
const exportedAmount = featureView({
  name: 'user_exported_amount',
  entities: [user],
  source: cardExports,
  features: { amount: 'float' },
  ttl: '30d',
  owner: 'tests',
  description: 'Amount of the last exported transaction',
});
const registry = Registry.fromModule({ ...definitions, cardExports, nightly, exportedAmount });

const NOW = Date.now();
const DAY = new Date(NOW).toISOString().slice(0, 10);
let store: LocalStore;
let dir: string;
let discovery: DiscoveryFile;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-cli-backfill-'));
  store = await startLocalStore({ port: 0, poll: false, registry });
  discovery = await writeDiscoveryFile(store, join(dir, 'local-endpoints.json'));
});
afterAll(async () => {
  discovery?.remove();
  await store?.stop();
  await rm(dir, { recursive: true, force: true });
});

function capture() {
  let text = '';
  return {
    write: (chunk: string) => {
      text += chunk;
    },
    isTTY: false,
    get text() {
      return text;
    },
  };
}

/** Uploads objects through the SDK, with the endpoints and credentials of the discovery file. */
async function upload(files: Record<string, string>): Promise<void> {
  const clients = createClients(accessOf(readDiscoveryFile(discovery.path)));
  try {
    for (const [key, body] of Object.entries(files)) {
      await clients.s3.send(new PutObjectCommand({ Bucket: store.runtime.config.bucket, Key: key, Body: Buffer.from(body) }));
    }
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}

async function served(userId: string): Promise<{ values: Record<string, unknown>; status: Record<string, string> }> {
  const response = await fetch(`${store.url}/v1/features`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service: 'fraud_v1', entities: [{ user_id: userId }] }),
  });
  expect(response.status).toBe(200);
  const body = (await response.json()) as { results: { values: Record<string, unknown>; status: Record<string, string> }[] };
  return body.results[0]!;
}

const jsonl = (events: readonly object[]) => events.map((e) => JSON.stringify(e)).join('\n');
const viewsOf = (source: string) => [...registry.views.values()].filter((v) => v.source.name === source).length;

describe('tessera backfill in local mode', { timeout: 120_000 }, () => {
  it('applies the files of the range in this process, follows the job to the end, and the API serves the backfilled values', async () => {
    const gen = new TransactionGenerator({ seed: 11, users: 4, merchants: 3, startTs: NOW - 3_600_000 });
    const events = gen.take(50).map((e, i) => ({ ...e, user_id: `u${String(8001 + (i % 4)).padStart(4, '0')}`, event_id: `backfill-${i}` }));
    const files: Record<string, string> = {};
    for (let part = 0; part < 5; part++) files[`raw/transactions/date=${DAY}/part-${part}.jsonl`] = jsonl(events.slice(part * 10, part * 10 + 10));
    files[`raw/transactions/date=${DAY}/part-5.jsonl`] = '{"event_id": not json';
    // Outside the range: never listed.
    files['raw/transactions/date=2020-01-01/old.jsonl'] = jsonl([{ ...events[0], event_id: 'too-old' }]);
    await upload(files);
    const stdout = capture();
    const stderr = capture();
    const target = await localBackfillTarget(readDiscoveryFile(discovery.path), registry);

    const summary = await backfillCommand(
      { source: 'transactions', from: `${DAY}T00:00:00Z`, to: new Date(NOW + 60_000).toISOString() },
      { registry, target, stdout, stderr },
    ).finally(() => target.close());

    expect(summary.job).toMatchObject({ source: 'transactions', chunks: 6, done: 6, failed: 0, rows: 50 * viewsOf('transactions'), rejected: 1 });
    expect(summary.queued).toBe(false);
    expect(stdout.text).toContain(`job ${summary.job.id}: 6/6 files applied in `);
    expect(stdout.text).toContain(
      `${(50 * viewsOf('transactions')).toLocaleString('en-US')} rows written, 1 records rejected (kept under dead-letter/transactions/)`,
    );
    expect(stderr.text).toContain("backfill of transactions (raw/transactions/ in the store's bucket) from");
    expect(stderr.text).toMatch(/progress: 6\/6 files, \d+ rows, 1 rejected\n/);
    const latest = [...events]
      .filter((e) => e.user_id === 'u8002')
      .sort((a, b) => a.ts - b.ts)
      .at(-1) as Transaction;
    const vector = await served('u8002');
    expect(vector.status.user_last_txn__currency).toBe('present');
    expect(vector.values.user_last_txn__currency).toBe(latest.currency);
    expect(vector.values.user_last_txn__merchant_id).toBe(latest.merchant_id);
  });

  it('with --view, applies the source the view reads', async () => {
    const request = backfillRequest({ view: 'user_txn_stats', from: '2026-01-01T00:00:00Z', to: '2026-01-02T00:00:00Z' }, registry);
    expect(request).toEqual({ source: 'transactions', from: Date.UTC(2026, 0, 1), to: Date.UTC(2026, 0, 2) });
    expect(() => backfillRequest({ source: 'card_exports', view: 'user_txn_stats', from: '0', to: '1' }, registry)).toThrow(
      /reads source "transactions", not "card_exports"/,
    );
    expect(() => backfillRequest({ source: 'payments', from: '0', to: '1' }, registry)).toThrow(/unknown source "payments"/);
    expect(() => backfillRequest({ source: 'transactions', from: 'yesterday', to: '1' }, registry)).toThrow(/--from "yesterday" is not an ISO-8601 time/);
  });

  it('reports an empty range without failing', async () => {
    const target = await localBackfillTarget(readDiscoveryFile(discovery.path), registry);
    const stdout = capture();
    const summary = await backfillCommand(
      { source: 'card_exports', from: '2021-03-01T00:00:00Z', to: '2021-03-02T00:00:00Z' },
      { registry, target, stdout, stderr: capture() },
    ).finally(() => target.close());
    expect(summary.job).toMatchObject({ chunks: 0, done: 0 });
    expect(stdout.text).toContain("no files of card_exports under exports/cards/ in the store's bucket in the range; nothing to apply.");
  });
});

describe('tessera backfill against a stack', () => {
  /** A stack's run as the CLI sees it: the invocation queues the files, workers finish them later. */
  function queuedTarget(chunks: number, failed = 0) {
    const jobs = new Map<string, JobProgress>();
    const job: JobProgress = { id: 'job-1', source: 'transactions', from: 0, to: 1, chunks, done: 0, failed: 0, rows: 0, rejected: 0, createdAt: 0 };
    const target: BackfillTarget = {
      description: 'stack Fake (eu-west-1)',
      pollIntervalMs: 5,
      jobs: { create: async () => {}, record: async () => {}, get: async (id) => jobs.get(id) },
      upload: async () => {
        throw new Error('not in this test');
      },
      async start(_request, onJob) {
        jobs.set(job.id, job);
        // Workers: one file every few milliseconds, the last `failed` of them in the dead-letter queue.
        let n = 0;
        const worker = setInterval(() => {
          n++;
          const failing = n > chunks - failed;
          jobs.set(job.id, {
            ...(jobs.get(job.id) as JobProgress),
            done: n - (failing ? n - (chunks - failed) : 0),
            failed: failing ? n - (chunks - failed) : 0,
            rows: n * 10,
          });
          if (n === chunks) clearInterval(worker);
        }, 10);
        onJob(job.id);
        return { jobId: job.id, chunks, queued: true, rows: 0, rejected: 0 };
      },
      close() {},
    };
    return target;
  }

  it('follows a queued job until the workers have applied every file', async () => {
    const stdout = capture();
    const stderr = capture();
    const summary = await backfillCommand({ source: 'transactions', from: '0', to: '1' }, { registry, target: queuedTarget(8), stdout, stderr });
    expect(summary).toMatchObject({ queued: true, job: { chunks: 8, done: 8, failed: 0, rows: 80 } });
    expect(stdout.text).toMatch(/^job job-1: 8\/8 files applied by the backfill workers in \d+\.\d s\n {2}80 rows written, 0 records rejected\n$/);
    expect(stderr.text).toContain('on stack Fake (eu-west-1)');
  });

  it('ends when the remaining files failed every attempt, and says where they are', async () => {
    const stdout = capture();
    const summary = await backfillCommand({ source: 'transactions', from: '0', to: '1' }, { registry, target: queuedTarget(5, 2), stdout, stderr: capture() });
    expect(summary.job).toMatchObject({ chunks: 5, done: 3, failed: 2 });
    expect(stdout.text).toContain('2 files failed every attempt: they wait in the backfill dead-letter queue');
  });

  it('reports a failed invocation with the handler’s error', async () => {
    const target: BackfillTarget = {
      ...queuedTarget(1),
      start: async () => Promise.reject(new Error('the batch function f failed: NotFoundError: unknown source')),
    };
    await expect(backfillCommand({ source: 'transactions', from: '0', to: '1' }, { registry, target, stdout: capture(), stderr: capture() })).rejects.toThrow(
      /NotFoundError: unknown source/,
    );
  });
});

describe('the discovery file', () => {
  it('names local mode’s endpoints, credentials, region and resources, readable by its owner only', async () => {
    const file = readDiscoveryFile(discovery.path);
    expect(file).toMatchObject({
      pid: process.pid,
      url: store.url,
      region: 'us-east-1',
      credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
      endpoints: store.endpoints,
      table: 'tessera-online',
      bucket: 'tessera-offline',
      streams: { transactions: 'tessera-transactions' },
    });
    expect((await stat(discovery.path)).mode & 0o777).toBe(0o600);
    expect(JSON.parse(await readFile(discovery.path, 'utf8')).endpoints.s3).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
  });

  it('tells the user to start local mode when there is none, or when the one that wrote it is gone', async () => {
    expect(() => readDiscoveryFile(join(dir, 'missing.json'))).toThrow(LocalModeNotRunning);
    expect(() => readDiscoveryFile(join(dir, 'missing.json'))).toThrow(/local mode is not running .* start it with `npm start`/);
    const stale = join(dir, 'stale.json');
    const written = await writeDiscoveryFile(store, stale);
    const contents = JSON.parse(await readFile(stale, 'utf8'));
    const { writeFile } = await import('node:fs/promises');
    await writeFile(stale, JSON.stringify({ ...contents, pid: 2 ** 22 + 1 }));
    expect(() => readDiscoveryFile(stale)).toThrow(/left by a local mode that is gone/);
    // Not this process's file any more: remove() leaves it alone.
    written.remove();
    await expect(stat(stale)).resolves.toBeDefined();
  });
});

describe('local mode timers', { timeout: 60_000 }, () => {
  it('schedule compaction hourly, the profiles daily and each rate() batch source at its period; cron schedules are left to the user', () => {
    const warnings: string[] = [];
    const jobs = scheduledJobs(store.runtime, { log: { info: () => {}, warn: (m) => warnings.push(m) } });
    expect(jobs.map((j) => [j.name, j.everyMs])).toEqual([
      ['compaction', 3_600_000],
      ['profiles', 86_400_000],
      ['batch chargebacks', 3_600_000],
      ['batch card_exports', 300_000],
    ]);
    expect(warnings).toEqual([expect.stringContaining('batch source nightly_exports: local mode runs rate(...) schedules only')]);
  });

  it('run the daily profiles over the local offline store on DuckDB: one object per feature service for yesterday', async () => {
    const profiles = scheduledJobs(store.runtime).find((job) => job.name === 'profiles');
    const yesterday = new Date(Date.now() - 86_400_000).toISOString().slice(0, 10);

    const result = await profiles?.run();

    expect(result).toMatchObject({ date: yesterday, objects: [...registry.services.keys()].map((s) => `profiles/${s}/date=${yesterday}/profiles.jsonl`) });
  });

  it('run the batch handler of a scheduled source as EventBridge would, over its lookback, and stop cleanly', async () => {
    const ts = NOW - 60_000;
    const header = 'event_id,user_id,merchant_id,amount,currency,lat,lon,ts';
    await upload({ [`exports/cards/date=${DAY}/export.csv`]: `${header}\nexport-1,u8100,m0001,12.5,EUR,48.85,2.35,${ts}\n` });
    const log = { info: [] as string[], warn: [] as string[] };
    const jobs = scheduledJobs(store.runtime).map((job) => ({ ...job, everyMs: 50 }));
    const batch = jobs.filter((job) => job.name === 'batch card_exports');

    const timers = startTimers(batch, { info: (m) => log.info.push(m), warn: (m) => log.warn.push(m) });
    await expect.poll(() => log.info.length, { timeout: 20_000 }).toBeGreaterThan(0);
    await timers.stop();

    expect(log.info[0]).toMatch(/^batch card_exports: done in \d+\.\d s \{"jobId":"card_exports-.*","chunks":1,"queued":false,"rows":1,"rejected":0\}$/);
    expect(log.warn.filter((w) => w.includes('failed'))).toEqual([]);
    expect((await latestOf(store.runtime.online, store.runtime.registry, 'user_exported_amount', 'u8100'))?.s[2]).toBe('export-1');
  });
});
