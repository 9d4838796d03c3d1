/**
 * Agent workbench: sign in with a token, go ready for roles, take offers, run several chats
 * in tabs. Survives reconnects and reloads: the SDK's AgentClient (src/client) resumes each
 * chat it still owns from the last seq shown, resends messages not yet acked (the same
 * clientMsgId, so the gateway stores them once) and goes `ready` again if it was; chats and
 * unsent messages are kept in sessionStorage and handed back to it after a reload.
 */
import { AgentClient } from '../../client/agent-client.ts';
import { LineRefused } from '../../client/session-state.ts';
import { byId, clock, h, keepAtBottom, onSend, persister, showStatus, toast } from '../shared/dom.ts';
import {
  DEFAULT_ROLES,
  toEvent,
  type AgentServerFrame,
  type ErrorFrame,
  type Handover,
  type TranscriptEvent,
} from '../../client/frames.ts';
import { commonElements, gatewayUrl, refusedText, signIn } from '../shared/signin.ts';
import type { Claims } from '../shared/token.ts';
import { quickRepliesFor, setQuickReplies } from './quick-replies.ts';

interface Pending {
  clientMsgId: string;
  text: string;
  ts: number;
  failed?: string;
}

interface Chat {
  id: string;
  role: string;
  events: Map<number, TranscriptEvent>;
  pending: Pending[];
  note?: string;
  roleHistory?: string[];
  handovers?: Handover[];
  unread: number;
  /** Why the chat ended, once it has. */
  closed?: string;
  transferredTo?: string;
  draft: string;
}

interface Offer {
  sessionId: string;
  role: string;
  expiresAt: number;
  preview: TranscriptEvent[];
  /** Local time the offer arrived, for the countdown bar's full width. */
  receivedAt: number;
  busy?: boolean;
}

interface Presence {
  status: 'offline' | 'ready' | 'away';
  roles: string[];
  capacity: number;
}

interface Saved {
  chats: (Omit<Chat, 'events'> & { events: TranscriptEvent[] })[];
  active: string | null;
  presence: Presence;
}

let claims: Claims | null = null;
let conn: AgentClient | null = null;
let store: ReturnType<typeof persister<Saved>> | null = null;

const chats = new Map<string, Chat>();
const offers = new Map<string, Offer>();
let active: string | null = null;
let presence: Presence = { status: 'offline', roles: [], capacity: 3 };
let knownRoles: string[] = [...DEFAULT_ROLES];

const el = {
  ...commonElements(),
  app: byId('app'),
  roles: byId<HTMLFieldSetElement>('roles'),
  capacity: byId<HTMLInputElement>('capacity'),
  ready: byId<HTMLButtonElement>('ready'),
  away: byId<HTMLButtonElement>('away'),
  presenceState: byId('presence-state'),
  offers: byId('offers'),
  offerCount: byId('offer-count'),
  tabs: byId('tabs'),
  empty: byId('chat-empty'),
  chat: byId('chat'),
  title: byId('chat-title'),
  route: byId('chat-route'),
  handover: byId('handover'),
  transcript: byId('transcript'),
  closedBanner: byId('closed-banner'),
  live: byId('live-controls'),
  quick: byId('quick'),
  composer: byId<HTMLFormElement>('composer'),
  text: byId<HTMLTextAreaElement>('text'),
  transferForm: byId<HTMLFormElement>('transfer-form'),
  transferRole: byId<HTMLSelectElement>('transfer-role'),
  transferNote: byId<HTMLInputElement>('transfer-note'),
  closeChat: byId<HTMLButtonElement>('close-chat'),
  blockForm: byId<HTMLFormElement>('block-form'),
  blockReason: byId<HTMLInputElement>('block-reason'),
};

const short = (id: string) => (id.length > 10 ? `${id.slice(0, 8)}…` : id);
const openChats = () => [...chats.values()].filter((c) => !c.closed);

// ---------------------------------------------------------------- start

