/**
 * `tessera erase --entity user_id=u0001 [--reason …]`: removes the subject from every store of
 * local mode (its discovery file) or of `--stack`, from this machine with the caller's
 * credentials, and prints the receipt. Deployed as a job it is not (yet): run it from a
 * machine whose credentials may scan the table and rewrite the bucket.
 */
import { userInfo } from 'node:os';
import { STACK_OUTPUT } from '../lambdas/core/deployment.js';
import type { Registry } from '../lambdas/core/registry.js';
import { accessOf, readDiscoveryFile } from '../local/discovery.js';
import { readStackOutputs } from './stack-outputs.js';

export interface EraseOptions {
  readonly entity: string;
  readonly reason?: string;
  readonly by?: string;
  readonly json?: boolean;
  readonly stack?: string;
  readonly region?: string;
}

export async function eraseCommand(options: EraseOptions, registry: Registry, env: NodeJS.ProcessEnv, out: (line: string) => void): Promise<void> {
  const [{ parseSubject }, { eraseSubject }, { BucketObjects }, { createClients }] = await Promise.all([
    import('../lambdas/core/erasure.js'),
    import('../lambdas/sdk/erasure.js'),
    import('../lambdas/adapters/bucket-objects.js'),
    import('../lambdas/adapters/aws.js'),
  ]);
  const subject = parseSubject(registry, options.entity);
  let store: { access: Parameters<typeof createClients>[0]; table: string; bucket: string };
  if (options.stack) {
    const outputs = await readStackOutputs({ stack: options.stack, ...(options.region ? { region: options.region } : {}) }, env);
    store = {
      access: { region: outputs.region, endpoints: {} },
      table: outputs.require(STACK_OUTPUT.tableName),
      bucket: outputs.require(STACK_OUTPUT.bucketName),
    };
  } else {
    const local = readDiscoveryFile();
    store = { access: accessOf(local), table: local.table, bucket: local.bucket };
  }
  const clients = createClients(store.access);
  try {
    const result = await eraseSubject(
      { subject, erasedBy: options.by ?? userInfo().username, ...(options.reason ? { reason: options.reason } : {}) },
      {
        registry,
        dynamodb: clients.dynamodb,
        table: store.table,
        objects: new BucketObjects(clients.s3, store.bucket),
        ...(options.json ? {} : { progress: (line: string) => out(`  ${line}`) }),
      },
    );
    if (options.json) return out(JSON.stringify(result, null, 2));
    if (!result.receipt) return out(`Nothing of ${subject.entity.joinKey}=${subject.value} left to erase; nothing changed.`);
    out(`Erased ${subject.entity.joinKey}=${subject.value}; receipt s3://${store.bucket}/${result.receipt.key}`);
  } finally {
    for (const client of Object.values(clients)) client.destroy();
  }
}
