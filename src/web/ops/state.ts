/**
 * The ops dashboard's state and how each input changes it: the recent stats (polled from
 * GET /v1/admin/stats/recent), the role picked for the charts, and the supervisor's live view
 * of one session (its server-sent events). No DOM and no fetch, so it is unit-tested in node
 * (test/web-ops-state.test.ts). `apply` changes the state in place and returns it.
 *
 * Types come from the server's protocol modules, type-only (erased from the bundle).
 */
import type { DashboardAlert, RecentResponse, RecentRole } from '../../protocol/dashboard.ts';
import type { MessageOut } from '../../protocol/frames.ts';

/** What the page shows of a watched session (a subset of the admin API's session view). */
export interface LiveSession {
  id: string;
  buyerId: string;
  state: string;
  role: string;
  roleHistory: string[];
  agentId?: string;
  lastAgentId?: string;
  closedReason?: string;
  createdAt: number;
}

export interface LiveView {
  sessionId: string;
  session: LiveSession | null;
  /** Transcript lines in seq order, each once. */
  lines: MessageOut[];
  /** The stream is open (false once it ended or failed). */
  open: boolean;
}

export interface OpsState {
  recent: RecentResponse | null;
  /** The role whose charts are shown: the one picked, else the busiest of each update. */
  role: string | null;
  picked: boolean;
  alerts: DashboardAlert[];
  live: LiveView | null;
}

export type OpsInput =
  | { type: 'recent'; body: RecentResponse }
  | { type: 'pick_role'; role: string }
  | { type: 'live_open'; sessionId: string }
  | { type: 'live_session'; session: LiveSession }
  | { type: 'live_message'; message: MessageOut }
  | { type: 'live_ended' };

export function initialState(): OpsState {
  return { recent: null, role: null, picked: false, alerts: [], live: null };
}

export function apply(s: OpsState, input: OpsInput): OpsState {
  switch (input.type) {
    case 'recent':
      s.recent = input.body;
      s.alerts = [...input.body.alerts].sort((a, b) => (a.role === b.role ? a.kind.localeCompare(b.kind) : a.role.localeCompare(b.role)));
      if (!s.picked || !input.body.roles.some((r) => r.role === s.role)) {
        s.picked = false;
        s.role = busiest(input.body.roles);
      }
      return s;
    case 'pick_role':
      s.role = input.role;
      s.picked = true;
      return s;
    case 'live_open':
      s.live = { sessionId: input.sessionId, session: null, lines: [], open: true };
      return s;
    case 'live_session':
      if (s.live && input.session.id === s.live.sessionId) s.live.session = input.session;
      return s;
    case 'live_message': {
      const live = s.live;
      if (!live || input.message.sessionId !== live.sessionId) return s;
      const last = live.lines.at(-1);
      // The server sends each line once in order; a reconnect starts again from the first.
      if (last && input.message.seq <= last.seq) {
        if (live.lines.some((l) => l.seq === input.message.seq)) return s;
        live.lines.push(input.message);
        live.lines.sort((a, b) => a.seq - b.seq);
      } else live.lines.push(input.message);
      return s;
    }
    case 'live_ended':
      if (s.live) s.live.open = false;
      return s;
  }
}

/** The role with the most arrivals and waiting in the window (the one ops most likely want); the first on a tie. */
function busiest(roles: RecentRole[]): string | null {
  let best: RecentRole | null = null;
  const total = (r: RecentRole) => r.arrivals.reduce((a, b) => a + b, 0) + r.waiting.reduce<number>((a, b) => a + (b ?? 0), 0);
  for (const r of roles) if (!best || total(r) > total(best)) best = r;
  return best?.role ?? null;
}

export type ChartId = 'waiting' | 'arrivals' | 'wait' | 'abandoned' | 'overflowed' | 'agents';
export const CHARTS: readonly ChartId[] = ['waiting', 'arrivals', 'wait', 'abandoned', 'overflowed', 'agents'];

/** Series of one chart: x (seconds, as uPlot wants), then one array per line. */
export type ChartData = [number[], ...(number | null)[][]];

/**
 * The charts of one role: waiting online/offline, arrivals, time to agent p50/p90 (seconds),
 * abandoned, overflow offers, and agents ready / capacity / sessions in use.
 */
export function chartData(s: OpsState, role: string | null = s.role): Record<ChartId, ChartData> | null {
  const r = s.recent?.roles.find((x) => x.role === role);
  if (!s.recent || !r) return null;
  const x = s.recent.times.map((t) => t / 1000);
  const online = r.waiting.map((w, i) => (w === null ? null : w - (r.offline[i] ?? 0)));
  const secs = (xs: (number | null)[]) => xs.map((v) => (v === null ? null : v / 1000));
  return {
    waiting: [x, online, r.offline],
    arrivals: [x, r.arrivals],
    wait: [x, secs(r.waitP50Ms), secs(r.waitP90Ms)],
    abandoned: [x, r.abandoned],
    overflowed: [x, r.overflowed],
    agents: [x, r.agentsReady, r.capacity, r.inUse],
  };
}

/** Totals over the window, for the chart headings. */
export function totals(s: OpsState, role: string | null = s.role): { arrivals: number; answered: number; abandoned: number; overflowed: number } | null {
  const r = s.recent?.roles.find((x) => x.role === role);
  if (!r) return null;
  const sum = (xs: number[]) => xs.reduce((a, b) => a + b, 0);
  return { arrivals: sum(r.arrivals), answered: sum(r.answered), abandoned: sum(r.abandoned), overflowed: sum(r.overflowed) };
}