/** Signed in (see the end of this file): restore what this tab held and connect. */
function start(token: string, signedIn: Claims): void {
  claims = signedIn;
  if (claims.roles?.length) knownRoles = [...new Set([...claims.roles, ...DEFAULT_ROLES])];
  store = persister<Saved>(`peakdesk.agent.state.${claims.shop}.${claims.sub}`);
  restore();
  renderRoles();
  renderAll();
  conn = new AgentClient({
    url: gatewayUrl(''),
    token: () => token,
    onFrame,
    onStatus: (s) => {
      showStatus(el.conn, s);
      if (s.state === 'refused') signin.show(refusedText(s, 'agent'));
      if (s.state === 'waiting') for (const o of offers.values()) o.busy = false;
    },
  });
  const open = [...chats.values()].filter((c) => !c.closed);
  conn.restore(open.map((c) => [c.id, c.events.keys()] as [string, Iterable<number>]));
  for (const chat of open) for (const p of chat.pending) if (!p.failed) track(chat, p, conn.say(chat.id, p.text, p.clientMsgId).acked);
  if (presence.status === 'ready') conn.ready(presence.roles, presence.capacity);
  conn.start();
  setInterval(tickOffers, 250);
  (window as unknown as { __peakdesk: unknown }).__peakdesk = { drop: () => conn?.drop(), chats, offers };
}

function restore(): void {
  const saved = store!.load();
  if (!saved) return;
  for (const c of saved.chats) chats.set(c.id, { ...c, events: new Map(c.events.map((e) => [e.seq, e])) });
  active = saved.active && chats.has(saved.active) ? saved.active : null;
  presence = saved.presence;
}

function save(): void {
  store?.save(() => ({
    chats: [...chats.values()].map((c) => ({ ...c, events: [...c.events.values()] })),
    active,
    presence,
  }));
}

// ---------------------------------------------------------------- frames

function onFrame(f: AgentServerFrame): void {
  switch (f.type) {
    case 'welcome':
      return onWelcome(f.sessions, f.quickReplies);
    case 'offer':
      offers.set(f.sessionId, { sessionId: f.sessionId, role: f.role, expiresAt: f.expiresAt, preview: f.preview.map(toEvent), receivedAt: Date.now() });
      renderOffers();
      renderPresence();
      return;
    case 'revoked':
      if (offers.delete(f.sessionId)) toast(`Offer ${short(f.sessionId)} withdrawn (${f.reason})`);
      renderOffers();
      renderPresence();
      return;
    case 'assigned': {
      offers.delete(f.sessionId);
      const chat = chats.get(f.sessionId) ?? newChat(f.sessionId, f.role);
      chat.role = f.role;
      for (const e of f.transcript) chat.events.set(e.seq, toEvent(e));
      chat.note = f.note;
      chat.roleHistory = f.roleHistory;
      chat.handovers = f.handovers;
      delete chat.closed;
      delete chat.transferredTo;
      chats.set(f.sessionId, chat);
      if (!active || chats.get(active)?.closed) active = f.sessionId;
      else if (active !== f.sessionId) chat.unread = Math.max(chat.unread, 1);
      renderAll();
      return;
    }
    case 'message': {
      const chat = chats.get(f.sessionId) ?? newChat(f.sessionId, f.role ?? '?');
      chats.set(f.sessionId, chat);
      if (chat.events.has(f.seq)) return; // replayed or raced: seen already
      chat.events.set(f.seq, toEvent(f));
      if (f.from !== 'agent' && (active !== f.sessionId || document.hidden)) chat.unread++;
      if (active === f.sessionId) renderTranscript();
      renderTabs();
      save();
      return;
    }
    case 'ack':
      for (const chat of chats.values()) {
        const i = chat.pending.findIndex((p) => p.clientMsgId === f.clientMsgId);
        if (i < 0) continue;
        const [p] = chat.pending.splice(i, 1);
        if (!chat.events.has(f.seq)) chat.events.set(f.seq, { seq: f.seq, from: 'agent', text: p!.text, ts: p!.ts, role: chat.role });
        if (active === chat.id) renderTranscript();
        save();
        return;
      }
      return;
    case 'session_closed': {
      const chat = chats.get(f.sessionId);
      if (!chat) return;
      chat.closed = f.reason;
      chat.pending = chat.pending.filter((p) => p.failed);
      renderAll();
      return;
    }
    case 'status':
      // Ops changed it (admin API): offers stop until the agent goes ready again.
      presence.status = f.status;
      toast(f.status === 'away' ? 'Set away by ops: no new offers until you go ready' : 'Set ready by ops');
      renderPresence();
      save();
      return;
    case 'reply_overdue': {
      const chat = chats.get(f.sessionId);
      if (chat) chat.unread = Math.max(chat.unread, 1);
      toast(`The buyer in ${short(f.sessionId)} has waited ${Math.round((Date.now() - f.waitingSince) / 60_000)} min for your reply`);
      renderTabs();
      return;
    }
    case 'error':
      return onError(f);
    case 'pong':
      return;
  }
}

