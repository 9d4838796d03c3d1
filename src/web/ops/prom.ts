/**
 * Just enough of the Prometheus text format for the ops dashboard: the samples of a few named
 * series (`name{label="value",…} number`), and the two service levels it shows per shop and
 * role. No dependency; comments, other series and anything unparsable are skipped.
 */

export interface Sample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** A share of observations within a bound: `within / count` (null while there are none). */
export interface Share {
  within: number;
  count: number;
}

export interface ServiceLevel {
  shop: string;
  role: string;
  /** Buyer's first message → first bot or agent line within 6 s (`peakdesk_first_response_seconds`). */
  firstResponse: Share;
  /** Agent replies to a waiting buyer within 5 minutes (`peakdesk_agent_reply_seconds`). */
  reply: Share;
}

const FIRST_RESPONSE = 'peakdesk_first_response_seconds';
const AGENT_REPLY = 'peakdesk_agent_reply_seconds';
const FIRST_RESPONSE_LE = 6;
const AGENT_REPLY_LE = 300;

/** The samples of `names` in a Prometheus text exposition. */
export function parseSamples(text: string, names: ReadonlySet<string>): Sample[] {
  const out: Sample[] = [];
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (!line || line.startsWith('#')) continue;
    const nameEnd = line.search(/[{\s]/);
    if (nameEnd <= 0) continue;
    const name = line.slice(0, nameEnd);
    if (!names.has(name)) continue;
    let rest = line.slice(nameEnd);
    const labels: Record<string, string> = {};
    if (rest.startsWith('{')) {
      const parsed = parseLabels(rest);
      if (!parsed) continue;
      Object.assign(labels, parsed.labels);
      rest = rest.slice(parsed.end);
    }
    const valueText = rest.trim().split(/\s+/)[0] ?? '';
    const value = parseValue(valueText);
    if (value === null) continue;
    out.push({ name, labels, value });
  }
  return out;
}

/** `{a="x",b="y\"z"}` at the start of `s`: the labels and the index just past `}`. */
function parseLabels(s: string): { labels: Record<string, string>; end: number } | null {
  const labels: Record<string, string> = {};
  let i = 1;
  for (;;) {
    while (s[i] === ' ' || s[i] === ',') i++;
    if (s[i] === '}') return { labels, end: i + 1 };
    const eq = s.indexOf('=', i);
    if (eq < 0 || s[eq + 1] !== '"') return null;
    const key = s.slice(i, eq).trim();
    let value = '';
    let j = eq + 2;
    for (; j < s.length && s[j] !== '"'; j++) {
      if (s[j] === '\\' && j + 1 < s.length) {
        j++;
        value += s[j] === 'n' ? '\n' : s[j];
      } else {
        value += s[j];
      }
    }
    if (j >= s.length) return null;
    labels[key] = value;
    i = j + 1;
  }
}

function parseValue(v: string): number | null {
  if (v === '+Inf') return Infinity;
  if (v === '-Inf') return -Infinity;
  if (v === 'NaN') return NaN;
  if (v === '' || !/^[-+0-9.eE]+$/.test(v)) return null;
  const n = Number(v);
  return Number.isNaN(n) ? null : n;
}

/**
 * Per shop and role: the share of first responses within 6 s (histogram bucket `le="6"` over
 * its `_count`) and of agent replies within 5 minutes (`le="300"` over `_count`).
 */
export function serviceLevels(text: string): ServiceLevel[] {
  const names = new Set([`${FIRST_RESPONSE}_bucket`, `${FIRST_RESPONSE}_count`, `${AGENT_REPLY}_bucket`, `${AGENT_REPLY}_count`]);
  const rows = new Map<string, ServiceLevel>();
  const row = (shop: string, role: string): ServiceLevel => {
    const key = `${shop}\u0000${role}`;
    let r = rows.get(key);
    if (!r) rows.set(key, (r = { shop, role, firstResponse: { within: 0, count: 0 }, reply: { within: 0, count: 0 } }));
    return r;
  };
  for (const s of parseSamples(text, names)) {
    const { shop, role, le } = s.labels;
    if (shop === undefined || role === undefined) continue;
    const first = s.name.startsWith(FIRST_RESPONSE);
    const share = first ? row(shop, role).firstResponse : row(shop, role).reply;
    if (s.name.endsWith('_count')) share.count = s.value;
    else if (le !== undefined && Number(le) === (first ? FIRST_RESPONSE_LE : AGENT_REPLY_LE)) share.within = s.value;
  }
  return [...rows.values()];
}

/** `within / count` as a fraction, or null while nothing was observed. */
export function ratio(s: Share): number | null {
  return s.count > 0 ? s.within / s.count : null;
}
