/**
 * "As served" means what the API answered at t. So a row may not be in the offline store
 * before the online store serves its value: when one item's online write fails, the stream
 * handler leaves that item's rows out of the offline write and Lambda's retry writes them,
 * stamped with the retry's ingest time. This test fails one item's write (INJECTED: no
 * emulator fails a write; a middleware on the handler's own DynamoDB client does), builds
 * as-served training sets between the failed attempt and the retry, and after it.
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ProvisionedThroughputExceededException, type PutItemCommandInput } from '@aws-sdk/client-dynamodb';
import type { KinesisStreamBatchResponse } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import * as demo from '../../features/index.js';
import { DuckDbQueryRunner } from '../../lambdas/adapters/duckdb-runner.js';
import { buildTrainingSet, createTrainingSetRunner } from '../../lambdas/app/training-set.js';
import { Registry } from '../../lambdas/core/registry.js';
import { createRuntime, readConfig } from '../../lambdas/handlers/runtime.js';
import { createStreamHandler } from '../../lambdas/handlers/stream.js';
import { kinesisEvent } from '../../local/event-source-mapping.js';
import { ensureResources, localResourceNames } from '../../local/resources.js';
import { handlerEnvironment } from '../../local/store.js';
import { hotKey } from '../support/online-items.js';
import { useTarget } from '../support/use-target.js';

const registry = Registry.fromModule(demo);
const target = useTarget();
const T1 = Date.UTC(2026, 0, 2, 10);
const T2 = T1 + 60_000;

describe('offline rows of failed online writes', () => {
  it('are absent from an as-served training set until the retry has served them, then carry the retry time', { timeout: 120_000 }, async (ctx) => {
    // Prepare: a fresh table and bucket; two users' transactions in one Kinesis batch.
    const access = target.require(ctx);
    const names = { ...localResourceNames(registry), table: `served-${randomUUID().slice(0, 8)}`, bucket: `served-${randomUUID().slice(0, 8)}` };
    let clock = T1;
    const runtime = createRuntime(readConfig(handlerEnvironment(access, names, 'ERROR')), { registry, now: () => clock });
    await ensureResources(runtime.clients, names, { region: access.region });
    const workDir = await mkdtemp(join(tmpdir(), 'tessera-served-'));
    const handler = createStreamHandler(runtime);
    const event = (user: string, i: number) => ({
      PartitionKey: user,
      SequenceNumber: String(49_000_000 + i),
      Data: Buffer.from(
        JSON.stringify({ ...demo.transactions.example, event_id: `served-${user}`, user_id: user, amount: 10 + i, currency: 'USD', ts: T1 - 5_000 }),
      ),
      ApproximateArrivalTimestamp: new Date(T1),
    });
    const records = [event('u7001', 1), event('u7002', 2)];
    const where = { region: access.region, streamName: names.streams.transactions as string, shardId: 'shardId-000000000000' };
    // INJECTED FAULT: the first write of u7002's hot item is throttled.
    const failing = hotKey(registry, 'user_last_txn', 'u7002');
    let faults = 1;
    runtime.clients.dynamodb.middlewareStack.add(
      (next, context) => async (args) => {
        if (context.commandName === 'PutItemCommand' && (args.input as PutItemCommandInput).Item?.pk?.S === failing && faults-- > 0) {
          throw new ProvisionedThroughputExceededException({ message: 'injected fault: write throttled', $metadata: {} });
        }
        return next(args);
      },
      { step: 'initialize', name: 'injected-fault-one-item' },
    );
    const amountsAt = async (t: number, asServed: boolean): Promise<Record<string, unknown>> => {
      const labels = join(workDir, `labels-${t}.csv`);
      await writeFile(labels, `user_id,event_timestamp\nu7001,${t}\nu7002,${t}\n`);
      const out = join(workDir, `train-${t}-${asServed}.parquet`);
      const runner = await createTrainingSetRunner({ engine: 'duckdb', s3: runtime.clients.s3, bucket: names.bucket });
      await buildTrainingSet(
        { labels, features: ['user_last_txn:amount_usd'], asServed, out },
        { registry, runner, database: 'tessera', s3: runtime.clients.s3 },
      );
      const duck = await DuckDbQueryRunner.open();
      const rows = await duck.run(`SELECT user_id, user_last_txn__amount_usd AS amount FROM read_parquet('${out}') ORDER BY user_id`);
      duck.close();
      return Object.fromEntries(rows.map((r) => [r.user_id as string, r.amount]));
    };

    try {
      // Act 1: the first attempt — u7001 is written, u7002's item fails and is reported back.
      const first = (await handler(kinesisEvent(records, where))) as KinesisStreamBatchResponse;
      expect(first.batchItemFailures).toEqual([{ itemIdentifier: '49000002' }]);
      // Assess 1: between the attempt and the retry, as served: u7001's value, not u7002's.
      expect(await amountsAt(T1 + 30_000, true)).toEqual({ u7001: 11, u7002: null });

      // Act 2: Lambda's retry, a minute later, from the failed record on.
      clock = T2;
      const retry = (await handler(kinesisEvent(records.slice(1), where))) as KinesisStreamBatchResponse;
      expect(retry.batchItemFailures).toEqual([]);
      // Assess 2: as served, u7002 appears from the retry's ingest time on; by event time it was always there.
      expect(await amountsAt(T2 - 1, true)).toEqual({ u7001: 11, u7002: null });
      expect(await amountsAt(T2, true)).toEqual({ u7001: 11, u7002: 12 });
      expect(await amountsAt(T1, false)).toEqual({ u7001: 11, u7002: 12 });
    } finally {
      await rm(workDir, { recursive: true, force: true });
      runtime.clients.dynamodb.destroy();
      runtime.clients.s3.destroy();
      runtime.clients.kinesis.destroy();
    }
  });
});
