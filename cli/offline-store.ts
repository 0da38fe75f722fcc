/**
 * The offline store a CLI command queries: a deployed stack's bucket, Glue database and
 * Athena workgroup (`--stack`), or local mode's bucket through its discovery file, queried by
 * DuckDB. Used by `tessera advise` and `tessera drift`; the runner is the training-set
 * runner, so every query runs on the same engine and tables as a training set.
 */
import type { S3Client } from '@aws-sdk/client-s3';
import type { Engine, TrainingSetRunner } from '../lambdas/adapters/query-runner.js';
import { STACK_OUTPUT } from '../lambdas/core/deployment.js';
import { ValidationError } from '../lambdas/core/errors.js';
import type { Registry } from '../lambdas/core/registry.js';
import { accessOf, readDiscoveryFile } from '../local/discovery.js';
import type { DefinitionsOptions } from './command.js';
import { loadRegistry } from './definitions.js';
import { readStackOutputs } from './stack-outputs.js';

/** The schema DuckDB puts the offline views in, locally (the Glue database's name in a stack). */
export const LOCAL_DATABASE = 'tessera';

export interface OfflineStoreOptions {
  readonly stack?: string;
  readonly region?: string;
  /** Default: athena for a stack, duckdb locally. */
  readonly engine?: Engine;
}

export interface OfflineStore {
  readonly description: string;
  readonly runner: TrainingSetRunner;
  readonly database: string;
  readonly s3: S3Client;
  /** The store's bucket: offline rows, dead letters, failed batches. */
  readonly bucket: string;
  close(): void;
}

export async function openOfflineStore(options: OfflineStoreOptions, env: NodeJS.ProcessEnv): Promise<OfflineStore> {
  const [{ createTrainingSetRunner }, { S3Client }] = await Promise.all([import('../lambdas/app/training-set.js'), import('@aws-sdk/client-s3')]);
  if (!options.stack) {
    if (options.engine === 'athena') throw new ValidationError('local mode has no Athena; use --engine duckdb, or --stack NAME for a deployed store');
    const local = readDiscoveryFile();
    const { createClients } = await import('../lambdas/adapters/aws.js');
    const clients = createClients(accessOf(local));
    return {
      description: `local mode (${local.url})`,
      runner: await createTrainingSetRunner({ engine: 'duckdb', s3: clients.s3, bucket: local.bucket }),
      database: LOCAL_DATABASE,
      s3: clients.s3,
      bucket: local.bucket,
      close: () => {
        for (const client of Object.values(clients)) client.destroy();
      },
    };
  }
  const outputs = await readStackOutputs({ stack: options.stack, ...(options.region ? { region: options.region } : {}) }, env);
  const engine = options.engine ?? 'athena';
  const s3 = new S3Client({ region: outputs.region });
  const athena = engine === 'athena' ? new (await import('@aws-sdk/client-athena')).AthenaClient({ region: outputs.region }) : undefined;
  const bucket = outputs.require(STACK_OUTPUT.bucketName);
  return {
    description: `stack ${options.stack} (${outputs.region}, ${engine})`,
    runner: await createTrainingSetRunner({ engine, s3, bucket, ...(athena ? { athena, workgroup: outputs.require(STACK_OUTPUT.athenaWorkgroup) } : {}) }),
    database: outputs.require(STACK_OUTPUT.glueDatabase),
    s3,
    bucket,
    close: () => {
      s3.destroy();
      athena?.destroy();
    },
  };
}

/** Runs `use` with the store `options` name, closing its clients afterwards. */
export async function withOfflineStore<T>(options: OfflineStoreOptions, env: NodeJS.ProcessEnv, use: (store: OfflineStore) => Promise<T>): Promise<T> {
  const store = await openOfflineStore(options, env);
  try {
    return await use(store);
  } finally {
    store.close();
  }
}

/** The action of a command over the offline store: loads the definitions, opens the store, runs the command, closes the store. */
export const offlineStoreAction =
  <O extends OfflineStoreOptions & DefinitionsOptions>(run: (options: O, deps: OfflineStore & { registry: Registry }) => Promise<unknown>) =>
  async (options: O): Promise<void> => {
    const registry = await loadRegistry(options.definitions);
    await withOfflineStore(options, process.env, (store) => run(options, { ...store, registry }));
  };
