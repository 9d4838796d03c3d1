/**
 * The ops dashboard's session lookup and supervisor monitor: a session id (from a complaint, a
 * log line, the agents table) or a buyer id → the session's state, route, agent, rating and
 * whole transcript (GET /v1/admin/sessions/:id), or the buyer's sessions to pick from
 * (GET /v1/admin/buyers/:id/sessions). "Watch live" follows the chat read-only through
 * GET /v1/admin/sessions/:id/live (server-sent events, read with fetch so the admin token
 * goes in a header); from there ops can force a transfer or a close.
 */
import { byId, h, toast } from '../shared/dom.ts';
import { reasonText, stamp, t, type MessageKey } from '../shared/i18n/index.ts';
import { apply, type LiveSession, type OpsState } from './state.ts';
import { takeEvents } from './sse.ts';
import type { MessageOut } from '../../protocol/frames.ts';

type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

interface Found {
  session: LiveSession & { rating?: number; ratingComment?: string };
  transcript: MessageOut[];
}

interface BuyerSessions {
  sessions: { sessionId: string; state: string; role: string; createdAt: number; closedReason?: string; preview?: string }[];
}

export interface SessionPanelDeps {
  api: Api;
  shop: () => string;
  token: () => string | null;
  roleLabel: (role: string) => string;
  roles: () => string[];
  state: OpsState;
}

const stateText = (s: string) => (['bot', 'queued', 'offered', 'assigned', 'closing', 'closed'].includes(s) ? t(`ops.state.${s}` as MessageKey) : s);

