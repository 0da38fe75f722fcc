/**
 * `tessera status` against the emulators: events applied by the real stream handler (one of
 * them malformed, so dead-lettered), then the last hour per source and view as a table and
 * as JSON; the pipeline hands each applied batch to the freshness recorder.
 */
import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { statusCommand } from '../../cli/status.js';
import * as definitions from '../../features/index.js';
import { createClients } from '../../lambdas/adapters/aws.js';
import { DuckDbTrainingRunner } from '../../lambdas/adapters/duckdb-runner.js';
import type { FreshnessRecorder } from '../../lambdas/adapters/ports.js';
import { freshnessByView } from '../../lambdas/core/freshness.js';
import { Registry } from '../../lambdas/core/registry.js';
import { createRuntime, readConfig } from '../../lambdas/handlers/runtime.js';
import { createStreamHandler } from '../../lambdas/handlers/stream.js';
import { kinesisEvent } from '../../local/event-source-mapping.js';
import { ensureResources } from '../../local/resources.js';
import { handlerEnvironment } from '../../local/store.js';
import { transactionMaker } from '../support/transactions.js';
import { useTarget } from '../support/use-target.js';

const T = useTarget();
const run = randomUUID().slice(0, 8);
const registry = Registry.fromModule(definitions);
const NOW = Date.UTC(2026, 5, 1, 12, 0, 0);

describe('tessera status', { timeout: 120_000 }, () => {
  it('shows events/s, lag p50/p99 and the last update per view, dead letters per source; the pipeline records freshness per batch', async (ctx) => {
    const target = T.require(ctx);
    const names = {
      table: target.resources?.table ?? `tessera-status-${run}`,
      bucket: target.resources?.bucket ?? `tessera-status-${run}`,
      streams: { transactions: `tessera-status-${run}` },
    };
    const clients = createClients(target);
    await ensureResources(clients, names, { region: target.region, shardCount: 1 });
    const recorded: { view: string; lagP99Ms: number }[] = [];
    const freshness: FreshnessRecorder = {
      record: (rows) => recorded.push(...freshnessByView(rows)),
    };
    const runtime = createRuntime(readConfig(handlerEnvironment(target, names, 'ERROR')), { registry, now: () => NOW - 10 * 60_000, freshness });
    const make = transactionMaker(`status-${run}`);
    // Lags of 1, 2, …, 10 minutes: event times 11 … 20 minutes before now, applied 10 minutes before now.
    const events = Array.from({ length: 10 }, (_, i) => make(`u${7001 + i}`, { ts: NOW - (11 + i) * 60_000 }));
    const records = [...events.map((e) => JSON.stringify(e)), '{not json'].map((data, i) => ({
      PartitionKey: 'p',
      SequenceNumber: String(5000 + i),
      Data: Buffer.from(data),
      ApproximateArrivalTimestamp: new Date(NOW - 10 * 60_000),
    }));
    await createStreamHandler(runtime)(
      kinesisEvent(records, { region: target.region, streamName: names.streams.transactions, shardId: 'shardId-000000000000' }),
    );
    for (const client of Object.values(runtime.clients)) client.destroy();
    let printed = '';
    const deps = {
      registry,
      runner: new DuckDbTrainingRunner({ s3: clients.s3, bucket: names.bucket }),
      database: 'tessera',
      s3: clients.s3,
      bucket: names.bucket,
      description: 'test store',
      stdout: { write: (text: string) => (printed += text) },
      clock: () => NOW,
    };

    const status = await statusCommand({}, deps);
    await statusCommand({ json: true }, { ...deps, stdout: { write: () => true } });

    const view = status.views.find((v) => v.view === 'user_txn_stats');
    expect(view).toMatchObject({ events: 10, lagP50Ms: 5 * 60_000, lagP99Ms: 10 * 60_000, freshnessObjectiveMs: 5 * 60_000, withinObjective: false });
    expect(view?.lastUpdate).toBe(new Date(NOW - 10 * 60_000).toISOString());
    // Every source is listed; the demo's batch source (chargebacks) had nothing this hour.
    expect(status.sources).toEqual([
      { source: 'transactions', eventsPerSecond: 10 / 3600, deadLetters: 1 },
      { source: 'chargebacks', eventsPerSecond: 0, deadLetters: 0 },
    ]);
    expect(printed).toMatch(/user_txn_stats\s+0\.00\s+5\.0 min\s+10\.0 min\s+10\.0 min ago\s+5m MISSED/);
    expect(printed).toMatch(/transactions\s+0\.00\s+1\n/);
    expect(recorded.find((r) => r.view === 'user_txn_stats')?.lagP99Ms).toBe(10 * 60_000);
    for (const client of Object.values(clients)) client.destroy();
  });
});
