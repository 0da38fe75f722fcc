/**
 * The one order of "latest" on every path: by event time, then ingest time, then event id —
 * ids compared by code point, as DuckDB and Trino compare VARCHAR (UTF-8 bytes sort in code
 * point order). JavaScript's `<` compares UTF-16 code units, which puts characters above
 * U+FFFF before those in U+E000–U+FFFF; online, offline and the SQL would then pick different
 * winners of a tie, so nothing here uses it. Every path orders by this file: the online latest
 * row and pending rows (online.ts), `last`/`last_n` (aggregation.ts, aggregation-functions.ts),
 * the offline reference (offline.ts `compareLatest`); the SQL orders by the same three columns,
 * ids as VARCHAR (point-in-time.ts). Tests hold online and SQL to one winner on ids above U+FFFF.
 */

/** Compares two strings by code point: the order of VARCHAR in the SQL engines. */
export function compareText(a: string, b: string): number {
  if (a === b) return 0;
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    const x = a.codePointAt(i) as number;
    const y = b.codePointAt(i) as number;
    if (x !== y) return x < y ? -1 : 1;
    if (x > 0xffff) i++;
  }
  return a.length < b.length ? -1 : a.length > b.length ? 1 : 0;
}

/** When a row happened and was applied, and which event it was: what orders rows. */
export type Stamp = readonly [eventTs: number, ingestTs: number, eventId: string];

/** A stamp, or a tuple that starts with one (a stamped value). */
type StartsWithStamp = Stamp | readonly [number, number, string, ...unknown[]];

/** Negative when `a` is older than `b`, positive when newer, 0 for the same stamp. */
export function compareStamps(a: StartsWithStamp, b: StartsWithStamp): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  if (a[1] !== b[1]) return a[1] < b[1] ? -1 : 1;
  return compareText(a[2], b[2]);
}

/** Sorts the newest first. */
export const newestFirst = (a: StartsWithStamp, b: StartsWithStamp): number => compareStamps(b, a);
