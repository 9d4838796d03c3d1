/**
 * Agent workbench, the wiring: sign in, connect (the SDK's AgentClient resumes, resends and
 * goes ready again after an outage), feed frames to state.ts, draw with view.ts, ring with
 * alerts.ts. Chats, drafts and unsent messages are kept in sessionStorage, so a reload keeps
 * them.
 */
import { AgentClient } from '../../client/agent-client.ts';
import { LineRefused } from '../../client/session-state.ts';
import { DEFAULT_ROLES } from '../../client/frames.ts';
import { byId, onImage, onSend, persister, showStatus, toast, upload, withToken } from '../shared/dom.ts';
import { mountLangSwitch, t } from '../shared/i18n/index.ts';
import { commonElements, gatewayUrl, refusedText, signIn } from '../shared/signin.ts';
import type { Claims } from '../shared/token.ts';
import { askNotifyOnce, badge, beep, muted, notify, setMuted } from './alerts.ts';
import { quickRepliesFor, setQuickReplies } from './quick-replies.ts';
import { activate, apply, buyerLabel, initialState, maySend, nextUnread, refuse, roleLabel, unreadTotal, type AgentFrame, type Attachment, type Card, type Chat, type Effect, type Pending, type Presence } from './state.ts';
import { createView } from './view.ts';

interface Saved {
  chats: (Omit<Chat, 'events'> & { events: Chat['events'] extends Map<number, infer E> ? E[] : never })[];
  active: string | null;
  presence: Presence;
}

mountLangSwitch('agent.title');

let claims: Claims | null = null;
let token = '';
let conn: AgentClient | null = null;
let store: ReturnType<typeof persister<Saved>> | null = null;
const s = initialState();
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
  chatList: byId('chat-list'),
  empty: byId('chat-empty'),
  chat: byId('chat'),
  title: byId('chat-title'),
  route: byId('chat-route'),
  handover: byId('handover'),
  transcript: byId('transcript'),
  closedBanner: byId('closed-banner'),
  live: byId('live-controls'),
  quick: byId('quick'),
  buyerPanel: byId('buyer-panel'),
  composer: byId<HTMLFormElement>('composer'),
  text: byId<HTMLTextAreaElement>('text'),
  transferForm: byId<HTMLFormElement>('transfer-form'),
  transferRole: byId<HTMLSelectElement>('transfer-role'),
  transferNote: byId<HTMLInputElement>('transfer-note'),
  closeChat: byId<HTMLButtonElement>('close-chat'),
  blockForm: byId<HTMLFormElement>('block-form'),
  blockReason: byId<HTMLInputElement>('block-reason'),
  mute: byId<HTMLButtonElement>('mute'),
  helpButton: byId<HTMLButtonElement>('help-button'),
  help: byId<HTMLDialogElement>('help'),
  past: byId<HTMLDialogElement>('past'),
  pastTitle: byId('past-title'),
  pastMeta: byId('past-meta'),
  pastTranscript: byId('past-transcript'),
  pastClose: byId<HTMLButtonElement>('past-close'),
  attach: byId<HTMLInputElement>('attach'),
  cardTool: byId<HTMLDetailsElement>('card-tool'),
  cardForm: byId<HTMLFormElement>('card-form'),
  cardId: byId<HTMLInputElement>('card-id'),
  cardTitle: byId<HTMLInputElement>('card-title'),
  cardPrice: byId<HTMLInputElement>('card-price'),
  cardUrl: byId<HTMLInputElement>('card-url'),
};

const activeChat = (): Chat | undefined => (s.active ? s.chats.get(s.active) : undefined);

const view = createView(s, el, {
  accept,
  decline: (o) => {
    if (!conn?.decline(o.sessionId)) return toast(t('agent.toast.offline'), 'error');
    s.offers.delete(o.sessionId);
    view.schedule('offers', 'presence');
    updateBadge();
  },
  activate: open,
  dismiss: (id) => {
    s.chats.delete(id);
    if (s.active === id) s.active = [...s.chats.values()].find((c) => !c.closed)?.id ?? [...s.chats.keys()][0] ?? null;
    changed('list', 'chat');
  },
  retry: (chat, p) => {
    delete p.failed;
    if (conn) track(chat, p, conn.say(chat.id, p.text, p.clientMsgId, extrasOf(p)).acked);
    changed('chat');
  },
  edit: (chat, p) => {
    chat.pending.splice(chat.pending.indexOf(p), 1);
    el.text.value = p.text;
    el.text.focus();
    changed('chat');
  },
  discard: (chat, p) => {
    chat.pending.splice(chat.pending.indexOf(p), 1);
    changed('chat');
  },
  insertQuick,
  // The buyer's past sessions (PROTOCOL v1.1), asked when a chat is first shown; see wantHistory.
  askHistory: (id) => conn?.send({ type: 'history', sessionId: id }),
  pastSession: (chat, id) => {
    if (!conn?.send({ type: 'history_transcript', sessionId: chat.id, pastSessionId: id })) toast(t('agent.toast.offline'), 'error');
  },
  fileSrc: (url, via) => withToken(url, token, via ? { via } : {}),
}, () => knownRoles);

