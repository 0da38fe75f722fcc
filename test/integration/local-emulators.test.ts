import { CreateBucketCommand, ListObjectsV2Command, PutObjectCommand } from '@aws-sdk/client-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type AwsClients, createClients } from '../../lambdas/adapters/aws.js';
import { type Emulators, startEmulators } from '../../local/emulators.js';

// Local mode's own emulators, whatever TESSERA_TARGET says: what `npm start` runs on.
let emulators: Emulators;
let clients: AwsClients;

beforeAll(async () => {
  emulators = await startEmulators();
  clients = createClients(emulators);
});
afterAll(async () => {
  clients.s3.destroy();
  await emulators.stop();
});

describe("local mode's S3", () => {
  it('pages a listing of more than 1 000 keys (s3rver encrypts its continuation tokens with DES, which Node 20 lacks)', async () => {
    await clients.s3.send(new CreateBucketCommand({ Bucket: 'paging' }));
    const keys = Array.from({ length: 1_005 }, (_, i) => `offline/v/date=2026-01-01/hour=00/${String(i).padStart(5, '0')}.parquet`);
    for (let i = 0; i < keys.length; i += 50) {
      await Promise.all(keys.slice(i, i + 50).map((Key) => clients.s3.send(new PutObjectCommand({ Bucket: 'paging', Key, Body: Buffer.from('x') }))));
    }
    const listed: string[] = [];
    let token: string | undefined;
    do {
      const page = await clients.s3.send(new ListObjectsV2Command({ Bucket: 'paging', Prefix: 'offline/v/', ContinuationToken: token }));
      listed.push(...(page.Contents ?? []).map((o) => o.Key as string));
      token = page.NextContinuationToken;
    } while (token);
    expect(listed).toEqual(keys);
  });
});
