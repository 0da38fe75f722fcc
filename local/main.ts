/**
 * `npm start`: the whole store on this machine, no AWS account, no Docker. Starts local mode
 * (emulators, stream handler behind the event source mapping, serve handler behind the HTTP
 * adapter, the scheduled compaction and batch runs on timers), writes the discovery file
 * the CLI finds it by (`.work/local-endpoints.json`), and with the demo definitions gives
 * every demo card holder a first transaction, then keeps feeding synthetic card traffic into
 * the stream while it serves. Data is kept under `.work/local` between runs (`--fresh`
 * starts from nothing). Ctrl-C, SIGTERM or a closed terminal (SIGHUP) stops everything,
 * removes the discovery file and exits 0.
 *
 * The only process that reads the environment and argv here (local/options.ts: PORT, flags).
 */
import { rm } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { countOf, loadRegistry } from '../cli/definitions.js';
import { sdkNodeWarningOnce } from '../cli/sdk-warning.js';
import type { Transaction } from '../features/fraud.js';
import { TransactionGenerator, userId } from '../features/generator.js';
import type { Registry } from '../lambdas/core/registry.js';
import { type DiscoveryFile, LOCAL_ENDPOINTS_FILE, writeDiscoveryFile } from './discovery.js';
import { type LocalModeOptions, parseLocalModeOptions, USAGE, UsageError } from './options.js';
import { type LocalStore, startLocalStore } from './store.js';
import { scheduledJobs, startTimers, type Timers } from './timers.js';

const DEMO = { seed: 2026, users: 200, merchants: 50, eventsPerSecond: 4 } as const;
const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;

async function main(): Promise<void> {
  // performance.now() counts from the start of this process.
  const timings: [string, number][] = [['Node.js and the code loaded', performance.now()]];
  const options = parseLocalModeOptions(process.argv.slice(2), process.env);
  sdkNodeWarningOnce(process.env);
  if (options.help) return console.log(USAGE);
  const registry = await loadRegistry(options.definitions);
  if (options.fresh) await rm(options.dataDirectory, { recursive: true, force: true });

  let starting: Promise<LocalStore | undefined> | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let feeding: Promise<void> = Promise.resolve();
  let timers: Timers | undefined;
  let discovery: DiscoveryFile | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    // First, and synchronous: whatever happens next, the CLI never finds endpoints that no longer answer.
    discovery?.remove();
    console.log(`\n${signal}: stopping the demo feed, the timers, the poller, the HTTP server and the emulators…`);
    // A stop that hangs is a bug; do not leave the terminal hanging with it.
    setTimeout(() => {
      console.error('shutdown took longer than 10 s; exiting anyway');
      process.exit(1);
    }, 10_000).unref();
    clearInterval(ticker);
    await feeding;
    await timers?.stop();
    await (await starting)?.stop();
    console.log(`Tessera local mode stopped; its data stays in ${options.dataDirectory} (npm start -- --fresh starts from nothing).`);
    process.exitCode = 0;
  };
  // Registered before anything starts, so a signal during startup cleans up too. `on`, not
  // `once`: npm and the terminal may each deliver Ctrl-C, and with no listener left a second
  // signal would end the process before the cleanup does. SIGHUP: the terminal was closed.
  for (const signal of SIGNALS) process.on(signal, () => void shutdown(signal));

  starting = startLocalStore({
    port: options.port,
    registry,
    dataDirectory: options.dataDirectory,
    ...(options.caller ? { identity: { userArn: options.caller } } : {}),
    principals: options.principals,
  }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE') throw error;
    console.error(`Port ${options.port} is in use. Start on another one: PORT=4001 npm start`);
    process.exitCode = 1;
    return undefined;
  });
  const store = await starting;
  if (!store || stopping) return;
  timings.push(['emulators, resources and handlers', performance.now()]);

  const log = { info: (message: string) => console.log(`[timers] ${message}`), warn: (message: string) => console.warn(`[timers] ${message}`) };
  timers = startTimers(scheduledJobs(store.runtime, { log }), log);
  try {
    discovery = await writeDiscoveryFile(store);
  } catch (error) {
    await timers.stop();
    await store.stop();
    throw error;
  }
  // A crash skips the shutdown above; the file must not outlive the process either way.
  process.on('exit', () => discovery?.remove());
  if (stopping) return discovery.remove();

  let demo: DemoFeed | undefined;
  try {
    if (options.demo) {
      demo = await startDemoFeed(store);
      timings.push([`a first transaction for each of the ${DEMO.users} card holders`, performance.now()]);
      await checkServing(store.url);
    } else {
      await checkHealth(store.url);
    }
  } catch (error) {
    if (stopping) return;
    await timers.stop();
    discovery.remove();
    await store.stop();
    throw error;
  }
  if (stopping) return;
  const readySeconds = (performance.now() / 1000).toFixed(1);
  const steps = timings.map(([what, at], i) => `${what} ${((at - (timings[i - 1]?.[1] ?? 0)) / 1000).toFixed(1)} s`).join(', ');
  if (demo) {
    const next = demo.next;
    ticker = setInterval(() => {
      feeding = feeding.then(next).catch((error) => console.warn(`demo feed: ${(error as Error).message}`));
    }, 1000 / DEMO.eventsPerSecond);
  }
  printBanner(store.url, `${readySeconds} s: ${steps}`, demo?.first, timers.jobs, options, registry);
}

