/**
 * `npm run bench:state`: what the online state costs at three event rates, through the real
 * pipeline (runPipeline: ingest, claims, the online rules; the offline Parquet write is left
 * out — it does not touch the online state).
 *
 * Profiles (each from a fresh state, simulated time):
 *   1. the demo: 62 events per card holder per day, 30 days, one event per card holder per batch;
 *   2. one hot merchant at 1 000 000 events/day for 2 days, batches of 500;
 *   3. one card holder at 10 000 events/day for 8 days, one event per batch.
 *
 * Each profile runs in two steps. First every batch but the last few runs against an
 * in-memory store with the same rules (`MemoryOnlineStore`: applyToGroup, as the adapter
 * applies it): that is the CPU per event and the events/s. Then the items of the entities the
 * last batches touch are loaded into DynamoDB Local and those batches run through the real
 * adapters (DynamoOnlineStore, DynamoEventClaims) with ReturnConsumedCapacity: TOTAL — write
 * units per event, claims included — and one read of each profile's request reports its read
 * units. Item sizes are DynamoDB's (attribute names + values) over every item of the run.
 * Baseline in the same run: a raw 1 KB PutItem against the same DynamoDB Local.
 *
 * Run through scripts/targets/run.sh dynamodb-local (npm run bench:state does), which
 * installs, starts and stops DynamoDB Local; without TESSERA_DYNAMODB_ENDPOINT the second step
 * runs on dynalite, which reports no capacity: units are then computed from item sizes by
 * DynamoDB's rules (1 per KB written, 1 per 4 KB read, half for eventually consistent reads).
 */
import { parseArgs } from 'node:util';
import { BatchGetItemCommand, PutItemCommand } from '@aws-sdk/client-dynamodb';
import * as demo from '../features/index.js';
import { createDynamoDbClient } from '../lambdas/adapters/aws.js';
import { DynamoEventClaims } from '../lambdas/adapters/claims.js';
import { type CapacityMeter, DynamoOnlineStore, itemBytes, toAttributes } from '../lambdas/adapters/online-store.js';
import { type PipelineRecord, runPipeline } from '../lambdas/app/pipeline.js';
import { type OnlineGroup, onlineGroups, type TierItem, tierKeys } from '../lambdas/core/online.js';
import { Registry } from '../lambdas/core/registry.js';
import { planRequest } from '../lambdas/core/serving.js';
import { createRuntime, type Runtime, readConfig } from '../lambdas/handlers/runtime.js';
import { startEmulators } from '../local/emulators.js';
import { ensureTable } from '../local/resources.js';
import { MemoryOnlineStore } from '../test/support/memory-online-store.js';

const { values: args } = parseArgs({
  options: { users: { type: 'string', default: '200' }, quick: { type: 'boolean', default: false }, only: { type: 'string' } },
});
const QUICK = args.quick;
const registry = Registry.fromModule(demo);
const source = demo.transactions;
const HOUR = 3_600_000;
const DAY = 24 * HOUR;
const T0 = Date.UTC(2026, 0, 1);
const CURRENCIES = demo.CURRENCIES;

/** A deterministic generator (mulberry32). */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4_294_967_296;
  };
}

interface Batch {
  readonly ingestTs: number;
  readonly events: demo.Transaction[];
}

interface Profile {
  readonly name: string;
  readonly key: string;
  readonly batches: () => Generator<Batch>;
  readonly batchCount: number;
  /** How many of the last batches run against DynamoDB. */
  readonly measured: number;
  readonly request: (last: demo.Transaction) => unknown;
}

function transaction(rnd: () => number, id: string, user: string, merchant: string, ts: number): demo.Transaction {
  return {
    event_id: id,
    user_id: user,
    merchant_id: merchant,
    amount: Math.round(rnd() * 50_000) / 100,
    currency: CURRENCIES[Math.floor(rnd() * CURRENCIES.length)] as demo.Transaction['currency'],
    lat: Math.round((rnd() * 180 - 90) * 1e4) / 1e4,
    lon: Math.round((rnd() * 360 - 180) * 1e4) / 1e4,
    ts,
  };
}

const pad = (n: number) => String(n).padStart(4, '0');
/** An event id as producers send them: a UUID (deterministic here); ids are most of a buffered row's bytes. */
const uuid = (rnd: () => number) =>
  Array.from({ length: 32 }, () => Math.floor(rnd() * 16).toString(16))
    .join('')
    .replace(/^(.{8})(.{4})(.{4})(.{4})/, '$1-$2-$3-$4-');

