/**
 * A newcomer's first hour, as processes: local mode started the way `npm start` starts it
 * (`node --import tsx local/main.ts`, on a port of its own choosing, in a project folder of
 * its own), and the real `tessera` binary run against it from that folder. The CLI finds
 * local mode through its discovery file whatever the port; local mode keeps its data across
 * a restart and forgets it with --fresh; signals clean up fully.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync, readFileSync } from 'node:fs';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { type AddressInfo, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const DISCOVERY = '.work/local-endpoints.json';
let project: string;
const env = { ...process.env, PORT: '0', TESSERA_URL: '', AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' };
delete (env as Record<string, string | undefined>).TESSERA_URL;

interface LocalMode {
  readonly process: ChildProcess;
  readonly url: string;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts local mode in the project folder and resolves once it prints its banner. */
async function startLocalMode(...args: string[]): Promise<LocalMode> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'local/main.ts'), ...args], { cwd: project, env, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.on('data', (chunk) => {
    output += chunk;
  });
  child.stderr.on('data', (chunk) => {
    output += chunk;
  });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 90_000;
  while (!output.includes('Ctrl-C stops everything.')) {
    if (child.exitCode !== null) throw new Error(`local mode exited ${child.exitCode}:\n${output}`);
    if (Date.now() > deadline) throw new Error(`local mode did not get ready:\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  const url = /serving at (http:\/\/\S+)/.exec(output)?.[1] as string;
  return { process: child, url, output: () => output, exited };
}

async function stop(local: LocalMode, signal: NodeJS.Signals = 'SIGINT', times = 1): Promise<number | null> {
  for (let i = 0; i < times; i++) local.process.kill(signal);
  return local.exited;
}

/** Runs the real CLI binary in the project folder. */
function tessera(...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return tesseraIn(env, ...args);
}

function tesseraIn(environment: NodeJS.ProcessEnv, ...args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, ['--import', 'tsx', join(ROOT, 'bin/tessera.ts'), ...args], { cwd: project, env: environment }, (error, stdout, stderr) =>
      resolve({ code: error ? ((error as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
  });
}

/** Reads u0001's features through the CLI until its last transaction is the one given (the stream is polled every second). */
async function lastAmountOf(user: string, expected: number | undefined): Promise<unknown> {
  let last: unknown;
  for (let i = 0; i < 30; i++) {
    const { stdout, code, stderr } = await tessera('get', '--service', 'fraud_v1', '--entity', `user_id=${user}`, '--json');
    if (code !== 0) throw new Error(stderr);
    last = (JSON.parse(stdout) as { results: { values: Record<string, unknown> }[] }).results[0]?.values.user_last_txn__amount_usd;
    if (last === expected || expected === undefined) return last;
    await new Promise((r) => setTimeout(r, 500));
  }
  return last;
}

/** The sample labels' chargeback counts, as a CSV training set: the command's result and the file's lines. */
async function chargebackTrainingSet(out: string) {
  const training = await tessera(
    'training-set',
    '--labels',
    './features/sample-data/labels.csv',
    '--features',
    'user_chargebacks:chargeback_count_30d',
    '--out',
    out,
  );
  return { training, rows: existsSync(join(project, out)) ? readFileSync(join(project, out), 'utf8').trim().split('\n') : [] };
}

const NOW = Date.now();
const event = (id: string, amount: number) => ({
  event_id: id,
  user_id: 'u0001',
  merchant_id: 'm0001',
  amount,
  currency: 'USD',
  lat: 40.7,
  lon: -74,
  ts: NOW - 60_000,
});

beforeAll(async () => {
  // A project folder as a clone has it: the definitions and the installed packages (linked).
  project = await mkdtemp(join(tmpdir(), 'tessera-newcomer-'));
  await symlink(join(ROOT, 'node_modules'), join(project, 'node_modules'));
  await symlink(join(ROOT, 'features'), join(project, 'features'));
});
afterAll(async () => {
  await rm(project, { recursive: true, force: true });
});

describe('the CLI against local mode on a port of its own', { timeout: 240_000 }, () => {
  let local: LocalMode;
  beforeAll(async () => {
    local = await startLocalMode('--no-demo');
  }, 120_000);
  afterAll(async () => {
    if (local?.process.exitCode === null) await stop(local);
  });

  it('finds local mode through its discovery file: push and get reach the port it chose', async () => {
    // Prepare
    await writeFile(join(project, 'events.jsonl'), `${JSON.stringify(event('first-day-1', 42))}\n{"event_id": "broken"\n`);

    // Act
    const pushed = await tessera('push', '--file', 'events.jsonl');
    const amount = await lastAmountOf('u0001', 42);

    // Assess
    expect(local.url).not.toBe('http://127.0.0.1:4000');
    expect(pushed.stdout).toContain(`1 event sent to transactions on local mode at ${local.url}; 1 rejected.`);
    expect(pushed.code).toBe(2);
    expect(amount).toBe(42);
  });

  it('names the URL it tried, where it came from and the fix when nothing answers', async () => {
    // Prepare: a loopback port nothing listens on.
    const server = createServer().listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    await new Promise((r) => server.close(r));

    // Act
    const { code, stderr } = await tessera('get', '--url', `http://127.0.0.1:${port}`, '--service', 'fraud_v1', '--entity', 'user_id=u0001');

    // Assess
    expect(code).toBe(1);
    expect(stderr).toContain(`cannot reach local mode at http://127.0.0.1:${port} (from --url): ECONNREFUSED. Start local mode with \`npm start\``);
    expect(stderr).toContain('--url URL or TESSERA_URL=URL');
  });

  it("answers the first hour's small mistakes in words: no --service, an unknown source, an unknown --out extension, a bad label time", async () => {
    const noService = await tessera('get', '--entity', 'user_id=u0001');
    expect(noService.stderr).toContain(`give either --service NAME (services on local mode at ${local.url}: fraud_v1, fraud_v2) or --features view:feature,…`);
    const unknownSource = await tessera('push', '--file', 'events.jsonl', '--source', 'payments');
    expect(unknownSource.stderr).toContain('unknown stream source "payments"; the stream sources are transactions');
    const json = await tessera('training-set', '--labels', './features/sample-data/labels.csv', '--service', 'fraud_v1', '--out', 'train.json');
    expect(json.stderr).toContain('--out train.json: write a .parquet or .csv file');
    expect(existsSync(join(project, 'train.json'))).toBe(false);
    await writeFile(join(project, 'bad-labels.csv'), 'user_id,event_timestamp\nu0001,2026-01-01T00:00:00Z\nu0002,yesterday\n');
    const badTime = await tessera('training-set', '--labels', 'bad-labels.csv', '--service', 'fraud_v1', '--out', 'train.parquet');
    expect(badTime.stderr).toContain(
      'labels bad-labels.csv, row 2 (line 3), column event_timestamp: "yesterday" is neither epoch milliseconds nor an ISO-8601 time',
    );
    const version = await tessera('--version');
    expect(version.stdout.trim()).toBe(JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')).version);
    const plan = await tessera('plan');
    expect(plan.stdout).toContain('1 on-demand feature:\n  txn_risk:km_from_last');
    expect(plan.stdout).toContain('2 sources: chargebacks [batch], transactions [stream]');
  });

  it("shows the AWS SDK's Node-version warning once, not on every command", async () => {
    // Prepare: the SDK's own switch off, as on a newcomer's machine
    const { AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: _, ...newcomer } = env;

    // Act: two commands that build AWS clients (and then refuse an unknown source)
    const first = await tesseraIn(newcomer, 'backfill', '--source', 'nope', '--from', '0', '--to', '1');
    const second = await tesseraIn(newcomer, 'backfill', '--source', 'nope', '--from', '0', '--to', '1');

    // Assess
    expect(first.stderr).toContain('unknown source "nope"; the sources are chargebacks, transactions');
    if (Number(process.versions.node.split('.')[0]) < 22) expect(first.stderr).toContain('NodeVersionSupportWarning');
    expect(second.stderr).not.toContain('NodeVersionSupportWarning');
    expect(second.stderr).toContain('unknown source "nope"');
  });

  it("backfills the demo's sample folder through local mode's bucket, and a training set over the sample labels has its values", async () => {
    const backfill = await tessera(
      'backfill',
      '--source',
      'chargebacks',
      '--location',
      './features/sample-data/chargebacks',
      '--from',
      '2026-01-01',
      '--to',
      '2026-01-31',
    );
    expect(backfill.stderr).toContain("uploaded 26 files of ./features/sample-data/chargebacks to uploads/chargebacks/chargebacks/ in the store's bucket");
    expect(backfill.stdout).toMatch(/26\/26 files applied/);
    expect(backfill.stdout).toContain('60 rows written, 0 records rejected');
    const { training, rows } = await chargebackTrainingSet('chargebacks.csv');
    expect(training.stdout).toContain('40 rows, 1 feature');
    // u0001 disputed one transaction on 2026-01-01 and one on 2026-01-07 (features/sample-data).
    expect(rows[0]).toBe('user_id,event_timestamp,is_fraud,user_chargebacks__chargeback_count_30d');
    expect(rows[1]).toMatch(/^u0001,\d+,0,2$/);
  });

  it('keeps what it stored across a restart, and forgets it with --fresh', async () => {
    // Act: Ctrl-C, then start again in the same folder.
    const code = await stop(local);
    expect(code).toBe(0);
    expect(local.output()).toContain('Tessera local mode stopped; its data stays in .work/local');
    expect(existsSync(join(project, DISCOVERY))).toBe(false);
    local = await startLocalMode('--no-demo');

    // Assess: the online value and the offline rows (a training set) are still there.
    expect(await lastAmountOf('u0001', undefined)).toBe(42);
    const { training, rows } = await chargebackTrainingSet('again.csv');
    expect(rows[1]).toMatch(/^u0001,\d+,0,2$/);
    expect(training.code).toBe(0);

    await stop(local);
    local = await startLocalMode('--no-demo', '--fresh');
    expect(await lastAmountOf('u0001', undefined)).toBeNull();
  });

  it('cleans up fully on repeated Ctrl-C and on a closed terminal (SIGHUP)', async () => {
    const code = await stop(local, 'SIGINT', 3);
    expect(code).toBe(0);
    expect(local.output().trim().split('\n').at(-1)).toContain('Tessera local mode stopped');
    expect(existsSync(join(project, DISCOVERY))).toBe(false);

    local = await startLocalMode('--no-demo');
    expect(existsSync(join(project, DISCOVERY))).toBe(true);
    expect(await stop(local, 'SIGHUP')).toBe(0);
    expect(local.output()).toContain('SIGHUP: stopping');
    expect(local.output().trim().split('\n').at(-1)).toContain('Tessera local mode stopped');
    expect(existsSync(join(project, DISCOVERY))).toBe(false);
  });
});

describe('local mode with your own definitions and callers', { timeout: 180_000 }, () => {
  const ranker = 'arn:aws:iam::123456789012:role/page-ranker';

  it('serves your definitions module, without the demo feed, to the callers you name', async () => {
    // Prepare: a definitions repo of one's own, with a service only the ranker role may read.
    await writeFile(
      join(project, 'my-features.ts'),
      `import * as z from 'zod';
import { entity, featureService, featureView, streamSource } from ${JSON.stringify(join(ROOT, 'lambdas/core/definitions.ts'))};
export const visitor = entity({ name: 'visitor', joinKey: 'visitor_id' });
export const pageViews = streamSource({ name: 'page_views', schema: z.object({ id: z.string(), visitor_id: z.string(), page: z.string(), ts: z.number() }), eventTimeField: 'ts', eventIdField: 'id' });
export const lastPage = featureView({ name: 'visitor_last_page', entities: [visitor], source: pageViews, features: { page: 'string' }, owner: 'web', description: 'The last page seen' });
export const pages = featureService({ name: 'pages_v1', features: [lastPage], allowedPrincipals: [${JSON.stringify(ranker)}], owner: 'web', description: 'Pages' });
`,
    );
    await writeFile(join(project, 'views.jsonl'), `${JSON.stringify({ id: 'pv-1', visitor_id: 'v1', page: '/pricing', ts: NOW - 1_000 })}\n`);

    // Act
    let local = await startLocalMode('--fresh', '--definitions', 'my-features.ts', '--principal', ranker);
    const pushed = await tessera('push', '--file', 'views.jsonl', '--source', 'page_views', '--definitions', 'my-features.ts');
    let page: unknown;
    for (let i = 0; i < 30 && page !== '/pricing'; i++) {
      const got = await tessera('get', '--service', 'pages_v1', '--entity', 'visitor_id=v1', '--json');
      page = (JSON.parse(got.stdout || '{"results":[]}') as { results: { values: Record<string, unknown> }[] }).results[0]?.values.visitor_last_page__page;
      if (page !== '/pricing') await new Promise((r) => setTimeout(r, 500));
    }
    await stop(local);
    local = await startLocalMode('--definitions', 'my-features.ts');
    const anonymous = await tessera('get', '--service', 'pages_v1', '--entity', 'visitor_id=v1');
    await stop(local);

    // Assess
    expect(local.output()).toContain('Definitions: my-features.ts (1 feature view, 1 feature service: pages_v1)');
    expect(local.output()).toContain('Demo feed: off');
    expect(pushed.stdout).toContain('1 event sent to page_views');
    expect(page).toBe('/pricing');
    expect(anonymous.code).toBe(1);
    expect(anonymous.stderr).toMatch(/tessera: the API answered 403.*pages_v1/);
  });
});