function newChat(id: string, role: string): Chat {
  return { id, role, events: new Map(), pending: [], unread: 0, draft: '' };
}

/** Resumes, resends and going ready again are the client's; this is what the page shows. */
function onWelcome(sessions: string[], quickReplies: unknown): void {
  if (setQuickReplies(quickReplies)) renderChat();
  const owned = new Set(sessions);
  for (const chat of chats.values()) {
    if (!chat.closed && !owned.has(chat.id)) {
      chat.closed = 'no longer assigned to you';
      chat.pending = [];
    }
  }
  // Offers still live are sent again right after the welcome. One accepted just before the
  // connection dropped may be ours now without its `assigned`: its role is known from the offer.
  const offered = new Map([...offers.values()].map((o) => [o.sessionId, o.role]));
  offers.clear();
  for (const id of sessions) {
    const chat = chats.get(id) ?? newChat(id, offered.get(id) ?? '?');
    delete chat.closed;
    chats.set(id, chat);
  }
  if (!active && sessions[0]) active = sessions[0];
  renderAll();
}

function onError(f: ErrorFrame): void {
  const ref = f.ref;
  if (ref) {
    for (const chat of chats.values()) {
      const p = chat.pending.find((x) => x.clientMsgId === ref);
      if (!p) continue;
      // Refused for now (store down, rate limit): the client sends it again by itself.
      if (f.code !== 'unavailable' && f.code !== 'rate_limited') {
        p.failed = f.message;
        toast(`Message not sent: ${f.message}`, 'error');
        if (active === chat.id) renderTranscript();
      }
      return;
    }
    const offer = offers.get(ref);
    if (offer) {
      offers.delete(ref);
      renderOffers();
      toast(`Offer ${short(ref)} is no longer available (${f.code})`, 'error');
      return;
    }
    const chat = chats.get(ref);
    if (chat && (f.code === 'not_assigned' || f.code === 'unknown_session')) {
      chat.closed = 'no longer assigned to you';
      renderAll();
      return;
    }
    if (chat) delete chat.transferredTo;
    if (ref === 'ready') {
      presence.status = 'offline';
      renderPresence();
      save();
    }
  }
  toast(`${f.code}: ${f.message}`, 'error');
}

// ---------------------------------------------------------------- presence

function renderRoles(): void {
  const chosen = new Set(presence.roles.length ? presence.roles : (claims?.roles ?? knownRoles));
  el.roles.querySelectorAll('label').forEach((l) => l.remove());
  const allowed = claims?.roles ?? knownRoles;
  for (const role of allowed) {
    el.roles.append(h('label.check', {}, h('input', { type: 'checkbox', value: role, checked: chosen.has(role) }), role));
  }
  el.capacity.value = String(presence.capacity);
}

function sendReady(): void {
  if (!conn?.ready(presence.roles, presence.capacity)) toast('Offline: will go ready once reconnected');
}

