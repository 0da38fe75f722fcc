/**
 * `tessera erase --entity user_id=u0001 [--reason …] [--by …]`: removes the subject from every
 * store and prints the receipt; both targets run the one job of lambdas/app/erasure.ts.
 * - `--stack`: the erase function (output EraseFunctionName; operators only) is invoked to
 *   start the job; its workers apply the chunks from the erasure queue, and the job item in
 *   the online table (output TableName) is polled for progress until every chunk is done.
 *   `tessera erase --status <job> --stack X` shows a job's progress later.
 * - local mode (default): the same job runs in this process against local mode's emulators,
 *   chunk after chunk, its progress kept in memory.
 */
import { randomUUID } from 'node:crypto';
import { userInfo } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import { InvokeCommand, LambdaClient } from '@aws-sdk/client-lambda';
import type { Command } from 'commander';
import { createClients } from '../lambdas/adapters/aws.js';
import { BucketObjects } from '../lambdas/adapters/bucket-objects.js';
import { DynamoErasureJobStore, type ErasureJobStore, MemoryErasureJobStore } from '../lambdas/adapters/erasure-jobs.js';
import { DynamoOnlineEraser } from '../lambdas/adapters/online-eraser.js';
import { type ErasureRequest, type ErasureResult, runErasure } from '../lambdas/app/erasure.js';
import { STACK_OUTPUT } from '../lambdas/core/deployment.js';
import { type ErasureJob, type ErasureReceipt, jobComplete, parseSubject, progressLine } from '../lambdas/core/erasure.js';
import { NotFoundError, ValidationError } from '../lambdas/core/errors.js';
import type { Registry } from '../lambdas/core/registry.js';
import { accessOf, readDiscoveryFile } from '../local/discovery.js';
import { type DefinitionsOptions, withDefinitions, withStack } from './command.js';
import { loadRegistry } from './definitions.js';
import { readStackOutputs } from './stack-outputs.js';

export interface EraseOptions {
  readonly entity?: string;
  /** A job id: show its progress instead of starting one (deployed stacks). */
  readonly status?: string;
  readonly reason?: string;
  readonly by?: string;
  readonly json?: boolean;
  readonly stack?: string;
  readonly region?: string;
  /** How often a deployed job's item is read. @default 2000 */
  readonly pollIntervalMs?: number;
}

