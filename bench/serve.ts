/**
 * `npm run bench:serve`: what the serving API costs on top of the store read it makes.
 * Starts local mode (embedded emulators) with a bench registry — one view of 50 float
 * features, one service serving them — loads 100 entities through the stream, then drives,
 * from a separate process at the same concurrency, for 1 entity × 50 features and
 * 100 entities × 50 features:
 * - `api`: POST /v1/features with autocannon (HTTP adapter → serve handler → BatchGetItem →
 *   dynalite → response);
 * - `raw`: the raw store read — the very BatchGetItem HTTP request the handler sends for the
 *   same request (same keys, same projection, captured from the SDK after signing), replayed
 *   to dynalite by autocannon: the emulator's own cost, no client;
 * - `sdk`: the same BatchGetItem input sent through a DynamoDB SDK client (the adapter's
 *   settings): what a caller reading the store itself, instead of the API, would pay.
 * Then the handler's own work, in-process, with the store answered from memory.
 * Finally the serve bundle's size and load time (bench/serve-bundle.ts).
 *
 *   npm run bench:serve -- --connections 8 --duration 5
 *
 * Latencies are per response (autocannon's `response` event, sub-millisecond), after a
 * warm-up. The local HTTP adapter stands in for API Gateway, so "API" here includes it; in
 * AWS, API Gateway's own latency replaces it. The last line printed is one JSON object of the
 * figures, units in the key names.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { Logger } from '@aws-lambda-powertools/logger';
import { BatchGetItemCommand, type BatchGetItemCommandInput } from '@aws-sdk/client-dynamodb';
import { PutRecordsCommand } from '@aws-sdk/client-kinesis';
import type { DeserializeMiddleware, HttpRequest, InitializeMiddleware } from '@smithy/types';
import type { APIGatewayProxyEvent } from 'aws-lambda';
import * as z from 'zod';
import { LogAuditTrail } from '../lambdas/adapters/audit-trail.js';
import { type AwsAccess, createDynamoDbClient } from '../lambdas/adapters/aws.js';
import type { OnlineStore } from '../lambdas/adapters/ports.js';
import { entity, featureService, featureView, streamSource } from '../lambdas/core/definitions.js';
import { groupKey, type OnlineGroup, onlineGroups } from '../lambdas/core/online.js';
import { Registry } from '../lambdas/core/registry.js';
import { createServeHandler } from '../lambdas/handlers/serve.js';
import { startLocalStore } from '../local/store.js';
import { measureServeBundle, printBundleFigures } from './serve-bundle.js';

// ---------------------------------------------------------------- load generator (child) --

interface LoadSpec {
  /** autocannon over HTTP, or BatchGetItem calls through the SDK. */
  readonly kind: 'http' | 'sdk';
  readonly url: string;
  readonly method: 'POST';
  readonly headers: Record<string, string>;
  readonly body: string;
  readonly connections: number;
  readonly durationS: number;
  readonly warmupS: number;
  /** For `sdk`: the client's access and the command input. */
  readonly access?: AwsAccess;
  readonly input?: BatchGetItemCommandInput;
}

interface LoadResult {
  readonly requests: number;
  readonly rps: number;
  readonly p50Ms: number;
  readonly p90Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
  readonly non2xx: number;
  readonly errors: number;
}

type AutocannonInstance = NodeJS.EventEmitter & { stop(): void };
type Autocannon = (
  options: Record<string, unknown>,
  done: (error: Error | null, result: { errors: number; non2xx: number; duration: number }) => void,
) => AutocannonInstance;

/** One autocannon run; resolves to the latency of every 2xx response, in ms, and its totals. */
function cannon(spec: LoadSpec, durationS: number): Promise<{ latencies: number[]; errors: number; non2xx: number; seconds: number }> {
  const autocannon = createRequire(import.meta.url)('autocannon') as Autocannon;
  return new Promise((resolve, reject) => {
    const latencies: number[] = [];
    const instance = autocannon(
      { url: spec.url, method: spec.method, headers: spec.headers, body: spec.body, connections: spec.connections, duration: durationS },
      (error, result) => (error ? reject(error) : resolve({ latencies, errors: result.errors, non2xx: result.non2xx, seconds: result.duration })),
    );
    instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
      if (status >= 200 && status < 300) latencies.push(ms);
    });
  });
}

