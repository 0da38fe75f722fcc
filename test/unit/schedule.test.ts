/**
 * Schedules of batch sources, read once for both schedulers (the stack's EventBridge rules
 * and local mode's timers): the period of a rate expression, and the lookback of each run.
 */
import { describe, expect, it } from 'vitest';
import { DefinitionError } from '../../lambdas/core/errors.js';
import { isScheduleExpression, ratePeriodMs, scheduledRun, scheduleLookback } from '../../lambdas/core/schedule.js';

describe('batch source schedules', () => {
  it('read the period of rate expressions as EventBridge spells them: singular for 1, plural above', () => {
    expect(ratePeriodMs('rate(1 minute)')).toBe(60_000);
    expect(ratePeriodMs('rate(15 minutes)')).toBe(900_000);
    expect(ratePeriodMs('rate(1 hour)')).toBe(3_600_000);
    expect(ratePeriodMs('rate(6 hours)')).toBe(21_600_000);
    expect(ratePeriodMs('rate(2 days)')).toBe(172_800_000);
    for (const wrong of ['rate(1 hours)', 'rate(5 minute)', 'rate(0 minutes)', 'rate(5 weeks)', 'cron(0 3 * * ? *)', 'every hour']) {
      expect(ratePeriodMs(wrong), wrong).toBeUndefined();
    }
  });

  it('accept cron expressions with six fields, which have no fixed period', () => {
    expect(isScheduleExpression('cron(0 3 * * ? *)')).toBe(true);
    expect(isScheduleExpression('cron(0 3 * * ?)')).toBe(false);
    expect(isScheduleExpression('rate(1 hours)')).toBe(false);
  });

  it('look back over the period and half again, at least 5 minutes more, in whole minutes', () => {
    expect(scheduleLookback(3_600_000)).toBe('90m');
    expect(scheduleLookback(21_600_000)).toBe('9h');
    expect(scheduleLookback(60_000)).toBe('6m');
    expect(scheduleLookback(86_400_000)).toBe('36h');
  });

  it('make the run event of a source, two days back for cron, and name the source of a malformed schedule', () => {
    expect(scheduledRun({ name: 'exports', schedule: 'rate(1 hour)' })).toEqual({ source: 'exports', lookback: '90m' });
    expect(scheduledRun({ name: 'nightly', schedule: 'cron(0 3 * * ? *)' })).toEqual({ source: 'nightly', lookback: '2d' });
    expect(scheduledRun({ name: 'manual' })).toBeUndefined();
    expect(() => scheduledRun({ name: 'bad', schedule: 'hourly' })).toThrow(DefinitionError);
    expect(() => scheduledRun({ name: 'bad', schedule: 'hourly' })).toThrow(/batch source "bad": schedule "hourly"/);
  });
});
