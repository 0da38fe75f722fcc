/**
 * Scheduled and backfill runs of a batch source, the pure part: which files of a location a
 * time range covers, and how CSV text fields become the types the source schema expects.
 * Files under Hive-style `date=YYYY-MM-DD/` folders are chosen by date; files without one are
 * always read (the rows' own event times decide what they change).
 */
import type { EventSchema } from './definitions.js';

const DAY_MS = 86_400_000;

/** Whether an object key belongs to the range [from, to] of epoch ms, judged by its `date=` folder. */
export function keyInRange(key: string, from: number, to: number): boolean {
  const match = /(?:^|\/)date=(\d{4}-\d{2}-\d{2})\//.exec(key);
  if (!match) return true;
  const day = Date.parse(`${match[1]}T00:00:00Z`);
  return day + DAY_MS > from && day <= to;
}

/** `s3://bucket/prefix/` → bucket and prefix; a bare prefix is in the store's own bucket. */
export function parseLocation(location: string, ownBucket: string): { bucket: string; prefix: string } {
  const match = /^s3:\/\/([^/]+)\/?(.*)$/.exec(location);
  return match ? { bucket: match[1] as string, prefix: match[2] as string } : { bucket: ownBucket, prefix: location };
}

/** The default location of a stream source's raw archive, which the batch path can replay. */
export const rawLocation = (source: string) => `raw/${source}/`;

/** The name suffix of raw archive objects: JSON lines, gzipped (Firehose in AWS, local/raw-archive.ts locally). */
export const RAW_FILE_EXTENSION = '.jsonl.gz';

/** Converts CSV's text fields to the JSON types the schema declares (numbers, booleans); empty fields become absent. */
export function coerceCsvRecord(schema: EventSchema, record: Record<string, string>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [name, text] of Object.entries(record)) {
    if (text === '') continue;
    const field = schema.shape[name] as { def?: { type?: string; innerType?: unknown } } | undefined;
    const type = unwrap(field);
    if (type === 'number') out[name] = Number(text);
    else if (type === 'boolean') out[name] = text === 'true' ? true : text === 'false' ? false : text;
    else out[name] = text;
  }
  return out;
}

function unwrap(field: { def?: { type?: string; innerType?: unknown } } | undefined): string | undefined {
  let current = field;
  while (current?.def && ['optional', 'nullable', 'default'].includes(current.def.type ?? '')) {
    current = current.def.innerType as typeof current;
  }
  return current?.def?.type;
}