/** A line's fate when the client gives it up: refused for good (marked, with retry), or its chat ended. */
function track(chat: Chat, p: Pending, acked: Promise<number>): void {
  acked.catch((err: unknown) => {
    if (!chat.pending.includes(p) || p.failed) return;
    if (err instanceof LineRefused && err.code === 'session_gone') chat.pending.splice(chat.pending.indexOf(p), 1);
    else p.failed = err instanceof Error ? err.message : String(err);
    if (active === chat.id) renderTranscript();
    save();
  });
}

el.ready.addEventListener('click', () => {
  const roles = [...el.roles.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);
  const capacity = Math.round(Number(el.capacity.value));
  if (!roles.length) return toast('Pick at least one role', 'error');
  if (!(capacity >= 1 && capacity <= 50)) return toast('Capacity is 1..50', 'error');
  presence = { status: 'ready', roles, capacity };
  sendReady();
  renderPresence();
  save();
});

el.away.addEventListener('click', () => {
  presence.status = 'away';
  conn?.away();
  renderPresence();
  save();
});

function renderPresence(): void {
  const load = openChats().length + offers.size;
  el.presenceState.textContent =
    presence.status === 'ready'
      ? `Ready for ${presence.roles.join(', ')} · ${load}/${presence.capacity} in use`
      : presence.status === 'away'
        ? `Away · no new offers · ${openChats().length} open chat(s)`
        : 'Not ready: no offers yet';
  el.ready.textContent = presence.status === 'ready' ? 'Update' : 'Go ready';
  el.away.disabled = presence.status !== 'ready';
}

// ---------------------------------------------------------------- offers

function renderOffers(): void {
  el.offers.replaceChildren();
  el.offerCount.hidden = offers.size === 0;
  el.offerCount.textContent = String(offers.size);
  if (!offers.size) {
    el.offers.append(h('p.muted.small.empty-note', {}, 'No offers right now.'));
    return;
  }
  for (const o of [...offers.values()].sort((a, b) => a.expiresAt - b.expiresAt)) {
    const accept = h('button.primary.accept', { type: 'button', disabled: !!o.busy }, 'Accept');
    const decline = h('button.decline', { type: 'button', disabled: !!o.busy }, 'Decline');
    accept.addEventListener('click', () => {
      if (!conn?.send({ type: 'accept', sessionId: o.sessionId })) return toast('Offline: cannot accept now', 'error');
      o.busy = true;
      renderOffers();
    });
    decline.addEventListener('click', () => {
      if (!conn?.send({ type: 'decline', sessionId: o.sessionId })) return toast('Offline: cannot decline now', 'error');
      offers.delete(o.sessionId);
      renderOffers();
      renderPresence();
    });
    el.offers.append(
      h(
        'div.offer',
        { 'data-session': o.sessionId },
        h('div.offer-head', {}, h('span.role-tag', {}, o.role), h('span.muted.small', {}, short(o.sessionId)), h('span.countdown', { 'data-expires': o.expiresAt }, '')),
        h('div.bar', {}, h('div.bar-fill', { 'data-expires': o.expiresAt, 'data-span': Math.max(1000, o.expiresAt - o.receivedAt) })),
        h('ol.preview', {}, ...o.preview.map((e) => h('li', { class: `from-${e.from}` }, h('b', {}, `${e.from}: `), e.text))),
        h('div.row', {}, accept, decline),
      ),
    );
  }
  tickOffers();
}

/** Countdown text and bar of each offer; offers long past their expiry are dropped. */
function tickOffers(): void {
  const now = Date.now();
  let dropped = false;
  for (const o of offers.values()) {
    if (now > o.expiresAt + 5000) {
      offers.delete(o.sessionId);
      dropped = true;
    }
  }
  if (dropped) {
    renderOffers();
    renderPresence();
    return;
  }
  el.offers.querySelectorAll<HTMLElement>('.countdown').forEach((c) => {
    const left = Number(c.dataset.expires) - now;
    c.textContent = left > 0 ? `${Math.ceil(left / 1000)}s` : 'expiring…';
    c.classList.toggle('urgent', left < 5000);
  });
  el.offers.querySelectorAll<HTMLElement>('.bar-fill').forEach((b) => {
    const left = Number(b.dataset.expires) - now;
    b.style.width = `${Math.max(0, Math.min(100, (left / Number(b.dataset.span)) * 100))}%`;
  });
}

