/**
 * The embedded emulators of local mode: dynalite (DynamoDB), kinesalite (Kinesis) and s3rver
 * (S3), in-process, each on a free loopback port. They speak the AWS wire protocols, so the
 * code talking to them is the deployed code with other endpoints. Given a data directory they
 * keep their state in it (LevelDB for dynalite and kinesalite, plain files for s3rver), so a
 * restart finds the table, the streams and the objects as they were; without one, DynamoDB and
 * Kinesis live in memory and S3 in a temporary folder removed at stop.
 */
import crypto from 'node:crypto';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import type { AddressInfo, Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import dynalite from 'dynalite';
import kinesalite from 'kinesalite';
import S3rver from 's3rver';
import type { AwsAccess, Endpoints } from '../lambdas/adapters/aws.js';

export interface Emulators extends AwsAccess {
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string };
  readonly endpoints: Endpoints;
  /** Where s3rver keeps its objects (DuckDB can read them in place). */
  readonly s3Directory: string;
  stop(): Promise<void>;
}

/** s3rver accepts only its own key pair; dynalite and kinesalite accept any. */
export const EMULATOR_CREDENTIALS = { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' } as const;

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const close = (server: Server) => new Promise<void>((resolve) => server.close(() => resolve()));

/**
 * s3rver encrypts ListObjectsV2 continuation tokens with single DES, which OpenSSL 3 (Node 17+)
 * no longer offers, so every listing of more than 1 000 keys fails with InternalError. Triple
 * DES with K1 = K2 is exactly single DES and is still offered: route s3rver's `des` calls to it.
 * Only the `des` algorithm is touched, and nothing else in Tessera uses it.
 */
function letS3rverPageListings(): void {
  const cipheriv = crypto.createCipheriv as unknown as { s3rverDes?: true };
  if (cipheriv.s3rverDes) return;
  const asTripleDes = (algorithm: string, key: crypto.CipherKey) =>
    algorithm === 'des' ? (['des-ede-cbc', Buffer.concat([Buffer.from(key as Buffer), Buffer.from(key as Buffer)])] as const) : ([algorithm, key] as const);
  const createCipheriv = crypto.createCipheriv;
  const createDecipheriv = crypto.createDecipheriv;
  const patchedCipher = ((algorithm: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null, options?: unknown) => {
    const [a, k] = asTripleDes(algorithm, key);
    return (createCipheriv as (...args: unknown[]) => crypto.Cipher)(a, k, iv, options);
  }) as typeof crypto.createCipheriv & { s3rverDes?: true };
  patchedCipher.s3rverDes = true;
  const patchedDecipher = ((algorithm: string, key: crypto.CipherKey, iv: crypto.BinaryLike | null, options?: unknown) => {
    const [a, k] = asTripleDes(algorithm, key);
    return (createDecipheriv as (...args: unknown[]) => crypto.Decipher)(a, k, iv, options);
  }) as typeof crypto.createDecipheriv;
  (crypto as { createCipheriv: typeof crypto.createCipheriv }).createCipheriv = patchedCipher;
  (crypto as { createDecipheriv: typeof crypto.createDecipheriv }).createDecipheriv = patchedDecipher;
}

export interface EmulatorOptions {
  /** Keep every emulator's state under this folder (`dynamodb/`, `kinesis/`, `s3/`). @default in memory and a temporary folder */
  readonly dataDirectory?: string;
}

export async function startEmulators(options: EmulatorOptions = {}): Promise<Emulators> {
  const data = options.dataDirectory;
  const ownDirectory = data === undefined;
  const s3Directory = data === undefined ? await mkdtemp(join(tmpdir(), 'tessera-s3-')) : join(data, 's3');
  // LevelDB wants its folders to exist.
  const persisted = data === undefined ? {} : { dynamodb: join(data, 'dynamodb'), kinesis: join(data, 'kinesis') };
  await Promise.all([s3Directory, ...Object.values(persisted)].map((folder) => mkdir(folder, { recursive: true })));
  const dynamo: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0, ...(persisted.dynamodb ? { path: persisted.dynamodb } : {}) });
  const kinesis: Server = kinesalite({
    createStreamMs: 0,
    deleteStreamMs: 0,
    updateStreamMs: 0,
    shardLimit: 100,
    ...(persisted.kinesis ? { path: persisted.kinesis } : {}),
  });
  letS3rverPageListings();
  const s3 = new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: s3Directory });
  const [dynamodbUrl, kinesisUrl] = await Promise.all([listen(dynamo), listen(kinesis)]);
  const { port } = (await s3.run()) as AddressInfo;
  return {
    region: 'us-east-1',
    credentials: EMULATOR_CREDENTIALS,
    endpoints: { dynamodb: dynamodbUrl, kinesis: kinesisUrl, s3: `http://127.0.0.1:${port}` },
    s3Directory,
    async stop() {
      await Promise.all([close(dynamo), close(kinesis), s3.close()]);
      if (ownDirectory) await rm(s3Directory, { recursive: true, force: true });
    },
  };
}
