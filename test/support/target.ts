/**
 * The ONE place the integration and end-to-end suites learn where AWS is.
 *
 * `TESSERA_TARGET` (read here and nowhere else) picks the backend:
 * - `embedded` (default): dynalite, kinesalite and s3rver in-process (`local/emulators.ts`).
 * - `dynamodb-local`: DynamoDB from AWS's DynamoDB Local at `TESSERA_DYNAMODB_ENDPOINT`
 *   (started by `scripts/targets/run.sh dynamodb-local -- ...`), the rest embedded.
 * - `endpoint`: every service at `TESSERA_ENDPOINT` (LocalStack on the host, started by
 *   `scripts/targets/run.sh localstack-host -- ...`, or any LocalStack already running).
 * - `localstack`: LocalStack in Docker through @testcontainers/localstack; image from
 *   `LOCALSTACK_IMAGE`, token from `LOCALSTACK_AUTH_TOKEN`. Without a Docker engine it
 *   throws `TargetUnavailable`, which the suites report as skipped.
 * - `ministack`: every service at `TESSERA_ENDPOINT` (ministack, started by
 *   `scripts/targets/run.sh ministack -- ...`), Athena included.
 * - `trino`: the AWS services embedded; the point-in-time SQL tests execute the generated
 *   query on Trino 476 at `TESSERA_TRINO_ENDPOINT` (`scripts/targets/run.sh trino -- ...`),
 *   Athena's engine, instead of DuckDB (`sqlEngine()`).
 * - `aws`: a real account, opt-in. Credentials and region from the SDK's default chain;
 *   resource names from `TESSERA_TABLE`, `TESSERA_BUCKET`, `TESSERA_STREAM`,
 *   `TESSERA_GLUE_DATABASE`, `TESSERA_ATHENA_WORKGROUP`.
 *
 * `TESSERA_REGION` overrides the region of the emulated targets (default us-east-1), and
 * `TESSERA_CAPABILITIES` (e.g. `athena,-sqs`) adds or removes capabilities of a target
 * (useful for `endpoint`, whose backend this file cannot know).
 */
import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { homedir } from 'node:os';
import { join } from 'node:path';
import type { AwsAccess, EndpointOverrides } from '../../lambdas/adapters/aws.js';
import { startEmulators } from '../../local/emulators.js';

export type TargetName = 'embedded' | 'dynamodb-local' | 'endpoint' | 'localstack' | 'ministack' | 'trino' | 'aws';
export const TARGET_NAMES: readonly TargetName[] = ['embedded', 'dynamodb-local', 'endpoint', 'localstack', 'ministack', 'trino', 'aws'];

export interface Capabilities {
  /** TransactWriteItems / TransactGetItems. */
  readonly transactions: boolean;
  /**
   * UpdateTimeToLive is accepted and the backend deletes expired items, on its own schedule
   * (DynamoDB Local's job, ministack every 60 s, AWS within days): assert on the setting,
   * or on reads that filter expired items, not on deletion within a test's lifetime.
   */
  readonly ttlDeletion: boolean;
  /** Athena (StartQueryExecution / GetQueryExecution / GetQueryResults) over Glue tables. */
  readonly athena: boolean;
  /** SQS. */
  readonly sqs: boolean;
}

/** Names of resources that exist already (the `aws` target); tests create their own elsewhere. */
export interface TargetResources {
  readonly table?: string;
  readonly bucket?: string;
  readonly stream?: string;
  readonly glueDatabase?: string;
  readonly athenaWorkgroup?: string;
}

export interface Target extends AwsAccess {
  readonly name: string;
  readonly capabilities: Capabilities;
  /** Where s3 objects live on disk, when the target keeps them locally (embedded s3rver), for DuckDB reads; else undefined. */
  readonly s3Directory?: string;
  /** Pre-existing resources to use instead of creating them (only the `aws` target sets these). */
  readonly resources?: TargetResources;
  stop(): Promise<void>;
}

/** The chosen target cannot run on this machine (no Docker engine, say): the suite skips, printing `reason`. */
export class TargetUnavailable extends Error {
  override readonly name = 'TargetUnavailable';
  constructor(
    readonly target: string,
    readonly reason: string,
  ) {
    super(`target '${target}' is unavailable: ${reason}`);
  }
}

/** The target is misconfigured (unknown name, missing endpoint): a failure, not a skip. */
export class TargetConfigError extends Error {
  override readonly name = 'TargetConfigError';
}

const EMULATED_CREDENTIALS = { accessKeyId: 'test', secretAccessKey: 'test' } as const;