export async function eraseCommand(options: EraseOptions, registry: Registry, env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<void> {
  if (options.status !== undefined) return showStatus(options, env, out);
  if (!options.entity) throw new ValidationError('give --entity <join key>=<value>, or --status <job id> with --stack');
  const subject = parseSubject(registry, options.entity);
  const request: ErasureRequest = {
    entity: options.entity,
    erasedBy: options.by ?? userInfo().username,
    ...(options.reason ? { reason: options.reason } : {}),
  };
  const progress = (job: ErasureJob) => {
    if (!options.json) out(`  ${progressLine(job)}`);
  };
  const result = options.stack ? await eraseDeployed(options, request, env, progress) : await eraseLocally(registry, request, progress);
  if (options.json) return out(JSON.stringify(result, null, 2));
  if (!result.receipt) return out(`Nothing of ${subject.entity.joinKey}=${subject.value} left to erase; nothing changed (job ${result.jobId}).`);
  out(`Erased ${subject.entity.joinKey}=${subject.value}; receipt ${result.receipt.key} in the store's bucket (job ${result.jobId})`);
}

async function eraseLocally(registry: Registry, request: ErasureRequest, progress: (job: ErasureJob) => void): Promise<ErasureResult> {
  const local = readDiscoveryFile();
  const clients = createClients(accessOf(local));
  try {
    const ports = {
      registry,
      objects: new BucketObjects(clients.s3, local.bucket),
      online: new DynamoOnlineEraser(clients.dynamodb, local.table),
      jobs: new MemoryErasureJobStore(),
      now: Date.now,
      newId: () => randomUUID().slice(0, 8),
    };
    return await runErasure(request, ports, progress);
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}

/** A deployed stack as `tessera erase` uses it: starts a job, reads its item and its receipt. */
export interface ErasureJobTarget {
  /** Resolves to the job id. */
  start(request: ErasureRequest): Promise<string>;
  readonly jobs: ErasureJobStore;
  receipt(key: string): Promise<ErasureReceipt>;
}

/** Starts a job and follows its item until every chunk is done, reporting each change of progress. */
export async function followErasure(
  target: ErasureJobTarget,
  request: ErasureRequest,
  progress: (job: ErasureJob) => void,
  pollIntervalMs = 2_000,
): Promise<ErasureResult> {
  const jobId = await target.start(request);
  let shown = '';
  for (;;) {
    const job = await target.jobs.get(jobId);
    if (job && progressLine(job) !== shown) {
      shown = progressLine(job);
      progress(job);
    }
    if (job && jobComplete(job)) {
      if (job.failed) throw new Error(`erasure job ${jobId}: ${job.failed} chunks failed (see the erasure dead-letter queue); run the erasure again`);
      if (!job.receiptKey) return { jobId, removed: job.removed };
      return { jobId, removed: job.removed, receipt: { key: job.receiptKey, receipt: await target.receipt(job.receiptKey) } };
    }
    await sleep(pollIntervalMs);
  }
}

async function eraseDeployed(
  options: EraseOptions,
  request: ErasureRequest,
  env: NodeJS.ProcessEnv,
  progress: (job: ErasureJob) => void,
): Promise<ErasureResult> {
  const outputs = await readStackOutputs({ stack: options.stack as string, ...(options.region ? { region: options.region } : {}) }, env);
  const functionName = outputs.require(STACK_OUTPUT.eraseFunctionName);
  // One attempt: a retried invocation would start a second job (harmless, but its receipt would split the counts).
  const lambda = new LambdaClient({ region: outputs.region, maxAttempts: 1 });
  const clients = createClients({ region: outputs.region, endpoints: {} });
  const objects = new BucketObjects(clients.s3, outputs.require(STACK_OUTPUT.bucketName));
  const target: ErasureJobTarget = {
    jobs: new DynamoErasureJobStore(clients.dynamodb, outputs.require(STACK_OUTPUT.tableName)),
    async start(request) {
      const response = await lambda.send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'RequestResponse',
          Payload: new TextEncoder().encode(JSON.stringify({ erase: request })),
        }),
      );
      const payload = response.Payload ? new TextDecoder().decode(response.Payload) : '';
      if (response.FunctionError) throw new Error(`the erase function ${functionName} failed: ${response.FunctionError}: ${payload}`);
      return (JSON.parse(payload) as { jobId: string }).jobId;
    },
    receipt: async (key) => JSON.parse((await objects.get(key)).toString('utf8')) as ErasureReceipt,
  };
  try {
    return await followErasure(target, request, progress, options.pollIntervalMs);
  } finally {
    lambda.destroy();
    for (const client of Object.values(clients)) client.destroy();
  }
}

async function showStatus(options: EraseOptions, env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<void> {
  if (!options.stack) throw new ValidationError('--status reads a deployed job: give --stack (local mode runs erasure in the command itself)');
  const outputs = await readStackOutputs({ stack: options.stack, ...(options.region ? { region: options.region } : {}) }, env);
  const clients = createClients({ region: outputs.region, endpoints: {} });
  try {
    const job = await new DynamoErasureJobStore(clients.dynamodb, outputs.require(STACK_OUTPUT.tableName)).get(options.status as string);
    if (!job) throw new NotFoundError(`no erasure job ${options.status}`);
    out(
      options.json
        ? JSON.stringify(job, null, 2)
        : `${job.id}: ${jobComplete(job) ? 'done' : 'running'}; ${progressLine(job)}${job.receiptKey ? `; receipt ${job.receiptKey}` : ''}`,
    );
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}

export function register(program: Command): void {
  withStack(
    withDefinitions(
      program
        .command('erase')
        .description("erase an entity from every store (online, offline, raw archive, dead letters; its id nulled in other entities' rows) and write a receipt")
        .option('--entity <key=value>', 'the subject, e.g. user_id=u0001')
        .option('--status <job>', 'show the progress of an erasure job of --stack')
        .option('--reason <text>', 'why, for the receipt (e.g. the request reference)')
        .option('--by <who>', 'who asked, for the receipt (default: your user name)')
        .option('--json', 'print what was removed and the receipt as JSON'),
    ),
  ).action(async (options: EraseOptions & DefinitionsOptions) => {
    await eraseCommand(options, await loadRegistry(options.definitions), process.env, console.log);
  });
}
