/**
 * The deployed erase handler against the emulators (DynamoDB and S3 over the wire): a card
 * holder's transactions reach every store through the batch handler — its own items and rows,
 * and the merchant's, whose latest row, buffered rows and last_n values name the card holder.
 * The handler is invoked as the operator's `tessera erase --stack` invokes it; the chunks it
 * queues (an in-process stand-in for the erasure queue) are delivered to it as SQS batches, in
 * reverse order. Afterwards no item of the table and no object of the bucket holds the id, the
 * merchant keeps its data with the id nulled, the job item counts every chunk, and a re-run is
 * a no-op.
 */

import { setTimeout as sleep } from 'node:timers/promises';
import { ScanCommand } from '@aws-sdk/client-dynamodb';
import type { SQSEvent } from 'aws-lambda';
import { describe, expect, it, type TestContext } from 'vitest';
import { type ErasureJobTarget, followErasure } from '../../cli/erase.js';
import * as demo from '../../features/index.js';
import { BucketObjects } from '../../lambdas/adapters/bucket-objects.js';
import { DynamoErasureJobStore } from '../../lambdas/adapters/erasure-jobs.js';
import { fromAttributes } from '../../lambdas/adapters/online-store.js';
import type { ChunkQueue } from '../../lambdas/adapters/ports.js';
import type { ErasureMessage } from '../../lambdas/app/erasure.js';
import type { ErasureJob, ErasureReceipt } from '../../lambdas/core/erasure.js';
import { Registry } from '../../lambdas/core/registry.js';
import { batchDependencies, createBatchHandler } from '../../lambdas/handlers/batch.js';
import { createEraseHandler, erasurePorts } from '../../lambdas/handlers/erase.js';
import { createRuntime, type Runtime, readConfig } from '../../lambdas/handlers/runtime.js';
import { ensureResources, localResourceNames } from '../../local/resources.js';
import { handlerEnvironment } from '../../local/store.js';
import { bucketTexts } from '../support/bucket-texts.js';
import { merchantRecentUsers } from '../support/merchant-recent-users.js';
import { latestOf, tiersOf } from '../support/online-items.js';
import { transactionMaker } from '../support/transactions.js';
import { useTarget } from '../support/use-target.js';

const T0 = 1_767_225_600_000; // 2026-01-01
const SUBJECT = 'u0001';
const registry = Registry.fromModule({ ...demo, merchantRecentUsers });
const target = useTarget();
let clock = T0 + 3_600_000;
let runtime: Runtime;
let ready: Promise<void> | undefined;

function setUp(ctx: TestContext) {
  const t = target.require(ctx);
  ready ??= (async () => {
    const names = { ...localResourceNames(registry), table: 'erase-online', bucket: 'erase-offline' };
    runtime = createRuntime(readConfig(handlerEnvironment(t, names, 'WARN')), { registry, now: () => clock });
    await ensureResources(runtime.clients, names, { region: t.region });
  })();
  return ready;
}

/** Every item of the table, whole, as text (an online item's compressed body decoded, as the store reads it). */
async function tableTexts(): Promise<Map<string, string>> {
  const texts = new Map<string, string>();
  let startKey: Record<string, never> | undefined;
  do {
    const page = await runtime.clients.dynamodb.send(new ScanCommand({ TableName: runtime.config.tableName, ExclusiveStartKey: startKey }));
    for (const item of page.Items ?? []) texts.set(item.pk?.S ?? '', JSON.stringify(item.d?.B ? fromAttributes(item) : item));
    startKey = page.LastEvaluatedKey as typeof startKey;
  } while (startKey);
  return texts;
}

const mentions = (text: string) => new RegExp(`\\b${SUBJECT}\\b`).test(text);

/** Starts a job as the operator's CLI does, then delivers its queued chunks to the workers in reverse order. */
async function eraseThroughQueue(entity: string): Promise<ErasureJob> {
  const queued: ErasureMessage[] = [];
  const queue: ChunkQueue<ErasureMessage> = { enqueue: async (messages) => void queued.push(...messages) };
  const ports = { ...erasurePorts(runtime), queue };
  const handler = createEraseHandler(runtime, ports);
  const started = (await handler({ erase: { entity, erasedBy: 'dpo@example.com', reason: 'request 42' } })) as { jobId: string; chunks: number };
  expect(started.chunks).toBe(queued.length);
  const reversed = [...queued].reverse();
  for (let i = 0; i < reversed.length; i += 2) {
    const event = {
      Records: reversed.slice(i, i + 2).map((m, j) => ({ messageId: `${i + j}`, body: JSON.stringify(m), attributes: { ApproximateReceiveCount: '1' } })),
    } as unknown as SQSEvent;
    expect(await handler(event)).toEqual({ batchItemFailures: [] });
  }
  const job = await new DynamoErasureJobStore(runtime.clients.dynamodb, runtime.config.tableName).get(started.jobId);
  if (!job) throw new Error(`no job item ${started.jobId}`);
  return job;
}