function closePast(): void {
  delete s.past;
  if (el.past.open) el.past.close();
}
el.pastClose.addEventListener('click', closePast);
el.past.addEventListener('close', () => delete s.past);

function changed(...parts: Parameters<typeof view.schedule>): void {
  view.schedule(...parts);
  updateBadge();
  save();
}

// ---------------------------------------------------------------- start

function start(signedToken: string, signedIn: Claims): void {
  token = signedToken;
  claims = signedIn;
  if (claims.roles?.length) knownRoles = [...new Set([...claims.roles, ...DEFAULT_ROLES])];
  store = persister<Saved>(`peakdesk.agent.state.${claims.shop}.${claims.sub}`);
  restore();
  renderRoles();
  view.schedule('presence', 'offers', 'list', 'chat');
  conn = new AgentClient({
    url: gatewayUrl(''),
    token: () => token,
    onFrame: (f) => onFrame(f as unknown as AgentFrame),
    onStatus: (st) => {
      showStatus(el.conn, st);
      if (st.state === 'refused') signin.show(refusedText(st, 'agent'));
      if (st.state === 'waiting') for (const o of s.offers.values()) o.busy = false;
    },
  });
  const open = [...s.chats.values()].filter((c) => !c.closed);
  conn.restore(open.map((c) => [c.id, c.events.keys()] as [string, Iterable<number>]));
  for (const chat of open) for (const p of chat.pending) if (!p.failed) track(chat, p, conn.say(chat.id, p.text, p.clientMsgId, extrasOf(p)).acked);
  if (s.presence.status === 'ready') conn.ready(s.presence.roles, s.presence.capacity);
  conn.start();
  setInterval(tick, 1000);
  (window as unknown as { __peakdesk: unknown }).__peakdesk = { drop: () => conn?.drop(), state: s, feed: onFrame };
}

function restore(): void {
  const saved = store!.load();
  if (!saved) return;
  for (const c of saved.chats) s.chats.set(c.id, { ...c, events: new Map(c.events.map((e) => [e.seq, e])) });
  s.active = saved.active && s.chats.has(saved.active) ? saved.active : null;
  s.presence = saved.presence;
  const chat = activeChat();
  if (chat) el.text.value = chat.draft;
}

function save(): void {
  store?.save(() => ({
    chats: [...s.chats.values()].map((c) => ({ ...c, events: [...c.events.values()] })),
    active: s.active,
    presence: s.presence,
  }));
}

function tick(): void {
  const now = Date.now();
  let dropped = false;
  for (const o of s.offers.values()) if (now > o.expiresAt + 5000) dropped = s.offers.delete(o.sessionId);
  if (dropped) changed('offers', 'presence');
  view.tick(now);
}

let badgeTimer: ReturnType<typeof setTimeout> | undefined;

/** Coalesced (a burst of lines redraws it once); a timer, not an animation frame, as those stop while the page is hidden. */
function updateBadge(): void {
  if (badgeTimer) return;
  badgeTimer = setTimeout(() => {
    badgeTimer = undefined;
    const n = s.offers.size + unreadTotal(s);
    badge(n, t('agent.title'), t('agent.docTitle', { n }));
  }, 50);
}

// ---------------------------------------------------------------- frames

function onFrame(f: AgentFrame): void {
  const effects = apply(s, f, { now: Date.now(), visible: !document.hidden });
  for (const e of effects) effect(e);
  if (f.type === 'welcome' && f.roleNames) renderRoles();
  switch (f.type) {
    case 'message':
    case 'ack':
      view.schedule('list', s.active === ('sessionId' in f ? f.sessionId : s.active) ? 'transcript' : 'list');
      break;
    case 'pong':
      return;
    case 'history_transcript':
      view.schedule('past');
      break;
    default:
      view.schedule('presence', 'offers', 'list', 'chat');
  }
  updateBadge();
  save();
}

