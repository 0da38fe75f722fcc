/**
 * The offline store over the wire: the real stream handler, built with `createRuntime` on the
 * target TESSERA_TARGET names (default: embedded emulators), writes Parquet objects to S3;
 * they read back row for row; a retried batch adds nothing; compaction merges, drops copies
 * and is a no-op the second time; a training set built through the DuckDB runner from those
 * objects equals the brute-force reference — before and after compaction.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { KinesisStreamEvent } from 'aws-lambda';
import { afterAll, describe, expect, it, type TestContext } from 'vitest';
import type { Transaction } from '../../features/fraud.js';
import * as definitions from '../../features/index.js';
import { type AwsClients, createClients } from '../../lambdas/adapters/aws.js';
import { DuckDbQueryRunner, DuckDbTrainingRunner, sqlString } from '../../lambdas/adapters/duckdb-runner.js';
import { S3OfflineObjects } from '../../lambdas/adapters/offline-objects.js';
import { decodeRows } from '../../lambdas/adapters/parquet.js';
import { OfflineCompactor } from '../../lambdas/app/compaction.js';
import { buildTrainingSet } from '../../lambdas/app/training-set.js';
import type { Row } from '../../lambdas/core/definitions.js';
import type { ViewRow } from '../../lambdas/core/ingest.js';
import { parseOfflineKey } from '../../lambdas/core/offline.js';
import { referenceTrainingSet } from '../../lambdas/core/point-in-time-reference.js';
import { Registry } from '../../lambdas/core/registry.js';
import { featureColumns, onDemandValues } from '../../lambdas/core/training-set.js';
import { createCompactHandler } from '../../lambdas/handlers/compact.js';
import { createRuntime, type Runtime, readConfig } from '../../lambdas/handlers/runtime.js';
import { createStreamHandler } from '../../lambdas/handlers/stream.js';
import { kinesisEvent } from '../../local/event-source-mapping.js';
import { ensureResources } from '../../local/resources.js';
import { handlerEnvironment } from '../../local/store.js';
import { useTarget } from '../support/use-target.js';

const T = useTarget();
const run = randomUUID().slice(0, 8);
const registry = Registry.fromModule(definitions);
/** 09:40 UTC: the events below span two hours and two partitions per view. */
const T0 = Date.UTC(2026, 0, 5, 9, 40, 0);
const MINUTE = 60_000;

let clock = T0 + 30 * MINUTE;
let runtime: Runtime | undefined;
let clients: AwsClients;
let bucket: string;

async function setUp(ctx: TestContext): Promise<{ runtime: Runtime; handle: (event: KinesisStreamEvent) => Promise<unknown> }> {
  const target = T.require(ctx);
  if (!runtime) {
    bucket = target.resources?.bucket ?? `tessera-offline-it-${run}`;
    const names = { table: target.resources?.table ?? `tessera-offline-it-${run}`, bucket, streams: { transactions: `tessera-offline-it-${run}` } };
    runtime = createRuntime(readConfig(handlerEnvironment(target, names, 'ERROR')), { registry, now: () => clock });
    clients = createClients(target);
    await ensureResources(clients, names, { region: target.region, shardCount: 1 });
  }
  return { runtime, handle: createStreamHandler(runtime) };
}

afterAll(() => {
  for (const client of Object.values(runtime?.clients ?? {})) client.destroy();
  for (const client of Object.values(clients ?? {})) client.destroy();
});

let serial = 0;
function txn(userId: string, minutes: number, overrides: Partial<Transaction> = {}): Transaction {
  serial += 1;
  return {
    event_id: `off-${run}-${serial}`,
    user_id: userId,
    merchant_id: 'm0001',
    amount: 10 * serial,
    currency: 'EUR',
    lat: 48 + serial / 100,
    lon: 2,
    ts: T0 + minutes * MINUTE,
    ...overrides,
  };
}

const sequence = (n: number) => String(49_000_000_000_000_000_000_000n + BigInt(n));