describe('the erase handler, deployed shape', { timeout: 180_000 }, () => {
  let receiptKey: string | undefined;
  let merchantBefore: { amount: unknown };

  it('leaves no trace of the subject in any item or object, and nulls its id in the merchant’s data', async (ctx) => {
    // Prepare: two batch files, the second after the merchant's first seal settled (its warm tier then holds last_n values).
    await setUp(ctx);
    const objects = new BucketObjects(runtime.clients.s3, runtime.config.bucket);
    const make = transactionMaker('erase-h', { ts: T0 + 60_000 });
    const users = ['u0002', SUBJECT, 'u0003'];
    const first = Array.from({ length: 24 }, (_, i) => make(users[i % 3] as string, { ts: T0 + 60_000 + i * 1000, merchant_id: i % 2 ? 'm0001' : 'm0002' }));
    const second = Array.from({ length: 6 }, (_, i) => make(i % 2 ? 'u0002' : SUBJECT, { ts: T0 + 120_000 + i * 1000 }));
    const last = make(SUBJECT, { ts: T0 + 200_000, amount: 77 });
    const bad = JSON.stringify({ ...make(SUBJECT), amount: -1 });
    const jsonl = (events: object[]) => events.map((e) => JSON.stringify(e)).join('\n');
    await objects.put('raw/transactions/date=2026-01-01/part-0.jsonl', Buffer.from(`${jsonl(first)}\n${bad}`), 'application/x-ndjson');
    const batch = createBatchHandler(runtime, batchDependencies(runtime));
    await batch({ source: 'transactions', from: T0, to: T0 + 86_400_000 - 1, inline: true });
    clock += 30_000;
    await objects.put('raw/transactions/date=2026-01-01/part-1.jsonl', Buffer.from(jsonl([...second, last])), 'application/x-ndjson');
    await batch({ source: 'transactions', from: T0, to: T0 + 86_400_000 - 1, inline: true });
    const tables = await tableTexts();
    const warm = [...tables].find(([pk]) => pk.startsWith('transactions:merchant_id#m0001#'));
    expect(warm?.[1], 'the merchant’s warm tier holds last_n values naming the subject').toMatch(/recent_users_1d/);
    expect(mentions(warm?.[1] ?? '')).toBe(true);
    expect((await latestOf(runtime.online, registry, 'merchant_txn_stats', 'm0001'))?.f.user_id).toBe(SUBJECT);
    merchantBefore = { amount: (await latestOf(runtime.online, registry, 'merchant_txn_stats', 'm0001'))?.f.amount_usd };

    // Act
    const job = await eraseThroughQueue(`user_id=${SUBJECT}`);

    // Assess: the job counted every chunk and wrote the receipt.
    expect(job.done).toEqual(job.chunks);
    expect(job.failed).toBe(0);
    expect(job.chunks.offline).toBeGreaterThan(0);
    expect(job.removed.onlineItems).toBeGreaterThan(0);
    expect(job.removed.onlineItemsScrubbed).toBeGreaterThanOrEqual(2);
    expect(job.removed.offlineRowsScrubbed).toBeGreaterThan(0);
    expect(job.removed).toMatchObject({ rawRecords: 1 + 8 + 3 + 1, deadLetters: 1 });
    // No item of the table and no object of the bucket names the subject; the job item names it by pseudonym.
    const after = await tableTexts();
    expect([...after].filter(([, text]) => mentions(text)).map(([pk]) => pk)).toEqual([]);
    const texts = await bucketTexts(objects);
    expect([...texts].filter(([, text]) => mentions(text)).map(([key]) => key)).toEqual([]);
    // The merchant keeps its data: the latest row with the id nulled, the other card holders in its values.
    const merchant = await latestOf(runtime.online, registry, 'merchant_txn_stats', 'm0001');
    expect(merchant?.f).toEqual({ user_id: null, amount_usd: merchantBefore.amount });
    expect((await tiersOf(runtime.online, registry, 'merchant_recent_users', 'm0001')).some((t) => JSON.stringify(t).includes('u0002'))).toBe(true);
    expect([...texts].some(([key, text]) => key.startsWith('offline/merchant_txn_stats/') && text.includes('u0003'))).toBe(true);
    receiptKey = job.receiptKey;
    const receipt = JSON.parse(texts.get(receiptKey ?? '') ?? '{}') as ErasureReceipt;
    expect(receipt).toMatchObject({ subject: { entity: 'user', joinKey: 'user_id' }, erasedBy: 'dpo@example.com', reason: 'request 42', removed: job.removed });
  });

  it('a re-run finds nothing, changes nothing and writes no receipt', async (ctx) => {
    // Prepare
    await setUp(ctx);
    const objects = new BucketObjects(runtime.clients.s3, runtime.config.bucket);
    const itemsBefore = [...(await tableTexts())].filter(([pk]) => !pk.startsWith('erasure#'));
    const objectsBefore = await objects.list('');

    // Act
    const job = await eraseThroughQueue(`user_id=${SUBJECT}`);

    // Assess
    expect(job.done).toEqual(job.chunks);
    expect(Object.values(job.removed).every((n) => n === 0)).toBe(true);
    expect(job.receiptKey).toBeUndefined();
    expect([...(await tableTexts())].filter(([pk]) => !pk.startsWith('erasure#'))).toEqual(itemsBefore);
    expect(await objects.list('')).toEqual(objectsBefore);
    expect(objectsBefore.filter((o) => o.key.startsWith('erasure/')).map((o) => o.key)).toEqual([receiptKey]);
  });

  it('tessera erase --stack follows the job item until the workers finish every chunk, then shows the receipt', async (ctx) => {
    // Prepare: the deployed function stood in by the handler; its queue delivers chunks to it one by one, a little later.
    await setUp(ctx);
    const objects = new BucketObjects(runtime.clients.s3, runtime.config.bucket);
    const jobs = new DynamoErasureJobStore(runtime.clients.dynamodb, runtime.config.tableName);
    const deliveries: Promise<unknown>[] = [];
    const queue: ChunkQueue<ErasureMessage> = {
      enqueue: async (messages) => {
        let chain: Promise<unknown> = sleep(50);
        messages.forEach((m, i) => {
          chain = chain.then(async () => {
            await sleep(20);
            return handler({
              Records: [{ messageId: String(i), body: JSON.stringify(m), attributes: { ApproximateReceiveCount: '1' } }],
            } as unknown as SQSEvent);
          });
        });
        deliveries.push(chain);
      },
    };
    const handler = createEraseHandler(runtime, { ...erasurePorts(runtime), queue });
    const target: ErasureJobTarget = {
      jobs,
      start: async (request) => ((await handler({ erase: request })) as { jobId: string }).jobId,
      receipt: async (key) => JSON.parse((await objects.get(key)).toString('utf8')) as ErasureReceipt,
    };
    const seen: ErasureJob[] = [];

    // Act
    const result = await followErasure(target, { entity: 'user_id=u0003', erasedBy: 'dpo@example.com' }, (job) => seen.push(job), 10);
    await Promise.all(deliveries);

    // Assess: progress went up chunk by chunk to every chunk done, then the receipt.
    expect(seen.length).toBeGreaterThan(2);
    const done = seen.map((job) => Object.values(job.done).reduce((a, b) => a + b, 0));
    expect(done).toEqual([...done].sort((a, b) => a - b));
    expect(seen.at(-1)?.done).toEqual(seen.at(-1)?.chunks);
    expect(result.receipt?.receipt.removed.rawRecords).toBe(8);
    expect(result.receipt?.key).toBe((await jobs.get(result.jobId))?.receiptKey);
    expect([...(await bucketTexts(objects)).values()].some((text) => /\bu0003\b/.test(text))).toBe(false);
  });

  it('refuses to start a job for an unknown join key or without who asked, and creates no job', async (ctx) => {
    await setUp(ctx);
    const handler = createEraseHandler(runtime, erasurePorts(runtime));
    const jobsBefore = [...(await tableTexts()).keys()].filter((pk) => pk.startsWith('erasure#'));

    await expect(handler({ erase: { entity: 'card=4111', erasedBy: 'dpo' } })).rejects.toThrow(/no entity has the join key "card"/);
    await expect(handler({ erase: { entity: 'user_id=u0009' } as never })).rejects.toThrow(/erasedBy/);

    expect([...(await tableTexts()).keys()].filter((pk) => pk.startsWith('erasure#'))).toEqual(jobsBefore);
  });
});
