/**
 * `npm run bench:fetch`: what an uncompacted hour costs a local training set. Writes ~12 000
 * small offline Parquet objects (the stream handler's per-batch objects, before compaction)
 * into one hour of one view in s3rver — local mode's object store, run in its own process as
 * under `npm start` — then builds the same training set with DuckDB at each download
 * concurrency, concurrency 1 (one object after the other) first as the baseline. Fetch
 * seconds are from the runner's first `fetch` progress event (listing) to its last (the last
 * download); the rest of the training set's time is DuckDB reading the files and the join.
 *
 *   npm run bench:fetch -- --objects 12000 --rows-per-object 20 --concurrency 1,16,32,64
 *
 * The last line printed is one JSON object of the figures, units in the key names.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { CreateBucketCommand, PutObjectCommand } from '@aws-sdk/client-s3';
import { z } from 'zod';
import { createClients } from '../lambdas/adapters/aws.js';
import { DuckDbTrainingRunner } from '../lambdas/adapters/duckdb-runner.js';
import { encodeRows } from '../lambdas/adapters/parquet.js';
import { buildTrainingSet } from '../lambdas/app/training-set.js';
import { entity, featureService, featureView, streamSource } from '../lambdas/core/definitions.js';
import { encodeEntityId } from '../lambdas/core/entity-key.js';
import { objectName, offlineKey, partitionOf } from '../lambdas/core/offline.js';
import { Registry } from '../lambdas/core/registry.js';
import { EMULATOR_CREDENTIALS, startEmulators } from '../local/emulators.js';

const { values: args } = parseArgs({
  options: {
    objects: { type: 'string', default: '12000' },
    'rows-per-object': { type: 'string', default: '20' },
    labels: { type: 'string', default: '2000' },
    users: { type: 'string', default: '1000' },
    concurrency: { type: 'string', default: '1,16,32,64' },
    /** Internal: run s3rver (local mode's emulators) in this process and print its endpoint. */
    serve: { type: 'boolean', default: false },
  },
});

if (args.serve) {
  const emulators = await startEmulators();
  console.log(JSON.stringify({ s3: emulators.endpoints.s3 }));
  process.on('SIGTERM', () => void emulators.stop().then(() => process.exit(0)));
} else {
  await main();
}

