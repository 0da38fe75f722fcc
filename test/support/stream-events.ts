/**
 * Generated events into a target's stores through the real stream handler, batch by batch, as
 * the event source mapping would deliver them from one shard: resources created first, each
 * batch applied at the ingest time `ingestedAt(batch)` gives.
 */
import type { AwsClients } from '../../lambdas/adapters/aws.js';
import { createClients } from '../../lambdas/adapters/aws.js';
import type { Registry } from '../../lambdas/core/registry.js';
import { createRuntime, readConfig } from '../../lambdas/handlers/runtime.js';
import { createStreamHandler } from '../../lambdas/handlers/stream.js';
import { kinesisEvent } from '../../local/event-source-mapping.js';
import { ensureResources, type ResourceNames } from '../../local/resources.js';
import { handlerEnvironment } from '../../local/store.js';
import type { Target } from './target.js';

export interface StreamedEvent {
  readonly user_id: string;
}

/** Applies `events` of the one stream source in `names.streams`; returns clients for the test (destroy them after). */
export async function streamEvents<E extends StreamedEvent>(
  target: Target,
  names: ResourceNames,
  registry: Registry,
  events: readonly E[],
  options: { readonly batchSize: number; readonly ingestedAt: (batch: readonly E[]) => number },
): Promise<AwsClients> {
  const clients = createClients(target);
  await ensureResources(clients, names, { region: target.region, shardCount: 1 });
  const streamName = Object.values(names.streams)[0] as string;
  for (let from = 0; from < events.length; from += options.batchSize) {
    const batch = events.slice(from, from + options.batchSize);
    const ingestedAt = options.ingestedAt(batch);
    const runtime = createRuntime(readConfig(handlerEnvironment(target, names, 'ERROR')), { registry, now: () => ingestedAt });
    try {
      await createStreamHandler(runtime)(
        kinesisEvent(
          batch.map((e, i) => ({
            PartitionKey: e.user_id,
            SequenceNumber: String(100_000 + from + i),
            Data: Buffer.from(JSON.stringify(e)),
            ApproximateArrivalTimestamp: new Date(ingestedAt),
          })),
          { region: target.region, streamName, shardId: 'shardId-000000000000' },
        ),
      );
    } finally {
      for (const client of Object.values(runtime.clients)) client.destroy();
    }
  }
  return clients;
}
