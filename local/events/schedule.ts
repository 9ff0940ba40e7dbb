/**
 * Schedule expressions of EventBridge rules and EventBridge Scheduler: `rate(...)`, the
 * six-field `cron(...)` and (Scheduler only) `at(...)`, evaluated in UTC.
 */
import { AwsError } from '../core/aws.js';

/** A parsed schedule: the next occurrence strictly after a time. */
export interface Schedule {
  readonly expression: string;
  readonly kind: 'rate' | 'cron' | 'at';
  /**
   * The first occurrence strictly after `afterMs` (epoch ms), or undefined when there is none.
   * `anchorMs` is where a rate schedule counts from (its creation or start date).
   */
  next(afterMs: number, anchorMs: number): number | undefined;
}

const MINUTE = 60_000;
const UNITS: Record<string, number> = { minute: MINUTE, minutes: MINUTE, hour: 60 * MINUTE, hours: 60 * MINUTE, day: 1440 * MINUTE, days: 1440 * MINUTE };
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];
const DAYS = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

function bad(expression: string, why: string): AwsError {
  return new AwsError('ValidationException', `Parameter ScheduleExpression is not valid: ${expression} (${why}).`);
}

/**
 * Parses a schedule expression.
 * @param allowAt whether `at(yyyy-mm-ddThh:mm:ss)` is accepted (Scheduler yes, rules no)
 * @throws AwsError ValidationException naming what is wrong or unsupported
 */
export function parseScheduleExpression(expression: string, allowAt = false): Schedule {
  const expr = String(expression ?? '').trim();
  let m = /^rate\((\d+) (\w+)\)$/.exec(expr);
  if (m) {
    const value = Number(m[1]);
    const unit = m[2];
    if (!(unit in UNITS)) throw bad(expr, `unknown rate unit ${unit}`);
    if (value <= 0) throw bad(expr, 'the rate value must be a positive integer');
    // AWS insists on the singular for 1 and the plural otherwise.
    if ((value === 1) !== !unit.endsWith('s')) throw bad(expr, value === 1 ? `use the singular unit for a value of 1` : `use the plural unit for a value above 1`);
    const period = value * UNITS[unit];
    return {
      expression: expr,
      kind: 'rate',
      next: (after, anchor) => {
        const k = Math.max(1, Math.floor((after - anchor) / period) + 1);
        return anchor + k * period;
      },
    };
  }
  m = /^at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)$/.exec(expr);
  if (m) {
    if (!allowAt) throw bad(expr, 'at() expressions are only supported by EventBridge Scheduler');
    const at = Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]);
    if (!Number.isFinite(at)) throw bad(expr, 'invalid date');
    return { expression: expr, kind: 'at', next: (after) => (at > after ? at : undefined) };
  }
  m = /^cron\((.*)\)$/.exec(expr);
  if (m) return parseCron(expr, m[1]);
  throw bad(expr, allowAt ? 'expected rate(...), cron(...) or at(...)' : 'expected rate(...) or cron(...)');
}

interface DayRule {
  readonly any: boolean;
  readonly values?: ReadonlySet<number>;
  readonly last?: boolean;
  readonly lastOffsetDow?: number;
  readonly nearestWeekday?: number;
  readonly lastWeekday?: boolean;
  readonly nth?: { dow: number; n: number };
}

function parseField(expr: string, text: string, name: string, min: number, max: number, names?: string[]): Set<number> {
  const out = new Set<number>();
  const toNum = (s: string): number => {
    const idx = names ? names.indexOf(s.toUpperCase()) : -1;
    const n = idx >= 0 ? idx + min : /^\d+$/.test(s) ? Number(s) : NaN;
    if (!Number.isInteger(n) || n < min || n > max) throw bad(expr, `invalid ${name} value ${s}`);
    return n;
  };
  for (const part of text.split(',')) {
    const [range, stepText] = part.split('/');
    const step = stepText === undefined ? 1 : Number(stepText);
    if (!Number.isInteger(step) || step <= 0) throw bad(expr, `invalid ${name} step ${stepText}`);
    let lo: number;
    let hi: number;
    if (range === '*') [lo, hi] = [min, max];
    else if (range.includes('-')) {
      const [a, b] = range.split('-');
      [lo, hi] = [toNum(a), toNum(b)];
      if (hi < lo) throw bad(expr, `wrap-around ${name} range ${range} is not supported`);
    } else {
      lo = toNum(range);
      hi = stepText === undefined ? lo : max;
    }
    for (let v = lo; v <= hi; v += step) out.add(v);
  }
  return out;
}

