/**
 * The right to erasure, end to end in local mode: a card holder's events reach every store —
 * online items (single and composite keys, and items that extend an entity's key), offline
 * Parquet rows (their own views and the merchant view that stores user_id as a feature), the
 * raw archive (gzipped and plain JSON lines), dead letters — then `tessera erase --entity
 * user_id=u0001` runs. Afterwards the API answers `missing`, training sets give null, a scan of
 * every object in the bucket finds no record of the id, another card holder is untouched, a
 * receipt names the subject by pseudonym only, and a re-run changes nothing.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DeleteItemCommand, PutItemCommand, ScanCommand } from '@aws-sdk/client-dynamodb';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BucketObjects } from '../../lambdas/adapters/bucket-objects.js';
import { DuckDbQueryRunner, DuckDbTrainingRunner } from '../../lambdas/adapters/duckdb-runner.js';
import type { ErasureResult } from '../../lambdas/app/erasure.js';
import { buildTrainingSet } from '../../lambdas/app/training-set.js';
import type { ErasureReceipt } from '../../lambdas/core/erasure.js';
import { type LocalStore, startLocalStore } from '../../local/store.js';
import { bucketTexts } from '../support/bucket-texts.js';
import { type CliWorkdir, cliWorkdir } from '../support/cli-workdir.js';
import { transactionMaker } from '../support/transactions.js';

const SUBJECT = 'u0001';

let store: LocalStore;
let objects: BucketObjects;
let cli: CliWorkdir;

beforeAll(async () => {
  store = await startLocalStore({ port: 0, logLevel: 'ERROR', poll: false });
  objects = new BucketObjects(store.runtime.clients.s3, store.runtime.config.bucket);
  cli = await cliWorkdir(store);
}, 60_000);

afterAll(async () => {
  await store?.stop();
  cli?.remove();
}, 60_000);

async function features(body: unknown): Promise<{ results: { status: Record<string, string>; values: Record<string, unknown> }[] }> {
  const response = await fetch(`${store.url}/v1/features`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  expect(response.status).toBe(200);
  return (await response.json()) as never;
}

async function tableKeys(): Promise<string[]> {
  const page = await store.runtime.clients.dynamodb.send(new ScanCommand({ TableName: store.runtime.config.tableName, ProjectionExpression: 'pk' }));
  return (page.Items ?? []).map((item) => item.pk?.S ?? '').sort();
}

async function trainingSet(): Promise<Record<string, unknown>[]> {
  const labels = join(cli.path, 'labels.csv');
  const out = join(cli.path, `train-${Date.now()}.parquet`);
  writeFileSync(labels, `user_id,event_timestamp\n${SUBJECT},${Date.now()}\nu0002,${Date.now()}\n`);
  await buildTrainingSet(
    { labels, service: 'fraud_v1', out },
    {
      registry: store.runtime.registry,
      runner: new DuckDbTrainingRunner({ s3: store.runtime.clients.s3, bucket: store.runtime.config.bucket }),
      database: 'tessera',
    },
  );
  const db = await DuckDbQueryRunner.open();
  try {
    return await db.run(`SELECT * FROM read_parquet('${out}') ORDER BY user_id`);
  } finally {
    db.close();
  }
}

describe('tessera erase', { timeout: 240_000 }, () => {
  let receiptKey = '';

  it('removes the subject from the online table, the offline rows, the raw archive and the dead letters, and leaves others untouched', async () => {
    // Prepare: the subject and another card holder in every store.
    const make = transactionMaker('erase', { ts: Date.now() - 120_000 });
    const events = [make(SUBJECT), make(SUBJECT, { merchant_id: 'm0002' }), make('u0002'), make('u0002', { merchant_id: 'm0002' })];
    const invalid = [
      { ...make(SUBJECT), amount: -1 },
      { ...make('u0002'), amount: -1 },
    ];
    const stream = store.runtime.config.streams.transactions!;
    await store.runtime.events.put(
      stream,
      [...events, ...invalid].map((e) => ({ partitionKey: e.user_id, data: Buffer.from(JSON.stringify(e)) })),
    );
    await store.poller.drain();
    const archived = [make(SUBJECT), make('u0002'), make(SUBJECT, { merchant_id: 'm0003' })].map((e) => JSON.stringify(e)).join('\n');
    await objects.put('raw/transactions/date=2026-12-01/part-0.jsonl.gz', gzipSync(archived), 'application/gzip');
    await objects.put(
      'raw/transactions/date=2026-12-01/part-1.jsonl',
      Buffer.from(`${JSON.stringify(make(SUBJECT))}\nnot json but names ${SUBJECT}\n`),
      'application/x-ndjson',
    );
    // The online layout being introduced: state items extending an entity's key, and a user whose id extends the subject's.
    const { dynamodb } = store.runtime.clients;
    const table = store.runtime.config.tableName;
    await dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: `transactions:user_id#${SUBJECT}#3` }, v: { N: '1' } } }));
    await dynamodb.send(new PutItemCommand({ TableName: table, Item: { pk: { S: `transactions:user_id#${SUBJECT}0` }, v: { N: '1' } } }));
    const before = await features({ service: 'fraud_v1', entities: [{ user_id: SUBJECT }] });
    expect(before.results[0]?.status.user_location__lat).toBe('present');
    expect([...(await bucketTexts(objects)).values()].some((text) => text.includes(SUBJECT))).toBe(true);

    // Act
    const result = JSON.parse(
      await cli.tessera('erase', '--entity', `user_id=${SUBJECT}`, '--reason', 'GDPR art. 17, request 42', '--by', 'dpo@example.com', '--json'),
    ) as ErasureResult;

    // Assess: the API answers for the subject exactly as for a card holder it never saw: row features missing.
    const v1 = await features({ service: 'fraud_v1', entities: [{ user_id: SUBJECT }, { user_id: 'u9999' }, { user_id: 'u0002' }] });
    const [erased, unknown, other] = v1.results;
    expect(erased?.status).toEqual(unknown?.status);
    expect(erased?.values).toEqual(unknown?.values);
    expect(erased?.status.user_location__lat).toBe('missing');
    expect(erased?.status.user_last_txn__amount_usd).toBe('missing');
    expect(other?.status.user_location__lat).toBe('present');
    const v2 = await features({
      features: ['user_merchant_last_txn:amount_usd'],
      entities: [
        { user_id: SUBJECT, merchant_id: 'm0001' },
        { user_id: 'u0002', merchant_id: 'm0001' },
      ],
    });
    expect(v2.results.map((r) => r.status.user_merchant_last_txn__amount_usd)).toEqual(['missing', 'present']);
    const keys = await tableKeys();
    expect(keys.filter((pk) => pk.split('#')[1]?.split('|').includes(SUBJECT))).toEqual([]);
    expect(keys).toContain(`transactions:user_id#${SUBJECT}0`);
    // Training sets give null for the subject, values for the other.
    const rows = await trainingSet();
    expect(rows.map((r) => r.user_id)).toEqual([SUBJECT, 'u0002']);
    expect(rows[0]?.user_location__lat).toBeNull();
    expect(rows[0]?.user_last_txn__amount_usd).toBeNull();
    expect(rows[1]?.user_location__lat).toBe(48.8566);
    // No object in the bucket holds a record of the subject; the other card holder's are kept.
    const texts = await bucketTexts(objects);
    expect([...texts].filter(([, text]) => text.includes(SUBJECT)).map(([key]) => key)).toEqual([]);
    expect(texts.get('raw/transactions/date=2026-12-01/part-0.jsonl.gz')).toContain('u0002');
    expect([...texts.keys()].some((key) => key.startsWith('dead-letter/') && texts.get(key)?.includes('u0002'))).toBe(true);
    expect([...texts].some(([key, text]) => key.startsWith('offline/merchant_txn_stats/') && text.includes('u0002'))).toBe(true);
    // What was removed (online: the card holder's item of its 3 views, 2 composite items, 1 item extending its key), and the receipt.
    expect(result.removed).toMatchObject({ onlineItems: 4, rawRecords: 4, deadLetters: 1, noncurrentVersionsPurged: 0 });
    // 2 events × 4 views keyed by user dropped; the 2 rows of merchant_txn_stats (the merchant's, storing user_id) kept with the id nulled.
    expect(result.removed).toMatchObject({ offlineRows: 8, offlineRowsScrubbed: 2 });
    expect(result.receipt?.key).toMatch(/^erasure\/receipts\/[0-9a-f]{64}\/.+\.json$/);
    receiptKey = result.receipt?.key ?? '';
    const receipt = JSON.parse(texts.get(receiptKey) ?? '{}') as ErasureReceipt;
    expect(receipt).toMatchObject({ subject: { entity: 'user', joinKey: 'user_id' }, erasedBy: 'dpo@example.com', reason: 'GDPR art. 17, request 42' });
    expect(receipt.removed).toEqual(result.removed);

    await dynamodb.send(new DeleteItemCommand({ TableName: table, Key: { pk: { S: `transactions:user_id#${SUBJECT}0` } } }));
  });

  it('a re-run finds nothing, changes nothing and writes no second receipt', async () => {
    // Prepare
    await store.runtime.audit.flush();
    const listed = await objects.list('');
    const keys = await tableKeys();

    // Act
    const output = await cli.tessera('erase', '--entity', `user_id=${SUBJECT}`);

    // Assess
    expect(output).toContain('nothing changed');
    expect(await objects.list('')).toEqual(listed);
    expect(await tableKeys()).toEqual(keys);
    expect(listed.filter((o) => o.key.startsWith('erasure/')).map((o) => o.key)).toEqual([receiptKey]);
  });
});
