/**
 * `npm run bench:stream`: the stream handler's throughput and the store's freshness.
 *
 * - Throughput, two ways: (1) the real handler against the emulators, fed by local mode's event
 *   source mapping (Kinesis → handler → DynamoDB + S3), events/s over the drain of N events;
 *   (2) the same handler with the store calls excluded: the online store is an in-memory map
 *   with the same apply rules, the offline writer encodes Parquet but sends nothing, dead
 *   letters are dropped — the handler's own work (decode, validate, transform, tiles, Parquet).
 *   Baseline in the same run: the raw store calls alone, one PutItem per item for the same
 *   items (what any writer must pay), as items/s.
 * - Freshness in local mode: event put (PutRecords) → value visible through POST /v1/features,
 *   p50/p99 over sequential probes, beside the raw Kinesis put → GetRecords latency.
 *
 *   npm run bench:stream -- --events 20000 --probes 100
 *
 * The last line is one JSON object of the figures, units in the key names.
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { PutItemCommand } from '@aws-sdk/client-dynamodb';
import { GetRecordsCommand, GetShardIteratorCommand, ListShardsCommand, PutRecordsCommand } from '@aws-sdk/client-kinesis';
import { TransactionGenerator } from '../features/generator.js';
import { toAttributes } from '../lambdas/adapters/online-store.js';
import { encodeRows } from '../lambdas/adapters/parquet.js';
import type { OfflineWriter } from '../lambdas/adapters/ports.js';
import { createRuntime } from '../lambdas/handlers/runtime.js';
import { createStreamHandler } from '../lambdas/handlers/stream.js';
import { kinesisEvent } from '../local/event-source-mapping.js';
import { startLocalStore } from '../local/store.js';
import { MemoryOnlineStore } from '../test/support/memory-online-store.js';

const { values: args } = parseArgs({ options: { events: { type: 'string', default: '20000' }, probes: { type: 'string', default: '100' } } });
const EVENTS = Number(args.events);
const PROBES = Number(args.probes);

const quantile = (xs: number[], q: number) => {
  const sorted = [...xs].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? Number.NaN;
};
const round = (x: number, digits = 1) => Math.round(x * 10 ** digits) / 10 ** digits;

const store = await startLocalStore({ port: 0, poll: false, logLevel: 'ERROR' });
try {
  const { runtime, poller } = store;
  const stream = runtime.registry.streamSources()[0]!.streamName;
  const generator = new TransactionGenerator({ seed: 42, users: 2_000, merchants: 200, clock: Date.now });
  const events = generator.take(EVENTS);

  // (1) The real handler against the emulators, through the event source mapping.
  await runtime.events.put(
    stream,
    events.map((e) => ({ partitionKey: e.user_id, data: Buffer.from(JSON.stringify(e)) })),
  );
  let started = performance.now();
  await poller.drain({ timeoutMs: 600_000 });
  const e2eSeconds = (performance.now() - started) / 1000;

  // (2) The same handler with the store calls excluded.
  const online = new MemoryOnlineStore();
  const offline: OfflineWriter = { write: async (view, rows) => void (await encodeRows(view, rows)) };
  const claims = { claim: async () => ({ duplicates: new Set<string>(), failed: new Set<string>() }) };
  const cpuOnly = createStreamHandler(
    createRuntime(runtime.config, { registry: runtime.registry, online, offline, claims, deadLetters: { write: async () => {} } }),
  );
  const records = events.map((e, i) => ({
    PartitionKey: e.user_id,
    SequenceNumber: String(i).padStart(20, '0'),
    Data: Buffer.from(JSON.stringify(e)),
    ApproximateArrivalTimestamp: new Date(),
  }));
  started = performance.now();
  for (let i = 0; i < records.length; i += 500) {
    await cpuOnly(kinesisEvent(records.slice(i, i + 500), { region: runtime.config.access.region, streamName: stream, shardId: 'shardId-000000000000' }));
  }
  const cpuSeconds = (performance.now() - started) / 1000;

  // Baseline: the raw store calls for items the handler wrote, one PutItem each.
  const baselineWrites = [...online.items.values()].slice(0, 5_000).map((item) => ({ item }));
  started = performance.now();
  for (let i = 0; i < baselineWrites.length; i += 32) {
    await Promise.all(
      baselineWrites
        .slice(i, i + 32)
        .map(({ item }) =>
          runtime.clients.dynamodb.send(new PutItemCommand({ TableName: runtime.config.tableName, Item: toAttributes({ ...item, pk: `bench-${item.pk}` }) })),
        ),
    );
  }
  const rawPutsPerSecond = baselineWrites.length / ((performance.now() - started) / 1000);

  // Freshness: put one event, poll the API until it is served; beside it, raw Kinesis put → GetRecords.
  poller.start();
  const freshness: number[] = [];
  const rawKinesis: number[] = [];
  const { Shards = [] } = await runtime.clients.kinesis.send(new ListShardsCommand({ StreamName: stream }));
  for (let i = 0; i < PROBES; i++) {
    const event = generator.next({ userId: generator.users[i % generator.users.length]!.userId });
    const put = performance.now();
    await runtime.events.put(stream, [{ partitionKey: event.user_id, data: Buffer.from(JSON.stringify(event)) }]);
    for (;;) {
      const response = await fetch(`${store.url}/v1/features`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ features: ['user_last_txn:merchant_id'], entities: [{ user_id: event.user_id }] }),
      });
      const body = (await response.json()) as { results: { eventTimestamps: Record<string, number | null> }[] };
      if (body.results[0]?.eventTimestamps.user_last_txn__merchant_id === event.ts) break;
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    freshness.push(performance.now() - put);
  }
  await poller.stop();
  for (let i = 0; i < Math.min(PROBES, 50); i++) {
    const shard = Shards[0]!.ShardId!;
    const { ShardIterator } = await runtime.clients.kinesis.send(
      new GetShardIteratorCommand({ StreamName: stream, ShardId: shard, ShardIteratorType: 'LATEST' }),
    );
    const put = performance.now();
    await runtime.clients.kinesis.send(
      new PutRecordsCommand({ StreamName: stream, Records: [{ PartitionKey: 'x', Data: Buffer.from('{}'), ExplicitHashKey: '0' }] }),
    );
    let iterator = ShardIterator;
    for (;;) {
      const got = await runtime.clients.kinesis.send(new GetRecordsCommand({ ShardIterator: iterator }));
      if (got.Records?.length) break;
      iterator = got.NextShardIterator;
    }
    rawKinesis.push(performance.now() - put);
  }

  const figures = {
    events: EVENTS,
    e2e_events_per_s: Math.round(EVENTS / e2eSeconds),
    handler_without_store_events_per_s: Math.round(EVENTS / cpuSeconds),
    raw_putitem_items_per_s: Math.round(rawPutsPerSecond),
    online_items_written_without_store: online.items.size,
    freshness_p50_ms: round(quantile(freshness, 0.5)),
    freshness_p99_ms: round(quantile(freshness, 0.99)),
    raw_kinesis_put_to_get_p50_ms: round(quantile(rawKinesis, 0.5)),
    raw_kinesis_put_to_get_p99_ms: round(quantile(rawKinesis, 0.99)),
    load_average_1m: round(loadavg()[0] ?? 0, 2),
  };
  console.log(
    `stream handler, ${EVENTS} events: ${figures.e2e_events_per_s} events/s against the emulators, ${figures.handler_without_store_events_per_s} events/s with the store calls excluded`,
  );
  console.log(`raw PutItem baseline: ${figures.raw_putitem_items_per_s} items/s`);
  console.log(
    `freshness (put → served): p50 ${figures.freshness_p50_ms} ms, p99 ${figures.freshness_p99_ms} ms; raw Kinesis put → get p50 ${figures.raw_kinesis_put_to_get_p50_ms} ms`,
  );
  console.log(JSON.stringify(figures));
} finally {
  await store.stop();
}
