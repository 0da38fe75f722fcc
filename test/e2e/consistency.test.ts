/**
 * The product's promise, as a test: one event log — days of card transactions with late,
 * out-of-order and duplicated events — fed (a) through local mode's stream path with faults
 * injected (DynamoDB writes that fail, an offline write that throws mid-batch so the whole
 * batch is redelivered and bisected) and (b) through the batch path, tick by tick. After each
 * tick the online API is asked at t = the tick's ingest time; at the end, training sets are
 * built from each path's offline store. Every value must agree with the brute-force
 * reference: online at t and "as served" training rows with the events ingested by t, the
 * event-time training rows with every event.
 *
 * Two profiles: card holders (fraud_v1's features), and one hot merchant that takes most of
 * the traffic — over 20 000 of its events inside one window — read by a feature list.
 * `TESSERA_CONSISTENCY_EVENTS` scales both down for the slower conformance targets.
 *
 * Faults are injected through the real SDK clients' middleware stacks (no emulator produces
 * them); everything else is the deployed code over the emulators' wire protocols.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import { describe, expect, it } from 'vitest';
import type { Transaction } from '../../features/fraud.js';
import { TransactionGenerator } from '../../features/generator.js';
import * as demo from '../../features/index.js';
import { DuckDbQueryRunner } from '../../lambdas/adapters/duckdb-runner.js';
import { itemBytes, toAttributes } from '../../lambdas/adapters/online-store.js';
import { buildTrainingSet, createTrainingSetRunner } from '../../lambdas/app/training-set.js';
import { referenceAggregate } from '../../lambdas/core/aggregation-reference.js';
import type { Row } from '../../lambdas/core/definitions.js';
import { Ingestor, type ViewRow } from '../../lambdas/core/ingest.js';
import { onlineGroups, tierKeys } from '../../lambdas/core/online.js';
import { referenceTrainingSet } from '../../lambdas/core/point-in-time-reference.js';
import { type ReadPlan, Registry } from '../../lambdas/core/registry.js';
import type { FeaturesResponse } from '../../lambdas/core/serving.js';
import { batchDependencies, createBatchHandler } from '../../lambdas/handlers/batch.js';
import { createRuntime, readConfig } from '../../lambdas/handlers/runtime.js';
import { createServeHandler } from '../../lambdas/handlers/serve.js';
import { ensureResources, localResourceNames } from '../../local/resources.js';
import { handlerEnvironment, startLocalStore } from '../../local/store.js';
import { useTarget } from '../support/use-target.js';

const SCALE = Number(process.env.TESSERA_CONSISTENCY_EVENTS ?? 20_000) / 20_000;
const TICK_EVENTS = 500;
const PROBES_PER_TICK = 12;
const registry = Registry.fromModule(demo);
const target = useTarget();
const HOT_MERCHANT = 'm0001';

interface Profile {
  readonly name: string;
  readonly events: number;
  readonly days: number;
  /** The share of events moved to the hot merchant. */
  readonly hotShare: number;
  /** A service, or a feature list. */
  readonly request: { readonly service: string } | { readonly features: readonly string[] };
  readonly joinKey: 'user_id' | 'merchant_id';
  /** The entity probed at probe j of tick i. */
  readonly probe: (ids: { users: string[]; merchants: string[] }, i: number, j: number) => string;
}

const PROFILES: readonly Profile[] = [
  {
    name: 'card holders',
    events: Math.round(20_000 * SCALE),
    days: 4,
    hotShare: 0,
    request: { service: 'fraud_v1' },
    joinKey: 'user_id',
    probe: ({ users }, i, j) => users[(i * 7 + j * 3) % users.length] as string,
  },
  {
    name: 'a hot merchant',
    events: Math.round(34_000 * SCALE),
    days: 1,
    hotShare: 0.6,
    request: {
      features: ['merchant_txn_stats:txn_count_1h', 'merchant_txn_stats:amount_sum_1d', 'merchant_txn_stats:users_distinct_1d', 'merchant_last_txn:amount_usd'],
    },
    joinKey: 'merchant_id',
    probe: ({ merchants }, i, j) => (j % 3 === 0 ? (merchants[(i + j) % merchants.length] as string) : HOT_MERCHANT),
  },
];

