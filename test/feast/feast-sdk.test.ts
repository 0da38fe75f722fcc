/**
 * Feast's own Python SDK (feast==0.67.0, `online_store: {type: remote}`) reading from local
 * mode, as a team moving from Feast would: the catalog declared as a Feast repo, then
 * `FeatureStore.get_online_features` by feature list, by service, with full feature names,
 * composite keys and request data, for card holders with fresh, quiet (empty windows) and
 * stale (expired) data and for unknown ones. Every answer is checked against what Tessera's
 * own API (`POST /v1/features`) answers for the same entities, through the mapping the
 * README's "Coming from Feast" section documents.
 *
 * Needs the venv `scripts/targets/feast.sh` installs (`npm run test:feast` does both); the
 * SDK runs in one child process, stopped by its PID if it outlives its deadline.
 */

import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Transaction } from '../../features/fraud.js';
import type { Catalog } from '../../lambdas/core/catalog.js';
import { COLUMN_SEPARATOR } from '../../lambdas/core/registry.js';
import { FeaturesResponse } from '../../lambdas/core/serving.js';
import { LOCAL_OPERATOR } from '../../local/discovery.js';
import { type LocalStore, startLocalStore } from '../../local/store.js';
import { transactionMaker } from '../support/transactions.js';

const PYTHON = process.env.TESSERA_FEAST_PYTHON;
if (!PYTHON) throw new Error('TESSERA_FEAST_PYTHON is not set: run this suite with `npm run test:feast`, which installs Feast first');
const SDK_DEADLINE_MS = 240_000;
const MINUTE = 60_000;
const DAY = 24 * 60 * MINUTE;
const NOW = Date.now();
const PARIS = { lat: 48.8566, lon: 2.3522 };

const transaction = transactionMaker('feast-sdk', { currency: 'USD', ...PARIS });
/**
 * Fresh activity (two transactions within the hour, one at a round amount), quiet (every short
 * window empty), stale (past user_location's 7-day TTL). No event is near a window's edge, so
 * the SDK's answers, taken first, and the native ones, taken after, see the same windows.
 */
const EVENTS: Transaction[] = [
  transaction('u7001', { merchant_id: 'm7001', amount: 10, ts: NOW - 10 * MINUTE }),
  transaction('u7001', { merchant_id: 'm7002', amount: 12.5, currency: 'EUR', ts: NOW - 30 * MINUTE }),
  transaction('u7002', { merchant_id: 'm7001', amount: 20, ts: NOW - 2 * DAY }),
  transaction('u7003', { merchant_id: 'm7002', amount: 7.25, ts: NOW - 8 * DAY }),
];
const USERS = ['u7001', 'u7002', 'u7003', 'u7999'].map((user_id) => ({ user_id }));
const SCORED = [
  { user_id: 'u7001', merchant_id: 'm7001', amount: 25.0, currency: 'USD', ...PARIS },
  { user_id: 'u7002', merchant_id: 'm7002', amount: 40.0, currency: 'USD', lat: 51.5072, lon: -0.1276 },
  { user_id: 'u7999', merchant_id: 'm7999', amount: 5.0, currency: 'EUR', ...PARIS },
];

type Row = Record<string, string | number>;
interface SdkCall {
  readonly id: string;
  readonly service?: string;
  readonly features?: readonly string[];
  readonly entity_rows: readonly Row[];
  readonly full_feature_names?: boolean;
  readonly include_feature_view_version_metadata?: boolean;
}
type SdkAnswer =
  | {
      ok: true;
      feature_names: string[];
      values: Record<string, unknown[]>;
      types: Record<string, string[]>;
      statuses: Record<string, string[]>;
    }
  | { ok: false; error_type: string; error: string };

let store: LocalStore;
let catalog: Catalog;
let repoDir: string;
let sdk: { feast_version: string; answers: Record<string, SdkAnswer> };