export function mountSessionPanel(d: SessionPanelDeps): void {
  const form = byId<HTMLFormElement>('session-form');
  const input = byId<HTMLInputElement>('session-id');
  const head = byId('session-head');
  const actions = byId('session-actions');
  const list = byId('session-transcript');
  let stream: AbortController | null = null;

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = input.value.trim();
    if (id) void find(id);
  });

  async function find(id: string): Promise<void> {
    stopLive();
    head.textContent = t('ops.session.loading');
    actions.replaceChildren();
    list.replaceChildren();
    try {
      show(await d.api<Found>('GET', `/v1/admin/sessions/${encodeURIComponent(id)}?shop=${encodeURIComponent(d.shop())}`));
      return;
    } catch (err) {
      if ((err as { status?: number }).status !== 404) {
        head.textContent = t('ops.session.failed', { why: (err as Error).message });
        return;
      }
    }
    // Not a session id: perhaps a buyer's.
    let found: BuyerSessions | null = null;
    try {
      found = await d.api<BuyerSessions>('GET', `/v1/admin/buyers/${encodeURIComponent(id)}/sessions?shop=${encodeURIComponent(d.shop())}`);
    } catch {
      found = null;
    }
    if (!found?.sessions.length) {
      head.textContent = t('ops.session.noBuyerSessions', { id });
      return;
    }
    head.textContent = t('ops.session.buyerSessions', { id, n: found.sessions.length });
    list.replaceChildren(
      ...found.sessions.map((s) =>
        h(
          'li.buyer-session',
          { 'data-session': s.sessionId },
          h('button.link', { type: 'button', onclick: () => void find(s.sessionId) }, t('ops.session.open')),
          ` ${stamp(s.createdAt)} · ${d.roleLabel(s.role)} · ${s.closedReason ? reasonText(s.closedReason) : stateText(s.state)}`,
          s.preview ? h('span.muted', {}, ` “${s.preview}”`) : null,
        ),
      ),
    );
  }

  function headLine(s: Found['session']): void {
    const agent = s.agentId ?? s.lastAgentId;
    head.replaceChildren(
      h('b', {}, s.id),
      ` · ${t('ops.session.buyer', { id: s.buyerId })} · ${(s.roleHistory.length ? s.roleHistory : [s.role]).map(d.roleLabel).join(' → ')}`,
      agent ? ` · ${t('ops.session.agent', { id: agent })}` : '',
      ` · ${stamp(s.createdAt)} `,
      h('span.status', { 'data-state': s.state }, s.closedReason ? reasonText(s.closedReason) : stateText(s.state)),
      s.rating ? ` ${'★'.repeat(s.rating)}${s.ratingComment ? ` “${s.ratingComment}”` : ''}` : '',
      d.state.live?.open && d.state.live.sessionId === s.id ? h('span.pill.live-pill', { 'data-state': 'open' }, t('ops.live.on')) : '',
    );
  }

  function line(e: MessageOut, prev: MessageOut | undefined): HTMLElement {
    return h('li.msg', { class: `msg from-${e.from}`, 'data-seq': e.seq }, h('div.meta', {}, `${t(`from.${e.from}` as MessageKey)} · ${stamp(e.ts, prev?.ts ?? e.ts)} · #${e.seq}`), h('div.text', {}, e.text));
  }

  function show(found: Found): void {
    headLine(found.session);
    const lines = [...found.transcript].sort((a, b) => a.seq - b.seq);
    list.replaceChildren(...lines.map((e, i) => line(e, lines[i - 1])));
    renderActions(found.session);
  }

  function renderActions(s: LiveSession): void {
    const ended = s.state === 'closing' || s.state === 'closed';
    const watching = d.state.live?.open && d.state.live.sessionId === s.id;
    const to = h('select', { id: 'live-to-role', 'aria-label': t('ops.live.transferTo') }, ...d.roles().filter((r) => r !== s.role).map((r) => h('option', { value: r }, d.roleLabel(r))));
    actions.replaceChildren(
      watching
        ? h('button', { id: 'live-stop', type: 'button', onclick: () => stopLive() }, t('ops.live.stop'))
        : h('button', { id: 'live-watch', type: 'button', disabled: ended, onclick: () => void watch(s.id) }, t('ops.live.watch')),
      h('label.row.small', {}, t('ops.live.transferTo'), ' ', to),
      h('button', { id: 'live-transfer', type: 'button', disabled: ended || !to.options.length, onclick: () => void transfer(s.id, to.value) }, t('ops.live.transfer')),
      h('button.danger', { id: 'live-close', type: 'button', disabled: ended, onclick: () => void close(s.id) }, t('ops.live.close')),
    );
  }

  function renderLive(): void {
    const live = d.state.live;
    if (!live?.session) return;
    headLine(live.session);
    renderActions(live.session);
    // Append what is new (lines only grow while watching); rebuild after a reorder.
    const shown = list.children.length;
    if (shown > live.lines.length || (shown && Number((list.lastElementChild as HTMLElement).dataset.seq) !== live.lines[shown - 1]?.seq)) list.replaceChildren();
    for (let i = list.children.length; i < live.lines.length; i++) list.append(line(live.lines[i]!, live.lines[i - 1]));
    list.lastElementChild?.scrollIntoView({ block: 'nearest' });
  }

  async function watch(sessionId: string): Promise<void> {
    stopLive();
    const ctl = (stream = new AbortController());
    apply(d.state, { type: 'live_open', sessionId });
    list.replaceChildren();
    try {
      const res = await fetch(`/v1/admin/sessions/${encodeURIComponent(sessionId)}/live?shop=${encodeURIComponent(d.shop())}`, {
        headers: { authorization: `Bearer ${d.token() ?? ''}`, accept: 'text/event-stream' },
        signal: ctl.signal,
      });
      if (!res.ok || !res.body) throw new Error(`HTTP ${res.status}`);
      const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
      let buf = '';
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        const taken = takeEvents(buf + value);
        buf = taken.rest;
        for (const ev of taken.events) {
          if (ev.type === 'session') apply(d.state, { type: 'live_session', session: ev.data as LiveSession });
          else if (ev.type === 'message') apply(d.state, { type: 'live_message', message: ev.data as MessageOut });
        }
        renderLive();
      }
    } catch (err) {
      if (!ctl.signal.aborted) toast(t('ops.live.failed', { why: (err as Error).message }), 'error');
    }
    if (stream === ctl) {
      apply(d.state, { type: 'live_ended' });
      stream = null;
      renderLive();
    }
  }

  function stopLive(): void {
    if (!stream) return;
    stream.abort();
    stream = null;
    apply(d.state, { type: 'live_ended' });
    renderLive();
  }

  async function transfer(sessionId: string, toRole: string): Promise<void> {
    if (!toRole || !confirm(t('ops.live.confirmTransfer', { role: d.roleLabel(toRole) }))) return;
    try {
      await d.api('POST', `/v1/admin/sessions/${encodeURIComponent(sessionId)}/transfer?shop=${encodeURIComponent(d.shop())}`, { toRole });
      toast(t('ops.live.transferred', { role: d.roleLabel(toRole) }));
      if (!stream) void find(sessionId);
    } catch (err) {
      toast(t('ops.live.failed', { why: (err as Error).message }), 'error');
    }
  }

  async function close(sessionId: string): Promise<void> {
    if (!confirm(t('ops.live.confirmClose'))) return;
    try {
      await d.api('POST', `/v1/admin/sessions/${encodeURIComponent(sessionId)}/close?shop=${encodeURIComponent(d.shop())}`, {});
      toast(t('ops.live.closed'));
      if (!stream) void find(sessionId);
    } catch (err) {
      toast(t('ops.live.failed', { why: (err as Error).message }), 'error');
    }
  }
}