// ---------------------------------------------------------------- chats

function activate(id: string): void {
  const prev = active ? chats.get(active) : undefined;
  if (prev) prev.draft = el.text.value;
  active = id;
  const chat = chats.get(id);
  if (chat) {
    chat.unread = 0;
    el.text.value = chat.draft;
  }
  renderAll();
  el.transcript.scrollTop = el.transcript.scrollHeight;
  el.text.focus();
}

function renderAll(): void {
  renderPresence();
  renderOffers();
  renderTabs();
  renderChat();
  save();
}

function renderTabs(): void {
  el.tabs.replaceChildren();
  el.tabs.hidden = chats.size === 0;
  let unread = 0;
  for (const chat of chats.values()) {
    unread += chat.unread;
    const tab = h(
      'button.tab',
      { type: 'button', role: 'tab', 'aria-selected': String(chat.id === active), 'data-session': chat.id },
      h('span.role-tag', {}, chat.role),
      h('span', {}, short(chat.id)),
      chat.unread ? h('span.badge.unread', {}, String(chat.unread)) : null,
    );
    if (chat.closed) tab.classList.add('closed');
    tab.addEventListener('click', () => activate(chat.id));
    if (chat.closed) {
      const x = h('span.dismiss', { title: 'Remove this tab', role: 'button' }, '×');
      x.addEventListener('click', (e) => {
        e.stopPropagation();
        chats.delete(chat.id);
        if (active === chat.id) active = openChats()[0]?.id ?? [...chats.keys()][0] ?? null;
        renderAll();
      });
      tab.append(x);
    }
    el.tabs.append(tab);
  }
  document.title = unread ? `(${unread}) peakdesk · agent workbench` : 'peakdesk · agent workbench';
}

function renderChat(): void {
  const chat = active ? chats.get(active) : undefined;
  el.empty.hidden = !!chat;
  el.chat.hidden = !chat;
  if (!chat) return;
  el.title.textContent = `Chat ${short(chat.id)} · ${chat.role}`;
  const route = chat.roleHistory?.length ? chat.roleHistory : chat.handovers?.length ? [chat.handovers[0]!.fromRole, ...chat.handovers.map((x) => x.toRole)] : [];
  el.route.textContent = route.length > 1 ? `Route: ${route.join(' → ')}` : '';
  renderHandover(chat);
  renderTranscript();
  el.closedBanner.hidden = !chat.closed;
  el.live.hidden = !!chat.closed;
  if (chat.closed) {
    el.closedBanner.textContent =
      chat.closed === 'transferred' ? `Transferred${chat.transferredTo ? ` to ${chat.transferredTo}` : ''}. This chat is read-only.` : `Chat ended (${chat.closed}). This chat is read-only.`;
  }
  el.quick.replaceChildren(
    ...quickRepliesFor(chat.role).map((text) => {
      const b = h('button.chip', { type: 'button', title: 'Insert into the reply (double-click sends)' }, text);
      b.addEventListener('click', () => {
        el.text.value = el.text.value ? `${el.text.value} ${text}` : text;
        el.text.focus();
      });
      b.addEventListener('dblclick', () => {
        el.text.value = text;
        sendText();
      });
      return b;
    }),
  );
  el.transferRole.replaceChildren(...knownRoles.filter((r) => r !== chat.role).map((r) => h('option', { value: r }, r)));
}

function renderHandover(chat: Chat): void {
  const items: HTMLElement[] = [];
  for (const x of chat.handovers ?? []) {
    items.push(
      h(
        'li',
        {},
        h('b', {}, `${x.fromRole} → ${x.toRole}`),
        h('span.muted.small', {}, ` ${x.agentId ? `by ${x.agentId} · ` : ''}${clock(x.ts)}`),
        x.note ? h('blockquote', {}, x.note) : null,
      ),
    );
  }
  const showNote = chat.note && !(chat.handovers ?? []).some((x) => x.note === chat.note);
  el.handover.hidden = !items.length && !showNote;
  el.handover.replaceChildren(h('h3', {}, 'Handover'));
  if (showNote) el.handover.append(h('p.note', {}, h('b', {}, 'Note from the previous agent: '), chat.note!));
  if (items.length) el.handover.append(h('ol.handovers', {}, ...items));
}

