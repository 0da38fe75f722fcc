/**
 * AWS SDK clients, built once per process from an `AwsAccess` (region, optional credentials,
 * optional endpoint overrides). Local mode, the emulators and AWS differ only in this object.
 */

import { Agent } from 'node:http';
import { Agent as HttpsAgent } from 'node:https';
import { AthenaClient } from '@aws-sdk/client-athena';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { KinesisClient } from '@aws-sdk/client-kinesis';
import { S3Client } from '@aws-sdk/client-s3';
import { SQSClient } from '@aws-sdk/client-sqs';
import { NodeHttpHandler } from '@smithy/node-http-handler';

import type { AwsAccess } from '../core/deployment.js';

export type { AwsAccess, EndpointOverrides, Endpoints } from '../core/deployment.js';

export interface AwsClients {
  readonly dynamodb: DynamoDBClient;
  readonly kinesis: KinesisClient;
  readonly s3: S3Client;
  readonly sqs: SQSClient;
  readonly athena: AthenaClient;
}

/**
 * Keep-alive HTTP/1.1 for every client: it saves a TLS handshake per call in Lambda, and
 * kinesalite cannot speak the HTTP/2 the Kinesis client would otherwise pick. Against an
 * endpoint override (the emulators, LocalStack: Node or Python servers that close a connection
 * idle for 5 s) an idle socket is closed after 4 s by the client first: reusing one the server
 * is closing at that moment fails with `read ECONNRESET`.
 */
function httpHandler(endpoint: string | undefined): NodeHttpHandler {
  return new NodeHttpHandler({
    httpAgent: new Agent({ keepAlive: true, maxSockets: 64, ...(endpoint ? { timeout: 4_000 } : {}) }),
    httpsAgent: new HttpsAgent({ keepAlive: true, maxSockets: 64 }),
    connectionTimeout: 3_000,
    requestTimeout: 10_000,
  });
}

/** What every client shares: region, credentials, the endpoint override, keep-alive HTTP/1.1. */
function settings(access: AwsAccess, endpoint: string | undefined) {
  return {
    region: access.region,
    ...(access.credentials ? { credentials: access.credentials } : {}),
    ...(endpoint ? { endpoint } : {}),
    requestHandler: httpHandler(endpoint),
  };
}

/*
 * One constructor per client, so a handler that needs two services (serve: DynamoDB and
 * Kinesis) builds, and bundles, only those two.
 */
export const createDynamoDbClient = (access: AwsAccess): DynamoDBClient =>
  new DynamoDBClient({ ...settings(access, access.endpoints.dynamodb), maxAttempts: 3 });

export const createKinesisClient = (access: AwsAccess): KinesisClient => new KinesisClient(settings(access, access.endpoints.kinesis));

export const createS3Client = (access: AwsAccess): S3Client =>
  new S3Client({
    ...settings(access, access.endpoints.s3),
    // A custom endpoint (s3rver, LocalStack) has no virtual-host DNS; AWS accepts both.
    forcePathStyle: access.endpoints.s3 !== undefined,
    // Streamed uploads with checksum framing are stored corrupt by s3rver; AWS needs none.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

export const createAthenaClient = (access: AwsAccess): AthenaClient => new AthenaClient(settings(access, access.endpoints.athena));

export function createClients(access: AwsAccess): AwsClients {
  return {
    dynamodb: createDynamoDbClient(access),
    kinesis: createKinesisClient(access),
    s3: createS3Client(access),
    sqs: new SQSClient(settings(access, access.endpoints.sqs)),
    athena: createAthenaClient(access),
  };
}