const percentile = (sorted: readonly number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? Number.NaN;

/** `connections` loops of BatchGetItem calls through one SDK client, for `durationS`. */
async function sdkLoops(spec: LoadSpec, durationS: number): Promise<{ latencies: number[]; errors: number; non2xx: number; seconds: number }> {
  const client = createDynamoDbClient(spec.access as AwsAccess);
  const latencies: number[] = [];
  let errors = 0;
  const began = performance.now();
  const until = began + durationS * 1000;
  await Promise.all(
    Array.from({ length: spec.connections }, async () => {
      while (performance.now() < until) {
        const start = performance.now();
        try {
          await client.send(new BatchGetItemCommand(spec.input as BatchGetItemCommandInput));
          latencies.push(performance.now() - start);
        } catch {
          errors += 1;
        }
      }
    }),
  );
  client.destroy();
  return { latencies, errors, non2xx: 0, seconds: (performance.now() - began) / 1000 };
}

async function generateLoad(spec: LoadSpec): Promise<LoadResult> {
  const drive = spec.kind === 'sdk' ? sdkLoops : cannon;
  await drive(spec, spec.warmupS);
  const { latencies, errors, non2xx, seconds } = await drive(spec, spec.durationS);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    requests: latencies.length,
    rps: latencies.length / seconds,
    p50Ms: percentile(sorted, 50),
    p90Ms: percentile(sorted, 90),
    p99Ms: percentile(sorted, 99),
    maxMs: sorted[sorted.length - 1] ?? Number.NaN,
    non2xx,
    errors,
  };
}

/** Runs the load generator in a child process, so it does not share the server's event loop. */
function loadFromChild(spec: LoadSpec): Promise<LoadResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [...process.execArgv, fileURLToPath(import.meta.url), '--load-generator', JSON.stringify(spec)], {
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    let out = '';
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString();
    });
    child.once('error', reject);
    child.once('exit', (code) =>
      code === 0 ? resolve(JSON.parse(out.trim().split('\n').pop() as string) as LoadResult) : reject(new Error(`load generator exited ${code}`)),
    );
  });
}

// ----------------------------------------------------------------------- the bench (parent) --

const FEATURES = Array.from({ length: 50 }, (_, i) => `f${String(i).padStart(2, '0')}`);
const ITEMS = Array.from({ length: 100 }, (_, i) => `i${String(i + 1).padStart(4, '0')}`);

function benchRegistry(): Registry {
  const item = entity({ name: 'item', joinKey: 'item_id' });
  const events = streamSource({
    name: 'bench_events',
    schema: z.object({ event_id: z.string(), item_id: z.string(), ts: z.number().int(), ...Object.fromEntries(FEATURES.map((f) => [f, z.number()])) }),
    eventTimeField: 'ts',
    eventIdField: 'event_id',
  });
  const wide = featureView({
    name: 'wide',
    entities: [item],
    source: events,
    features: Object.fromEntries(FEATURES.map((f) => [f, 'float' as const])),
    ttl: '30d',
    owner: 'bench',
    description: 'Fifty float features of an item',
  });
  return new Registry([item, events, wide, featureService({ name: 'wide_50', features: [wide], owner: 'bench', description: 'All fifty' })]);
}

type Path = 'raw' | 'sdk' | 'api';
const PATHS: readonly Path[] = ['raw', 'sdk', 'api'];

interface Scenario {
  readonly name: string;
  readonly entities: number;
  readonly connections: number;
}

