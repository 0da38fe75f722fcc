/**
 * The embedded emulators of local mode: dynalite (DynamoDB), kinesalite (Kinesis) and s3rver
 * (S3), in-process, each on a free loopback port. They speak the AWS wire protocols, so the
 * code talking to them is the deployed code with other endpoints.
 */
import { mkdtemp, rm } from 'node:fs/promises';
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

export async function startEmulators(options: { s3Directory?: string } = {}): Promise<Emulators> {
  const ownDirectory = options.s3Directory === undefined;
  const s3Directory = options.s3Directory ?? (await mkdtemp(join(tmpdir(), 'tessera-s3-')));
  const dynamo: Server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
  const kinesis: Server = kinesalite({ createStreamMs: 0, deleteStreamMs: 0, updateStreamMs: 0, shardLimit: 100 });
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