function effect(e: Effect): void {
  switch (e.kind) {
    case 'notice':
      return toast(t(e.key, e.vars), e.level);
    case 'quickReplies':
      setQuickReplies(e.value);
      return;
    case 'transcript':
      if (e.sessionId === s.active) view.schedule('transcript');
      return;
    case 'offer': {
      beep();
      const first = e.offer.preview.find((x) => x.from === 'buyer') ?? e.offer.preview[0];
      notify(t('agent.notify.title', { role: roleLabel(s, e.offer.role) }), t('agent.notify.body', { buyer: buyerLabel(e.offer), text: first?.text ?? '' }), e.offer.sessionId);
      return;
    }
  }
}

// ---------------------------------------------------------------- actions

function accept(o: { sessionId: string; busy?: boolean }): void {
  if (!conn?.accept(o.sessionId)) return toast(t('agent.toast.offline'), 'error');
  o.busy = true;
  view.schedule('offers');
}

function open(id: string): void {
  const prev = activeChat();
  if (prev) prev.draft = el.text.value;
  activate(s, id);
  el.text.value = activeChat()?.draft ?? '';
  changed('list', 'chat');
  view.flushNow();
  el.transcript.scrollTop = el.transcript.scrollHeight;
  el.text.focus();
}

function insertQuick(text: string, send: boolean): void {
  if (send) el.text.value = text;
  else el.text.value = el.text.value ? `${el.text.value} ${text}` : text;
  el.text.focus();
  if (send) sendText();
  else keepDraft();
}

function keepDraft(): void {
  const chat = activeChat();
  if (chat) {
    chat.draft = el.text.value;
    save();
  }
}

/** A line's fate when the client gives it up: refused for good (marked), or its chat ended. */
function track(chat: Chat, p: Pending, acked: Promise<number>): void {
  acked.catch((err: unknown) => {
    if (!chat.pending.includes(p) || p.failed) return;
    if (err instanceof LineRefused && err.code === 'session_gone') chat.pending.splice(chat.pending.indexOf(p), 1);
    else refuse(chat, p, err instanceof LineRefused ? err.code : undefined, err instanceof Error ? err.message : String(err));
    if (s.active === chat.id) view.schedule('chat');
    save();
  });
}

function sendText(): void {
  const chat = activeChat();
  const text = el.text.value.trim();
  if (!chat || chat.closed || !text || !conn) return;
  // The same text was refused for a blocked word: it would be refused again.
  if (!maySend(chat, text)) return toast(t('agent.blockedWord'), 'error');
  say(chat, text);
  el.text.value = '';
  chat.draft = '';
}

/** What a pending line carries besides its text, as the frame takes it (no `url`). */
function extrasOf(p: Pending): { card?: Card & { price?: string }; attachments?: Omit<Attachment, 'url'>[] } {
  return {
    ...(p.card ? { card: { ...p.card, ...(p.card.price !== undefined ? { price: String(p.card.price) } : {}) } as Card & { price?: string } } : {}),
    ...(p.attachments ? { attachments: p.attachments.map(({ url: _url, ...a }) => a) } : {}),
  };
}

/** Sends a line (text, a card, images); offline it stays pending and goes out after the next welcome. */
function say(chat: Chat, text: string, more: { card?: Card; attachments?: Attachment[] } = {}): void {
  const p: Pending = { clientMsgId: '', text, ts: Date.now(), ...more };
  const line = conn!.say(chat.id, text, undefined, extrasOf(p));
  p.clientMsgId = line.clientMsgId;
  chat.pending.push(p);
  track(chat, p, line.acked);
  changed('chat');
  view.flushNow();
  el.transcript.scrollTop = el.transcript.scrollHeight;
}

/** Uploads an image for the open chat (POST /v1/uploads?sessionId=…), then sends it as an attachment. */
async function sendImage(file: File): Promise<void> {
  const chat = activeChat();
  if (!chat || chat.closed || !conn) return;
  toast(t('agent.uploading'));
  try {
    const up = await upload(file, token, `?sessionId=${encodeURIComponent(chat.id)}`);
    say(chat, '', { attachments: [{ id: up.id, contentType: up.contentType, size: up.size, url: up.url, ...(file.name ? { name: file.name.slice(0, 200) } : {}) }] });
  } catch (err) {
    toast(t('agent.uploadFailed', { why: (err as Error).message }), 'error');
  }
}

onImage(el.text, el.composer, el.attach, (file) => void sendImage(file));

el.cardForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const chat = activeChat();
  if (!chat || chat.closed || !conn) return;
  const id = el.cardId.value.trim();
  const title = el.cardTitle.value.trim();
  if (!id || !title) return toast(t('agent.card.invalid'), 'error');
  const price = el.cardPrice.value.trim();
  const url = el.cardUrl.value.trim();
  say(chat, '', { card: { kind: 'product', id, title, ...(price ? { price } : {}), ...(url ? { url } : {}) } });
  el.cardForm.reset();
  el.cardTool.open = false;
});