/** A Kinesis event of these transactions, as Lambda delivers it: one shard, increasing sequence numbers. */
function batch(events: readonly Transaction[], firstSequence: number): KinesisStreamEvent {
  return kinesisEvent(
    events.map((e, i) => ({
      PartitionKey: e.user_id,
      SequenceNumber: sequence(firstSequence + i),
      Data: Buffer.from(JSON.stringify(e)),
      ApproximateArrivalTimestamp: new Date(clock),
    })),
    { region: 'us-east-1', streamName: `tessera-offline-it-${run}`, shardId: 'shardId-000000000000' },
  );
}

interface Listed {
  readonly key: string;
  readonly etag: string;
}

async function listOffline(): Promise<Listed[]> {
  const listed: Listed[] = [];
  let token: string | undefined;
  do {
    const page = await clients.s3.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: 'offline/', ContinuationToken: token }));
    for (const o of page.Contents ?? []) listed.push({ key: o.Key as string, etag: o.ETag as string });
    token = page.IsTruncated ? page.NextContinuationToken : undefined;
  } while (token);
  return listed.sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** Every offline row in S3, decoded, by view. */
async function rowsInS3(): Promise<Map<string, ViewRow[]>> {
  const rows = new Map<string, ViewRow[]>();
  for (const { key } of await listOffline()) {
    const view = registry.views.get(parseOfflineKey(key)?.view ?? '');
    if (!view) continue;
    const got = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    const decoded = await decodeRows(view, Buffer.from(await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray()));
    rows.set(view.name, [...(rows.get(view.name) ?? []), ...decoded]);
  }
  return rows;
}

const first = [txn('u2001', 0), txn('u2002', 5, { merchant_id: 'm0002', currency: 'USD' }), txn('u2001', 30)];
const second = [txn('u2001', 45, { amount: 999 }), txn('u2003', 50)];

