/**
 * `POST /v1/push`: events sent over HTTP, by a caller allowed to write to the source, go through
 * the same validation and transforms as the stream before they are written to it. A request with any invalid event writes nothing and
 * answers 400 naming each invalid event, so nothing unvalidated reaches the stores.
 */
import type { z } from 'zod';
import type { EventStream } from '../adapters/ports.js';
import { authorizePush, type Caller } from '../core/access.js';
import type { ServeConfig } from '../core/deployment.js';
import { NotFoundError, ValidationError } from '../core/errors.js';
import type { Ingestor } from '../core/ingest.js';
import type { Registry } from '../core/registry.js';
import type { PushRequest, PushResponse } from '../core/serving.js';

/** What a push needs: the definitions, the streams and writers of the deployment, the stream, a clock. */
export interface PushPorts {
  readonly registry: Registry;
  readonly config: Pick<ServeConfig, 'streams' | 'writers'>;
  readonly ingestor: Ingestor;
  readonly events: EventStream;
  readonly now: () => number;
}

export async function pushEvents(runtime: PushPorts, request: PushRequest, caller: Caller): Promise<z.infer<typeof PushResponse>> {
  const source = runtime.registry.sources.get(request.source);
  const streamName = runtime.config.streams[request.source];
  if (source?.kind !== 'stream' || !streamName) throw new NotFoundError(`unknown stream source "${request.source}"`);
  authorizePush(source, caller, runtime.config.writers);
  const now = runtime.now();
  const rejected = request.events
    .map((event, index) => ({ index, outcome: runtime.ingestor.ingestEvent(source, event, now) }))
    .filter(({ outcome }) => !outcome.ok)
    .map(({ index, outcome }) => ({ index, ...(outcome.ok ? {} : outcome.rejection) }));
  if (rejected.length) throw new ValidationError(`${rejected.length} of ${request.events.length} events are invalid; none was written`, { rejected });
  const records = request.events.map((event) => ({
    partitionKey: String(event[source.eventIdField]),
    data: Buffer.from(JSON.stringify(event)),
  }));
  const { failed } = await runtime.events.put(streamName, records);
  if (failed) throw new Error(`${failed} events could not be written to the stream`);
  return { source: source.name, accepted: records.length };
}
