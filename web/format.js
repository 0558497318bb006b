// Text for times, durations and timeouts, as a person reads them.

const S = 1000, MIN = 60 * S, H = 60 * MIN, D = 24 * H;

/** "5 min", "2 h 30 min", "45 s", "3 d". */
export function duration(ms) {
  if (ms < MIN) return `${Math.round(ms / S)} s`;
  if (ms < H) {
    const m = Math.floor(ms / MIN), s = Math.round((ms % MIN) / S);
    return s ? `${m} min ${s} s` : `${m} min`;
  }
  if (ms < D) {
    const h = Math.floor(ms / H), m = Math.round((ms % H) / MIN);
    return m ? `${h} h ${m} min` : `${h} h`;
  }
  const d = Math.floor(ms / D), h = Math.round((ms % D) / H);
  return h ? `${d} d ${h} h` : `${d} d`;
}

/** The timeout of a service object (ms, -1 none, -2 auto). */
export function timeout(t) {
  if (t === -1) return 'none';
  if (t === -2) return 'auto';
  if (t === 0) return '0 (always error)';
  return duration(t);
}

/** What to put in the edit box: the shortest form the API accepts. */
export function timeoutInput(t) {
  if (t === -1) return 'none';
  if (t === -2) return 'auto';
  const s = Math.round(t / S);
  if (s && s % 86400 === 0) return `${s / 86400}d`;
  if (s && s % 3600 === 0) return `${s / 3600}h`;
  if (s && s % 60 === 0) return `${s / 60}m`;
  return `${s}s`;
}

/** "3 min ago", "just now", "never". */
export function ago(when, now) {
  if (!(when > 0)) return 'never';
  const d = now - when;
  if (d < 5 * S) return 'just now';
  if (d < MIN) return `${Math.floor(d / S)} s ago`;
  if (d < H) return `${Math.floor(d / MIN)} min ago`;
  if (d < D) return `${Math.floor(d / H)} h ago`;
  const days = Math.floor(d / D);
  return days === 1 ? '1 day ago' : `${days} days ago`;
}

/** The exact local time, for hover titles. */
export function exact(when) {
  return when > 0 ? new Date(when).toLocaleString() : 'never';
}

/** The measured interval of the beat analysis: "every 58–62 s". */
export function interval(a) {
  if (!a) return '';
  const lo = duration(a.lower * S), hi = duration(a.upper * S);
  return lo === hi ? `every ${lo}` : `every ${lo} – ${hi}`;
}