describe('the offline store behind the stream handler', { timeout: 120_000 }, () => {
  it('writes every transformed row as Parquet to offline/<view>/date=/hour=/, by event time, with ingest_ts', async (ctx) => {
    // Prepare
    const { handle } = await setUp(ctx);
    clock = T0 + 31 * MINUTE;

    // Act
    await handle(batch(first, 0));

    // Assess
    const keys = (await listOffline()).map((o) => o.key);
    const views = registry.viewsOfSource('transactions').map((v) => v.name);
    const name = `shardId-000000000000_${sequence(0)}_${sequence(2)}.parquet`;
    expect(keys).toEqual(
      views.flatMap((view) => [`offline/${view}/date=2026-01-05/hour=09/${name}`, `offline/${view}/date=2026-01-05/hour=10/${name}`]).sort(),
    );
    const rows = await rowsInS3();
    expect(
      rows
        .get('user_last_txn')
        ?.map((r) => [r.keys.user_id, r.eventTs, r.ingestTs, r.eventId])
        .sort(),
    ).toEqual(first.map((e) => [e.user_id, e.ts, clock, e.event_id]).sort());
    const u2002 = rows.get('user_last_txn')?.find((r) => r.keys.user_id === 'u2002');
    expect(u2002?.values).toEqual({ amount_usd: 20, currency: 'USD', merchant_id: 'm0002', is_foreign: false });
    expect(rows.get('user_merchant_last_txn')?.find((r) => r.keys.user_id === 'u2002')?.keys).toEqual({ user_id: 'u2002', merchant_id: 'm0002' });
  });

  it('a retried batch overwrites its own objects and never duplicates rows', async (ctx) => {
    // Prepare
    const { handle } = await setUp(ctx);
    const before = (await listOffline()).map((o) => o.key);
    const rowsBefore = [...(await rowsInS3()).values()].flat().length;

    // Act: Lambda delivers the same batch again, a little later
    clock = T0 + 32 * MINUTE;
    await handle(batch(first, 0));

    // Assess
    expect((await listOffline()).map((o) => o.key)).toEqual(before);
    expect([...(await rowsInS3()).values()].flat().length).toBe(rowsBefore);
  });

  it('compaction merges each partition into one object, drops copies of events, and changes nothing when run again', async (ctx) => {
    // Prepare: a second batch, and a redelivery of part of it under another batch name (copies of events)
    const { handle, runtime: r } = await setUp(ctx);
    clock = T0 + 60 * MINUTE;
    await handle(batch(second, 10));
    clock = T0 + 61 * MINUTE;
    await handle(batch(second.slice(1), 11));
    const raw = await rowsInS3();
    const copies = [...raw.values()].flat().length;
    // Compaction compares S3's LastModified with its clock: the real one, not the test's event clock.
    const compact = createCompactHandler({ ...r, objects: new S3OfflineObjects(r.clients.s3, bucket), now: Date.now, minAgeMs: 0 });

    // Act
    const report = await compact();
    const afterFirst = await listOffline();
    const again = await compact();

    // Assess
    const partitions = new Set(afterFirst.map((o) => o.key.slice(0, o.key.lastIndexOf('/'))));
    expect(afterFirst).toHaveLength(partitions.size);
    expect(afterFirst.every((o) => /\/compacted-[0-9a-f]{32}\.parquet$/.test(o.key))).toBe(true);
    expect(report.rowsRead).toBe(copies);
    const distinct = registry.viewsOfSource('transactions').length * (first.length + second.length);
    expect(report.rowsWritten).toBe(distinct);
    expect(again).toEqual({ partitions: 0, objectsRead: 0, rowsRead: 0, rowsWritten: 0, skipped: 0 });
    expect(await listOffline()).toEqual(afterFirst);
    // The copy that survives is the one ingested first.
    const u2003 = (await rowsInS3()).get('user_last_txn')?.filter((row) => row.keys.user_id === 'u2003');
    expect(u2003?.map((row) => row.ingestTs)).toEqual([T0 + 60 * MINUTE]);
  });

  it('compaction leaves objects younger than the minimum age alone', async (ctx) => {
    const { runtime: r } = await setUp(ctx);
    const compactor = new OfflineCompactor(new S3OfflineObjects(r.clients.s3, bucket), registry, { minAgeMs: 3_600_000 });
    const before = await listOffline();
    expect((await compactor.run(Date.now())).partitions).toBe(0);
    expect(await listOffline()).toEqual(before);
  });
});

