/**
 * The AWS resources a store needs, created through the real SDK clients: the online table,
 * the bucket, one Kinesis stream per stream source. Idempotent — an existing resource is
 * left as it is — so local mode, the test suites and an already provisioned target share it.
 * In AWS the CDK stack owns these; this is for emulators and throwaway test resources.
 */
import { CreateTableCommand, DescribeTableCommand, type DynamoDBClient, ResourceInUseException } from '@aws-sdk/client-dynamodb';
import {
  CreateStreamCommand,
  DescribeStreamSummaryCommand,
  type KinesisClient,
  ResourceInUseException as StreamInUseException,
  ResourceNotFoundException as StreamNotFoundException,
} from '@aws-sdk/client-kinesis';
import { type BucketLocationConstraint, CreateBucketCommand, type S3Client } from '@aws-sdk/client-s3';
import { TesseraError } from '../lambdas/core/errors.js';
import type { Registry } from '../lambdas/core/registry.js';

export interface ResourceNames {
  readonly table: string;
  readonly bucket: string;
  /** Physical stream name of each stream source, by source name (the shape of TESSERA_STREAMS). */
  readonly streams: Readonly<Record<string, string>>;
}

export const LOCAL_TABLE = 'tessera-online';
export const LOCAL_BUCKET = 'tessera-offline';

/** Local mode's names: the fixed table and bucket, and each stream source's own `streamName`. */
export function localResourceNames(registry: Registry): ResourceNames {
  return {
    table: LOCAL_TABLE,
    bucket: LOCAL_BUCKET,
    streams: Object.fromEntries(registry.streamSources().map((source) => [source.name, source.streamName])),
  };
}

export interface ResourceClients {
  readonly dynamodb: DynamoDBClient;
  readonly kinesis: KinesisClient;
  readonly s3: S3Client;
}

export interface EnsureResourcesOptions {
  /** Shards of each new stream. @default 2 */
  readonly shardCount?: number;
  /** How long to wait for the table and streams to become ACTIVE. @default 60 s (AWS takes ~30 s for a stream) */
  readonly timeoutMs?: number;
  /** The region, for the bucket's location constraint outside us-east-1. @default 'us-east-1' */
  readonly region?: string;
}

/** A table or stream of local mode did not become active in time. */
export class ResourceTimeout extends TesseraError {
  constructor(message: string, options?: ErrorOptions) {
    super('ResourceTimeout', message, undefined, options);
  }
}

export async function ensureResources(clients: ResourceClients, names: ResourceNames, options: EnsureResourcesOptions = {}): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  await Promise.all([
    ensureTable(clients.dynamodb, names.table, deadline),
    ensureBucket(clients.s3, names.bucket, options.region ?? 'us-east-1'),
    ...[...new Set(Object.values(names.streams))].map((stream) => ensureStream(clients.kinesis, stream, options.shardCount ?? 2, deadline)),
  ]);
}

/** Creates the online table (key `pk`, on-demand) unless it exists, and waits until it is ACTIVE. */
export async function ensureTable(client: DynamoDBClient, table: string, deadline = Date.now() + 60_000): Promise<void> {
  try {
    await client.send(
      new CreateTableCommand({
        TableName: table,
        BillingMode: 'PAY_PER_REQUEST',
        AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
        KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
      }),
    );
  } catch (error) {
    if (!(error instanceof ResourceInUseException)) throw error;
  }
  await until(`table ${table} to become ACTIVE`, deadline, async () => {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: table }));
    return Table?.TableStatus === 'ACTIVE';
  });
}

async function ensureBucket(client: S3Client, bucket: string, region: string): Promise<void> {
  try {
    await client.send(
      new CreateBucketCommand({
        Bucket: bucket,
        ...(region === 'us-east-1' ? {} : { CreateBucketConfiguration: { LocationConstraint: region as BucketLocationConstraint } }),
      }),
    );
  } catch (error) {
    // s3rver answers BucketAlreadyExists for its own buckets; AWS answers BucketAlreadyOwnedByYou.
    const name = (error as Error).name;
    if (name !== 'BucketAlreadyOwnedByYou' && name !== 'BucketAlreadyExists') throw error;
  }
}

async function ensureStream(client: KinesisClient, stream: string, shardCount: number, deadline: number): Promise<void> {
  try {
    await client.send(new CreateStreamCommand({ StreamName: stream, ShardCount: shardCount }));
  } catch (error) {
    if (!(error instanceof StreamInUseException)) throw error;
  }
  await until(`stream ${stream} to become ACTIVE`, deadline, async () => {
    try {
      const { StreamDescriptionSummary } = await client.send(new DescribeStreamSummaryCommand({ StreamName: stream }));
      return StreamDescriptionSummary?.StreamStatus === 'ACTIVE';
    } catch (error) {
      // Eventually consistent backends can deny a just-created stream for a moment.
      if (error instanceof StreamNotFoundException) return false;
      throw error;
    }
  });
}

/** Polls `ready` with a growing delay (25 ms → 1 s) until it holds or the deadline passes. */
async function until(what: string, deadline: number, ready: () => Promise<boolean>): Promise<void> {
  for (let delay = 25; ; delay = Math.min(delay * 2, 1_000)) {
    if (await ready()) return;
    if (Date.now() + delay > deadline) throw new ResourceTimeout(`gave up waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
}
