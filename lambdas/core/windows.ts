/**
 * Window semantics, one definition for every path ("sawtooth", as in Chronon): a window of
 * length W answered at time t covers the rows of the entity with
 *
 *     floor(t / g) * g - W + g  <=  event_ts  <=  t
 *
 * where g is the window's tile size: the current partial tile plus the previous W/g - 1 full
 * tiles. The head is exact to the millisecond; the tail moves in steps of g. Online the value
 * is combined from tiles; offline the point-in-time SQL applies the same bounds to rows.
 */
const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

export const MIN_WINDOW_MS = MINUTE;
export const MAX_WINDOW_MS = 90 * DAY;

/** The tile size for a window: 1 min below 1 h, 5 min below 12 h, 1 h below 12 days, 1 day above. */
export function tileSize(windowMs: number): number {
  if (windowMs < HOUR) return MINUTE;
  if (windowMs < 12 * HOUR) return 5 * MINUTE;
  if (windowMs < 12 * DAY) return HOUR;
  return DAY;
}

/** Why a window cannot be used, or undefined when it can. */
export function windowProblem(windowMs: number): string | undefined {
  if (windowMs < MIN_WINDOW_MS || windowMs > MAX_WINDOW_MS) return 'windows run from 1m to 90d';
  const tile = tileSize(windowMs);
  if (windowMs % tile !== 0) return `a window of this length must be a multiple of its tile size (${tile / MINUTE} min)`;
  return undefined;
}

/** The first tile start inside the window at time t (the window's lower bound on event_ts). */
export function windowStart(t: number, windowMs: number): number {
  const tile = tileSize(windowMs);
  return Math.floor(t / tile) * tile - windowMs + tile;
}

export function tileStart(eventTs: number, tile: number): number {
  return Math.floor(eventTs / tile) * tile;
}