async function main(): Promise<void> {
  const OBJECTS = Number(args.objects);
  const ROWS = Number(args['rows-per-object']);
  const LABELS = Number(args.labels);
  const USERS = Number(args.users);
  const levels = args.concurrency.split(',').map(Number);
  if (levels[0] !== 1 || levels.some((c) => !Number.isInteger(c) || c < 1))
    throw new Error('--concurrency: a list of positive integers starting with 1 (the baseline)');

  const user = entity({ name: 'user', joinKey: 'user_id' });
  const source = streamSource({
    name: 'txns',
    schema: z.object({ id: z.string(), ts: z.number(), user_id: z.string() }),
    eventTimeField: 'ts',
    eventIdField: 'id',
  });
  const view = featureView({ source, name: 'user_txn', entities: [user], features: { amount: 'float' }, ttl: '1d', owner: 'bench', description: 'bench' });
  const registry = new Registry([user, source, view, featureService({ name: 'bench', features: [view], owner: 'bench', description: 'bench' })]);
  const HOUR_START = Date.UTC(2026, 0, 5, 10);
  const HOUR = 3_600_000;

  const server = await startServer();
  const dir = mkdtempSync(join(tmpdir(), 'tessera-bench-fetch-'));
  try {
    const clients = createClients({ region: 'us-east-1', credentials: EMULATOR_CREDENTIALS, endpoints: { s3: server.endpoint } });
    const bucket = 'bench';
    await clients.s3.send(new CreateBucketCommand({ Bucket: bucket }));

    // One object per "batch", all in one event-time hour, named as the stream handler names
    // them. Encoding is not what is measured: 100 distinct bodies (distinct events) are
    // encoded once and cycled, so most objects repeat another's events, as copies the
    // query drops.
    const partition = partitionOf(HOUR_START);
    const bodies = await Promise.all(
      Array.from({ length: Math.min(100, OBJECTS) }, (_, n) =>
        encodeRows(
          view,
          Array.from({ length: ROWS }, (_, r) => {
            const userId = `u${(n * ROWS + r) % USERS}`;
            const eventTs = HOUR_START + Math.floor(((n * ROWS + r) / (100 * ROWS)) * HOUR);
            return {
              view: view.name,
              entityId: encodeEntityId([userId]),
              keys: { user_id: userId },
              eventTs,
              ingestTs: eventTs + 1_000,
              eventId: `e${n}-${r}`,
              values: { amount: r },
            };
          }),
        ),
      ),
    );
    const writeStarted = performance.now();
    let next = 0;
    const writeOne = async () => {
      for (let n = next++; n < OBJECTS; n = next++) {
        const key = offlineKey(view.name, partition, objectName(['shardId-000000000000', String(n)]));
        await clients.s3.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bodies[n % bodies.length] }));
      }
    };
    await Promise.all(Array.from({ length: 32 }, writeOne));
    const writeSeconds = (performance.now() - writeStarted) / 1000;
    console.log(`wrote ${OBJECTS} objects of ${ROWS} rows in ${round(writeSeconds)} s`);

    const labels = join(dir, 'labels.csv');
    const lines = Array.from({ length: LABELS }, (_, i) => `u${i % USERS},${HOUR_START + Math.floor((i / LABELS) * HOUR) + 1},${i % 2}`);
    writeFileSync(labels, `user_id,event_timestamp,label\n${lines.join('\n')}\n`);

    const runs: { concurrency: number; fetch_seconds: number; total_seconds: number; null_rate: number }[] = [];
    for (const concurrency of levels) {
      let fetchStarted: number | undefined;
      let fetchEnded: number | undefined;
      const started = performance.now();
      const summary = await buildTrainingSet(
        { labels, service: 'bench', out: join(dir, `out-${concurrency}.parquet`) },
        {
          registry,
          database: 'tessera',
          runner: new DuckDbTrainingRunner({ s3: clients.s3, bucket, concurrency }),
          tmpDir: dir,
          onProgress: (p) => {
            // From listing the objects to the last download; DuckDB's reading them is the query's.
            if (p.stage === 'fetch') fetchStarted ??= performance.now();
            if (p.stage === 'fetch' && p.done === p.total) fetchEnded = performance.now();
          },
        },
      );
      const total = (performance.now() - started) / 1000;
      const fetch = ((fetchEnded ?? Number.NaN) - (fetchStarted ?? Number.NaN)) / 1000;
      const nullRate = summary.nullRates.user_txn__amount ?? 1;
      runs.push({ concurrency, fetch_seconds: round(fetch), total_seconds: round(total), null_rate: round(nullRate) });
      console.log(
        `concurrency ${String(concurrency).padStart(3)}: fetch ${round(fetch)} s, training set ${round(total)} s (${summary.rows} rows, ${round(nullRate * 100)} % null)`,
      );
    }
    const baseline = runs[0]!;
    if (baseline.null_rate === 1) throw new Error('the training set found no feature values: the objects were not read');
    const best = runs.reduce((a, b) => (b.fetch_seconds < a.fetch_seconds ? b : a));
    const figures: Record<string, unknown> = {
      objects: OBJECTS,
      rows_per_object: ROWS,
      label_rows: LABELS,
      write_seconds: round(writeSeconds),
      ...Object.fromEntries(
        runs.flatMap((r) => [
          [`fetch_seconds_at_${r.concurrency}`, r.fetch_seconds],
          [`training_set_seconds_at_${r.concurrency}`, r.total_seconds],
        ]),
      ),
      fastest_concurrency: best.concurrency,
      fetch_speedup_at_fastest_ratio: round(baseline.fetch_seconds / best.fetch_seconds),
      /** Every run read the same rows: the feature's null rate is the same at every concurrency. */
      same_result_at_every_concurrency: runs.every((r) => r.null_rate === baseline.null_rate),
      feature_null_rate: baseline.null_rate,
      load_average_1m: round(loadavg()[0] as number),
    };
    console.log(JSON.stringify(figures));
  } finally {
    rmSync(dir, { recursive: true, force: true });
    await server.stop();
  }
}

/** s3rver in a child process (this file with --serve), as local mode runs it apart from the CLI. */
async function startServer(): Promise<{ endpoint: string; stop(): Promise<void> }> {
  const child: ChildProcess = spawn(process.execPath, ['--import', 'tsx', new URL(import.meta.url).pathname, '--serve'], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = createInterface({ input: child.stdout! });
  const [first] = (await once(lines, 'line')) as [string];
  const { s3 } = JSON.parse(first) as { s3: string };
  return {
    endpoint: s3,
    async stop() {
      child.kill('SIGTERM');
      await once(child, 'exit');
    },
  };
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000;
}
