import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BucketObjects } from '../../lambdas/adapters/bucket-objects.js';
import { AUDIT_PREFIX, type AuditLine } from '../../lambdas/core/audit.js';
import { type LocalStore, startLocalStore } from '../../local/store.js';
import { type CliWorkdir, cliWorkdir } from '../support/cli-workdir.js';
import { transactionMaker } from '../support/transactions.js';

const SCORER = 'arn:aws:sts::123456789012:assumed-role/fraud-scorer/s1';
/** The Authorization header of a SigV4-signed request by access key AKIDSCORER (local mode reads the key, not the signature). */
const SIGNED = { authorization: 'AWS4-HMAC-SHA256 Credential=AKIDSCORER/20260101/us-east-1/execute-api/aws4_request, SignedHeaders=host, Signature=00' };

let store: LocalStore;
let objects: BucketObjects;
let cli: CliWorkdir;

beforeAll(async () => {
  store = await startLocalStore({ port: 0, logLevel: 'ERROR', poll: false, principals: { AKIDSCORER: SCORER } });
  objects = new BucketObjects(store.runtime.clients.s3, store.runtime.config.bucket);
  const make = transactionMaker('audit');
  const events = [make('u0001'), make('u0002')];
  await store.runtime.events.put(
    store.runtime.config.streams.transactions!,
    events.map((e) => ({ partitionKey: e.user_id, data: Buffer.from(JSON.stringify(e)) })),
  );
  await store.poller.drain();
  cli = await cliWorkdir(store);
}, 60_000);

afterAll(async () => {
  await store?.stop();
  cli?.remove();
}, 60_000);

async function post(path: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; requestId: string }> {
  const response = await fetch(`${store.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  await response.arrayBuffer();
  return { status: response.status, requestId: response.headers.get('x-amzn-requestid') ?? '' };
}

async function auditRows(): Promise<{ key: string; lines: AuditLine[]; text: string }[]> {
  await store.runtime.audit.flush();
  const listed = await objects.list(AUDIT_PREFIX);
  return Promise.all(
    listed.map(async ({ key }) => {
      const text = (await objects.get(key)).toString('utf8');
      return {
        key,
        text,
        lines: text
          .trim()
          .split('\n')
          .map((line) => JSON.parse(line) as AuditLine),
      };
    }),
  );
}

describe('the audit trail of feature reads', { timeout: 60_000 }, () => {
  const reads: Record<string, { status: number; requestId: string }> = {};

  it('records every read on both routes, allowed or refused, with principal, service, features (pii marked), entity count, status and request id', async () => {
    // Act
    reads.signedService = await post('/v1/features', JSON.stringify({ service: 'fraud_v1', entities: [{ user_id: 'u0001' }, { user_id: 'u0002' }] }), SIGNED);
    reads.piiInPlainList = await post('/v1/features', JSON.stringify({ features: ['user_location:lat'], entities: [{ user_id: 'u0001' }] }));
    reads.noPii = await post(
      '/v1/features',
      JSON.stringify({ service: 'fraud_v2', entities: [{ user_id: 'u0001', merchant_id: 'm0001', amount: 5, currency: 'USD', lat: 1, lon: 1 }] }),
    );
    reads.feast = await post('/get-online-features', JSON.stringify({ feature_service: 'fraud_v1', entities: { user_id: ['u0001'] } }), SIGNED);
    reads.badJson = await post('/get-online-features', '{not json');
    await post('/v1/push', JSON.stringify({ source: 'transactions', events: [] }));
    const rows = await auditRows();

    // Assess
    expect([reads.signedService.status, reads.piiInPlainList.status, reads.noPii.status, reads.feast.status, reads.badJson.status]).toEqual([
      200, 403, 200, 200, 400,
    ]);
    const entries = rows.flatMap((r) => r.lines);
    expect(rows.every((r) => /^audit\/date=\d{4}-\d{2}-\d{2}\/[^/]+\.jsonl$/.test(r.key))).toBe(true);
    expect(entries.every((e) => e.message === 'feature read')).toBe(true);
    const byRequest = new Map(entries.map((e) => [e.audit.request_id, e.audit]));
    expect(entries).toHaveLength(5); // the push is not a read
    expect(byRequest.get(reads.signedService.requestId)).toMatchObject({
      principal: SCORER,
      route: '/v1/features',
      service: 'fraud_v1',
      pii_features: ['user_location:lat', 'user_location:lon'],
      entity_count: 2,
      status: 200,
    });
    expect(byRequest.get(reads.signedService.requestId)?.features).toEqual(expect.arrayContaining(['user_last_txn:amount_usd', 'user_location:lat']));
    expect(byRequest.get(reads.piiInPlainList.requestId)).toMatchObject({
      principal: null,
      service: null,
      features: ['user_location:lat'],
      pii_features: ['user_location:lat'],
      status: 403,
    });
    // fraud_v2 serves no pii view, but txn_risk is computed from user_location: derived pii, marked too.
    expect(byRequest.get(reads.noPii.requestId)).toMatchObject({
      service: 'fraud_v2',
      pii_features: ['txn_risk:km_from_last', 'txn_risk:amount_ratio'],
      entity_count: 1,
      status: 200,
    });
    expect(byRequest.get(reads.feast.requestId)).toMatchObject({ route: '/get-online-features', principal: SCORER, service: 'fraud_v1', status: 200 });
    expect(byRequest.get(reads.badJson.requestId)).toMatchObject({ route: '/get-online-features', features: [], entity_count: 0, status: 400 });
    // The trail names no entity: it must not become the personal data it watches over.
    expect(rows.some((r) => r.text.includes('u0001') || r.text.includes('u0002'))).toBe(false);
  });

  it('`tessera audit --feature user_location:lat --since 7d` lists who read it, newest first, from the same rows (DuckDB)', async () => {
    // Act
    const stdout = await cli.tessera('audit', '--feature', 'user_location:lat', '--since', '7d', '--json');
    const rows = JSON.parse(stdout) as { request_id: string; principal: string | null; status: number; ts: number; pii_features: string[] }[];

    // Assess
    expect(rows.map((r) => r.request_id).sort()).toEqual([reads.signedService, reads.piiInPlainList, reads.feast].map((r) => r?.requestId).sort());
    expect(rows.map((r) => r.ts)).toEqual([...rows.map((r) => r.ts)].sort((a, b) => b - a));
    expect(rows.find((r) => r.request_id === reads.piiInPlainList?.requestId)).toMatchObject({ principal: null, status: 403 });
    expect(rows.every((r) => r.pii_features.includes('user_location:lat'))).toBe(true);
  });
});
