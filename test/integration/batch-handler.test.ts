import { GetObjectCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { CreateQueueCommand, DeleteMessageCommand, ReceiveMessageCommand } from '@aws-sdk/client-sqs';
import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it, type TestContext } from 'vitest';
import { TransactionGenerator } from '../../features/generator.js';
import * as demo from '../../features/index.js';
import { SqsChunkQueue } from '../../lambdas/adapters/chunk-queue.js';
import type { Chunk } from '../../lambdas/adapters/ports.js';
import type { RunResult } from '../../lambdas/app/backfill.js';
import { onlineGroups, tierKeys } from '../../lambdas/core/online.js';
import { Registry } from '../../lambdas/core/registry.js';
import { batchDependencies, createBatchHandler } from '../../lambdas/handlers/batch.js';
import { createRuntime, type Runtime, readConfig } from '../../lambdas/handlers/runtime.js';
import { ensureResources, localResourceNames } from '../../local/resources.js';
import { handlerEnvironment } from '../../local/store.js';
import { latestOf } from '../support/online-items.js';
import { useTarget } from '../support/use-target.js';

const T0 = 1_767_225_600_000; // 2026-01-01
const registry = Registry.fromModule(demo);
const target = useTarget();
let clock = T0 + 3_600_000;
let runtime: Runtime;
let ready: Promise<void> | undefined;

/** Builds the runtime on the file's target once; skips (with the reason) where the target is unavailable. */
function setUp(ctx: TestContext, ...needs: Parameters<typeof target.require>[1][]) {
  const t = target.require(ctx, ...needs);
  ready ??= (async () => {
    const names = { ...localResourceNames(registry), table: 'batch-online', bucket: 'batch-offline' };
    runtime = createRuntime(readConfig(handlerEnvironment(t, names, 'WARN')), { registry, now: () => clock });
    await ensureResources(runtime.clients, names, { region: t.region });
  })();
  return ready;
}

async function put(key: string, body: string) {
  await runtime.clients.s3.send(new PutObjectCommand({ Bucket: runtime.config.bucket, Key: key, Body: Buffer.from(body) }));
}

const jsonl = (events: object[]) => events.map((e) => JSON.stringify(e)).join('\n');

