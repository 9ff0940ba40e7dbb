import { describe, expect, it } from 'vitest';
import { parseScheduleExpression } from '../../../local/events/schedule.js';

const iso = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const at = (s: string) => Date.parse(s);

describe('schedule expressions', () => {
  const cases: Array<[string, string, string]> = [
    ['cron(0 10 * * ? *)', '2026-01-01T10:00:00Z', '2026-01-02T10:00:00.000Z'],
    ['cron(15 12 * * ? *)', '2026-01-01T00:00:00Z', '2026-01-01T12:15:00.000Z'],
    ['cron(0/15 * * * ? *)', '2026-01-01T00:07:00Z', '2026-01-01T00:15:00.000Z'],
    ['cron(0 18 ? * MON-FRI *)', '2026-01-02T19:00:00Z', '2026-01-05T18:00:00.000Z'],
    ['cron(0 8 1 * ? *)', '2026-01-01T09:00:00Z', '2026-02-01T08:00:00.000Z'],
    ['cron(0 0 L * ? *)', '2026-02-01T00:00:00Z', '2026-02-28T00:00:00.000Z'],
    ['cron(0 0 15W * ? *)', '2026-03-01T00:00:00Z', '2026-03-16T00:00:00.000Z'],
    ['cron(0 0 ? * 6L *)', '2026-01-01T00:00:00Z', '2026-01-30T00:00:00.000Z'],
    ['cron(0 9 ? * 2#1 *)', '2026-01-01T00:00:00Z', '2026-01-05T09:00:00.000Z'],
    ['cron(0/5 8-17 ? * MON-FRI *)', '2026-01-02T17:56:00Z', '2026-01-05T08:00:00.000Z'],
    ['cron(0 0 1 JAN,JUL ? 2027)', '2026-01-01T00:00:00Z', '2027-01-01T00:00:00.000Z'],
  ];
  it.each(cases)('%s after %s is %s', (expr, after, expected) => {
    expect(iso(parseScheduleExpression(expr).next(at(after), 0))).toBe(expected);
  });

  it('counts rate() from its anchor', () => {
    const s = parseScheduleExpression('rate(5 minutes)');
    const anchor = at('2026-01-01T00:00:30Z');
    expect(iso(s.next(anchor, anchor))).toBe('2026-01-01T00:05:30.000Z');
    expect(iso(s.next(at('2026-01-01T00:05:30Z'), anchor))).toBe('2026-01-01T00:10:30.000Z');
    expect(iso(parseScheduleExpression('rate(1 day)').next(anchor, anchor))).toBe('2026-01-02T00:00:30.000Z');
  });

  it('fires at() once, for Scheduler only', () => {
    const s = parseScheduleExpression('at(2026-02-01T10:00:00)', true);
    expect(iso(s.next(at('2026-01-01T00:00:00Z'), 0))).toBe('2026-02-01T10:00:00.000Z');
    expect(s.next(at('2026-02-01T10:00:00Z'), 0)).toBeUndefined();
    expect(() => parseScheduleExpression('at(2026-02-01T10:00:00)')).toThrow(/only supported by EventBridge Scheduler/);
  });

  it.each([
    ['rate(1 minutes)', /singular/],
    ['rate(5 minute)', /plural/],
    ['rate(0 minutes)', /positive/],
    ['rate(5 weeks)', /unknown rate unit/],
    ['cron(0 10 * * *)', /six fields/],
    ['cron(0 10 * * MON *)', /exactly one of day-of-month and day-of-week/],
    ['cron(61 10 * * ? *)', /invalid minutes value 61/],
    ['cron(0 22-2 * * ? *)', /wrap-around hours range/],
    ['every 5 minutes', /expected rate/],
  ])('refuses %s', (expr, message) => {
    expect(() => parseScheduleExpression(expr, true)).toThrow(message);
  });
});
