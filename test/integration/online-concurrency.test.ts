/**
 * Concurrent writers on one entity, as in AWS: a merchant's items are written by every shard's
 * Lambda at once (the stream's partition key is the user). Eight writers — eight shards'
 * invocations — apply overlapping batches of one merchant's events at the same moments through
 * the real DynamoDB adapter, some batches twice (Lambda's retries), while the hot tier seals
 * and the tiers below absorb. Nothing may be lost or counted twice: the per-item version
 * condition is what holds it, and this test fails when it is weakened.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import * as demo from '../../features/index.js';
import { createClients } from '../../lambdas/adapters/aws.js';
import { DynamoOnlineStore } from '../../lambdas/adapters/online-store.js';
import { referenceAggregate } from '../../lambdas/core/aggregation-reference.js';
import { Ingestor, type ViewRow } from '../../lambdas/core/ingest.js';
import { type OnlineGroup, onlineGroups, type PositionedRow, readFeatures } from '../../lambdas/core/online.js';
import { Registry } from '../../lambdas/core/registry.js';
import { ensureResources } from '../../local/resources.js';
import { tiersOf } from '../support/online-items.js';
import { useTarget } from '../support/use-target.js';

const registry = Registry.fromModule(demo);
const target = useTarget();
const WRITERS = 8;
const ROUNDS = 4;
const EVENTS_PER_BATCH = 12;
const T0 = Date.UTC(2026, 0, 1, 12);
const ROUND_MS = 15_000; // longer than the tiers' settle time: seals, absorptions and drops all happen

describe('concurrent writers', () => {
  it('eight shards writing one merchant at once lose no update and count every event once', { timeout: 180_000 }, async (ctx) => {
    // Prepare: a fresh table, the demo's merchant group, each writer's events at its own shard positions.
    const access = target.require(ctx);
    const clients = createClients(access);
    const names = { table: `concurrency-${randomUUID().slice(0, 8)}`, bucket: `concurrency-${randomUUID().slice(0, 8)}`, streams: {} };
    await ensureResources(clients, names, { region: access.region });
    const store = new DynamoOnlineStore(clients.dynamodb, names.table);
    const group = onlineGroups(registry.views).get('merchant_txn_stats') as OnlineGroup;
    const ingestor = new Ingestor(registry);
    const rowsOf = (writer: number, round: number, i: number): ViewRow[] => {
      const ts = T0 + round * ROUND_MS - 60_000 + writer * 997 + i * 37;
      const outcome = ingestor.ingestEvent(
        demo.transactions,
        {
          ...demo.transactions.example,
          event_id: `w${writer}-r${round}-${i}`,
          user_id: `u${1000 + ((writer * 31 + i * 7 + round) % 97)}`,
          merchant_id: 'm0001',
          amount: writer + i / 4,
          currency: 'USD',
          ts,
        },
        T0 + round * ROUND_MS,
      );
      if (!outcome.ok) throw new Error(outcome.rejection.message);
      return outcome.rows.filter((r) => group.views.some((v) => v.name === r.view));
    };
    const batches = Array.from({ length: ROUNDS }, (_, round) =>
      Array.from({ length: WRITERS }, (_, writer) =>
        Array.from({ length: EVENTS_PER_BATCH }, (_, i) =>
          rowsOf(writer, round, i).map((row): PositionedRow => ({ row, partition: `shardId-00000000000${writer}`, offset: String(round * 1000 + i + 1) })),
        ).flat(),
      ),
    );
    /** Applies one writer's batch until it lands, as Lambda retries a batch whose items failed. */
    const write = async (rows: PositionedRow[], now: number) => {
      for (let attempt = 0; attempt < 20; attempt++) {
        if ((await store.apply(group, new Map([['m0001', rows]]), now)).length === 0) return;
      }
      throw new Error('a batch never landed');
    };

    // Act: every round, all eight writers at once; the previous round's batches are redelivered alongside.
    for (let round = 0; round < ROUNDS; round++) {
      const now = T0 + round * ROUND_MS;
      const current = batches[round] as PositionedRow[][];
      const redelivered = round > 0 ? (batches[round - 1] as PositionedRow[][]).filter((_, w) => w % 3 === 0) : [];
      await Promise.all([...current, ...redelivered].map((rows) => write(rows, now)));
    }

    // Assess: the served aggregates and latest row equal the brute-force reference over every event once.
    const all = batches.flat(2).map((p) => p.row);
    const stats = registry.views.get('merchant_txn_stats')!;
    const statRows = all.filter((r) => r.view === 'merchant_txn_stats');
    const t = T0 + ROUNDS * ROUND_MS;
    const features = stats.aggregations.map((a) => registry.feature(`merchant_txn_stats:${a.name}`));
    const tiers = await tiersOf(store, registry, 'merchant_txn_stats', 'm0001');
    // The race covered sealing and absorbing, not only the hot item.
    expect(tiers[1]?.absorbed).toBeGreaterThan(0);
    const served = readFeatures(stats, tiers, features, t);
    expect(Object.fromEntries(stats.aggregations.map((a, i) => [a.name, served[i]?.value]))).toEqual(
      Object.fromEntries(stats.aggregations.map((a) => [a.name, referenceAggregate(a, statRows, t)])),
    );
    expect(served[0]?.value).toBe(WRITERS * ROUNDS * EVENTS_PER_BATCH);
    const last = registry.views.get('merchant_last_txn')!;
    const newest = all.filter((r) => r.view === 'merchant_last_txn').sort((a, b) => b.eventTs - a.eventTs)[0]!;
    const [amount] = readFeatures(last, await tiersOf(store, registry, 'merchant_last_txn', 'm0001'), [registry.feature('merchant_last_txn:amount_usd')], t);
    expect(amount).toEqual({ value: newest.values.amount_usd, status: 'present', eventTs: newest.eventTs });
    clients.dynamodb.destroy();
    clients.s3.destroy();
    clients.kinesis.destroy();
  });
});
