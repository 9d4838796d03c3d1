const formatters = new Map<string, Intl.DateTimeFormat>();

/** Minutes since midnight at `now` in `timeZone`. */
export function minutesOfDay(now: number, timeZone: string): number {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-GB', { timeZone, hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  const parts = f.formatToParts(now);
  const hour = Number(parts.find((p) => p.type === 'hour')!.value);
  const minute = Number(parts.find((p) => p.type === 'minute')!.value);
  return hour * 60 + minute;
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether `now` falls in [from, to) shop time; a window like 22:00–08:00 wraps midnight; from = to is empty. */
export function inWindow(now: number, w: { from: string; to: string }, timeZone: string): boolean {
  const m = minutesOfDay(now, timeZone);
  const from = toMinutes(w.from);
  const to = toMinutes(w.to);
  if (from === to) return false;
  return from < to ? m >= from && m < to : m >= from || m < to;
}

/** Whether `now` is inside the quiet hours (null = none). */
export function isQuiet(now: number, quiet: { from: string; to: string } | null, timeZone: string): boolean {
  return quiet ? inWindow(now, quiet, timeZone) : false;
}