describe('a training set from the offline objects through the DuckDB runner', { timeout: 120_000 }, () => {
  const features = [
    'user_last_txn:amount_usd',
    'user_last_txn:currency',
    'user_location:lat',
    'merchant_last_txn:amount_usd',
    'user_merchant_last_txn:amount_usd',
    'txn_risk:km_from_last',
    'txn_risk:amount_ratio',
  ];
  const plan = registry.plan(features);
  const at = (minutes: number) => T0 + minutes * MINUTE;
  const labels: Row[] = [
    { user_id: 'u2001', merchant_id: 'm0001', event_timestamp: at(0) - 1, amount: 10, currency: 'EUR', lat: 48, lon: 2, is_fraud: 0 },
    { user_id: 'u2001', merchant_id: 'm0001', event_timestamp: at(0), amount: 10, currency: 'EUR', lat: 48, lon: 2, is_fraud: 0 },
    { user_id: 'u2001', merchant_id: 'm0001', event_timestamp: at(46), amount: 25, currency: 'USD', lat: 49, lon: 2.5, is_fraud: 1 },
    { user_id: 'u2001', merchant_id: 'm0001', event_timestamp: at(46), amount: 25, currency: 'USD', lat: 49, lon: 2.5, is_fraud: 1 },
    { user_id: 'u2002', merchant_id: 'm0002', event_timestamp: at(60 * 24 * 40), amount: 5, currency: 'GBP', lat: 51, lon: 0, is_fraud: 0 },
    { user_id: 'u9999', merchant_id: 'm0002', event_timestamp: at(50), amount: 1, currency: 'EUR', lat: 0, lon: 0, is_fraud: 0 },
    { user_id: 'u2003', merchant_id: 'm0001', event_timestamp: at(55), amount: 7, currency: 'CHF', lat: 47, lon: 8, is_fraud: 0 },
  ];

  /** The reference: rows as written (copies and all), on-demand features by their own compute. */
  async function expected(asServed: boolean): Promise<Row[]> {
    const joined = referenceTrainingSet({ plan, rows: await rowsInS3(), labels, timestampColumn: 'event_timestamp', asServed });
    return joined.map((row, i) => {
      const label = Object.fromEntries(Object.keys(labels[0] as Row).map((c) => [c, row[c]]));
      const all = { ...row, ...onDemandValues(plan, label, row, i) };
      return Object.fromEntries([...Object.keys(label), ...featureColumns(plan)].map((c) => [c, all[c]]));
    });
  }

  async function build(labelsPath: string, out: string, asServed = false) {
    const runner = new DuckDbTrainingRunner({ s3: clients.s3, bucket });
    return buildTrainingSet({ labels: labelsPath, features, out, asServed }, { registry, runner, database: 'tessera', s3: clients.s3 });
  }

  async function readOut(path: string): Promise<Row[]> {
    const db = await DuckDbQueryRunner.open();
    try {
      return await db.run(`SELECT * FROM ${path.endsWith('.csv') ? 'read_csv' : 'read_parquet'}(${sqlString(path)})`);
    } finally {
      db.close();
    }
  }

  it('matches the reference, with on-demand features, and reports null rates (labels as CSV with ISO times)', async (ctx) => {
    await setUp(ctx);
    const dir = await mkdtemp(join(tmpdir(), 'tessera-ts-'));
    try {
      const header = Object.keys(labels[0] as Row);
      const csv = [
        header.join(','),
        ...labels.map((l) => header.map((c) => (c === 'event_timestamp' ? new Date(l[c] as number).toISOString() : String(l[c]))).join(',')),
      ];
      await writeFile(join(dir, 'labels.csv'), `${csv.join('\n')}\n`);
      for (const asServed of [false, true]) {
        const out = join(dir, `out-${asServed}.parquet`);
        const summary = await build(join(dir, 'labels.csv'), out, asServed);
        const actual = await readOut(out);
        expect(actual).toEqual(await expected(asServed));
        expect(summary.rows).toBe(labels.length);
        expect(summary.features).toEqual(featureColumns(plan));
        expect(summary.nullRates.user_last_txn__amount_usd).toBeCloseTo(actual.filter((r) => r.user_last_txn__amount_usd === null).length / labels.length);
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('reads labels from s3:// and writes the result to s3://', async (ctx) => {
    await setUp(ctx);
    const dir = await mkdtemp(join(tmpdir(), 'tessera-ts-'));
    try {
      const db = await DuckDbQueryRunner.open();
      const local = join(dir, 'labels.parquet');
      const values = labels.map(
        (l) =>
          `(${Object.values(l)
            .map((v) => (typeof v === 'string' ? sqlString(v) : String(v)))
            .join(', ')})`,
      );
      await db.exec(
        `COPY (SELECT * FROM (VALUES ${values.join(', ')}) AS t(${Object.keys(labels[0] as Row).join(', ')})) TO ${sqlString(local)} (FORMAT PARQUET)`,
      );
      db.close();
      const { readFile } = await import('node:fs/promises');
      await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'labels/fraud.parquet', Body: await readFile(local) }));

      const summary = await build(`s3://${bucket}/labels/fraud.parquet`, `s3://${bucket}/training/fraud.parquet`);

      const got = await clients.s3.send(new GetObjectCommand({ Bucket: bucket, Key: 'training/fraud.parquet' }));
      await writeFile(join(dir, 'out.parquet'), await (got.Body as { transformToByteArray(): Promise<Uint8Array> }).transformToByteArray());
      expect(await readOut(join(dir, 'out.parquet'))).toEqual(await expected(false));
      expect(summary.location).toBe(`s3://${bucket}/training/fraud.parquet`);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
