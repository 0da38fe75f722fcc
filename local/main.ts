/**
 * `npm start`: the whole store on this machine, no AWS account, no Docker. Starts local mode
 * (emulators, stream handler behind the event source mapping, serve handler behind the HTTP
 * adapter, the scheduled compaction and batch runs on timers), writes the discovery file
 * the CLI finds it by (`.work/local-endpoints.json`), gives every demo card holder a first
 * transaction, then keeps feeding synthetic card traffic into the stream while it serves.
 * Ctrl-C stops everything, removes the discovery file and exits 0.
 *
 * The only process that reads the environment here: PORT (default 4000).
 */
import { performance } from 'node:perf_hooks';
import type { Transaction } from '../features/fraud.js';
import { TransactionGenerator, userId } from '../features/generator.js';
import { type DiscoveryFile, LOCAL_ENDPOINTS_FILE, writeDiscoveryFile } from './discovery.js';
import { type LocalStore, startLocalStore } from './store.js';
import { scheduledJobs, startTimers, type Timers } from './timers.js';

const DEMO = { seed: 2026, users: 200, merchants: 50, eventsPerSecond: 4 } as const;

async function main(): Promise<void> {
  // performance.now() counts from the start of this process.
  const timings: [string, number][] = [['Node.js and the code loaded', performance.now()]];
  const port = Number(process.env.PORT ?? 4000);
  if (!Number.isInteger(port) || port < 0 || port > 65_535) throw new Error(`PORT=${process.env.PORT} is not a port number`);

  let starting: Promise<LocalStore | undefined> | undefined;
  let ticker: NodeJS.Timeout | undefined;
  let feeding: Promise<void> = Promise.resolve();
  let timers: Timers | undefined;
  let discovery: DiscoveryFile | undefined;
  let stopping = false;
  const shutdown = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`\n${signal}: stopping the demo feed, the timers, the poller, the HTTP server and the emulators…`);
    // A stop that hangs is a bug; do not leave the terminal hanging with it.
    setTimeout(() => {
      console.error('shutdown took longer than 10 s; exiting anyway');
      process.exit(1);
    }, 10_000).unref();
    clearInterval(ticker);
    await feeding;
    await timers?.stop();
    // Before the emulators go, so the CLI never finds endpoints that no longer answer.
    discovery?.remove();
    await (await starting)?.stop();
    console.log('Tessera local mode stopped.');
    process.exitCode = 0;
  };
  // Registered before anything starts, so Ctrl-C during startup cleans up too. `on`, not
  // `once`: tsx relays Ctrl-C to this process a second time, and with no listener left that
  // second signal would end the process before the cleanup does.
  process.on('SIGINT', () => void shutdown('SIGINT'));
  process.on('SIGTERM', () => void shutdown('SIGTERM'));

  starting = startLocalStore({ port }).catch((error: NodeJS.ErrnoException) => {
    if (error.code !== 'EADDRINUSE') throw error;
    console.error(`Port ${port} is in use. Start on another one: PORT=4001 npm start`);
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

  const streamName = store.runtime.config.streams.transactions as string;
  const generator = new TransactionGenerator({ ...DEMO, clock: store.runtime.now });
  const send = async (events: readonly Transaction[]) => {
    // Keyed by card holder, as a payment switch would: one holder's events stay in order on one shard.
    const records = events.map((event) => ({ partitionKey: event.user_id, data: Buffer.from(JSON.stringify(event)) }));
    const { failed } = await store.runtime.events.put(streamName, records);
    if (failed) console.warn(`${failed} demo events could not be written to ${streamName}`);
  };

  // A first transaction for every card holder, so every demo user has features at once.
  const burst = generator.users.map((user) => generator.next({ userId: user.userId }));
  try {
    await send(burst);
    await store.poller.drain();
    timings.push([`a first transaction for each of the ${burst.length} card holders`, performance.now()]);
    await checkServing(store.url);
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

  ticker = setInterval(() => {
    feeding = feeding.then(() => send([generator.next()])).catch((error) => console.warn(`demo feed: ${(error as Error).message}`));
  }, 1000 / DEMO.eventsPerSecond);

  printBanner(store.url, `${readySeconds} s: ${steps}`, burst[0] as Transaction, timers.jobs);
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

function printBanner(url: string, startup: string, first: Transaction, jobs: Timers['jobs']): void {
  const curl = (path: string, body?: unknown) =>
    body === undefined ? `curl -s ${url}${path}` : `curl -s ${url}${path} -H 'content-type: application/json' \\\n    -d '${JSON.stringify(body)}'`;
  const pushed = { ...first, event_id: 'my-first-event', amount: 1250, ts: Date.now() };
  console.log(`
Tessera local mode is serving at ${url}\nReady in ${startup}.
Demo feed: ${DEMO.users} card holders (u0001…${userId(DEMO.users)}), ${DEMO.merchants} merchants, ~${DEMO.eventsPerSecond} transactions/s into the stream.

Features for a card holder (fraud_v1):
  ${curl('/v1/features', { service: 'fraud_v1', entities: [{ user_id: 'u0001' }] })}

Features for an authorisation being scored (fraud_v2: user, merchant and request context):
  ${curl('/v1/features', { service: 'fraud_v2', entities: [{ user_id: first.user_id, merchant_id: first.merchant_id, amount: 250, currency: first.currency, lat: first.lat, lon: first.lon }] })}

The catalog, with lineage:
  ${curl('/v1/catalog')}

Push an event (validated like the stream; then read u0001 again):
  ${curl('/v1/push', { source: 'transactions', events: [pushed] })}

Scheduled, as EventBridge would: ${jobs.map((job) => `${job.name} every ${formatEvery(job.everyMs)}`).join(', ')}.
The CLI finds this store through ${LOCAL_ENDPOINTS_FILE}, e.g.
  npx tessera backfill --source transactions --from 2026-01-01T00:00:00Z --to 2026-01-02T00:00:00Z

Ctrl-C stops everything.`);
}

const formatEvery = (ms: number): string => (ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`);

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
