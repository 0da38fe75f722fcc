/**
 * Local mode's composition root: the whole store in one process, built from the deployed
 * code. Emulators (or any other target's endpoints) stand in for AWS; the runtime comes from
 * the same `readConfig` the Lambdas call, given an environment object that differs from a
 * Lambda's only in its endpoints; the event source mapping feeds the real stream handler and
 * the HTTP adapter the real serve handler.
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import * as definitions from '../features/index.js';
import { BufferedAuditDelivery, LogAuditTrail } from '../lambdas/adapters/audit-trail.js';
import { type AwsAccess, type AwsClients, createClients, type EndpointOverrides } from '../lambdas/adapters/aws.js';
import { BucketObjects } from '../lambdas/adapters/bucket-objects.js';
import { accessEnvironment, environmentFor } from '../lambdas/core/deployment.js';
import { Registry } from '../lambdas/core/registry.js';
import { createRuntime, type Runtime, readConfig } from '../lambdas/handlers/runtime.js';
import { createServeHandler } from '../lambdas/handlers/serve.js';
import { createStreamHandler } from '../lambdas/handlers/stream.js';
import { LOCAL_OPERATOR } from './discovery.js';
import { startEmulators } from './emulators.js';
import { type CheckpointStore, EventSourceMapping, type EventSourceMappingOptions } from './event-source-mapping.js';
import { type HttpAdapter, type HttpAdapterOptions, startHttpAdapter } from './http.js';
import { rawArchiveMapping } from './raw-archive.js';
import { ensureResources, localResourceNames, type ResourceNames } from './resources.js';

export interface LocalStoreOptions {
  /** Port of the HTTP API on 127.0.0.1; 0 picks a free one. @default 4000 */
  readonly port?: number;
  /** The runtime's clock (ingest time, expiry at serving). @default Date.now */
  readonly now?: () => number;
  /**
   * Endpoints to use instead of starting the embedded emulators (another conformance target).
   * A target passed in is not stopped by `stop()`.
   * @default the embedded emulators, started and stopped by the store
   */
  readonly target?: AwsAccess;
  /**
   * Keep the embedded emulators' data and the mapping's shard checkpoints in this folder, so
   * a restart finds everything as it was (`npm start` uses `.work/local`).
   * @default nothing kept: in memory, gone at stop
   */
  readonly dataDirectory?: string;
  /** @default table `tessera-online`, bucket `tessera-offline`, each stream source's `streamName` */
  readonly names?: ResourceNames;
  /** Start polling the streams in the background; without it, call `poller.drain()`. @default true */
  readonly poll?: boolean;
  /** Settings of the event source mapping. @default those the stack deploys */
  readonly mapping?: Partial<Omit<EventSourceMappingOptions, 'kinesis' | 's3' | 'bucket' | 'region' | 'streams' | 'handler'>>;
  /** The caller identity the HTTP adapter reports to the serve handler for every request. */
  readonly identity?: HttpAdapterOptions['identity'];
  /**
   * Access key id → principal ARN: the HTTP adapter reports the signer of a SigV4-signed
   * request as API Gateway's IAM auth would, without verifying the signature (see local/http.ts).
   * LOCAL_OPERATOR's key is always mapped, and may push to every source.
   * @default {} — every other request is anonymous
   */
  readonly principals?: HttpAdapterOptions['principals'];
  /** The definitions to run with, for tests and benchmarks. @default the registry of features/index.ts */
  readonly registry?: Registry;
  /** POWERTOOLS_LOG_LEVEL of the handlers. @default 'WARN' */
  readonly logLevel?: string;
}

export interface LocalStore {
  /** Base URL of the HTTP API, `http://127.0.0.1:<port>`. */
  readonly url: string;
  readonly endpoints: EndpointOverrides;
  /** The runtime both handlers run on (its clients are the ones the handlers use). */
  readonly runtime: Runtime;
  readonly poller: EventSourceMapping;
  /** The raw archive (local/raw-archive.ts): writes every stream's records under raw/<source>/, as Firehose does in AWS. */
  readonly rawArchive: EventSourceMapping;
  /** Where the embedded S3 keeps its objects, when the store started the emulators. */
  readonly s3Directory?: string;
  stop(): Promise<void>;
}

