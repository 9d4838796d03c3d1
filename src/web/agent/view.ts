/**
 * Draws the workbench from its state (state.ts): the offers, the chat list, the open chat and
 * the buyer panel. Renders are batched into one per animation frame, and a transcript that
 * only grew gets the new lines appended, so 50 chats streaming thousands of lines stay smooth.
 */
import { attachmentBox, cardBox, h, keepAtBottom } from '../shared/dom.ts';
import { duration, reasonText, stamp, t } from '../shared/i18n/index.ts';
import { quickRepliesFor } from './quick-replies.ts';
import { buyerLabel, chatOrder, wantHistory, openChats, roleLabel, urgency, type AgentState, type Chat, type Offer, type Pending, type TranscriptEvent } from './state.ts';

export interface Handlers {
  accept(o: Offer): void;
  decline(o: Offer): void;
  activate(id: string): void;
  dismiss(id: string): void;
  retry(chat: Chat, p: Pending): void;
  edit(chat: Chat, p: Pending): void;
  discard(chat: Chat, p: Pending): void;
  insertQuick(text: string, send: boolean): void;
  pastSession(chat: Chat, sessionId: string): void;
  askHistory(sessionId: string): void;
  /** A file url the page can load (with the token; `via`: the chat a past session's file is seen from). */
  fileSrc(url: string, via?: string): string;
}

export type Els = Record<
  | 'presenceState' | 'offers' | 'offerCount' | 'chatList' | 'empty' | 'chat' | 'title' | 'route' | 'handover' | 'transcript' | 'closedBanner' | 'live' | 'quick' | 'buyerPanel' | 'pastTitle' | 'pastMeta' | 'pastTranscript',
  HTMLElement
> & { ready: HTMLButtonElement; away: HTMLButtonElement; transferRole: HTMLSelectElement; past: HTMLDialogElement };

const WINDOW = 200;

type Part = 'presence' | 'offers' | 'list' | 'chat' | 'transcript' | 'past';