interface DemoFeed {
  readonly first: Transaction;
  /** Sends the next synthetic transaction. */
  next(): Promise<void>;
}

/** Gives every demo card holder a first transaction, served before it returns; then `next()` feeds one more. */
async function startDemoFeed(store: LocalStore): Promise<DemoFeed> {
  const streamName = store.runtime.config.streams.transactions as string;
  const generator = new TransactionGenerator({ ...DEMO, clock: store.runtime.now });
  // Event ids unique to this run: a restart with kept data must not look like a replay of the last one.
  const run = Date.now().toString(36);
  const send = async (events: readonly Transaction[]) => {
    // Keyed by card holder, as a payment switch would: one holder's events stay in order on one shard.
    const records = events.map((event) => ({
      partitionKey: event.user_id,
      data: Buffer.from(JSON.stringify({ ...event, event_id: `${run}-${event.event_id}` })),
    }));
    const { failed } = await store.runtime.events.put(streamName, records);
    if (failed) console.warn(`${failed} demo events could not be written to ${streamName}`);
  };
  const burst = generator.users.map((user) => generator.next({ userId: user.userId }));
  await send(burst);
  await store.poller.drain();
  return { first: burst[0] as Transaction, next: () => send([generator.next()]) };
}

/** Fails loudly unless the API answers. */
async function checkHealth(url: string): Promise<void> {
  const response = await fetch(`${url}/v1/health`);
  if (response.status !== 200) throw new Error(`local mode started but its API answers ${response.status} at ${url}/v1/health`);
}

/** Fails loudly unless the API serves present values of the first demo card holder's last transaction. */
async function checkServing(url: string): Promise<void> {
  const response = await fetch(`${url}/v1/features`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ service: 'fraud_v1', entities: [{ user_id: 'u0001' }] }),
  });
  const body = (await response.json()) as { results?: { status: Record<string, string> }[] };
  const lastTransaction = Object.entries(body.results?.[0]?.status ?? {}).filter(([column]) => column.startsWith('user_last_txn__'));
  if (response.status !== 200 || lastTransaction.length === 0 || lastTransaction.some(([, status]) => status !== 'present')) {
    throw new Error(`local mode started but does not serve u0001 yet: ${response.status} ${JSON.stringify(body)}`);
  }
}

function printBanner(url: string, startup: string, first: Transaction | undefined, jobs: Timers['jobs'], options: LocalModeOptions, registry: Registry): void {
  const curl = (path: string, body?: unknown) =>
    body === undefined ? `curl -s ${url}${path}` : `curl -s ${url}${path} -H 'content-type: application/json' \\\n    -d '${JSON.stringify(body)}'`;
  const callers = [
    ...(options.caller ? [`unsigned requests come as ${options.caller}`] : []),
    ...Object.entries(options.principals).map(([key, arn]) => `requests signed with ${key} come as ${arn}`),
  ];
  const lines = [
    '',
    `Tessera local mode is serving at ${url}`,
    `Ready in ${startup}.`,
    `Definitions: ${options.definitions} (${countOf(registry.views.size, 'feature view')}, ${countOf(registry.services.size, 'feature service')}: ${[...registry.services.keys()].join(', ') || '-'}).`,
    `Data: kept in ${options.dataDirectory} across restarts${options.fresh ? ' (started fresh)' : ''}; npm start -- --fresh starts from nothing.`,
    ...(callers.length ? [`Callers: ${callers.join('; ')}.`] : []),
  ];
  if (first) {
    const pushed = { ...first, event_id: 'my-first-event', amount: 1250, ts: Date.now() };
    lines.push(
      `Demo feed: ${DEMO.users} card holders (u0001…${userId(DEMO.users)}), ${DEMO.merchants} merchants, ~${DEMO.eventsPerSecond} transactions/s into the stream (npm start -- --no-demo turns it off).`,
      '',
      'Features for a card holder (fraud_v1):',
      `  ${curl('/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u0001' }] })}`,
      '',
      'Features for an authorisation being scored (fraud_v2: user, merchant and request context):',
      `  ${curl('/v1/features', { service: 'fraud_v2', entities: [{ user_id: first.user_id, merchant_id: first.merchant_id, amount: 250, currency: first.currency, lat: first.lat, lon: first.lon }] })}`,
      '',
      'Push an event (validated like the stream; then read u0001 again):',
      `  ${curl('/v1/push', { source: 'transactions', events: [pushed] })}`,
    );
  } else {
    lines.push(`Demo feed: off${options.demo ? '' : ' (push events with POST /v1/push or npx tessera push --file events.jsonl)'}.`);
  }
  lines.push('', 'The catalog, with lineage:', `  ${curl('/v1/catalog')}`, '');
  if (jobs.length) lines.push(`Scheduled, as EventBridge would: ${jobs.map((job) => `${job.name} every ${formatEvery(job.everyMs)}`).join(', ')}.`);
  lines.push(`The CLI finds this store through ${LOCAL_ENDPOINTS_FILE}, e.g.`);
  lines.push(
    first
      ? '  npx tessera backfill --source chargebacks --location ./features/sample-data/chargebacks --from 2026-01-01 --to 2026-01-31'
      : '  npx tessera plan',
  );
  lines.push('', 'Ctrl-C stops everything.');
  console.log(lines.join('\n'));
}

const formatEvery = (ms: number): string => (ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`);

main().catch((error) => {
  if (error instanceof UsageError) {
    console.error(error.message);
    process.exit(2);
  }
  console.error(error);
  process.exit(1);
});