describe('the batch handler', () => {
  it('applies JSON-lines and CSV files of a date range with the stream path’s transforms, and dead-letters bad lines', async (ctx) => {
    await setUp(ctx);
    const gen = new TransactionGenerator({ seed: 7, users: 5, merchants: 3, startTs: T0 });
    const events = gen.take(40);
    await put(
      'raw/transactions/date=2026-01-01/part-0.jsonl',
      `${jsonl(events.slice(0, 20))}\n{"event_id": broken\n${JSON.stringify({ ...events[0], event_id: 'bad-amount', amount: 'ten' })}`,
    );
    const header = 'event_id,user_id,merchant_id,amount,currency,lat,lon,ts';
    const csv = events.slice(20).map((e) => [e.event_id, e.user_id, e.merchant_id, e.amount, e.currency, e.lat, e.lon, e.ts].join(','));
    await put('raw/transactions/date=2026-01-01/part-1.csv', [header, ...csv].join('\n'));
    await put('raw/transactions/date=2025-12-01/old.jsonl', jsonl([{ ...events[0], event_id: 'outside-range' }]));

    const handler = createBatchHandler(runtime, batchDependencies(runtime));
    const result = (await handler({ source: 'transactions', from: '2026-01-01T00:00:00Z', to: '2026-01-01T23:59:59Z' })) as RunResult;

    expect(result).toMatchObject({ chunks: 2, queued: false, rejected: 2 });
    const last = [...events]
      .sort((a, b) => a.ts - b.ts)
      .filter((e) => e.user_id === events[0]!.user_id)
      .at(-1)!;
    expect((await latestOf(runtime.online, runtime.registry, 'user_last_txn', last.user_id))?.s[2]).toBe(last.event_id);
    const letters = await runtime.clients.s3.send(new ListObjectsV2Command({ Bucket: runtime.config.bucket, Prefix: 'dead-letter/transactions/' }));
    expect(letters.Contents?.map((o) => o.Key).sort()).toEqual([
      'dead-letter/transactions/date=2026-01-01/raw-transactions-date=2026-01-01-part-0.jsonl-21.json',
      'dead-letter/transactions/date=2026-01-01/raw-transactions-date=2026-01-01-part-0.jsonl-22.json',
    ]);
    const offline = await runtime.clients.s3.send(new ListObjectsV2Command({ Bucket: runtime.config.bucket, Prefix: 'offline/user_last_txn/' }));
    expect(offline.KeyCount).toBeGreaterThan(0);
    const job = await batchDependencies(runtime).jobs.get(result.jobId);
    expect(job).toMatchObject({ chunks: 2, done: 2, rows: 40 * 6, rejected: 2 });
  });

  it('changes nothing when the same run is applied again', async (ctx) => {
    await setUp(ctx);
    const pks = ['u0001', 'u0002'].flatMap((u) => tierKeys(onlineGroups(runtime.registry.views).get('user_txn_stats')!, u));
    const before = await runtime.online.read(pks);
    clock += 1_000;
    const handler = createBatchHandler(runtime, batchDependencies(runtime));
    await handler({ source: 'transactions', from: '2026-01-01T00:00:00Z', to: '2026-01-01T23:59:59Z' });
    const after = await runtime.online.read(pks);
    expect([...after.values()].map((i) => i.version)).toEqual([...before.values()].map((i) => i.version));
    expect(after).toEqual(before);
  });

  it('holds backfilled files to the same checks as the stream: an event after the run time or with an oversize key is dead-lettered whole', async (ctx) => {
    // Prepare: the run happens at `clock` (T0 + 1 h); each bad event has a merchant of its own
    await setUp(ctx);
    const [event] = new TransactionGenerator({ seed: 11, users: 1, merchants: 1, startTs: T0 }).take(1);
    const lines = [
      { ...event, event_id: 'checked-good', user_id: 'u0901', merchant_id: 'm0901', ts: T0 + 600_000 },
      { ...event, event_id: 'checked-ahead', user_id: 'u0902', merchant_id: 'm0902', ts: clock + 3_600_000 },
      { ...event, event_id: 'checked-long', user_id: `u${'9'.repeat(2100)}`, merchant_id: 'm0903', ts: T0 + 600_000 },
    ];
    await put('raw/transactions/date=2026-01-01/checked.jsonl', jsonl(lines));

    // Act
    const handler = createBatchHandler(runtime, batchDependencies(runtime));
    await handler({ source: 'transactions', from: '2026-01-01T00:00:00Z', to: '2026-01-01T23:59:59Z' });

    // Assess
    const read = async (key: string) => {
      const { Body } = await runtime.clients.s3.send(new GetObjectCommand({ Bucket: runtime.config.bucket, Key: key }));
      return JSON.parse(await (Body as { transformToString(): Promise<string> }).transformToString()).rejection;
    };
    const prefix = 'dead-letter/transactions/date=2026-01-01/raw-transactions-date=2026-01-01-checked.jsonl';
    expect(await read(`${prefix}-2.json`)).toMatchObject({ code: 'EventTimeOutOfRange', message: expect.stringContaining('maxFutureSkew 5m ahead') });
    expect(await read(`${prefix}-3.json`)).toMatchObject({ code: 'KeyTooLong' });
    const stored = await Promise.all(['m0901', 'm0902', 'm0903'].map((m) => latestOf(runtime.online, runtime.registry, 'merchant_last_txn', m)));
    expect(stored.map((row) => row !== undefined)).toEqual([true, false, false]);
  });

  it('spreads a large run over the queue, one chunk per file, and the workers finish the job', async (ctx) => {
    await setUp(ctx, 'sqs');
    // The run happens after the day it replays, as a backfill does: events ahead of it are refused.
    clock = T0 + 2 * 86_400_000;
    const { QueueUrl } = await runtime.clients.sqs.send(new CreateQueueCommand({ QueueName: 'tessera-backfill-test' }));
    const gen = new TransactionGenerator({ seed: 9, users: 5, merchants: 3, startTs: T0 + 86_400_000 });
    for (let i = 0; i < 6; i++) await put(`raw/transactions/date=2026-01-02/part-${i}.jsonl`, jsonl(gen.take(10)));
    const deps = { ...batchDependencies(runtime), queue: new SqsChunkQueue(runtime.clients.sqs, QueueUrl!) };
    const handler = createBatchHandler(runtime, deps);

    const run = (await handler({ source: 'transactions', from: '2026-01-02T00:00:00Z', to: '2026-01-02T23:59:59Z' })) as RunResult;
    expect(run).toMatchObject({ chunks: 6, queued: true });
    let delivered = 0;
    while (delivered < 6) {
      const { Messages = [] } = await runtime.clients.sqs.send(new ReceiveMessageCommand({ QueueUrl, MaxNumberOfMessages: 10, WaitTimeSeconds: 1 }));
      const event: SQSEvent = { Records: Messages.map((m) => ({ messageId: m.MessageId!, body: m.Body! }) as SQSEvent['Records'][number]) };
      const response = await handler(event);
      expect(response).toEqual({ batchItemFailures: [] });
      for (const m of Messages) await runtime.clients.sqs.send(new DeleteMessageCommand({ QueueUrl, ReceiptHandle: m.ReceiptHandle! }));
      delivered += Messages.length;
      expect((JSON.parse(Messages[0]?.Body ?? '{}') as Chunk).jobId ?? run.jobId).toBe(run.jobId);
    }
    expect(await deps.jobs.get(run.jobId)).toMatchObject({ chunks: 6, done: 6, rows: 60 * 6 });
  });
});
