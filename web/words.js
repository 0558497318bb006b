// What a service expects, in words (SPEC 18): a cron schedule read out
// ("every day at 02:00"), the timeout as a promise ("a beat at least every
// 5 min"), a job's limits. Anything the words do not cover falls back to
// the expression itself: never a wrong sentence.

import * as fmt from './format.js';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const MONTH_NAMES = MONTHS.map((m) => m.toUpperCase());

const MACROS = {
  '@yearly': '0 0 1 1 *', '@annually': '0 0 1 1 *', '@monthly': '0 0 1 * *',
  '@weekly': '0 0 * * 0', '@daily': '0 0 * * *', '@midnight': '0 0 * * *', '@hourly': '0 * * * *',
};

const pad = (n) => String(n).padStart(2, '0');
const isNum = (f) => /^\d+$/.test(f);

/** A field of plain numbers and ranges ("1-5,7", names allowed) as a
 * sorted list, or null when it has steps or stars. */
function values(field, names, lo, hi) {
  const out = [];
  for (const part of field.split(',')) {
    const m = part.toUpperCase().match(/^(\w+)(?:-(\w+))?$/);
    if (!m) return null;
    const num = (t) => (isNum(t) ? Number(t) : names ? names.indexOf(t) + (names === MONTH_NAMES ? 1 : 0) : -1);
    const a = num(m[1]), b = m[2] === undefined ? a : num(m[2]);
    if (a < lo || b > hi || a > b) return null;
    for (let v = a; v <= b; v++) out.push(v);
  }
  return out;
}

/** "Monday, Wednesday and Friday". */
function and(list) {
  return list.length < 2 ? list.join('') : `${list.slice(0, -1).join(', ')} and ${list[list.length - 1]}`;
}

/** Days of the week: "every day", "every Monday to Friday", "every Saturday and Sunday". */
function dayWords(dow) {
  if (dow === '*') return 'every day';
  const v = values(dow, DAY_NAMES, 0, 7);
  if (!v) return null;
  const days = [...new Set(v.map((d) => d % 7))].sort((a, b) => a - b);
  if (days.length === 5 && days.join() === '1,2,3,4,5') return 'every weekday (Monday to Friday)';
  return `every ${and(days.map((d) => DAYS[d]))}`;
}

/** A 5-field cron expression or @macro in words ("every day at 02:00"), or
 * null when it is not one of the common shapes. */
export function cronWords(expr) {
  const text = (MACROS[expr.trim().toLowerCase()] || expr).trim();
  const f = text.split(/\s+/);
  if (f.length !== 5) return null;
  const [min, hour, dom, mon, dow] = f;
  if (text === '* * * * *') return 'every minute';
  const stepMin = min.match(/^\*\/(\d+)$/);
  if (stepMin && hour === '*' && dom === '*' && mon === '*' && dow === '*') return `every ${stepMin[1]} minutes`;
  if (!isNum(min)) return null;
  const stepHour = hour.match(/^\*\/(\d+)$/);
  if ((hour === '*' || stepHour) && dom === '*' && mon === '*' && dow === '*') {
    return stepHour ? `every ${stepHour[1]} hours at minute ${Number(min)}` : `every hour at minute ${Number(min)}`;
  }
  const hours = values(hour, null, 0, 23);
  if (!hours) return null;
  const at = `at ${and(hours.map((x) => `${pad(x)}:${pad(min)}`))}`;
  if (dom === '*' && mon === '*') {
    const days = dayWords(dow);
    return days && `${days} ${at}`;
  }
  if (dow !== '*') return null;
  const doms = values(dom, null, 1, 31);
  if (!doms) return null;
  const nth = and(doms.map(String));
  if (mon === '*') return `on day ${nth} of every month ${at}`;
  const months = values(mon, MONTH_NAMES, 1, 12);
  return months && `every year on ${nth} ${and(months.map((m) => MONTHS[m - 1]))} ${at}`;
}

/** What the service expects, in words: "every day at 02:00, Europe/Berlin,
 * 1 h grace", "a beat at least every 5 min", "adaptive (≈ 3 min): learned
 * from its beats". */
export function expectation(s) {
  const parts = [];
  if (s.schedule) {
    parts.push(cronWords(s.schedule) || `on the schedule "${s.schedule}"`, s.tz || 'UTC');
    if (s.grace > 0) parts.push(`${fmt.duration(s.grace)} grace`);
  } else if (s.timeout === -1) {
    parts.push('no timeout: never goes to error by itself');
  } else if (s.timeout === 0) {
    parts.push('timeout 0: always in error');
  } else if (s.timeout === -2) {
    parts.push(s.timeout_in_force > 0
      ? `${fmt.timeoutShown(s)}: learned from its beats`
      : `${fmt.timeout(-2, s.auto_model)}: learning from its beats`);
  } else {
    parts.push(`a beat at least every ${fmt.duration(s.timeout)}`);
    if (s.grace > 0) parts.push(`${fmt.duration(s.grace)} grace`);
  }
  if (s.max_runtime != null) parts.push(`runs at most ${fmt.duration(s.max_runtime)}`);
  if (s.min_duration != null) parts.push(`runs at least ${fmt.duration(s.min_duration)}`);
  return parts.join(', ');
}