function demoProfile(users: number, days: number): Profile {
  const perDay = 62;
  const count = perDay * days;
  const interval = DAY / perDay;
  return {
    name: `demo: ${users} card holders, ${perDay} events/day each, ${days} days, one event per card holder per batch`,
    key: 'demo',
    batchCount: count,
    measured: Math.min(count, 2 * perDay),
    *batches() {
      const rnd = random(1);
      for (let k = 0; k < count; k++) {
        const events = Array.from({ length: users }, (_, u) =>
          transaction(rnd, uuid(rnd), `u${pad(u + 1)}`, `m${pad(1 + Math.floor(rnd() * 40))}`, Math.floor(T0 + k * interval + rnd() * interval)),
        );
        yield { ingestTs: Math.floor(T0 + (k + 1) * interval) + 1_000, events };
      }
    },
    request: (last) => ({ service: 'fraud_v1', entities: [{ user_id: last.user_id }] }),
  };
}

function hotMerchantProfile(perDay: number, days: number, batchSize: number): Profile {
  const count = Math.floor((perDay * days) / batchSize);
  const span = (batchSize * DAY) / perDay;
  return {
    name: `hot merchant: ${perDay.toLocaleString('en')} events/day for ${days} days, batches of ${batchSize}, 50 000 card holders`,
    key: 'hot_merchant',
    batchCount: count,
    measured: Math.min(count, 20),
    *batches() {
      const rnd = random(2);
      for (let k = 0; k < count; k++) {
        const events = Array.from({ length: batchSize }, (_, i) =>
          transaction(rnd, uuid(rnd), `u${pad(1 + Math.floor(rnd() * 50_000))}`, 'm0001', Math.floor(T0 + k * span + (i * span) / batchSize)),
        );
        yield { ingestTs: Math.floor(T0 + (k + 1) * span) + 1_000, events };
      }
    },
    request: () => ({
      features: ['merchant_txn_stats:txn_count_1h', 'merchant_txn_stats:amount_sum_1d', 'merchant_txn_stats:users_distinct_1d', 'merchant_last_txn:amount_usd'],
      entities: [{ merchant_id: 'm0001' }],
    }),
  };
}

function busyUserProfile(perDay: number, days: number): Profile {
  const count = perDay * days;
  const interval = DAY / perDay;
  return {
    name: `busy card holder: ${perDay.toLocaleString('en')} events/day for ${days} days over 2 000 merchants, one event per batch`,
    key: 'busy_user',
    batchCount: count,
    measured: Math.min(count, 2_000),
    *batches() {
      const rnd = random(3);
      for (let k = 0; k < count; k++) {
        const ts = Math.floor(T0 + k * interval);
        yield { ingestTs: ts + 1_000, events: [transaction(rnd, uuid(rnd), 'u0001', `m${pad(1 + Math.floor(rnd() * 2_000))}`, ts)] };
      }
    },
    request: () => ({ service: 'fraud_v1', entities: [{ user_id: 'u0001' }] }),
  };
}

const profiles: Profile[] = (
  QUICK
    ? [demoProfile(200, 3), hotMerchantProfile(200_000, 1, 500), busyUserProfile(10_000, 2)]
    : [demoProfile(Number(args.users), 30), hotMerchantProfile(1_000_000, 2, 500), busyUserProfile(10_000, 8)]
).filter((p) => !args.only || args.only.split(',').includes(p.key));

const records = (batch: Batch, k: number): PipelineRecord[] =>
  batch.events.map((e, i) => {
    const data = Buffer.from(JSON.stringify(e));
    return {
      position: `shardId-000000000000/${String(k * 10_000 + i + 1)}`,
      arrivedAt: batch.ingestTs,
      payloadBase64: data.toString('base64'),
      event: { json: e },
    };
  });

class Meter implements CapacityMeter {
  readUnits = 0;
  writeUnits = 0;
  reports = 0;
  read(units: number) {
    this.readUnits += units;
    this.reports++;
  }
  write(units: number) {
    this.writeUnits += units;
    this.reports++;
  }
}

const config = readConfig({ TESSERA_TABLE: 'bench-state', TESSERA_BUCKET: 'bench-state', AWS_REGION: 'us-east-1' });
const quiet = { write: async () => {} };
const memoryClaims = () => {
  const owners = new Map<string, string>();
  return {
    claim: async (_: string, claims: readonly { eventId: string; position: string }[]) => {
      const duplicates = new Set<string>();
      for (const c of claims) {
        const owner = owners.get(c.eventId);
        if (owner !== undefined && owner !== c.position) duplicates.add(c.position);
        else owners.set(c.eventId, c.position);
      }
      return { duplicates, failed: new Set<string>() };
    },
  };
};

/** Keys of every item an event touches, in every group of its source. */
function keysOf(events: readonly demo.Transaction[]): string[] {
  const groups = [...new Set(onlineGroups(registry.views).values())];
  const keys = new Set<string>();
  for (const e of events) {
    for (const group of groups) {
      const entityId = group.views[0]!.entities.map((en) => encodeURIComponent(String(e[en.joinKey as keyof demo.Transaction]))).join('|');
      for (const key of tierKeys(group, entityId)) keys.add(key);
    }
  }
  return [...keys];
}

