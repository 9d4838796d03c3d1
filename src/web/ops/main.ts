/**
 * Ops dashboard: sign in with an admin token, watch every shop's queues (polled every 2 s) with
 * the first-response and reply service levels read from `/metrics`, the last half hour of the
 * chosen shop as charts with alerts (trends-panel.ts), see a shop's agents and set one away,
 * look up or watch a session live (session-panel.ts), and edit the shared config (validated by
 * the gateway, all or nothing), FAQ entries and intent keywords through a form (faq-form.ts).
 * Everything goes through the admin HTTP API (`/v1/admin/*`, `Authorization: Bearer`).
 */
import { byId, clock, h, toast } from '../shared/dom.ts';
import { commonElements, signIn } from '../shared/signin.ts';
import { mountLangSwitch, t } from '../shared/i18n/index.ts';
import type { Claims } from '../shared/token.ts';
import { ratio, serviceLevels, type ServiceLevel, type Share } from './prom.ts';
import { mountPlanPanel } from './plan-panel.ts';
import { mountSessionPanel } from './session-panel.ts';
import { mountTrendsPanel } from './trends-panel.ts';
import { mountFaqForm } from './faq-form.ts';
import { initialState } from './state.ts';
import type { z } from 'zod';
import type { agentView, configState, queueRow } from '../../transport/admin-schemas.ts';

mountLangSwitch('ops.title');

type QueueRow = z.infer<typeof queueRow>;

type AgentRow = z.infer<typeof agentView>;
type ConfigState = z.infer<typeof configState>;

/** An admin API error: RFC 9457 problem details. */
interface ErrorBody {
  code?: string;
  title?: string;
  detail?: string;
  errors?: { path: string; message: string }[];
}

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: ErrorBody | null,
    message: string,
  ) {
    super(message);
  }
}

const POLL_MS = 2_000;
/** The config is re-read every this many polls, to notice changes made elsewhere. */
const CONFIG_EVERY = 5;

/** The admin token while signed in (null once the gateway refused it). */
let token: string | null = null;
let pollTimer: ReturnType<typeof setTimeout> | undefined;
let polls = 0;
/** Polls overlap when one is asked for (set away, shop change) while another is out; the newest wins. */
let pollSeq = 0;
let shownSeq = 0;
let stopped = false;

let queues: QueueRow[] = [];
let levels: ServiceLevel[] = [];
let agents: AgentRow[] = [];
let agentsShop = '';
let agentsKey = '';
let shops: string[] = [];
let cfg: ConfigState | null = null;
/** The ETag of the config in the editor: a change names it in If-Match, so nobody's edit is silently overwritten. */
let cfgEtag: string | null = null;
/** A platform token (scope "platform") sees every shop; a shop's token only its own. */
let platform = false;

/** A role as the config names it (`bots.roleNames`); the id until the config is loaded. */
function roleLabel(role: string): string {
  const names = (cfg?.config.bots as { roleNames?: Record<string, string> } | undefined)?.roleNames;
  return names && Object.hasOwn(names, role) ? names[role]! : role;
}

/** A shop as the config names it (`shops.<id>.displayName`, else `shop.displayName` for the token's own); the id otherwise. */
function shopLabel(shop: string): string {
  const own = (cfg?.config.shops as Record<string, { displayName?: string }> | undefined)?.[shop]?.displayName;
  return own ?? shop;
}

/** The roles the config routes (`routing.roles`). */
function roles(): string[] {
  return ((cfg?.config.routing as { roles?: string[] } | undefined)?.roles ?? []).slice();
}

/** What the charts, alerts and live view show (state.ts). */
const opsState = initialState();
let dirty = false;
let applying = false;

const el = {
  ...commonElements(),
  app: byId('app'),
  queuesBody: byId<HTMLTableElement>('queues').tBodies[0]!,
  queuesUpdated: byId('queues-updated'),
  agentShop: byId<HTMLSelectElement>('agent-shop'),
  agentsBody: byId<HTMLTableElement>('agents').tBodies[0]!,
  configVersion: byId('config-version'),
  configSource: byId('config-source'),
  configApplied: byId('config-applied'),
  configStale: byId('config-stale'),
  configText: byId<HTMLTextAreaElement>('config-text'),
  configApply: byId<HTMLButtonElement>('config-apply'),
  configReload: byId<HTMLButtonElement>('config-reload'),
  problems: byId('config-problems'),
  problemsSummary: byId('config-problems-summary'),
  result: byId('config-result'),
};