/** The environment a deployed handler would see (the deployment contract's), pointed at `access` instead of AWS. */
export function handlerEnvironment(access: AwsAccess, names: ResourceNames, logLevel: string): Record<string, string> {
  return {
    ...environmentFor({ tableName: names.table, bucket: names.bucket, streams: names.streams, writers: [LOCAL_OPERATOR.arn], logLevel }),
    ...accessEnvironment(access),
  };
}

export async function startLocalStore(options: LocalStoreOptions = {}): Promise<LocalStore> {
  const cleanup: (() => Promise<void> | void)[] = [];
  const undo = async () => {
    for (const step of cleanup.reverse()) await step();
  };
  try {
    let access: AwsAccess;
    let s3Directory: string | undefined;
    if (options.target) {
      access = options.target;
    } else {
      const emulators = await startEmulators(options.dataDirectory ? { dataDirectory: options.dataDirectory } : {});
      cleanup.push(() => emulators.stop());
      access = emulators;
      s3Directory = emulators.s3Directory;
    }

    const registry = options.registry ?? Registry.fromModule(definitions);
    const names = options.names ?? localResourceNames(registry);
    const config = readConfig(handlerEnvironment(access, names, options.logLevel ?? 'WARN'));
    const base = createRuntime(config, { registry, ...(options.now ? { now: options.now } : {}) });
    // Deployed, a log subscription and Firehose carry the serve handler's audit lines to S3;
    // here the same lines are written to the bucket by this stand-in.
    let delivered = 0;
    const audit = new BufferedAuditDelivery(new BucketObjects(base.clients.s3, config.bucket), new LogAuditTrail(base.logger, true), {
      objectName: () => `local-${process.pid}-${Date.now()}-${++delivered}`,
      onError: (error) => base.logger.warn('audit lines not delivered; retrying with the next batch', { error: error as Error }),
    });
    const runtime = { ...base, audit };
    cleanup.push(() => destroyClients(runtime.clients));
    cleanup.push(() => audit.flush());
    await ensureResources(runtime.clients, names, { region: config.access.region });

    // The mapping is Lambda's service, not the function: it has clients of its own.
    const mappingClients = createClients(config.access);
    cleanup.push(() => destroyClients(mappingClients));
    const poller = new EventSourceMapping({
      logger: {
        info: (message, extra) => runtime.logger.info(message, extra ?? {}),
        warn: (message, extra) => runtime.logger.warn(message, extra ?? {}),
        error: (message, extra) => runtime.logger.error(message, extra ?? {}),
      },
      ...(options.dataDirectory && !options.target ? { checkpointStore: checkpointFile(join(options.dataDirectory, 'checkpoints.json')) } : {}),
      ...options.mapping,
      kinesis: mappingClients.kinesis,
      s3: mappingClients.s3,
      bucket: config.bucket,
      region: config.access.region,
      streams: [...new Set(Object.values(config.streams))],
      handler: createStreamHandler(runtime),
    });
    cleanup.push(() => poller.stop());
    const rawArchive = rawArchiveMapping({ ...mappingClients, bucket: config.bucket, region: config.access.region, streams: config.streams });
    cleanup.push(() => rawArchive.stop());

    const http: HttpAdapter = await startHttpAdapter(createServeHandler(runtime), {
      port: options.port ?? 4000,
      ...(options.identity ? { identity: options.identity } : {}),
      principals: { [LOCAL_OPERATOR.accessKeyId]: LOCAL_OPERATOR.arn, ...options.principals },
    });
    cleanup.push(() => http.close());

    if (options.poll ?? true) {
      poller.start();
      rawArchive.start();
    }

    let stopping: Promise<void> | undefined;
    return {
      url: http.url,
      endpoints: access.endpoints,
      runtime,
      poller,
      rawArchive,
      ...(s3Directory ? { s3Directory } : {}),
      stop: () => {
        stopping ??= undo();
        return stopping;
      },
    };
  } catch (error) {
    await undo();
    throw error;
  }
}

/** The mapping's checkpoints in a JSON file, replaced atomically at every advance. */
function checkpointFile(path: string): CheckpointStore {
  return {
    load() {
      try {
        return JSON.parse(readFileSync(path, 'utf8')) as Record<string, string>;
      } catch {
        return {};
      }
    },
    save(checkpoints) {
      writeFileSync(`${path}.tmp`, JSON.stringify(checkpoints));
      renameSync(`${path}.tmp`, path);
    },
  };
}

function destroyClients(clients: AwsClients): void {
  for (const client of Object.values(clients)) client.destroy();
}