const emulators = process.env.TESSERA_DYNAMODB_ENDPOINT ? undefined : await startEmulators();
const endpoint = process.env.TESSERA_DYNAMODB_ENDPOINT ?? emulators?.endpoints.dynamodb;
const access = { region: 'us-east-1', credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' }, endpoints: { dynamodb: endpoint } };
const dynamodb = createDynamoDbClient(access);
const reportsCapacity = { value: false };
const figures: Record<string, number | string | boolean> = {
  target: process.env.TESSERA_DYNAMODB_ENDPOINT ? 'dynamodb-local' : 'dynalite (units computed from item sizes)',
};

// Baseline: a raw PutItem of a 1 KB item, and what DynamoDB reports for it.
{
  await ensureTable(dynamodb, 'bench-baseline');
  const started = performance.now();
  let units = 0;
  const n = 300;
  for (let i = 0; i < n; i++) {
    const response = await dynamodb.send(
      new PutItemCommand({ TableName: 'bench-baseline', Item: { pk: { S: `k${i}` }, d: { S: 'x'.repeat(1000) } }, ReturnConsumedCapacity: 'TOTAL' }),
    );
    units += response.ConsumedCapacity?.CapacityUnits ?? 0;
  }
  reportsCapacity.value = units > 0;
  figures.baseline_raw_putitem_1kb_per_s = Math.round(n / ((performance.now() - started) / 1000));
  figures.baseline_raw_putitem_1kb_wcu = units / n;
}

const rows: string[] = [];
for (const [index, profile] of profiles.entries()) {
  // Step 1: every batch but the last `measured`, in memory — CPU and events/s of the pipeline.
  const memory = new MemoryOnlineStore();
  const runtime: Runtime = createRuntime(config, { registry, online: memory, claims: memoryClaims(), offline: quiet, deadLetters: quiet });
  const batches = [...profile.batches()];
  const warm = batches.slice(0, batches.length - profile.measured);
  const measured = batches.slice(batches.length - profile.measured);
  let events = 0;
  const cpu = process.cpuUsage();
  const wall = performance.now();
  for (const [k, batch] of warm.entries()) {
    await runPipeline(runtime, source, records(batch, k), batch.ingestTs, ['bench', String(k)]);
    events += batch.events.length;
  }
  const used = process.cpuUsage(cpu);
  const seconds = (performance.now() - wall) / 1000;
  const cpuUsPerEvent = (used.user + used.system) / events;

  // Step 2: the items the last batches touch, loaded into DynamoDB; those batches through the real adapters.
  const table = `bench-state-${index}`;
  await ensureTable(dynamodb, table);
  const loaded = await memory.read(keysOf(measured.flatMap((b) => b.events)));
  for (const item of loaded.values()) await dynamodb.send(new PutItemCommand({ TableName: table, Item: toAttributes(item) }));
  const meter = new Meter();
  const computed = { writeUnits: 0 };
  const byPart: Record<string, number> = {};

  const real = createRuntime(
    { ...config, tableName: table },
    {
      registry,
      online: new DynamoOnlineStore(dynamodb, table, { capacity: meter }),
      claims: new DynamoEventClaims(dynamodb, table, meter),
      offline: quiet,
      deadLetters: quiet,
    },
  );
  // Units by DynamoDB's rules, beside what the target reports: each PutItem bills the larger of the old and new item, per KB.
  const sizes = new Map<string, number>([...loaded.values()].map((item) => [item.pk, itemBytes(toAttributes(item))]));
  dynamodb.middlewareStack.add(
    (next, context) => async (a) => {
      if (context.commandName === 'PutItemCommand') {
        const item = (a.input as { Item: Record<string, { S?: string }> }).Item;
        const bytes = itemBytes(item as never);
        const pk = item.pk?.S as string;
        const units = Math.max(1, Math.ceil(Math.max(bytes, sizes.get(pk) ?? 0) / 1024));
        computed.writeUnits += units;
        const part = `${pk.slice(0, pk.indexOf('#'))}${/#\d$/.test(pk) ? pk.slice(-2) : ''}`;
        byPart[part] = (byPart[part] ?? 0) + units;
        sizes.set(pk, bytes);
      }
      return next(a);
    },
    { step: 'initialize', name: `bench-units-${index}` },
  );
  let measuredEvents = 0;
  let failedRecords = 0;
  const stats = { rows: 0, dead: 0, dup: 0 };
  const wallReal = performance.now();
  for (const [k, batch] of measured.entries()) {
    const result = await runPipeline(real, source, records(batch, warm.length + k), batch.ingestTs, ['bench', String(k)]);
    // A record the target refused is counted and reported, not hidden: its units are not in the figures.
    failedRecords += result.failed.length;
    measuredEvents += batch.events.length;
    stats.rows += result.rows;
    stats.dead += result.deadLettered;
    stats.dup += result.duplicates;
  }
  if (stats.dead || stats.dup) throw new Error(`${profile.key}: ${stats.dead} records dead-lettered, ${stats.dup} duplicates`);
  const realSeconds = (performance.now() - wallReal) / 1000;
  const perEvent = Object.fromEntries(Object.entries(byPart).map(([k, v]) => [k, Math.round((v / measuredEvents) * 100) / 100]));
  figures[`${profile.key}_wcu_per_event_by_item`] = JSON.stringify(perEvent);
  console.log(`  write units per event by item: ${JSON.stringify(perEvent)}`);
  dynamodb.middlewareStack.remove(`bench-units-${index}`);

  // Item sizes over every item of the run (memory holds them all), by group.
  const largest = new Map<string, number>();
  for (const item of memory.items.values()) {
    const group = item.pk.slice(0, item.pk.indexOf('#'));
    largest.set(group, Math.max(largest.get(group) ?? 0, itemBytes(toAttributes(item))));
  }
  for (const [pk, bytes] of sizes) {
    const group = pk.slice(0, pk.indexOf('#'));
    largest.set(group, Math.max(largest.get(group) ?? 0, bytes));
  }

  // One read of the profile's request, as the serve handler sends it (eventually consistent).
  const last = measured.at(-1)?.events.at(-1) as demo.Transaction;
  const planned = planRequest(registry, profile.request(last));
  const readMeter = new Meter();
  const response = await dynamodb.send(
    new BatchGetItemCommand({ RequestItems: { [table]: { Keys: planned.pks.map((pk) => ({ pk: { S: pk } })) } }, ReturnConsumedCapacity: 'TOTAL' }),
  );
  for (const c of response.ConsumedCapacity ?? []) readMeter.read(c.CapacityUnits ?? 0);
  const readBytes = (response.Responses?.[table] ?? []).map((item) => itemBytes(item));
  const computedReadUnits = readBytes.reduce((sum, b) => sum + 0.5 * Math.max(1, Math.ceil(b / 4096)), 0);

  const wcu = (reportsCapacity.value ? meter.writeUnits : computed.writeUnits) / measuredEvents;
  const rcu = reportsCapacity.value ? readMeter.readUnits : computedReadUnits;
  const p = profile.key;
  figures[`${p}_events`] = events + measuredEvents;
  figures[`${p}_records_failed_on_target`] = failedRecords;
  if (failedRecords) console.log(`  ${failedRecords} records failed against the target (retried by Lambda in AWS; not in the units)`);
  figures[`${p}_cpu_us_per_event`] = Math.round(cpuUsPerEvent);
  figures[`${p}_events_per_s`] = Math.round(events / seconds);
  figures[`${p}_dynamodb_events_per_s`] = Math.round(measuredEvents / realSeconds);
  figures[`${p}_wcu_per_event`] = Math.round(wcu * 100) / 100;
  figures[`${p}_wcu_per_event_by_item_sizes`] = Math.round((computed.writeUnits / measuredEvents) * 100) / 100;
  figures[`${p}_rcu_per_request`] = rcu;
  for (const [group, bytes] of largest) figures[`${p}_largest_item_kb_${group.replace(/[^a-z_+]/gi, '_')}`] = Math.round(bytes / 102.4) / 10;
  const largestKb = Math.max(...largest.values()) / 1024;
  figures[`${p}_largest_item_kb`] = Math.round(largestKb * 10) / 10;
  rows.push(
    `${profile.name}\n  largest item ${largestKb.toFixed(1)} KB (${[...largest].map(([g, b]) => `${g} ${(b / 1024).toFixed(1)}`).join(', ')})\n` +
      `  ${wcu.toFixed(2)} write units/event (${(computed.writeUnits / measuredEvents).toFixed(2)} by item sizes; claims included), ${rcu} read units/request\n` +
      `  pipeline ${Math.round(cpuUsPerEvent)} µs CPU/event, ${Math.round(events / seconds)} events/s in memory; ${Math.round(measuredEvents / realSeconds)} events/s on DynamoDB`,
  );
  console.log(rows.at(-1));
}
if (figures.hot_merchant_cpu_us_per_event && figures.demo_cpu_us_per_event)
  figures.hot_merchant_cpu_ratio_to_demo =
    Math.round(((figures.hot_merchant_cpu_us_per_event as number) / (figures.demo_cpu_us_per_event as number)) * 100) / 100;
figures.capacity_reported_by_target = reportsCapacity.value;
dynamodb.destroy();
await emulators?.stop();
console.log(JSON.stringify(figures));