function renderRoles(): void {
  const chosen = new Set(s.presence.roles.length ? s.presence.roles : (claims?.roles ?? knownRoles));
  el.roles.querySelectorAll('label').forEach((l) => l.remove());
  for (const role of claims?.roles ?? knownRoles) {
    const box = document.createElement('input');
    box.type = 'checkbox';
    box.value = role;
    box.checked = chosen.has(role);
    const label = document.createElement('label');
    label.className = 'check';
    label.append(box, roleLabel(s, role));
    el.roles.append(label);
  }
  el.capacity.value = String(s.presence.capacity);
}

el.ready.addEventListener('click', () => {
  askNotifyOnce();
  const roles = [...el.roles.querySelectorAll<HTMLInputElement>('input:checked')].map((i) => i.value);
  const capacity = Math.round(Number(el.capacity.value));
  if (!roles.length) return toast(t('agent.toast.pickRole'), 'error');
  if (!(capacity >= 1 && capacity <= 50)) return toast(t('agent.toast.capacity'), 'error');
  s.presence = { status: 'ready', roles, capacity };
  if (!conn?.ready(roles, capacity)) toast(t('agent.toast.offlineReady'));
  changed('presence');
});

el.away.addEventListener('click', () => {
  s.presence.status = 'away';
  conn?.away();
  changed('presence');
});

onSend(el.composer, el.text, sendText);
el.text.addEventListener('input', keepDraft);

function transfer(): void {
  const chat = activeChat();
  const toRole = el.transferRole.value;
  if (!chat || chat.closed || !toRole) return;
  const note = el.transferNote.value.trim();
  if (!conn?.transfer(chat.id, toRole, note || undefined)) return toast(t('agent.toast.offline'), 'error');
  chat.transferredTo = toRole;
  el.transferNote.value = '';
}

el.transferForm.addEventListener('submit', (e) => {
  e.preventDefault();
  transfer();
});

el.closeChat.addEventListener('click', () => {
  const chat = activeChat();
  if (!chat || chat.closed) return;
  if (!confirm(t('agent.confirmClose', { buyer: buyerLabel(chat) }))) return;
  if (!conn?.close(chat.id)) toast(t('agent.toast.offline'), 'error');
});

el.blockForm.addEventListener('submit', (e) => {
  e.preventDefault();
  const chat = activeChat();
  const reason = el.blockReason.value.trim();
  if (!chat || chat.closed || !reason) return;
  if (!confirm(t('agent.confirmBlock', { buyer: buyerLabel(chat), reason }))) return;
  if (!conn?.block(chat.id, reason)) return toast(t('agent.toast.offline'), 'error');
  el.blockReason.value = '';
});

function renderMute(): void {
  el.mute.textContent = muted() ? t('agent.soundOff') : t('agent.soundOn');
  el.mute.setAttribute('aria-pressed', String(!muted()));
}
el.mute.addEventListener('click', () => {
  setMuted(!muted());
  renderMute();
});
renderMute();

el.helpButton.addEventListener('click', () => (el.help.open ? el.help.close() : el.help.showModal()));

/**
 * Shortcuts (shown in #help): Alt+A accept the oldest offer, Alt+N next unread chat,
 * Alt+1..9 quick reply, Ctrl+Enter send, Alt+T transfer, F1 or Alt+/ this help.
 */
document.addEventListener('keydown', (e) => {
  if (e.key === 'F1' || (e.altKey && e.key === '/')) {
    e.preventDefault();
    el.helpButton.click();
    return;
  }
  if (e.ctrlKey && e.key === 'Enter') {
    e.preventDefault();
    sendText();
    return;
  }
  if (!e.altKey || e.ctrlKey || e.metaKey) return;
  const code = e.code;
  if (code === 'KeyA') {
    const o = [...s.offers.values()].filter((x) => !x.busy).sort((a, b) => a.expiresAt - b.expiresAt)[0];
    if (o) accept(o);
  } else if (code === 'KeyN') {
    const id = nextUnread(s);
    if (id) open(id);
  } else if (code === 'KeyT') {
    el.transferRole.focus();
  } else if (/^Digit[1-9]$/.test(code)) {
    const chat = activeChat();
    const text = chat ? quickRepliesFor(chat.role)[Number(code.slice(5)) - 1] : undefined;
    if (text) insertQuick(text, false);
  } else return;
  e.preventDefault();
});

document.addEventListener('visibilitychange', () => {
  const chat = activeChat();
  if (!document.hidden && chat?.unread) {
    chat.unread = 0;
    changed('list');
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