async function main(): Promise<void> {
  // The SDK warns once per process that Node 20 will lose support; known, and noise here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  const { values: args } = parseArgs({
    options: {
      connections: { type: 'string', default: '8' },
      duration: { type: 'string', default: '5' },
      warmup: { type: 'string', default: '1' },
      'handler-iterations': { type: 'string', default: '2000' },
      'skip-bundle': { type: 'boolean', default: false },
    },
  });
  const connections = Number(args.connections);
  const durationS = Number(args.duration);
  const warmupS = Number(args.warmup);
  const now = Date.now();
  console.log(
    `bench:serve on ${cpus().length} CPUs (load average ${loadavg()[0]?.toFixed(2)}), ${connections} connections, ${durationS} s per run after ${warmupS} s warm-up`,
  );

  const store = await startLocalStore({ port: 0, poll: false, registry: benchRegistry(), logLevel: 'ERROR', now: () => now });
  try {
    // Load: one event per item, through the stream and the stream handler.
    const { runtime } = store;
    const put = await runtime.clients.kinesis.send(
      new PutRecordsCommand({
        StreamName: runtime.config.streams.bench_events,
        Records: ITEMS.map((itemId, i) => ({
          PartitionKey: itemId,
          Data: Buffer.from(
            JSON.stringify({ event_id: `e-${itemId}`, item_id: itemId, ts: now - 60_000, ...Object.fromEntries(FEATURES.map((f, j) => [f, i + j / 100])) }),
          ),
        })),
      }),
    );
    if (put.FailedRecordCount) throw new Error(`${put.FailedRecordCount} bench events were not written`);
    await store.poller.drain();

    const bodyFor = (entities: number) => JSON.stringify({ service: 'wide_50', entities: ITEMS.slice(0, entities).map((item_id) => ({ item_id })) });

    // The raw store read of each request, captured from the handler's own DynamoDB client:
    // the command input, and the HTTP request it became (signed).
    const captured = new Map<number, { input: BatchGetItemCommandInput; request: HttpRequest }>();
    let capturing = 0;
    const captureInput: InitializeMiddleware<object, object> = (next, context) => async (args) => {
      if (context.commandName === 'BatchGetItemCommand')
        captured.set(capturing, { input: args.input as BatchGetItemCommandInput, request: undefined as never });
      return next(args);
    };
    const captureRequest: DeserializeMiddleware<object, object> = (next, context) => async (args) => {
      const entry = captured.get(capturing);
      if (context.commandName === 'BatchGetItemCommand' && entry) captured.set(capturing, { ...entry, request: args.request as HttpRequest });
      return next(args);
    };
    const stack = runtime.clients.dynamodb.middlewareStack as unknown as { add(m: unknown, o: object): void; remove(name: string): boolean };
    stack.add(captureInput, { step: 'initialize', name: 'bench-capture-input' });
    stack.add(captureRequest, { step: 'deserialize', name: 'bench-capture-request' });
    for (const entities of [1, 100]) {
      capturing = entities;
      const response = await fetch(`${store.url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: bodyFor(entities) });
      const body = (await response.json()) as { results: { status: Record<string, string> }[] };
      if (response.status !== 200 || body.results.length !== entities || Object.values(body.results[0]?.status ?? {}).some((s) => s !== 'present')) {
        throw new Error(`the API does not serve the bench data: ${response.status} ${JSON.stringify(body).slice(0, 300)}`);
      }
    }
    stack.remove('bench-capture-input');
    stack.remove('bench-capture-request');

    const specFor = (kind: Path, entities: number, c: number): LoadSpec => {
      const common = { method: 'POST' as const, connections: c, durationS, warmupS };
      if (kind === 'api')
        return { ...common, kind: 'http', url: `${store.url}/v1/features`, headers: { 'content-type': 'application/json' }, body: bodyFor(entities) };
      const { input, request } = captured.get(entities) as { input: BatchGetItemCommandInput; request: HttpRequest };
      if (kind === 'sdk') return { ...common, kind: 'sdk', url: '', headers: {}, body: '', access: runtime.config.access, input };
      const { host: _host, 'content-length': _length, ...headers } = request.headers;
      // The SDK's body is a Uint8Array that warns on string methods: decode its bytes.
      const body = typeof request.body === 'string' ? request.body : new TextDecoder().decode(request.body as Uint8Array);
      return { ...common, kind: 'http', url: `${store.endpoints.dynamodb}${request.path}`, headers, body };
    };

    const scenarios: Scenario[] = [
      { name: '1x50', entities: 1, connections },
      { name: '100x50', entities: 100, connections },
      { name: '1x50_c1', entities: 1, connections: 1 },
    ];
    const figures: Record<string, number> = {};
    const rows: string[][] = [['scenario', 'path', 'conns', 'req/s', 'p50 ms', 'p90 ms', 'p99 ms', 'max ms', 'non-2xx']];
    for (const scenario of scenarios) {
      const results = {} as Record<Path, LoadResult>;
      for (const kind of PATHS) {
        const result = await loadFromChild(specFor(kind, scenario.entities, scenario.connections));
        results[kind] = result;
        rows.push([
          scenario.name,
          kind,
          String(scenario.connections),
          result.rps.toFixed(0),
          ms(result.p50Ms),
          ms(result.p90Ms),
          ms(result.p99Ms),
          ms(result.maxMs),
          String(result.non2xx + result.errors),
        ]);
        figures[`${kind}_${scenario.name}_p50_ms`] = round(result.p50Ms);
        figures[`${kind}_${scenario.name}_p99_ms`] = round(result.p99Ms);
        figures[`${kind}_${scenario.name}_rps`] = Math.round(result.rps);
        if (result.non2xx + result.errors > 0) figures[`${kind}_${scenario.name}_failed_requests`] = result.non2xx + result.errors;
      }
      for (const base of ['raw', 'sdk'] as const) {
        figures[`api_over_${base}_${scenario.name}_p50_added_ms`] = round(results.api.p50Ms - results[base].p50Ms);
        figures[`api_over_${base}_${scenario.name}_p99_added_ms`] = round(results.api.p99Ms - results[base].p99Ms);
        figures[`api_over_${base}_${scenario.name}_p99_ratio`] = round(results.api.p99Ms / results[base].p99Ms);
        figures[`api_over_${base}_${scenario.name}_rps_ratio`] = round(results.api.rps / results[base].rps);
      }
    }
    console.log(`\n${table(rows)}`);

    // The handler's own work: the same requests, the store answered from memory.
    const iterations = Number(args['handler-iterations']);
    for (const entities of [1, 100]) {
      const group = onlineGroups(runtime.registry.views).get('wide') as OnlineGroup;
      const pks = ITEMS.slice(0, entities).map((item) => groupKey(group, item));
      const items = await runtime.online.read(pks);
      const memory: OnlineStore = { read: async () => items, apply: async () => [] };
      // Three handlers, one store: audit entries as local mode records them (buffered, written to
      // the emulated S3 in this very process), as a deployed handler does (one log line, its
      // write to stdout left out), and dropped — the baseline in the same run.
      const variants = {
        local: createServeHandler({ ...runtime, online: memory }),
        deployed: createServeHandler({ ...runtime, online: memory, audit: new LogAuditTrail(new Logger({ serviceName: 'tessera', logLevel: 'ERROR' })) }),
        none: createServeHandler({ ...runtime, online: memory, audit: { record: () => {}, flush: async () => {} } }),
      };
      const event = {
        httpMethod: 'POST',
        path: '/v1/features',
        body: bodyFor(entities),
        requestContext: { requestId: 'bench', identity: {} },
      } as unknown as APIGatewayProxyEvent;
      const timed = async (serve: (e: APIGatewayProxyEvent) => Promise<unknown>) => {
        const write = process.stdout.write;
        process.stdout.write = (() => true) as typeof write;
        try {
          for (let i = 0; i < iterations / 10; i++) await serve(event);
          const started = process.hrtime.bigint();
          for (let i = 0; i < iterations; i++) await serve(event);
          return Number(process.hrtime.bigint() - started) / 1e3 / iterations;
        } finally {
          process.stdout.write = write;
        }
      };
      // Interleaved rounds, the median of each: the machine's noise hits every variant alike.
      const times: Record<keyof typeof variants, number[]> = { local: [], deployed: [], none: [] };
      for (let round = 0; round < 5; round++) {
        for (const [name, serve] of Object.entries(variants)) times[name as keyof typeof variants].push(await timed(serve));
      }
      await runtime.audit.flush();
      const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
      const [perRequestUs, deployedUs, withoutAuditUs] = [median(times.local), median(times.deployed), median(times.none)];
      console.log(
        `serve handler's own work, ${entities} x 50, store in memory: ${perRequestUs.toFixed(1)} µs per request with local mode's audit delivery, ` +
          `${deployedUs.toFixed(1)} µs with the deployed audit log line, ${withoutAuditUs.toFixed(1)} µs without an audit entry`,
      );
      figures[`handler_${entities}x50_us`] = Math.round(perRequestUs * 10) / 10;
      figures[`handler_${entities}x50_audit_log_line_us`] = Math.round(deployedUs * 10) / 10;
      figures[`handler_${entities}x50_without_audit_us`] = Math.round(withoutAuditUs * 10) / 10;
    }

    for (const base of ['raw', 'sdk'] as const) {
      console.log(
        `API over the ${base === 'raw' ? 'raw store read (wire replay)' : 'store read through the SDK'}, 1 x 50: p99 +${figures[`api_over_${base}_1x50_p99_added_ms`]} ms at ${connections} connections, ` +
          `+${figures[`api_over_${base}_1x50_c1_p99_added_ms`]} ms at 1 (goal: ≤ 1 ms)`,
      );
    }

    if (!args['skip-bundle']) Object.assign(figures, printBundleFigures(await measureServeBundle()));
    console.log(JSON.stringify({ connections, duration_s: durationS, cpus: cpus().length, load_average_1m: round(loadavg()[0] ?? 0), ...figures }));
  } finally {
    await store.stop();
  }
}

const round = (n: number) => Math.round(n * 1000) / 1000;
const ms = (n: number) => n.toFixed(3);
function table(rows: string[][]): string {
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  return rows.map((r) => r.map((cell, i) => (i < 3 ? cell.padEnd(widths[i] ?? 0) : cell.padStart(widths[i] ?? 0))).join('  ')).join('\n');
}

if (process.argv[2] === '--load-generator') {
  generateLoad(JSON.parse(process.argv[3] as string) as LoadSpec)
    .then((result) => console.log(JSON.stringify(result)))
    .catch((error) => {
      console.error(error);
      process.exit(1);
    });
} else {
  main().catch((error) => {
    console.error(error);
    process.exit(1);
  });
}
