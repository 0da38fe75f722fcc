/**
 * `POST /v1/push`: events sent over HTTP go through the same validation and transforms as the
 * stream before they are written to it. A request with any invalid event writes nothing and
 * answers 400 naming each invalid event, so nothing unvalidated reaches the stores.
 */
import { z } from 'zod';
import { NotFoundError, ValidationError } from '../core/errors.js';
import type { Runtime } from './runtime.js';

export const MAX_PUSH_EVENTS = 500;

export const PushRequest = z
  .object({
    source: z.string().min(1).describe('A stream source name, e.g. transactions'),
    events: z.array(z.record(z.string(), z.unknown())).min(1).max(MAX_PUSH_EVENTS),
  })
  .strict();
export type PushRequest = z.infer<typeof PushRequest>;

export const PushResponse = z.object({ source: z.string(), accepted: z.number().int() });

export async function pushEvents(runtime: Runtime, request: PushRequest): Promise<z.infer<typeof PushResponse>> {
  const source = runtime.registry.sources.get(request.source);
  const streamName = runtime.config.streams[request.source];
  if (!source || source.kind !== 'stream' || !streamName) throw new NotFoundError(`unknown stream source "${request.source}"`);
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