const planOf = (profile: Profile): ReadPlan =>
  'service' in profile.request ? registry.servicePlan(profile.request.service) : registry.plan([...profile.request.features]);

/** Counts calls of one command and fails every n-th, before the SDK's retries (so the caller sees it). */
function failEvery(client: { middlewareStack: { add: (...args: never[]) => void } }, command: string, n: number, counter: { calls: number; failed: number }) {
  const middleware = (next: (args: unknown) => Promise<unknown>, context: { commandName?: string }) => async (args: unknown) => {
    if (context.commandName === command && ++counter.calls % n === 0) {
      counter.failed++;
      throw Object.assign(new Error(`injected fault: ${command} #${counter.calls}`), { name: 'InjectedFault' });
    }
    return next(args);
  };
  (client.middlewareStack.add as (m: unknown, o: unknown) => void)(middleware, { step: 'initialize', name: `inject-${command}` });
}

function apiEvent(body: unknown): APIGatewayProxyEvent {
  return {
    httpMethod: 'POST',
    path: '/v1/features',
    body: JSON.stringify(body),
    isBase64Encoded: false,
    headers: { 'content-type': 'application/json' },
    requestContext: { requestId: 'consistency', identity: {} },
  } as unknown as APIGatewayProxyEvent;
}

describe.each(PROFILES)('one event log, every path, the same values: $name', (profile) => {
  it('stream path with faults, batch path, online API at t and training sets agree with the reference', { timeout: 1_500_000 }, async (ctx) => {
    const access = target.require(ctx);
    const plan = planOf(profile);
    const EVENTS = profile.events;

    // Prepare: the log, in arrival order, cut into ticks; each tick is ingested at its time.
    const slug = profile.name.replace(/\W+/g, '-');
    const generator = new TransactionGenerator({
      seed: 2026 + PROFILES.indexOf(profile),
      users: 200,
      merchants: 40,
      ratePerSecond: EVENTS / (profile.days * 86_400),
      lateFraction: 0.05,
      maxLatenessMs: 3 * 3_600_000,
      duplicateFraction: 0.02,
    });
    // A producer's copies stay copies: the hot merchant is chosen by the event id, not per copy.
    const hot = (e: Transaction) => Number.parseInt(e.event_id.replace(/\D/g, '').slice(-6) || '0', 10) % 100 < profile.hotShare * 100;
    const log = generator.take(EVENTS).map((e) => (hot(e) ? { ...e, merchant_id: HOT_MERCHANT } : e));
    const ticks: { at: number; events: Transaction[] }[] = [];
    let latest = 0;
    for (let i = 0; i < log.length; i += TICK_EVENTS) {
      const events = log.slice(i, i + TICK_EVENTS);
      latest = Math.max(latest, ...events.map((e) => e.ts));
      ticks.push({ at: latest + 1_000, events });
    }
    const ids = { users: generator.users.map((u) => u.userId), merchants: [...new Set(log.map((e) => e.merchant_id))].sort() };
    const probes = ticks.map((tick, i) => Array.from({ length: PROBES_PER_TICK }, (_, j) => ({ id: profile.probe(ids, i, j), t: tick.at })));

    let clock = ticks[0]!.at;
    const now = () => clock;
    // Each profile its own tables, buckets and stream: nothing of one profile is seen by the other.
    const streamNames = { table: `consistency-stream-${slug}`, bucket: `consistency-stream-${slug}`, streams: { transactions: `consistency-${slug}` } };
    const store = await startLocalStore({ port: 0, poll: false, now, target: access, names: streamNames, logLevel: 'ERROR', mapping: { retryBackoffMs: 1 } });
    const batchNames = { ...localResourceNames(registry), table: `consistency-batch-${slug}`, bucket: `consistency-batch-${slug}` };
    const batchRuntime = createRuntime(readConfig(handlerEnvironment(access, batchNames, 'ERROR')), { registry, now });
    const workDir = await mkdtemp(join(tmpdir(), 'tessera-consistency-'));
    try {
      await ensureResources(batchRuntime.clients, batchNames, { region: access.region });
      const { runtime, poller } = store;
      const dynamoFaults = { calls: 0, failed: 0 };
      const s3Faults = { calls: 0, failed: 0 };
      failEvery(runtime.clients.dynamodb as never, 'PutItemCommand', 101, dynamoFaults);
      failEvery(runtime.clients.s3 as never, 'PutObjectCommand', 97, s3Faults);
      const batchHandler = createBatchHandler(batchRuntime, batchDependencies(batchRuntime));
      const batchServe = createServeHandler(batchRuntime);

      const phases: Record<string, number> = {};
      let mark = performance.now();
      const phase = (name: string) => {
        phases[name] = Math.round((performance.now() - mark) / 100) / 10;
        mark = performance.now();
      };

      // Act: tick by tick, both paths, then ask both APIs at t.
      const online: { stream: FeaturesResponse['results']; batch: FeaturesResponse['results'] }[] = [];
      for (const [i, tick] of ticks.entries()) {
        clock = tick.at;
        const stream = streamNames.streams.transactions;
        await runtime.events.put(
          stream,
          tick.events.map((e) => ({ partitionKey: e.user_id, data: Buffer.from(JSON.stringify(e)) })),
        );
        await poller.drain({ timeoutMs: 300_000 });
        const key = `raw/transactions/tick-${String(i).padStart(5, '0')}/events.jsonl`;
        await batchRuntime.clients.s3.send(
          new PutObjectCommand({ Bucket: batchNames.bucket, Key: key, Body: Buffer.from(tick.events.map((e) => JSON.stringify(e)).join('\n')) }),
        );
        await batchHandler({ source: 'transactions', location: key.slice(0, key.lastIndexOf('/') + 1), inline: true });

        const request = { ...profile.request, entities: probes[i]!.map((p) => ({ [profile.joinKey]: p.id })) };
        const fromStream = (await (await fetch(`${store.url}/v1/features`, { method: 'POST', body: JSON.stringify(request) })).json()) as FeaturesResponse;
        const fromBatch = JSON.parse((await batchServe(apiEvent(request))).body) as FeaturesResponse;
        online.push({ stream: fromStream.results, batch: fromBatch.results });
      }

      phase('ticks_s');

      // The reference: every arrival transformed by the same definitions, at its tick's ingest time.
      const ingestor = new Ingestor(registry);
      const rows = new Map<string, ViewRow[]>();
      for (const tick of ticks) {
        for (const event of tick.events) {
          const outcome = ingestor.ingestEvent(demo.transactions, event, tick.at);
          if (!outcome.ok) throw new Error(outcome.rejection.message);
          for (const row of outcome.rows) {
            const list = rows.get(row.view) ?? [];
            rows.set(row.view, list);
            list.push(row);
          }
        }
      }
      const rowsByEntity = new Map<string, ViewRow[]>();
      for (const [view, list] of rows) {
        for (const row of list) {
          const key = `${view}#${row.entityId}`;
          const own = rowsByEntity.get(key) ?? [];
          rowsByEntity.set(key, own);
          own.push(row);
        }
      }
      const labels: Row[] = probes.flat().map((p) => ({ [profile.joinKey]: p.id, event_timestamp: p.t }));
      const reference = (asServed: boolean) => {
        const base = referenceTrainingSet({ plan, rows, labels, timestampColumn: 'event_timestamp', asServed });
        return base.map((row, i) => {
          const label = labels[i]!;
          for (const f of plan.features.filter((x) => x.kind === 'aggregation')) {
            const view = registry.views.get(f.view)!;
            const aggregation = view.aggregations.find((a) => a.name === f.feature)!;
            const own = rowsByEntity.get(`${f.view}#${label[profile.joinKey]}`) ?? [];
            row[f.column] = referenceAggregate(aggregation, own, label.event_timestamp as number, asServed);
          }
          return row;
        });
      };
      const asServed = reference(true);
      const eventTime = reference(false);
      phase('reference_s');

      // Training sets from each path's offline store, through the DuckDB runner over the S3 API.
      const labelsFile = join(workDir, 'labels.parquet');
      const duck = await DuckDbQueryRunner.open();
      await duck.exec(
        `COPY (SELECT * FROM (VALUES ${labels.map((l) => `('${l[profile.joinKey]}', ${l.event_timestamp})`).join(', ')}) AS t(${profile.joinKey}, event_timestamp)) TO '${labelsFile}' (FORMAT PARQUET)`,
      );
      const trainingSets: Record<string, Row[]> = {};
      for (const [name, rt, bucket] of [
        ['stream', runtime, runtime.config.bucket],
        ['batch', batchRuntime, batchNames.bucket],
      ] as const) {
        for (const served of [true, false]) {
          const out = join(workDir, `${name}-${served}.parquet`);
          const runner = await createTrainingSetRunner({ engine: 'duckdb', s3: rt.clients.s3, bucket });
          await buildTrainingSet(
            { labels: labelsFile, ...profile.request, asServed: served, out },
            { registry, runner, database: 'tessera', s3: rt.clients.s3 },
          );
          trainingSets[`${name}-${served ? 'as-served' : 'event-time'}`] = await duck.run(`SELECT * FROM read_parquet('${out}')`);
        }
      }
      duck.close();
      phase('training_sets_s');

      // Assess: every feature at every (entity, t), on every path.
      const columns = plan.features.map((f) => f.column);
      const mismatches: string[] = [];
      let comparisons = 0;
      const compare = (what: string, index: number, got: Row, want: Row) => {
        for (const column of columns) {
          comparisons++;
          if (JSON.stringify(got[column] ?? null) !== JSON.stringify(want[column] ?? null)) {
            mismatches.push(
              `${what} #${index} ${JSON.stringify(labels[index])} ${column}: got ${JSON.stringify(got[column])}, want ${JSON.stringify(want[column])}`,
            );
          }
        }
      };
      for (const [i, r] of online.flatMap((o) => o.stream).entries()) compare('online (stream path)', i, r.values, asServed[i]!);
      for (const [i, r] of online.flatMap((o) => o.batch).entries()) compare('online (batch path)', i, r.values, asServed[i]!);
      for (const [name, set] of Object.entries(trainingSets)) {
        const want = name.endsWith('as-served') ? asServed : eventTime;
        for (const [i, r] of set.entries()) compare(`training set (${name})`, i, r, want[i]!);
      }
      // Item size: the largest item of the profile's entities, as DynamoDB bills it.
      const group = onlineGroups(registry.views).get(plan.views[0]!.view.name)!;
      const entities = profile.joinKey === 'user_id' ? ids.users : ids.merchants;
      const stored = await runtime.online.read(entities.flatMap((id) => tierKeys(group, id)));
      const largestItemBytes = Math.max(...[...stored.values()].map((item) => itemBytes(toAttributes(item))));
      const failedBatches = await runtime.clients.s3.send(new ListObjectsV2Command({ Bucket: runtime.config.bucket, Prefix: 'failed-batches/' }));

      console.log(
        `consistency (${profile.name}): ${EVENTS} events in ${ticks.length} ticks, ${labels.length} (entity, t) points × ${columns.length} features; ` +
          `${comparisons} comparisons, ${mismatches.length} mismatches; faults injected: ${dynamoFaults.failed} DynamoDB writes, ${s3Faults.failed} offline writes; largest ${group.name} item ${largestItemBytes} bytes; hot merchant events: ${log.filter((e) => e.merchant_id === HOT_MERCHANT).length}; ${JSON.stringify(phases)}`,
      );
      expect(dynamoFaults.failed).toBeGreaterThan(0);
      expect(s3Faults.failed).toBeGreaterThan(0);
      expect(failedBatches.KeyCount ?? 0).toBe(0);
      expect(mismatches.slice(0, 20)).toEqual([]);
      expect(labels.length).toBeGreaterThanOrEqual(Math.floor((profile.events / TICK_EVENTS) * PROBES_PER_TICK));
      expect(Object.values(trainingSets).every((set) => set.length === labels.length)).toBe(true);
    } finally {
      await store.stop();
      batchRuntime.clients.dynamodb.destroy();
      batchRuntime.clients.s3.destroy();
      await rm(workDir, { recursive: true, force: true });
    }
  });
});
