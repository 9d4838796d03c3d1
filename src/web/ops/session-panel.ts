/**
 * The ops dashboard's session lookup: a session id (from a complaint, a log line, the agents
 * table) → its state, route, agent, rating and whole transcript, read from
 * GET /v1/admin/sessions/:id of the shop chosen in the agents panel.
 */
import { byId, h } from '../shared/dom.ts';
import { reasonText, stamp, t } from '../shared/i18n/index.ts';

type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

interface Found {
  session: {
    id: string;
    buyerId: string;
    state: string;
    role: string;
    createdAt: number;
    agentId?: string;
    lastAgentId?: string;
    roleHistory: string[];
    closedReason?: string;
    closedAt?: number;
    rating?: number;
    ratingComment?: string;
  };
  transcript: { seq: number; from: 'buyer' | 'bot' | 'agent'; text: string; ts: number; role?: string }[];
}

export function mountSessionPanel(api: Api, shop: () => string): void {
  const form = byId<HTMLFormElement>('session-form');
  const input = byId<HTMLInputElement>('session-id');
  const head = byId('session-head');
  const list = byId('session-transcript');

  form.addEventListener('submit', (e) => {
    e.preventDefault();
    const id = input.value.trim();
    if (id) void show(id);
  });

  async function show(id: string): Promise<void> {
    head.textContent = t('ops.session.loading');
    list.replaceChildren();
    let found: Found;
    try {
      found = await api<Found>('GET', `/v1/admin/sessions/${encodeURIComponent(id)}?shop=${encodeURIComponent(shop())}`);
    } catch (err) {
      const status = (err as { status?: number }).status;
      head.textContent = status === 404 ? t('ops.session.notFound', { id }) : t('ops.session.failed', { why: (err as Error).message });
      return;
    }
    const s = found.session;
    const agent = s.agentId ?? s.lastAgentId;
    head.replaceChildren(
      h('b', {}, s.id),
      ` · ${t('ops.session.buyer', { id: s.buyerId })} · ${s.roleHistory.join(' → ') || s.role}`,
      agent ? ` · ${t('ops.session.agent', { id: agent })}` : '',
      ` · ${stamp(s.createdAt)}`,
      h('span.status', { 'data-state': s.state }, s.closedReason ? reasonText(s.closedReason) : s.state),
      s.rating ? ` ${'★'.repeat(s.rating)}${s.ratingComment ? ` “${s.ratingComment}”` : ''}` : '',
    );
    const lines = [...found.transcript].sort((a, b) => a.seq - b.seq);
    list.replaceChildren(
      ...lines.map((e, i) =>
        h('li.msg', { class: `msg from-${e.from}`, 'data-seq': e.seq }, h('div.meta', {}, `${t(`from.${e.from}`)} · ${stamp(e.ts, lines[i - 1]?.ts ?? e.ts)} · #${e.seq}`), h('div.text', {}, e.text)),
      ),
    );
  }
}