function parseCron(expr: string, body: string): Schedule {
  const fields = body.trim().split(/\s+/);
  if (fields.length !== 6) throw bad(expr, 'cron expressions have six fields: minutes hours day-of-month month day-of-week year');
  const [minF, hourF, domF, monF, dowF, yearF] = fields;
  const minutes = parseField(expr, minF, 'minutes', 0, 59);
  const hours = parseField(expr, hourF, 'hours', 0, 23);
  const months = parseField(expr, monF, 'month', 1, 12, MONTHS);
  const years = parseField(expr, yearF, 'year', 1970, 2199);
  if ((domF === '?') === (dowF === '?')) throw bad(expr, 'exactly one of day-of-month and day-of-week must be ?');
  let dom: DayRule = { any: true };
  let dow: DayRule = { any: true };
  if (domF !== '?') {
    if (domF === 'L') dom = { any: false, last: true };
    else if (domF === 'LW') dom = { any: false, lastWeekday: true };
    else if (/^\d+W$/.test(domF)) {
      const d = Number(domF.slice(0, -1));
      if (d < 1 || d > 31) throw bad(expr, `invalid day-of-month ${domF}`);
      dom = { any: false, nearestWeekday: d };
    } else if (domF !== '*') dom = { any: false, values: parseField(expr, domF, 'day-of-month', 1, 31) };
  }
  if (dowF !== '?') {
    const dowNum = (s: string) => [...parseField(expr, s, 'day-of-week', 1, 7, DAYS)][0];
    if (dowF === 'L') dow = { any: false, values: new Set([7]) };
    else if (/^\w+L$/.test(dowF)) dow = { any: false, lastOffsetDow: dowNum(dowF.slice(0, -1)) };
    else if (/^\w+#\d$/.test(dowF)) {
      const [d, n] = dowF.split('#');
      if (Number(n) < 1 || Number(n) > 5) throw bad(expr, `invalid day-of-week ${dowF}`);
      dow = { any: false, nth: { dow: dowNum(d), n: Number(n) } };
    } else if (dowF !== '*') dow = { any: false, values: parseField(expr, dowF, 'day-of-week', 1, 7, DAYS) };
  }
  const dayMatches = (y: number, mo: number, d: number): boolean => {
    const daysInMonth = new Date(Date.UTC(y, mo, 0)).getUTCDate();
    const weekday = new Date(Date.UTC(y, mo - 1, d)).getUTCDay() + 1; // 1 = SUN, as in AWS cron
    if (!dom.any) {
      if (dom.last) return d === daysInMonth;
      if (dom.values) return dom.values.has(d);
      if (dom.lastWeekday || dom.nearestWeekday !== undefined) {
        const target = dom.lastWeekday ? daysInMonth : Math.min(dom.nearestWeekday as number, daysInMonth);
        const wd = new Date(Date.UTC(y, mo - 1, target)).getUTCDay();
        let chosen = target;
        if (wd === 6) chosen = target === 1 ? 3 : target - 1;
        else if (wd === 0) chosen = target === daysInMonth ? target - 2 : target + 1;
        return d === chosen;
      }
    }
    if (!dow.any) {
      if (dow.values) return dow.values.has(weekday);
      if (dow.lastOffsetDow !== undefined) return weekday === dow.lastOffsetDow && d + 7 > daysInMonth;
      if (dow.nth) return weekday === dow.nth.dow && Math.ceil(d / 7) === dow.nth.n;
    }
    return true;
  };
  return {
    expression: expr,
    kind: 'cron',
    next: (after) => {
      let t = Math.floor(after / MINUTE) * MINUTE + MINUTE;
      // Skip by day, then hour, then minute, so a sparse schedule costs at most a few
      // thousand steps per year searched.
      for (let guard = 0; guard < 500_000; guard++) {
        const dt = new Date(t);
        const y = dt.getUTCFullYear();
        if (y > 2199) return undefined;
        const mo = dt.getUTCMonth() + 1;
        const d = dt.getUTCDate();
        if (!years.has(y) || !months.has(mo) || !dayMatches(y, mo, d)) {
          t = Date.UTC(y, mo - 1, d + 1);
          continue;
        }
        if (!hours.has(dt.getUTCHours())) {
          t = Date.UTC(y, mo - 1, d, dt.getUTCHours() + 1);
          continue;
        }
        if (!minutes.has(dt.getUTCMinutes())) {
          t += MINUTE;
          continue;
        }
        return t;
      }
      return undefined;
    },
  };
}
