/**
 * `tessera training-set` as a user runs it, on the target TESSERA_TARGET names (default:
 * embedded emulators) with the DuckDB engine: offline rows written by the real stream
 * handler, labels from a CSV file, the summary printed (rows, null rate per feature, where
 * the result is), progress on stderr, and errors a user can act on.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, type TestContext } from 'vitest';
import { trainingSetCommand } from '../../cli/training-set.js';
import * as definitions from '../../features/index.js';
import { type AwsClients, createClients } from '../../lambdas/adapters/aws.js';
import { DuckDbQueryRunner, DuckDbTrainingRunner, sqlString } from '../../lambdas/adapters/duckdb-runner.js';
import { Registry } from '../../lambdas/core/registry.js';
import { createRuntime, readConfig } from '../../lambdas/handlers/runtime.js';
import { createStreamHandler } from '../../lambdas/handlers/stream.js';
import { kinesisEvent } from '../../local/event-source-mapping.js';
import { ensureResources } from '../../local/resources.js';
import { handlerEnvironment } from '../../local/store.js';
import { useTarget } from '../support/use-target.js';

const T = useTarget();
const run = randomUUID().slice(0, 8);
const registry = Registry.fromModule(definitions);
const T0 = Date.UTC(2026, 2, 1, 8, 0, 0);
const MINUTE = 60_000;

let clients: AwsClients | undefined;
let bucket: string;
let dir: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'tessera-cli-'));
});
afterAll(async () => {
  for (const client of Object.values(clients ?? {})) client.destroy();
  await rm(dir, { recursive: true, force: true });
});

/** Writes three transactions through the stream handler, once per file. */
async function setUp(ctx: TestContext): Promise<AwsClients> {
  const target = T.require(ctx);
  if (clients) return clients;
  bucket = target.resources?.bucket ?? `tessera-cli-it-${run}`;
  const names = { table: target.resources?.table ?? `tessera-cli-it-${run}`, bucket, streams: { transactions: `tessera-cli-it-${run}` } };
  const runtime = createRuntime(readConfig(handlerEnvironment(target, names, 'ERROR')), { registry, now: () => T0 + 30 * MINUTE });
  clients = createClients(target);
  await ensureResources(clients, names, { region: target.region, shardCount: 1 });
  const events = [
    { event_id: `cli-${run}-1`, user_id: 'u3001', merchant_id: 'm0001', amount: 100, currency: 'EUR', lat: 48.85, lon: 2.35, ts: T0 },
    { event_id: `cli-${run}-2`, user_id: 'u3001', merchant_id: 'm0002', amount: 40, currency: 'USD', lat: 48.86, lon: 2.35, ts: T0 + 10 * MINUTE },
    { event_id: `cli-${run}-3`, user_id: 'u3002', merchant_id: 'm0002', amount: 7, currency: 'GBP', lat: 51.5, lon: -0.12, ts: T0 + 20 * MINUTE },
  ];
  const event = kinesisEvent(
    events.map((e, i) => ({
      PartitionKey: e.user_id,
      SequenceNumber: String(1000 + i),
      Data: Buffer.from(JSON.stringify(e)),
      ApproximateArrivalTimestamp: new Date(T0),
    })),
    { region: target.region, streamName: names.streams.transactions, shardId: 'shardId-000000000000' },
  );
  await createStreamHandler(runtime)(event);
  for (const client of Object.values(runtime.clients)) client.destroy();
  return clients;
}

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

const FEATURES = 'user_last_txn:amount_usd,user_last_txn:currency,user_location:lat,txn_risk:km_from_last';

describe('tessera training-set', { timeout: 120_000 }, () => {
  it('builds the training set and prints rows, null rates per feature and the location; progress goes to stderr', async (ctx) => {
    const c = await setUp(ctx);
    await writeFile(
      join(dir, 'labels.csv'),
      [
        'user_id,event_timestamp,amount,currency,lat,lon,is_fraud',
        `u3001,${T0 + 5 * MINUTE},10,EUR,48.85,2.35,0`,
        `u3001,${T0 + 15 * MINUTE},900,USD,40.7,-74.0,1`,
        `u3002,${T0 - MINUTE},5,GBP,51.5,-0.12,0`,
        `u9999,${T0 + 15 * MINUTE},5,GBP,51.5,-0.12,0`,
      ].join('\n'),
    );
    const stdout = capture();
    const stderr = capture();
    const out = join(dir, 'fraud.parquet');

    const summary = await trainingSetCommand(
      { labels: join(dir, 'labels.csv'), features: FEATURES, out },
      { registry, runner: new DuckDbTrainingRunner({ s3: c.s3, bucket }), database: 'tessera', s3: c.s3, stdout, stderr },
    );

    expect(summary.rows).toBe(4);
    expect(stdout.text).toMatch(/^4 rows, 4 features, built on duckdb in \d+\.\d s\n/);
    expect(stdout.text).toContain('  user_last_txn__amount_usd      50.0%');
    expect(stdout.text).toContain('  txn_risk__km_from_last         50.0%');
    expect(stdout.text).toContain(`written to ${out}`);
    expect(stderr.text).toContain('labels: reading the labels');
    expect(stderr.text).toContain('query: running the point-in-time join on DuckDB');
    expect(stderr.text).toContain('on-demand: computing on-demand features');
    const db = await DuckDbQueryRunner.open();
    const rows = await db.run(
      `SELECT user_id, user_last_txn__amount_usd, user_last_txn__currency, txn_risk__km_from_last FROM read_parquet(${sqlString(out)})`,
    );
    db.close();
    expect(rows).toEqual([
      { user_id: 'u3001', user_last_txn__amount_usd: 108, user_last_txn__currency: 'EUR', txn_risk__km_from_last: 0 },
      { user_id: 'u3001', user_last_txn__amount_usd: 40, user_last_txn__currency: 'USD', txn_risk__km_from_last: expect.any(Number) },
      { user_id: 'u3002', user_last_txn__amount_usd: null, user_last_txn__currency: null, txn_risk__km_from_last: null },
      { user_id: 'u9999', user_last_txn__amount_usd: null, user_last_txn__currency: null, txn_risk__km_from_last: null },
    ]);
  });

  it('names the missing join key when the labels lack it', async (ctx) => {
    const c = await setUp(ctx);
    await writeFile(join(dir, 'no-keys.csv'), `merchant_id,event_timestamp\nm0001,${T0}\n`);
    const run = trainingSetCommand(
      { labels: join(dir, 'no-keys.csv'), features: 'user_last_txn:amount_usd', out: join(dir, 'x.parquet') },
      { registry, runner: new DuckDbTrainingRunner({ s3: c.s3, bucket }), database: 'tessera', s3: c.s3, stdout: capture(), stderr: capture() },
    );
    await expect(run).rejects.toThrow(/lack the join key\(s\) user_id/);
  });

  it('names the request context an on-demand feature needs when the labels do not carry it', async (ctx) => {
    const c = await setUp(ctx);
    await writeFile(join(dir, 'no-context.csv'), `user_id,event_timestamp\nu3001,${T0 + 15 * MINUTE}\n`);
    const run = trainingSetCommand(
      { labels: join(dir, 'no-context.csv'), features: 'txn_risk:amount_ratio', out: join(dir, 'x.parquet') },
      { registry, runner: new DuckDbTrainingRunner({ s3: c.s3, bucket }), database: 'tessera', s3: c.s3, stdout: capture(), stderr: capture() },
    );
    await expect(run).rejects.toThrow(/label row 0: request context for "txn_risk"/);
  });
});