async function post(path: string, body: unknown): Promise<{ status: number; text: string }> {
  // As local mode's operator, a writer of every source (local mode reads the access key, not the signature).
  const operator = {
    authorization: `AWS4-HMAC-SHA256 Credential=${LOCAL_OPERATOR.accessKeyId}/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=0`,
  };
  const response = await fetch(`${store.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...operator },
    body: JSON.stringify(body),
  });
  return { status: response.status, text: await response.text() };
}

async function native(body: unknown): Promise<FeaturesResponse> {
  const answer = await post('/v1/features', body);
  expect(answer.status, answer.text).toBe(200);
  return FeaturesResponse.parse(JSON.parse(answer.text));
}

/** Feast's SDK in a child process: the calls in on stdin, its answers out on stdout. */
function runSdk(calls: readonly SdkCall[]): Promise<typeof sdk> {
  return new Promise((resolve, reject) => {
    const child = spawn(PYTHON as string, [join(import.meta.dirname, 'feast_client.py')], { stdio: ['pipe', 'pipe', 'pipe'] });
    const deadline = setTimeout(() => {
      if (child.pid !== undefined) process.kill(child.pid, 'SIGKILL');
      reject(new Error(`Feast's SDK did not answer within ${SDK_DEADLINE_MS} ms`));
    }, SDK_DEADLINE_MS);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk) => {
      stdout += chunk;
    });
    child.stderr.on('data', (chunk) => {
      stderr += chunk;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(deadline);
      if (code === 0) resolve(JSON.parse(stdout));
      else reject(new Error(`Feast's SDK exited with ${code}:\n${stderr.slice(-4000)}`));
    });
    child.stdin.end(JSON.stringify({ url: store.url, repo_dir: repoDir, catalog, calls }));
  });
}

const fraudV1 = () => catalog.featureServices.find((s) => s.name === 'fraud_v1') as Catalog['featureServices'][number];
const notPii = () => fraudV1().features.filter((f) => !fraudV1().piiFeatures.includes(f));

const CALLS = (): SdkCall[] => [
  { id: 'by-list', features: notPii(), entity_rows: USERS },
  { id: 'by-service', service: 'fraud_v1', entity_rows: USERS },
  {
    id: 'full-names',
    features: ['user_last_txn:amount_usd', 'user_txn_stats:amount_sum_1h', 'user_txn_stats:recent_merchants_1d'],
    entity_rows: USERS,
    full_feature_names: true,
    include_feature_view_version_metadata: true,
  },
  { id: 'composite-keys', features: ['user_merchant_last_txn:amount_usd', 'merchant_txn_stats:txn_count_1h'], entity_rows: SCORED.map(keysOf) },
  { id: 'request-data', service: 'fraud_v2', entity_rows: SCORED, full_feature_names: true },
  { id: 'pii-by-list', features: ['user_last_txn:amount_usd', 'user_location:lat'], entity_rows: USERS },
  { id: 'integer-key', features: ['user_last_txn:amount_usd'], entity_rows: [{ user_id: 7001 }] },
  { id: 'name-collision', features: ['user_last_txn:amount_usd', 'merchant_last_txn:amount_usd'], entity_rows: SCORED.map(keysOf) },
];

function keysOf(row: Row): Row {
  return { user_id: row.user_id as string, merchant_id: row.merchant_id as string };
}

beforeAll(async () => {
  store = await startLocalStore({ port: 0, logLevel: 'ERROR' });
  const pushed = await post('/v1/push', { source: 'transactions', events: EVENTS });
  expect(pushed.status, pushed.text).toBe(202);
  await store.poller.drain();
  const response = await fetch(`${store.url}/v1/catalog`);
  catalog = (await response.json()) as Catalog;
  repoDir = mkdtempSync(join(tmpdir(), 'tessera-feast-repo-'));
  sdk = await runSdk(CALLS());
}, SDK_DEADLINE_MS + 60_000);

afterAll(async () => {
  await store?.stop();
  if (repoDir) rmSync(repoDir, { recursive: true, force: true });
}, 60_000);

/** The types and views of every feature and on-demand output, by `view__feature`. */
function featureInfo(column: string): { type: string; entities: string[] | null } {
  const [view, feature] = column.split(COLUMN_SEPARATOR) as [string, string];
  const stored = catalog.featureViews.find((v) => v.name === view);
  // The test pushes transactions only: an entity of a view fed by another source (chargebacks) is unknown to it.
  if (stored)
    return { type: stored.features.find((f) => f.name === feature)?.type as string, entities: stored.source === 'transactions' ? stored.entities : [] };
  const onDemand = catalog.onDemandFeatures.find((o) => o.name === view);
  return { type: onDemand?.features.find((f) => f.name === feature)?.type as string, entities: null };
}

/** Has the store seen this entity of these entities (its join keys all match one event)? */
function seen(entities: readonly string[], row: Row): boolean {
  if (!entities.length) return false;
  const keys = entities.map((name) => catalog.entities.find((e) => e.name === name)?.joinKey as string);
  return EVENTS.some((event) => keys.every((key) => (event as unknown as Row)[key] === row[key]));
}