export function createView(s: AgentState, el: Els, on: Handlers, roles: () => string[]) {
  const dirty = new Set<Part>();
  let scheduled = false;
  /** What the transcript list shows now: which chat, and the highest seq appended. */
  let shown = { id: '', seq: -1, pending: 0, lines: 0 };
  /** Lines of the open chat drawn at most (a flex list relays out every line on each append); "earlier" adds more. */
  let limit = WINDOW;

  function schedule(...parts: Part[]): void {
    for (const p of parts) dirty.add(p);
    if (scheduled) return;
    scheduled = true;
    requestAnimationFrame(flush);
  }

  function flush(): void {
    scheduled = false;
    const parts = new Set(dirty);
    dirty.clear();
    if (parts.has('presence')) renderPresence();
    if (parts.has('offers')) renderOffers();
    if (parts.has('list')) renderList();
    if (parts.has('chat')) renderChat();
    else if (parts.has('transcript')) renderTranscript();
    if (parts.has('past')) renderPast();
  }

  function renderPresence(): void {
    const p = s.presence;
    const load = openChats(s).length + s.offers.size;
    el.presenceState.dataset.status = p.status;
    el.presenceState.textContent =
      p.status === 'ready'
        ? t('agent.state.ready', { roles: p.roles.map((r) => roleLabel(s, r)).join('、'), load, capacity: p.capacity })
        : p.status === 'away'
          ? t('agent.state.away', { open: openChats(s).length })
          : t('agent.state.offline');
    el.ready.textContent = p.status === 'ready' ? t('agent.update') : t('agent.goReady');
    el.away.disabled = p.status !== 'ready';
  }

  function renderOffers(): void {
    el.offers.replaceChildren();
    el.offerCount.hidden = s.offers.size === 0;
    el.offerCount.textContent = String(s.offers.size);
    if (!s.offers.size) {
      el.offers.append(h('p.muted.small.empty-note', {}, t('agent.noOffers')));
      return;
    }
    for (const o of [...s.offers.values()].sort((a, b) => a.expiresAt - b.expiresAt)) {
      const accept = h('button.primary.accept', { type: 'button', disabled: !!o.busy, 'data-testid': 'accept' }, t('agent.accept'));
      const decline = h('button.decline', { type: 'button', disabled: !!o.busy }, t('agent.decline'));
      accept.addEventListener('click', () => on.accept(o));
      decline.addEventListener('click', () => on.decline(o));
      el.offers.append(
        h(
          'div.offer',
          { 'data-session': o.sessionId, 'data-role': o.role },
          h(
            'div.offer-head',
            {},
            h('span.role-tag', {}, roleLabel(s, o.role)),
            h('span.buyer-name', {}, buyerLabel(o)),
            o.buyer?.vip ? h('span.vip', {}, t('agent.vip', { level: o.buyer.vip })) : null,
            h('span.countdown', { 'data-expires': o.expiresAt }, ''),
          ),
          h('div.bar', {}, h('div.bar-fill', { 'data-expires': o.expiresAt, 'data-span': Math.max(1000, o.expiresAt - o.receivedAt) })),
          h('ol.preview', {}, ...o.preview.map((e) => h('li', { class: `from-${e.from}` }, h('b', {}, `${t(`from.${e.from}`)}：`), e.text))),
          h('div.row', {}, accept, decline),
        ),
      );
    }
    tick(Date.now());
  }

  /** What the list last drew, per chat: an unchanged line is kept, not rebuilt. */
  const drawn = new Map<string, { sig: string; node: HTMLElement }>();

  function renderList(): void {
    const now = Date.now();
    const items = chatOrder(s).map((chat) => {
      const sig = [chat.id === s.active, chat.closed, chat.unread, chat.waitingSince, chat.buyer?.name, chat.buyer?.vip, chat.buyer?.online, chat.role, roleLabel(s, chat.role)].join('|');
      const had = drawn.get(chat.id);
      if (had?.sig === sig) return had.node;
      const waited = chat.waitingSince !== undefined ? now - chat.waitingSince : undefined;
      const online = chat.buyer?.online;
      const item = h(
        'li.chat-item',
        {
          'data-session': chat.id,
          'data-testid': 'chat-item',
          'aria-selected': String(chat.id === s.active),
          class: `chat-item${chat.closed ? ' closed' : ''}`,
          tabindex: 0,
        },
        h('span.presence-dot', { 'data-online': online === undefined ? 'unknown' : String(online), title: online === undefined ? '' : online ? t('agent.online') : t('agent.offline') }),
        h('span.chat-buyer', {}, buyerLabel(chat)),
        chat.buyer?.vip ? h('span.vip', {}, t('agent.vip', { level: chat.buyer.vip })) : null,
        h('span.role-tag', {}, roleLabel(s, chat.role)),
        h('span.spacer', {}),
        chat.unread ? h('span.badge.unread', { title: t('agent.unread', { n: chat.unread }) }, String(chat.unread)) : null,
        waited !== undefined && !chat.closed
          ? h('span.wait', { 'data-since': chat.waitingSince!, 'data-level': urgency(waited) }, duration(waited))
          : h('span.wait.muted', {}, chat.closed ? reasonText(chat.closed) : t('agent.replied')),
      );
      item.addEventListener('click', () => on.activate(chat.id));
      if (chat.closed) {
        const x = h('button.dismiss.link', { type: 'button', title: t('agent.removeChat') }, '×');
        x.addEventListener('click', (e) => {
          e.stopPropagation();
          on.dismiss(chat.id);
        });
        item.append(x);
      }
      drawn.set(chat.id, { sig, node: item });
      return item;
    });
    for (const id of drawn.keys()) if (!s.chats.has(id)) drawn.delete(id);
    // Moved only where the order changed: replacing all 50 lines on every message relaid out the whole side bar.
    items.forEach((node, i) => {
      if (el.chatList.children[i] !== node) el.chatList.insertBefore(node, el.chatList.children[i] ?? null);
    });
    while (el.chatList.children.length > items.length) el.chatList.lastElementChild!.remove();
    el.chatList.hidden = items.length === 0;
  }

  /** Once a second: the offers' countdowns and the chats' wait timers. */
  function tick(now: number): void {
    el.offers.querySelectorAll<HTMLElement>('.countdown').forEach((c) => {
      const left = Number(c.dataset.expires) - now;
      c.textContent = left > 0 ? `${Math.ceil(left / 1000)}s` : t('agent.expiring');
      c.classList.toggle('urgent', left < 5000);
    });
    el.offers.querySelectorAll<HTMLElement>('.bar-fill').forEach((b) => {
      const left = Number(b.dataset.expires) - now;
      b.style.width = `${Math.max(0, Math.min(100, (left / Number(b.dataset.span)) * 100))}%`;
    });
    el.chatList.querySelectorAll<HTMLElement>('.wait[data-since]').forEach((w) => {
      const waited = now - Number(w.dataset.since);
      w.textContent = duration(waited);
      w.dataset.level = urgency(waited);
    });
  }

  function renderChat(): void {
    const chat = s.active ? s.chats.get(s.active) : undefined;
    el.empty.hidden = !!chat;
    el.chat.hidden = !chat;
    el.buyerPanel.hidden = !chat;
    if (!chat) return;
    el.title.textContent = t('agent.chatTitle', { buyer: buyerLabel(chat), role: roleLabel(s, chat.role) });
    const route = chat.roleHistory?.length ? chat.roleHistory : chat.handovers?.length ? [chat.handovers[0]!.fromRole, ...chat.handovers.map((x) => x.toRole)] : [];
    el.route.textContent = route.length > 1 ? t('agent.route', { route: route.map((r) => roleLabel(s, r)).join(' → ') }) : '';
    renderHandover(chat);
    if (shown.id !== chat.id) limit = WINDOW;
    shown = { id: '', seq: -1, pending: 0, lines: 0 };
    renderTranscript();
    el.closedBanner.hidden = !chat.closed;
    el.live.hidden = !!chat.closed;
    if (chat.closed) {
      el.closedBanner.dataset.reason = chat.closed;
      el.closedBanner.textContent =
        chat.closed === 'transferred'
          ? t('agent.transferredBanner', { to: chat.transferredTo ? t('agent.transferredTo', { role: roleLabel(s, chat.transferredTo) }) : '' })
          : t('agent.closedBanner', { reason: reasonText(chat.closed) });
    }
    el.quick.replaceChildren(
      ...quickRepliesFor(chat.role).map((text, i) => {
        const b = h('button.chip', { type: 'button', title: t('agent.quickHint'), 'data-text': text }, i < 9 ? h('kbd', {}, String(i + 1)) : null, text);
        b.addEventListener('click', () => on.insertQuick(text, false));
        b.addEventListener('dblclick', () => on.insertQuick(text, true));
        return b;
      }),
    );
    el.transferRole.replaceChildren(...roles().filter((r) => r !== chat.role).map((r) => h('option', { value: r }, roleLabel(s, r))));
    renderBuyer(chat);
  }

  function renderBuyer(chat: Chat): void {
    if (wantHistory(s, chat.id)) on.askHistory(chat.id);
    const b = chat.buyer;
    const online = b?.online;
    const history = chat.history;
    const parts: (HTMLElement | null)[] = [
      h('h2', {}, t('agent.buyerPanel')),
      h(
        'p.buyer-head',
        {},
        h('span.presence-dot', { 'data-online': online === undefined ? 'unknown' : String(online) }),
        h('b.buyer-name', {}, buyerLabel(chat)),
        b?.vip ? h('span.vip', {}, t('agent.vip', { level: b.vip })) : null,
        online === undefined ? null : h('span.muted.small', {}, online ? t('agent.online') : t('agent.offline')),
      ),
      b?.id ? h('p.muted.small', {}, b.id) : null,
      b?.tags?.length ? h('div.tags', { 'aria-label': t('agent.tags') }, ...b.tags.map((x) => h('span.tag', {}, x))) : null,
      h('h3', {}, t('agent.orders')),
      b?.orders?.length
        ? h('ul.orders', {}, ...b.orders.slice(0, 20).map((o) => h('li', {}, h('code', {}, o.id), o.title ? ` ${o.title}` : '', o.status ? h('span.muted.small', {}, ` · ${o.status}`) : null, o.total !== undefined ? h('span.small', {}, ` ¥${o.total}`) : null)))
        : h('p.muted.small', {}, t('agent.noOrders')),
      h('h3', {}, t('agent.history')),
      history === undefined && s.historySupported !== false
        ? h('p.muted.small', {}, t('agent.historyLoading'))
        : history?.length
          ? h(
              'ul.history',
              {},
              ...history.map((x) => {
                const current = x.sessionId === chat.id;
                const li = h(
                  'li',
                  { 'data-session': x.sessionId, 'data-testid': 'past-session', class: current ? 'current' : '', title: t('agent.historyOpen'), tabindex: 0 },
                  h('div', {}, h('b', {}, stamp(x.createdAt)), current ? h('span.tag', {}, t('agent.historyCurrent')) : null, x.rating ? h('span.small.stars', {}, ` ${'★'.repeat(x.rating)}`) : null),
                  h(
                    'div.muted.small',
                    {},
                    (x.roleHistory.length ? x.roleHistory : [x.role]).map((r) => roleLabel(s, r)).join(' → '),
                    x.closedReason ? ` · ${reasonText(x.closedReason)}` : '',
                    ` · ${t('agent.historyEvents', { n: x.events })}`,
                  ),
                  x.preview ? h('div.preview.small', {}, x.preview) : null,
                );
                li.addEventListener('click', () => on.pastSession(chat, x.sessionId));
                li.addEventListener('keydown', (e) => {
                  if (e.key === 'Enter') on.pastSession(chat, x.sessionId);
                });
                return li;
              }),
            )
          : h('p.muted.small', {}, t('agent.noHistory')),
    ];
    el.buyerPanel.replaceChildren(...parts.filter((x): x is HTMLElement => x !== null));
  }

  function renderHandover(chat: Chat): void {
    const items: HTMLElement[] = [];
    for (const x of chat.handovers ?? []) {
      items.push(
        h(
          'li',
          {},
          h('b', {}, `${roleLabel(s, x.fromRole)} → ${roleLabel(s, x.toRole)}`),
          h('span.muted.small', {}, ` ${x.agentId ? t('agent.handoverBy', { agent: x.agentId }) : ''}${stamp(x.ts)}`),
          x.note ? h('blockquote', {}, x.note) : null,
        ),
      );
    }
    const showNote = chat.note && !(chat.handovers ?? []).some((x) => x.note === chat.note);
    el.handover.hidden = !items.length && !showNote;
    el.handover.replaceChildren(h('h3', {}, t('agent.handover')));
    if (showNote) el.handover.append(h('p.note', {}, h('b', {}, t('agent.noteFrom')), chat.note!));
    if (items.length) el.handover.append(h('ol.handovers', {}, ...items));
  }

  /** A past session's transcript over the chat (`history_transcript`), or nothing. */
  function renderPast(): void {
    const p = s.past;
    if (!p) {
      if (el.past.open) el.past.close();
      return;
    }
    const x = p.session;
    el.pastTitle.textContent = t('agent.past.title', { when: stamp(x.createdAt) });
    el.pastMeta.textContent = t('agent.past.meta', {
      roles: (x.roleHistory.length ? x.roleHistory : [x.role]).map((r) => roleLabel(s, r)).join(' → '),
      agents: x.agents.join('、') || '—',
      reason: x.closedReason ? reasonText(x.closedReason) : x.state,
    });
    el.pastTranscript.replaceChildren(...p.events.map((e, i) => line(e, p.events[i - 1], p.chatId)));
    if (!el.past.open) el.past.showModal();
  }

  function line(e: TranscriptEvent, prev: TranscriptEvent | undefined, via?: string): HTMLElement {
    const who = e.from === 'agent' ? `${t('from.agent')}${e.role ? ` · ${roleLabel(s, e.role)}` : ''}` : t(`from.${e.from}`);
    // The day is shown when a line is on another day than the one before it (a chat across midnight).
    return h(
      'li.msg',
      { class: `msg from-${e.from}${e.kind ? ` kind-${e.kind}` : ''}`, 'data-seq': e.seq },
      h('div.meta', {}, `${who} · ${stamp(e.ts, prev ? prev.ts : e.ts)} · #${e.seq}`),
      e.text ? h('div.text', {}, e.text) : null,
      e.card ? cardBox(e.card) : null,
      ...(e.attachments ?? []).map((a) => attachmentBox(a, (u) => on.fileSrc(u, via))),
    );
  }

  function pendingLine(chat: Chat, p: Pending): HTMLElement {
    const li = h(
      'li.msg',
      { class: 'msg from-agent pending' },
      h('div.meta', {}, p.failed ? t('agent.notSent', { why: p.failed }) : t('agent.sending')),
      p.text ? h('div.text', {}, p.text) : null,
      p.card ? cardBox(p.card) : null,
      ...(p.attachments ?? []).map((a) => attachmentBox(a, (u) => on.fileSrc(u))),
    );
    if (!p.failed) return li;
    li.classList.add('failed');
    // A blocked word would be refused again: only editing it is offered.
    const fix = p.code === 'forbidden' ? h('button.link.edit', { type: 'button', title: t('agent.blockedWord') }, t('agent.edit')) : h('button.link.retry', { type: 'button' }, t('agent.retry'));
    fix.addEventListener('click', () => (p.code === 'forbidden' ? on.edit(chat, p) : on.retry(chat, p)));
    const drop = h('button.link', { type: 'button' }, t('agent.discard'));
    drop.addEventListener('click', () => on.discard(chat, p));
    li.append(h('div.meta', {}, fix, ' · ', drop));
    return li;
  }

  function renderTranscript(): void {
    const chat = s.active ? s.chats.get(s.active) : undefined;
    if (!chat) return;
    keepAtBottom(el.transcript, () => {
      const maxSeq = chat.maxSeq ?? 0;
      // Only grew at the end, nothing pending before or after, not far past the window: append the new lines.
      if (shown.id === chat.id && shown.pending === 0 && chat.pending.length === 0 && maxSeq >= shown.seq && shown.lines < limit + WINDOW / 4) {
        const fresh = [...chat.events.values()].filter((e) => e.seq > shown.seq).sort((a, b) => a.seq - b.seq);
        let prev = chat.events.get(shown.seq);
        for (const e of fresh) {
          el.transcript.append(line(e, prev));
          prev = e;
        }
        shown.seq = maxSeq;
        shown.lines += fresh.length;
        return;
      }
      const all = [...chat.events.values()].sort((a, b) => a.seq - b.seq);
      const from = Math.max(0, all.length - limit);
      const events = all.slice(from);
      const earlier = from > 0 ? h('li.notice.earlier', {}, h('button.link', { type: 'button', 'data-testid': 'earlier' }, t('agent.earlier', { n: from }))) : null;
      earlier?.addEventListener('click', () => {
        limit += WINDOW;
        shown = { id: '', seq: -1, pending: 0, lines: 0 };
        const keep = el.transcript.scrollHeight - el.transcript.scrollTop;
        renderTranscript();
        el.transcript.scrollTop = el.transcript.scrollHeight - keep;
      });
      el.transcript.replaceChildren(...(earlier ? [earlier] : []), ...events.map((e, i) => line(e, i ? events[i - 1] : all[from - 1])), ...chat.pending.map((p) => pendingLine(chat, p)));
      shown = { id: chat.id, seq: maxSeq, pending: chat.pending.length, lines: events.length };
    });
  }

  return { schedule, tick, flushNow: flush };
}
