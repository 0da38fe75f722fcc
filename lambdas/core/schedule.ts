/**
 * Schedules of batch sources, the pure part both schedulers share: the stack (EventBridge
 * rules) and local mode (timers) read a source's `schedule` the same way and give each run
 * the same lookback, so a scheduled run covers the same files in both.
 */

import { formatDuration } from './duration.js';
import { DefinitionError } from './errors.js';

const UNIT_MS: Record<string, number> = { minute: 60_000, hour: 3_600_000, day: 86_400_000 };

/**
 * The period of an EventBridge rate expression in milliseconds (`rate(5 minutes)` → 300000),
 * or undefined for anything else (a `cron(...)` expression has no fixed period).
 */
export function ratePeriodMs(expression: string): number | undefined {
  const match = /^rate\((\d+) (minute|hour|day)s?\)$/.exec(expression.trim());
  if (!match) return undefined;
  const amount = Number(match[1]);
  // EventBridge's own rule: the singular unit for 1, the plural for more.
  const plural = expression.trim().endsWith('s)');
  if (amount < 1 || (amount === 1) === plural) return undefined;
  return amount * (UNIT_MS[match[2] as string] as number);
}

/** Whether `expression` is a schedule EventBridge accepts in form: `rate(...)` or `cron(...)` with six fields. */
export function isScheduleExpression(expression: string): boolean {
  if (ratePeriodMs(expression) !== undefined) return true;
  const cron = /^cron\((.+)\)$/.exec(expression.trim());
  return cron?.[1]?.trim().split(/\s+/).length === 6;
}

/**
 * How far back a scheduled run of the given period looks: the period and half again (at
 * least 5 minutes more), so a late or retried run still covers the files of the period
 * before it. The batch path is idempotent, so overlap between runs costs re-reads only.
 */
export function scheduleLookback(periodMs: number): string {
  const margin = Math.max(periodMs / 2, 300_000);
  return formatDuration(Math.ceil((periodMs + margin) / 60_000) * 60_000);
}

/** The lookback of a `cron(...)` schedule, whose period is unknown: two days (day folders are the unit of listing). */
export const CRON_LOOKBACK = '2d';

/** The run event of a scheduled batch source: `{ source, lookback }`. Throws on a malformed schedule. */
export function scheduledRun(source: { readonly name: string; readonly schedule?: string }): { source: string; lookback: string } | undefined {
  if (source.schedule === undefined) return undefined;
  if (!isScheduleExpression(source.schedule)) {
    throw new DefinitionError(`batch source "${source.name}"`, `schedule "${source.schedule}" is neither rate(N minutes|hours|days) nor cron(6 fields)`);
  }
  const period = ratePeriodMs(source.schedule);
  return { source: source.name, lookback: period === undefined ? CRON_LOOKBACK : scheduleLookback(period) };
}