const PYTHON_TYPE: Record<string, string> = { float: 'float', int: 'int', string: 'str', bool: 'bool' };

/**
 * What the Feast route answers for a value of the native route (the README's table): present
 * values as they are (floats typed as floats); expired → OUTSIDE_MAX_AGE; missing, an entity
 * the store has never seen and an empty list → NOT_FOUND; all three without a value.
 */
function expectedFeastCell(column: string, row: Row, native: FeaturesResponse['results'][number]): { value: unknown; status: string; type: string } {
  const { type, entities } = featureInfo(column);
  const value = native.values[column];
  const status = native.status[column];
  const notFound = { value: null, status: 'NOT_FOUND', type: 'NoneType' };
  if (entities !== null && !seen(entities, row)) return notFound;
  if (status === 'expired') return { value: null, status: 'OUTSIDE_MAX_AGE', type: 'NoneType' };
  if (status === 'missing' || (Array.isArray(value) && value.length === 0)) return notFound;
  return { value, status: 'PRESENT', type: type.endsWith('[]') ? 'list' : (PYTHON_TYPE[type] as string) };
}

function answered(id: string): Extract<SdkAnswer, { ok: true }> {
  const answer = sdk.answers[id] as SdkAnswer;
  if (!answer.ok) throw new Error(`${id}: the SDK raised ${answer.error_type}: ${answer.error}`);
  return answer;
}

/** Checks an SDK answer cell by cell against the native answer for the same entity rows. */
function expectSameAsNative(answer: Extract<SdkAnswer, { ok: true }>, nativeAnswer: FeaturesResponse, rows: readonly Row[], fullNames: boolean): void {
  // Join keys come first; a feature may share a join key's name (user_last_txn:merchant_id).
  const joinKeys = answer.feature_names.slice(0, catalog.entities.filter((e) => e.joinKey in (rows[0] as Row)).length);
  expect(answer.feature_names).toEqual([...joinKeys, ...nativeAnswer.features.map((c) => (fullNames ? c : c.split(COLUMN_SEPARATOR)[1]))]);
  for (const key of joinKeys) expect(answer.values[key]).toEqual(rows.map((r) => r[key]));
  for (const column of nativeAnswer.features) {
    const name = fullNames ? column : (column.split(COLUMN_SEPARATOR)[1] as string);
    const expected = rows.map((row, i) => expectedFeastCell(column, row, nativeAnswer.results[i] as FeaturesResponse['results'][number]));
    expect({ column, values: answer.values[name], statuses: answer.statuses[name], types: answer.types[name] }).toEqual({
      column,
      values: expected.map((e) => e.value),
      statuses: expected.map((e) => e.status),
      types: expected.map((e) => e.type),
    });
  }
}