const CAPABILITIES: Record<TargetName, Capabilities> = {
  // dynalite: no transactions, no UpdateTimeToLive; no Athena, no SQS in local mode.
  embedded: { transactions: false, ttlDeletion: false, athena: false, sqs: false },
  // DynamoDB Local has transactions and a TTL deletion job; the rest is embedded.
  'dynamodb-local': { transactions: true, ttlDeletion: true, athena: false, sqs: false },
  // Assumed LocalStack (free edition: no Glue/Athena, 501); override with TESSERA_CAPABILITIES.
  endpoint: { transactions: true, ttlDeletion: true, athena: false, sqs: true },
  localstack: { transactions: true, ttlDeletion: true, athena: false, sqs: true },
  // ministack: TransactWriteItems, a TTL reaper (every 60 s), Athena on DuckDB over Glue tables.
  ministack: { transactions: true, ttlDeletion: true, athena: true, sqs: true },
  // Trino for the point-in-time SQL; the AWS services are embedded.
  trino: { transactions: false, ttlDeletion: false, athena: false, sqs: false },
  aws: { transactions: true, ttlDeletion: true, athena: true, sqs: true },
};

function env(name: string): string | undefined {
  const value = process.env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function requiredUrl(name: string, target: string, hint: string): string {
  const value = env(name);
  if (value === undefined) throw new TargetConfigError(`TESSERA_TARGET=${target} needs ${name} (${hint})`);
  try {
    new URL(value);
  } catch {
    throw new TargetConfigError(`${name}=${value} is not a URL`);
  }
  return value.replace(/\/+$/, '');
}

/** Fails (not skips) when nothing listens at a script-started endpoint: the run is misconfigured. */
async function reachable(url: string, variable: string): Promise<void> {
  const { hostname, port, protocol } = new URL(url);
  const host = hostname.replace(/^\[|\]$/g, '');
  const ok = await new Promise<boolean>((resolve) => {
    const socket = connect({ host, port: Number(port || (protocol === 'https:' ? 443 : 80)) });
    const done = (answer: boolean) => {
      socket.destroy();
      resolve(answer);
    };
    socket.setTimeout(3_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
  if (!ok) throw new TargetConfigError(`nothing answers at ${variable}=${url} (was the target stopped, or is this process outside its network namespace?)`);
}

function capabilitiesOf(name: TargetName): Capabilities {
  const caps: Record<keyof Capabilities, boolean> = { ...CAPABILITIES[name] };
  for (const raw of (env('TESSERA_CAPABILITIES') ?? '').split(',')) {
    const item = raw.trim();
    if (item === '') continue;
    const off = item.startsWith('-');
    const key = item.replace(/^[-+]/, '');
    if (!(key in caps)) throw new TargetConfigError(`TESSERA_CAPABILITIES: unknown capability '${key}' (known: ${Object.keys(caps).join(', ')})`);
    caps[key as keyof Capabilities] = !off;
  }
  return caps;
}

/** Every service at one endpoint (LocalStack, ministack). */
function everyService(endpoint: string): EndpointOverrides {
  return { dynamodb: endpoint, kinesis: endpoint, s3: endpoint, sqs: endpoint, athena: endpoint, glue: endpoint };
}

/** The target named by TESSERA_TARGET (default `embedded`), started and ready. */
export async function startTarget(): Promise<Target> {
  const chosen = env('TESSERA_TARGET') ?? 'embedded';
  if (!(TARGET_NAMES as readonly string[]).includes(chosen)) {
    throw new TargetConfigError(`TESSERA_TARGET=${chosen} is not one of ${TARGET_NAMES.join(', ')}`);
  }
  const name = chosen as TargetName;
  const capabilities = capabilitiesOf(name);
  const region = env('TESSERA_REGION') ?? 'us-east-1';

  switch (name) {
    case 'embedded': {
      const emulators = await startEmulators();
      return { ...emulators, name, capabilities };
    }
    case 'dynamodb-local': {
      const dynamodb = requiredUrl('TESSERA_DYNAMODB_ENDPOINT', name, 'run the tests through scripts/targets/run.sh dynamodb-local -- ...');
      await reachable(dynamodb, 'TESSERA_DYNAMODB_ENDPOINT');
      const emulators = await startEmulators();
      // One key pair for every client: s3rver accepts only its own, DynamoDB Local any
      // (it keeps one database per access key and region, so all clients must agree).
      return { ...emulators, name, capabilities, endpoints: { ...emulators.endpoints, dynamodb } };
    }
    case 'trino': {
      const emulators = await startEmulators();
      return { ...emulators, name, capabilities };
    }
    case 'endpoint':
    case 'ministack': {
      const endpoint = requiredUrl(
        'TESSERA_ENDPOINT',
        name,
        `run the tests through scripts/targets/run.sh ${name === 'ministack' ? 'ministack' : 'localstack-host'} -- ..., or point it at a running LocalStack`,
      );
      await reachable(endpoint, 'TESSERA_ENDPOINT');
      return { name, capabilities, region, credentials: EMULATED_CREDENTIALS, endpoints: everyService(endpoint), async stop() {} };
    }
    case 'localstack':
      return startLocalstackContainer(capabilities, region);
    case 'aws': {
      const resources: TargetResources = {
        table: env('TESSERA_TABLE'),
        bucket: env('TESSERA_BUCKET'),
        stream: env('TESSERA_STREAM'),
        glueDatabase: env('TESSERA_GLUE_DATABASE'),
        athenaWorkgroup: env('TESSERA_ATHENA_WORKGROUP'),
      };
      const awsRegion = env('AWS_REGION') ?? env('AWS_DEFAULT_REGION');
      if (awsRegion === undefined) throw new TargetConfigError('TESSERA_TARGET=aws needs AWS_REGION');
      return { name, capabilities, region: awsRegion, endpoints: {}, resources, async stop() {} };
    }
  }
}

/** Where the point-in-time SQL tests execute the generated query. */
export type SqlEngineChoice = { readonly engine: 'duckdb' } | { readonly engine: 'trino'; readonly endpoint: string };

/**
 * The engine of the `trino` target (Trino at `TESSERA_TRINO_ENDPOINT`, started by
 * `scripts/targets/run.sh trino -- ...`), DuckDB in-process for every other target.
 */
export function sqlEngine(): SqlEngineChoice {
  if (env('TESSERA_TARGET') !== 'trino') return { engine: 'duckdb' };
  return { engine: 'trino', endpoint: requiredUrl('TESSERA_TRINO_ENDPOINT', 'trino', 'run the tests through scripts/targets/run.sh trino -- ...') };
}

/** The Docker sockets testcontainers would try when DOCKER_HOST is unset. */
function dockerSockets(): string[] {
  const home = homedir();
  return [
    '/var/run/docker.sock',
    ...(process.env.XDG_RUNTIME_DIR ? [join(process.env.XDG_RUNTIME_DIR, 'docker.sock')] : []),
    join(home, '.docker', 'run', 'docker.sock'),
    join(home, '.docker', 'desktop', 'docker.sock'),
  ];
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(1_000, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

async function startLocalstackContainer(capabilities: Capabilities, region: string): Promise<Target> {
  // A quick, dependency-free answer first: with no DOCKER_HOST and no Docker socket that
  // accepts a connection, there is no engine (the usual case on these machines).
  if (env('DOCKER_HOST') === undefined) {
    const sockets = dockerSockets();
    const answers = await Promise.all(sockets.filter((path) => existsSync(path)).map(socketAnswers));
    if (!answers.includes(true)) {
      throw new TargetUnavailable(
        'localstack',
        `no Docker engine (DOCKER_HOST is unset and no socket answers at ${sockets.join(', ')}); use scripts/targets/run.sh localstack-host -- ... for LocalStack without Docker`,
      );
    }
  }
  let testcontainers: typeof import('testcontainers');
  try {
    testcontainers = await import('testcontainers');
  } catch (error) {
    // testcontainers 12 (undici 8) needs Node >= 22.22: on Node 20 its import throws.
    throw new TargetUnavailable(
      'localstack',
      `testcontainers cannot load on Node ${process.version} (${firstLine(error)}); testcontainers 12 needs Node >= 22.22, 11.x runs on Node 20`,
    );
  }
  try {
    await testcontainers.getContainerRuntimeClient();
  } catch (error) {
    throw new TargetUnavailable(
      'localstack',
      `no Docker engine reachable (${firstLine(error)}); use TESSERA_TARGET=endpoint with scripts/targets/run.sh localstack-host instead`,
    );
  }
  const image = env('LOCALSTACK_IMAGE');
  if (image === undefined) {
    throw new TargetUnavailable(
      'localstack',
      'LOCALSTACK_IMAGE is not set (LocalStack images need an explicit tag and, since March 2026, LOCALSTACK_AUTH_TOKEN)',
    );
  }
  const { LocalstackContainer } = await import('@testcontainers/localstack');
  const token = env('LOCALSTACK_AUTH_TOKEN');
  const container = await new LocalstackContainer(image)
    .withEnvironment({ ...(token ? { LOCALSTACK_AUTH_TOKEN: token } : {}), AWS_DEFAULT_REGION: region, DYNAMODB_REMOVE_EXPIRED_ITEMS: '1' })
    .start();
  const endpoint = container.getConnectionUri();
  return {
    name: 'localstack',
    capabilities,
    region,
    credentials: EMULATED_CREDENTIALS,
    endpoints: everyService(endpoint),
    async stop() {
      await container.stop();
    },
  };
}

function firstLine(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error);
  return message.split('\n')[0] ?? message;
}

/** For tests that need a capability: returns a skip reason string (printed) or undefined. */
export function missing(target: Target, capability: keyof Target['capabilities']): string | undefined {
  if (target.capabilities[capability]) return undefined;
  const reason = `target '${target.name}' lacks ${capability}`;
  console.warn(`[tessera:skip] ${reason}`);
  return reason;
}