function renderTranscript(): void {
  const chat = active ? chats.get(active) : undefined;
  if (!chat) return;
  keepAtBottom(el.transcript, () => {
    const events = [...chat.events.values()].sort((a, b) => a.seq - b.seq);
    el.transcript.replaceChildren(
      ...events.map((e) =>
        h(
          'li.msg',
          { class: `msg from-${e.from}${e.kind ? ` kind-${e.kind}` : ''}`, 'data-seq': e.seq },
          h('div.meta', {}, `${e.from === 'agent' ? `agent${e.role ? ` · ${e.role}` : ''}` : e.from} · ${clock(e.ts)} · #${e.seq}`),
          h('div.text', {}, e.text),
        ),
      ),
      ...chat.pending.map((p) => {
        const li = h('li.msg', { class: 'msg from-agent pending' }, h('div.meta', {}, p.failed ? `not sent: ${p.failed}` : 'sending…'), h('div.text', {}, p.text));
        if (p.failed) {
          li.classList.add('failed');
          const retry = h('button.link', { type: 'button' }, 'retry');
          retry.addEventListener('click', () => {
            delete p.failed;
            if (conn) track(chat, p, conn.say(chat.id, p.text, p.clientMsgId).acked);
            renderTranscript();
          });
          const drop = h('button.link', { type: 'button' }, 'discard');
          drop.addEventListener('click', () => {
            chat.pending.splice(chat.pending.indexOf(p), 1);
            renderTranscript();
            save();
          });
          li.append(h('div.meta', {}, retry, ' · ', drop));
        }
        return li;
      }),
    );
  });
}

function sendText(): void {
  const chat = active ? chats.get(active) : undefined;
  const text = el.text.value.trim();
  if (!chat || chat.closed || !text) return;
  if (!conn) return;
  // Offline: it stays pending and goes out after the next welcome.
  const line = conn.say(chat.id, text);
  const p: Pending = { clientMsgId: line.clientMsgId, text, ts: Date.now() };
  chat.pending.push(p);
  track(chat, p, line.acked);
  el.text.value = '';
  chat.draft = '';
  renderTranscript();
  el.transcript.scrollTop = el.transcript.scrollHeight;
  save();
}

onSend(el.composer, el.text, sendText);

el.transferForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const chat = active ? chats.get(active) : undefined;
  const toRole = el.transferRole.value;
  if (!chat || chat.closed || !toRole) return;
  const note = el.transferNote.value.trim();
  if (!conn?.send({ type: 'transfer', sessionId: chat.id, toRole, ...(note ? { note } : {}) })) return toast('Offline: cannot transfer now', 'error');
  chat.transferredTo = toRole;
  el.transferNote.value = '';
});

el.closeChat.addEventListener('click', () => {
  const chat = active ? chats.get(active) : undefined;
  if (!chat || chat.closed) return;
  if (!conn?.send({ type: 'close', sessionId: chat.id })) toast('Offline: cannot close now', 'error');
});

el.blockForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const chat = active ? chats.get(active) : undefined;
  const reason = el.blockReason.value.trim();
  if (!chat || chat.closed || !reason) return;
  if (!conn?.send({ type: 'block', sessionId: chat.id, reason })) return toast('Offline: cannot block now', 'error');
  el.blockReason.value = '';
});

document.addEventListener('visibilitychange', () => {
  const chat = active ? chats.get(active) : undefined;
  if (!document.hidden && chat?.unread) {
    chat.unread = 0;
    renderTabs();
  }
});

const signin = signIn({
  kind: 'agent',
  storageKey: 'peakdesk.agent.token',
  el,
  app: el.app,
  start,
  signout: () => {
    conn?.stop();
    store?.clear();
  },
});