// ---------------------------------------------------------------- start / stop

/** Signed in (see the end of this file): start polling. */
function start(signedIn: string, claims: Claims): void {
  token = signedIn;
  stopped = false;
  platform = claims.scope === 'platform';
  agentsShop = (platform ? loadShop() : null) ?? claims.shop;
  shops = [claims.shop];
  renderShopPicker();
  setConn('connecting', t('conn.connecting'));
  void loadConfig(true);
  void poll();
  void planPanel.refresh();
  void trends.refresh();
  (window as unknown as { __peakdesk: unknown }).__peakdesk = { poll, trends: () => trends.refresh(), state: () => ({ queues, levels, agents, cfg, dirty, ops: opsState }) };
}

/** Before the sign-in form shows (again): stop polling and forget the token. */
function stop(): void {
  stopped = true;
  clearTimeout(pollTimer);
  token = null;
  setConn('stopped', t('conn.stopped'));
}

// ---------------------------------------------------------------- HTTP

async function api<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<T> {
  return (await apiResponse<T>(method, path, body, headers)).data;
}

async function apiResponse<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ data: T; res: Response }> {
  let res: Response;
  try {
    res = await fetch(path, {
      method,
      cache: 'no-store',
      headers: { authorization: `Bearer ${token ?? ''}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? null : JSON.stringify(body),
    });
  } catch {
    throw new ApiError(0, null, 'cannot reach the gateway');
  }
  const text = await res.text();
  let data: unknown = null;
  try {
    data = text ? JSON.parse(text) : null;
  } catch {
    /* not JSON: keep the status */
  }
  if (!res.ok) {
    const err = (data && typeof data === 'object' ? data : null) as ErrorBody | null;
    // 401: the token is no good. 403 with a good token is about what it asked (another shop, global config).
    if (res.status === 401 || (res.status === 403 && err?.detail?.includes('admin API'))) {
      auth.show(t('ops.refused', { status: res.status, why: err?.detail ?? res.statusText }));
    }
    throw new ApiError(res.status, err, err?.detail ?? `HTTP ${res.status}`);
  }
  return { data: data as T, res };
}

/**
 * `/metrics` is per instance: the one this page is served by. Open by default; when the
 * gateway protects it, a platform admin token is accepted there too.
 */
async function fetchMetrics(): Promise<string> {
  const res = await fetch('/metrics', { cache: 'no-store', headers: { authorization: `Bearer ${token ?? ''}` } });
  if (!res.ok) throw new Error(`/metrics: HTTP ${res.status}`);
  return res.text();
}

function setConn(state: string, text: string): void {
  el.conn.dataset.state = state;
  el.conn.textContent = text;
}

// ---------------------------------------------------------------- polling

async function poll(): Promise<void> {
  clearTimeout(pollTimer);
  if (stopped) return;
  const seq = ++pollSeq;
  const shop = agentsShop;
  const [q, m, a] = await Promise.allSettled([
    api<{ queues: QueueRow[] }>('GET', platform ? '/v1/admin/queues?shop=*' : '/v1/admin/queues'),
    fetchMetrics(),
    api<{ agents: AgentRow[] }>('GET', `/v1/admin/agents?shop=${encodeURIComponent(shop)}`),
  ]);
  if (stopped || seq < shownSeq) return;
  shownSeq = seq;
  if (q.status === 'fulfilled') {
    queues = q.value.queues;
    setConn('open', t('conn.open'));
    el.queuesUpdated.textContent = t('ops.updated', { time: clock(Date.now()) });
    el.queuesUpdated.classList.remove('stale');
  } else {
    setConn('waiting', t('ops.conn.retrying', { why: q.reason instanceof ApiError ? q.reason.message : 'error' }));
    el.queuesUpdated.classList.add('stale');
  }
  if (m.status === 'fulfilled') levels = serviceLevels(m.value);
  if (a.status === 'fulfilled' && shop === agentsShop) agents = a.value.agents;
  renderQueues();
  renderShopPicker();
  renderAgents();
  if (++polls % CONFIG_EVERY === 0 && !applying) void loadConfig(false);
  clearTimeout(pollTimer);
  if (!stopped) pollTimer = setTimeout(() => void poll(), POLL_MS);
}

// ---------------------------------------------------------------- queues

const key = (shop: string, role: string) => `${shop}\u0000${role}`;

function fmtWait(s: number | null): string {
  if (s === null) return '—';
  const t = Math.round(s);
  if (t < 60) return `${t}s`;
  if (t < 3600) return `${Math.floor(t / 60)}m ${String(t % 60).padStart(2, '0')}s`;
  return `${Math.floor(t / 3600)}h ${String(Math.floor((t % 3600) / 60)).padStart(2, '0')}m`;
}

function shareCell(s: Share | undefined, target: number): HTMLTableCellElement {
  const r = s ? ratio(s) : null;
  if (r === null || !s) return h('td.num.muted', { title: t('ops.nothingYet') }, '—');
  const level = r >= target ? 'good' : r >= target - 0.15 ? 'fair' : 'poor';
  return h(`td.num.level-${level}`, { title: `${s.within} of ${s.count}` }, `${Math.floor(r * 1000) / 10}%`, h('span.muted.small', {}, ` ${s.within}/${s.count}`));
}

/** Waiting, with how many of them have closed the page (they are offered last, then abandoned). */
function depthCell(q: QueueRow | undefined): HTMLTableCellElement {
  if (!q) return h('td.num.depth', {}, '—');
  const title = t('ops.depthSplit', { online: q.online, offline: q.offline });
  return h(`td.num.depth${q.depth > 0 ? '.busy' : ''}`, { title }, String(q.depth), q.offline > 0 ? h('span.muted.small', {}, ` ${t('ops.depthOffline', { n: q.offline })}`) : '');
}

function routingCell(q: QueueRow | undefined): HTMLTableCellElement {
  if (!q) return h('td.num.muted', {}, '—');
  return h('td.num.small', { title: t('ops.tip.routing') }, t('ops.routingCounts', { overflowed: q.overflowed, sticky: q.sticky, abandoned: q.abandoned, deflected: q.deflected }));
}

function renderQueues(): void {
  const bySl = new Map(levels.map((l) => [key(l.shop, l.role), l]));
  const rows: { shop: string; role: string; q?: QueueRow; sl?: ServiceLevel }[] = queues.map((q) => ({ shop: q.shop, role: q.role, q, sl: bySl.get(key(q.shop, q.role)) }));
  const seen = new Set(rows.map((r) => key(r.shop, r.role)));
  for (const l of levels) if (!seen.has(key(l.shop, l.role))) rows.push({ shop: l.shop, role: l.role, sl: l });
  const body = rows.length
    ? rows.map((r) =>
        h(
          'tr',
          { 'data-shop': r.shop, 'data-role': r.role },
          h('td', { title: r.shop }, shopLabel(r.shop)),
          h('td', {}, h('span.role-tag', { title: r.role }, roleLabel(r.role)), r.q && !r.q.open ? h('span.muted.small', {}, ` ${t('ops.closedHours')}`) : ''),
          depthCell(r.q),
          h(`td.num.wait${(r.q?.oldestWaitSeconds ?? 0) >= 60 ? '.level-poor' : ''}`, {}, fmtWait(r.q?.oldestWaitSeconds ?? null)),
          shareCell(r.sl?.firstResponse, 0.9),
          shareCell(r.sl?.reply, 0.95),
          routingCell(r.q),
        ),
      )
    : [h('tr', {}, h('td.muted', { colspan: 7 }, t('ops.noSessions')))];
  el.queuesBody.replaceChildren(...body);
  const found = [...new Set(queues.map((q) => q.shop))];
  for (const s of found) if (!shops.includes(s)) shops.push(s);
}

// ---------------------------------------------------------------- agents

function loadShop(): string | null {
  try {
    return sessionStorage.getItem('peakdesk.ops.shop');
  } catch {
    return null;
  }
}

function renderShopPicker(): void {
  const wanted = [...new Set([agentsShop, ...shops])].sort();
  const have = [...el.agentShop.options].map((o) => o.value);
  if (wanted.join('\n') !== have.join('\n')) el.agentShop.replaceChildren(...wanted.map((s) => h('option', { value: s }, shopLabel(s))));
  el.agentShop.value = agentsShop;
}

el.agentShop.addEventListener('change', () => {
  agentsShop = el.agentShop.value;
  try {
    sessionStorage.setItem('peakdesk.ops.shop', agentsShop);
  } catch {
    /* ignore */
  }
  agents = [];
  agentsKey = '';
  renderAgents();
  void planPanel.refresh();
  void trends.refresh();
  faqForm.load();
  void poll();
});

function renderAgents(): void {
  // Rebuilt only when something changed, so a button is not replaced under the pointer.
  const k = JSON.stringify([agentsShop, agents]);
  if (k === agentsKey) return;
  agentsKey = k;
  if (!agents.length) {
    el.agentsBody.replaceChildren(h('tr', {}, h('td.muted', { colspan: 7 }, t('ops.noAgents', { shop: shopLabel(agentsShop) }))));
    return;
  }
  el.agentsBody.replaceChildren(
    ...agents.map((a) =>
      h(
        'tr',
        { 'data-agent': a.id },
        h('td', {}, a.id),
        h('td', {}, h(`span.status.status-${a.status}`, { 'data-status': a.status }, a.status === 'ready' || a.status === 'away' || a.status === 'offline' ? t(`ops.status.${a.status}`) : a.status)),
        h('td', {}, ...a.roles.flatMap((r) => [h('span.role-tag', { title: r }, roleLabel(r)), ' '])),
        h(`td.num${a.load >= a.capacity && a.capacity > 0 ? '.level-fair' : ''}`, { title: `${a.sessions.length} chats, ${a.offers.length} offers` }, `${a.load}/${a.capacity}`),
        h('td.num', { title: `${a.ratingCount} ratings` }, a.ratingCount ? `${(a.ratingSum / a.ratingCount).toFixed(1)} ★` : '—', a.ratingCount ? h('span.muted.small', {}, ` (${a.ratingCount})`) : null),
        h(`td.num${a.replyMisses > 0 ? '.level-poor' : ''}`, {}, String(a.replyMisses)),
        h(
          'td.actions-cell',
          {},
          h('button.away', { type: 'button', disabled: a.status !== 'ready', title: t('ops.setAwayHint'), onclick: () => void setAway(a.id) }, t('ops.setAway')),
        ),
      ),
    ),
  );
}

async function setAway(id: string): Promise<void> {
  const shop = agentsShop;
  try {
    await api('POST', `/v1/admin/agents/${encodeURIComponent(id)}/away?shop=${encodeURIComponent(shop)}`);
    toast(t('ops.isAway', { id }));
  } catch (err) {
    if (!stopped) toast(t('ops.awayFailed', { id, why: (err as Error).message }), 'error');
  }
  void poll();
}

// ---------------------------------------------------------------- config

function shortVersion(v: string): string {
  return v.length > 12 ? v.slice(0, 12) : v;
}

function showConfigHead(): void {
  if (!cfg) return;
  el.configVersion.textContent = shortVersion(cfg.version);
  el.configVersion.title = cfg.version;
  el.configSource.textContent = cfg.source;
  el.configApplied.textContent = t('ops.config.applied', { time: new Date(cfg.appliedAt).toLocaleString() });
}

function fillEditor(): void {
  el.configText.value = JSON.stringify(cfg!.config, null, 2);
  el.configText.setSelectionRange(0, 0);
  el.configText.scrollTop = 0;
  dirty = false;
  el.configStale.hidden = true;
  faqForm.load();
}

/** Reads the live config; replaces the editor's text when asked or when it holds no edits. */
async function loadConfig(replace: boolean): Promise<void> {
  let next: ConfigState;
  let etag: string | null;
  try {
    const r = await apiResponse<ConfigState>('GET', '/v1/admin/config');
    next = r.data;
    etag = r.res.headers.get('etag');
  } catch (err) {
    if (replace && !stopped) toast(t('ops.config.readFailed', { why: (err as Error).message }), 'error');
    return;
  }
  if (applying) return;
  const changed = !cfg || cfg.version !== next.version;
  const takeText = replace || (changed && !dirty);
  cfg = next;
  // The ETag goes with the text in the editor: edits made on an older version must not pass as current.
  if (takeText) cfgEtag = etag;
  showConfigHead();
  if (takeText) fillEditor();
  else if (changed) {
    el.configStale.hidden = false;
    el.configStale.textContent = t('ops.config.changedElsewhere', { version: shortVersion(next.version), source: next.source });
  }
}

el.configText.addEventListener('input', () => {
  dirty = true;
  el.result.hidden = true;
});

el.configText.addEventListener('keydown', (e) => {
  if (e.key === 'Enter' && (e.ctrlKey || e.metaKey)) {
    e.preventDefault();
    void applyConfig();
  }
});

el.configReload.addEventListener('click', () => {
  clearOutcome();
  void loadConfig(true);
});

el.configApply.addEventListener('click', () => void applyConfig());

function clearOutcome(): void {
  el.problems.hidden = true;
  el.result.hidden = true;
}

/** `path: message` strings (the page's own checks) or the problem's `errors` (`{path, message}`). */
function splitIssue(issue: unknown): { path: string; message: string } {
  if (typeof issue === 'string') {
    const at = issue.indexOf(': ');
    return at > 0 ? { path: issue.slice(0, at), message: issue.slice(at + 2) } : { path: '(root)', message: issue };
  }
  if (issue && typeof issue === 'object') {
    const i = issue as { path?: unknown; message?: unknown };
    const path = typeof i.path === 'string' && i.path ? i.path : '(root)';
    return { path, message: typeof i.message === 'string' ? i.message : JSON.stringify(issue) };
  }
  return { path: '(root)', message: String(issue) };
}

function showProblems(summary: string, issues: unknown[]): void {
  el.result.hidden = true;
  el.problemsSummary.textContent = summary;
  el.problems.querySelector('ul')!.replaceChildren(
    ...issues.map(splitIssue).map((p) => h('li', { 'data-path': p.path }, h('code.path', {}, p.path), ' ', h('span', {}, p.message))),
  );
  el.problems.hidden = false;
}

async function applyConfig(): Promise<void> {
  if (applying || !cfg) return;
  clearOutcome();
  let doc: unknown;
  try {
    doc = JSON.parse(el.configText.value);
  } catch (err) {
    showProblems(t('ops.config.notJson'), [`(JSON): ${(err as Error).message}`]);
    return;
  }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) {
    showProblems(t('ops.config.notObject'), ['(root): expected an object']);
    return;
  }
  const before = cfg.version;
  applying = true;
  el.configApply.disabled = true;
  el.configApply.textContent = t('ops.config.applying');
  try {
    const r = await apiResponse<ConfigState>('PUT', '/v1/admin/config', doc, cfgEtag ? { 'if-match': cfgEtag } : {});
    cfg = r.data;
    cfgEtag = r.res.headers.get('etag');
    showConfigHead();
    fillEditor();
    el.result.textContent =
      cfg.version === before
        ? t('ops.config.noChange', { version: shortVersion(cfg.version) })
        : t('ops.config.rolledOut', { version: shortVersion(cfg.version), before: shortVersion(before) });
    el.result.hidden = false;
  } catch (err) {
    if (err instanceof ApiError && err.status === 400) {
      const issues: unknown[] = err.body?.errors?.length ? err.body.errors : [err.message];
      showProblems(t('ops.config.problems', { n: issues.length }), issues);
    } else if (err instanceof ApiError && (err.status === 412 || err.status === 428)) {
      showProblems(t('ops.config.conflict'), [`(version): ${t('ops.config.conflictHint', { why: err.message })}`]);
    } else if (!stopped) {
      showProblems(t('ops.config.refused'), [`(request): ${(err as Error).message}`]);
    }
  } finally {
    applying = false;
    el.configApply.disabled = false;
    el.configApply.textContent = t('ops.configApply');
  }
}

const planPanel = mountPlanPanel(api, () => agentsShop, () => token, roleLabel, shopLabel);
const trends = mountTrendsPanel(api, () => agentsShop, roleLabel, opsState);
mountSessionPanel({ api, shop: () => agentsShop, token: () => token, roleLabel, roles, state: opsState });
const faqForm = mountFaqForm({
  doc: () => {
    try {
      const doc: unknown = JSON.parse(el.configText.value);
      return doc && typeof doc === 'object' && !Array.isArray(doc) ? (doc as Record<string, unknown>) : null;
    } catch {
      return null;
    }
  },
  apply: async (doc) => {
    el.configText.value = JSON.stringify(doc, null, 2);
    dirty = true;
    await applyConfig();
  },
  roles,
  roleLabel,
  scopes: () => (platform ? [null, agentsShop] : [agentsShop]),
});
const auth = signIn({ kind: 'admin', storageKey: 'peakdesk.ops.token', el, app: el.app, start, stop });