describe("Feast 0.67's SDK reading from Tessera", { timeout: 60_000 }, () => {
  it('is the Feast release the suite is written for', () => {
    expect(sdk.feast_version).toBe('0.67.0');
  });

  it('reads a feature list as Tessera serves it: fresh, quiet, stale and unknown card holders', async () => {
    const answer = answered('by-list');
    expectSameAsNative(answer, await native({ features: notPii(), entities: USERS }), USERS, false);
    // The cases the mapping exists for, spelled out: an empty window and an unknown card holder.
    expect(answer.values.recent_merchants_1d).toEqual([['m7001', 'm7002'], null, null, null]);
    expect(answer.statuses.recent_merchants_1d).toEqual(['PRESENT', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
    expect(answer.values.txn_count_1h).toEqual([2, 0, 0, null]);
    expect(answer.statuses.amount_sum_1h).toEqual(['PRESENT', 'PRESENT', 'PRESENT', 'NOT_FOUND']);
    expect(answer.statuses.amount_max_1d).toEqual(['PRESENT', 'NOT_FOUND', 'NOT_FOUND', 'NOT_FOUND']);
    expect(answer.values.amount_usd?.[0]).toBe(10);
    expect(answer.types.amount_usd?.[0]).toBe('float');
  });

  it('reads a feature service, pii included, with expired values as OUTSIDE_MAX_AGE', async () => {
    const answer = answered('by-service');
    expectSameAsNative(answer, await native({ service: 'fraud_v1', entities: USERS }), USERS, false);
    expect(answer.statuses.lat).toEqual(['PRESENT', 'PRESENT', 'OUTSIDE_MAX_AGE', 'NOT_FOUND']);
    expect(answer.values.lat).toEqual([PARIS.lat, PARIS.lat, null, null]);
  });

  it('names features view__feature with full_feature_names', async () => {
    const call = CALLS().find((c) => c.id === 'full-names') as SdkCall;
    const answer = answered('full-names');
    expectSameAsNative(answer, await native({ features: call.features, entities: USERS }), USERS, true);
    expect(answer.values.user_txn_stats__amount_sum_1h?.[0]).toBe(23.5);
  });

  it('reads views keyed by several entities', async () => {
    const rows = SCORED.map(keysOf);
    const answer = answered('composite-keys');
    expectSameAsNative(
      answer,
      await native({ features: ['user_merchant_last_txn:amount_usd', 'merchant_txn_stats:txn_count_1h'], entities: rows }),
      rows,
      false,
    );
    expect(answer.statuses.amount_usd).toEqual(['PRESENT', 'NOT_FOUND', 'NOT_FOUND']);
  });

  it('computes on-demand features from request data sent in the entity rows', async () => {
    const answer = answered('request-data');
    expectSameAsNative(answer, await native({ service: 'fraud_v2', entities: SCORED }), SCORED, true);
    expect(answer.values.txn_risk__amount_ratio?.[0]).toBe(2.5);
    expect(answer.types.txn_risk__km_from_last?.[0]).toBe('float');
  });

  it('reads a number given for a string join key as its text', async () => {
    const answer = answered('integer-key');
    expect(answer.values.user_id).toEqual(['7001']);
    expectSameAsNative(answer, await native({ features: ['user_last_txn:amount_usd'], entities: [{ user_id: '7001' }] }), [{ user_id: '7001' }], false);
  });

  it("shows Tessera's reason when a pii feature is asked for outside a service", () => {
    const answer = sdk.answers['pii-by-list'] as SdkAnswer;
    expect(answer.ok).toBe(false);
    expect(answer.ok ? '' : answer.error).toMatch(/403.*AccessDeniedError.*user_location:lat.*tagged pii: request it through a feature service/);
  });

  it('rejects features of one name from several views without full_feature_names, as Feast does', () => {
    const answer = sdk.answers['name-collision'] as SdkAnswer;
    expect(answer.ok ? '' : answer.error).toMatch(/400.*ValidationError.*amount_usd.*full_feature_names/);
  });
});

describe("the Feast route's wire format, as Feast's documented HTTP calls see it", { timeout: 60_000 }, () => {
  it('writes floats as floats, row features with their row time and aggregations with the request time', async () => {
    // Act
    const before = Date.now();
    const answer = await post('/get-online-features', {
      features: ['user_last_txn:amount_usd', 'user_txn_stats:txn_count_1h'],
      entities: { user_id: ['u7001'] },
      full_feature_names: false,
      include_feature_view_version_metadata: false,
    });
    const after = Date.now();

    // Assess
    expect(answer.status, answer.text).toBe(200);
    expect(answer.text).toContain('"values":[10.0]');
    const body = JSON.parse(answer.text) as { results: { event_timestamps: string[] }[] };
    expect(body.results[1]?.event_timestamps).toEqual([new Date(NOW - 10 * MINUTE).toISOString()]);
    const windowEnd = Date.parse(body.results[2]?.event_timestamps[0] as string);
    expect(windowEnd).toBeGreaterThanOrEqual(before);
    expect(windowEnd).toBeLessThanOrEqual(after);
  });

  it('uses the feature service when features are given too, and still answers a missing join key with 400', async () => {
    const both = await post('/get-online-features', { feature_service: 'fraud_v1', features: ['user_last_txn:amount_usd'], entities: { user_id: ['u7001'] } });
    const byService = await post('/get-online-features', { feature_service: 'fraud_v1', entities: { user_id: ['u7001'] } });
    const missingKey = await post('/get-online-features', { feature_service: 'fraud_v1', entities: { merchant_id: ['m7001'] } });

    expect(both.status).toBe(200);
    expect(JSON.parse(both.text).metadata).toEqual(JSON.parse(byService.text).metadata);
    expect(missingKey.status).toBe(400);
    expect(JSON.parse(missingKey.text).error).toMatchObject({ code: 'ValidationError', message: 'entities[0]: "user_id" must be a non-empty string' });
  });
});
