/**
 * The workbench's state and how each server frame changes it: no DOM, no socket, so it is
 * unit-tested in node (test/web-agent-state.test.ts). `apply` changes the state in place (a
 * transcript of thousands of lines is not copied per message) and returns what the page should
 * do besides re-rendering: ring for an offer, show a notice.
 *
 * Frame types come from the server's protocol module, type-only (erased from the bundle). The
 * v1.1 fields the server does not send yet (`buyer`, `buyer_status`, `history`) are added here
 * as optional, by their contract names, so the page shows them once it does.
 */
import type { AgentOutbound, Attachment as WireAttachment, BuyerContext, Card as WireCard, HistoryEntry, MessageOut } from '../../protocol/frames.ts';
import type { MessageKey } from '../shared/i18n/zh-CN.ts';

/** One of the buyer's orders, as the shop's context hook gave it. */
export type Order = NonNullable<BuyerContext['orders']>[number];

/** `buyer` of `offer`/`assigned` (PROTOCOL v1.1). */
export type Buyer = NonNullable<Extract<AgentOutbound, { type: 'offer' }>['buyer']>;

/** One entry of a `history` answer (a past or the current session of the chat's buyer). */
export type PastSession = HistoryEntry;

type WithBuyer<F> = F extends { type: 'offer' | 'assigned' } ? F & { buyer?: Buyer; overflow?: boolean; sticky?: boolean } : F;
type WithWelcomeExtras<F> = F extends { type: 'welcome' } ? F & { roleNames?: Record<string, string>; shopName?: string } : F;
/** What the workbench takes from its socket. */
export type AgentFrame = WithWelcomeExtras<WithBuyer<AgentOutbound>>;

/** A past session's transcript the agent opened from the buyer panel (`history_transcript`). */
export interface PastTranscript {
  /** The chat it was opened from. */
  chatId: string;
  session: PastSession;
  events: TranscriptEvent[];
}

/** A message's `card` (PROTOCOL v1.1). */
export type Card = WireCard;

/** An uploaded file a message carries (PROTOCOL v1.1); `url` when the server gives one. */
export type Attachment = WireAttachment & { url?: string };

export type TranscriptEvent = Pick<MessageOut, 'seq' | 'from' | 'ts' | 'role' | 'kind'> & { text: string; card?: Card; attachments?: Attachment[] };

export interface Pending {
  clientMsgId: string;
  text: string;
  ts: number;
  failed?: string;
  /** The refusal's error code: `forbidden` (a blocked word) may not be retried unchanged. */
  code?: string;
  card?: Card;
  attachments?: Attachment[];
}

export interface Chat {
  id: string;
  role: string;
  events: Map<number, TranscriptEvent>;
  pending: Pending[];
  note?: string;
  roleHistory?: string[];
  handovers?: { fromRole: string; toRole: string; note?: string; agentId?: string; ts: number }[];
  unread: number;
  /** Why the chat ended, once it has. */
  closed?: string;
  transferredTo?: string;
  draft: string;
  buyer?: Buyer;
  /** When the buyer's oldest unanswered line arrived; undefined when the agent spoke last. */
  waitingSince?: number;
  /** Last activity, for ordering chats nobody waits in. */
  lastTs: number;
  /** Highest seq held: an event past it arrives in order, so the wait updates without a rescan. */
  maxSeq?: number;
  /** `history` answer; undefined = not asked or no answer (yet). */
  history?: PastSession[];
  /** Texts refused for a blocked word: sending one of them again unchanged is not allowed. */
  refused?: string[];
}

export interface Offer {
  sessionId: string;
  role: string;
  expiresAt: number;
  preview: TranscriptEvent[];
  /** Local time the offer arrived, for the countdown bar's full width. */
  receivedAt: number;
  busy?: boolean;
  buyer?: Buyer;
}

export interface Presence {
  status: 'offline' | 'ready' | 'away';
  roles: string[];
  capacity: number;
}

export interface AgentState {
  chats: Map<string, Chat>;
  offers: Map<string, Offer>;
  active: string | null;
  presence: Presence;
  roleNames: Record<string, string>;
  shopName?: string;
  /** Sessions whose `history` was asked and not answered yet. */
  historyAsked: Set<string>;
  /** false once the server refused a `history` request as an unknown frame (a server before v1.1): not asked again. */
  historySupported?: boolean;
  /** The past session shown over the chat, once its transcript arrived. */
  past?: PastTranscript;
}

/** What the page does besides re-rendering. */
export type Effect =
  | { kind: 'notice'; key: MessageKey; vars?: Record<string, string | number>; level?: 'info' | 'error' }
  | { kind: 'offer'; offer: Offer }
  | { kind: 'quickReplies'; value: unknown }
  | { kind: 'transcript'; sessionId: string };

export interface Ctx {
  now: number;
  /** Whether the page is visible: a message to a hidden page counts as unread even in the open chat. */
  visible: boolean;
}

export const REPLY_WINDOW_MS = 300_000;

export function initialState(): AgentState {
  return { chats: new Map(), offers: new Map(), active: null, presence: { status: 'offline', roles: [], capacity: 3 }, roleNames: {}, historyAsked: new Set() };
}

export function newChat(id: string, role: string, now = 0): Chat {
  return { id, role, events: new Map(), pending: [], unread: 0, draft: '', lastTs: now };
}

const toEvent = (f: Omit<TranscriptEvent, 'text'> & { text?: string }): TranscriptEvent => {
  const e: TranscriptEvent = { seq: f.seq, from: f.from, text: f.text ?? '', ts: f.ts };
  if (f.role) e.role = f.role;
  if (f.kind) e.kind = f.kind;
  if (f.card && typeof f.card === 'object' && typeof f.card.title === 'string') e.card = f.card;
  if (Array.isArray(f.attachments)) e.attachments = f.attachments.slice(0, 4);
  return e;
};

/** Recomputes `waitingSince` from the whole transcript (after a replay or an out-of-order event). */
export function recomputeWait(chat: Chat): void {
  let since: number | undefined;
  let last = chat.lastTs;
  let max = 0;
  for (const e of [...chat.events.values()].sort((a, b) => a.seq - b.seq)) {
    last = Math.max(last, e.ts);
    max = e.seq;
    if (e.from === 'agent') since = undefined;
    else if (e.from === 'buyer' && since === undefined) since = e.ts;
  }
  chat.lastTs = last;
  chat.maxSeq = max;
  if (since === undefined) delete chat.waitingSince;
  else chat.waitingSince = since;
}

function addEvent(chat: Chat, e: TranscriptEvent): void {
  const inOrder = e.seq > (chat.maxSeq ?? 0);
  chat.events.set(e.seq, e);
  if (!inOrder) return recomputeWait(chat);
  chat.maxSeq = e.seq;
  chat.lastTs = Math.max(chat.lastTs, e.ts);
  if (e.from === 'agent') delete chat.waitingSince;
  else if (e.from === 'buyer' && chat.waitingSince === undefined) chat.waitingSince = e.ts;
}

/** The chats as the list shows them: open ones with a waiting buyer, longest wait first; then the other open ones, latest activity first; then the ended ones. */
export function chatOrder(s: AgentState): Chat[] {
  const rank = (c: Chat) => (c.closed ? 2 : c.waitingSince !== undefined ? 0 : 1);
  return [...s.chats.values()].sort((a, b) => rank(a) - rank(b) || (rank(a) === 0 ? a.waitingSince! - b.waitingSince! : b.lastTs - a.lastTs));
}

/** `ok` / `amber` (past half of the reply window) / `red` (past 80 %): the timer's colour. */
export function urgency(waitedMs: number, windowMs = REPLY_WINDOW_MS): 'ok' | 'amber' | 'red' {
  return waitedMs >= windowMs * 0.8 ? 'red' : waitedMs >= windowMs * 0.5 ? 'amber' : 'ok';
}

export const openChats = (s: AgentState): Chat[] => [...s.chats.values()].filter((c) => !c.closed);

export const unreadTotal = (s: AgentState): number => [...s.chats.values()].reduce((n, c) => n + c.unread, 0);

/** A short readable id for a buyer without a name: the last 6 characters. */
export const shortId = (id: string): string => (id.length > 8 ? `…${id.slice(-6)}` : id);

export function buyerLabel(chat: { buyer?: Buyer; id?: string; sessionId?: string }): string {
  const b = chat.buyer;
  if (b?.name) return b.name;
  return shortId(b?.id ?? chat.id ?? chat.sessionId ?? '?');
}

export function roleLabel(s: AgentState, role: string): string {
  return Object.hasOwn(s.roleNames, role) ? s.roleNames[role]! : role;
}

/** The next chat with unread lines after the active one, in list order. */
export function nextUnread(s: AgentState): string | null {
  const list = chatOrder(s).filter((c) => c.unread > 0 && c.id !== s.active);
  return list[0]?.id ?? null;
}

/** Whether to send `history` for this chat now: once per chat, never to a server that refused it. */
export function wantHistory(s: AgentState, id: string): boolean {
  const chat = s.chats.get(id);
  if (!chat || chat.history || s.historySupported === false || s.historyAsked.has(id)) return false;
  s.historyAsked.add(id);
  return true;
}

export function activate(s: AgentState, id: string): void {
  s.active = id;
  const chat = s.chats.get(id);
  if (chat) chat.unread = 0;
}

export function apply(s: AgentState, f: AgentFrame, ctx: Ctx): Effect[] {
  switch (f.type) {
    case 'welcome': {
      if (f.roleNames) s.roleNames = { ...f.roleNames };
      if (f.shopName) s.shopName = f.shopName;
      const owned = new Set(f.sessions);
      for (const chat of s.chats.values()) {
        if (!chat.closed && !owned.has(chat.id)) {
          chat.closed = 'gone';
          chat.pending = [];
        }
      }
      // Offers still live are sent again right after the welcome. One accepted just before the
      // connection dropped may be ours now without its `assigned`: its role is known from the offer.
      const offered = new Map([...s.offers.values()].map((o) => [o.sessionId, o] as const));
      s.offers.clear();
      for (const id of f.sessions) {
        const o = offered.get(id);
        const chat = s.chats.get(id) ?? newChat(id, o?.role ?? '?', ctx.now);
        if (o?.buyer && !chat.buyer) chat.buyer = o.buyer;
        delete chat.closed;
        s.chats.set(id, chat);
      }
      if (!s.active && f.sessions[0]) s.active = f.sessions[0];
      return [{ kind: 'quickReplies', value: f.quickReplies }];
    }
    case 'offer': {
      const offer: Offer = { sessionId: f.sessionId, role: f.role, expiresAt: f.expiresAt, preview: f.preview.map(toEvent), receivedAt: ctx.now };
      const prev = s.offers.get(f.sessionId);
      const buyer = f.buyer ?? prev?.buyer;
      if (buyer) offer.buyer = buyer;
      const fresh = !prev;
      s.offers.set(f.sessionId, offer);
      return fresh ? [{ kind: 'offer', offer }] : [];
    }
    case 'revoked':
      return s.offers.delete(f.sessionId) ? [{ kind: 'notice', key: 'agent.toast.withdrawn', vars: { id: shortId(f.sessionId), reason: f.reason } }] : [];
    case 'assigned': {
      const offer = s.offers.get(f.sessionId);
      s.offers.delete(f.sessionId);
      const chat = s.chats.get(f.sessionId) ?? newChat(f.sessionId, f.role, ctx.now);
      chat.role = f.role;
      for (const e of f.transcript) chat.events.set(e.seq, toEvent(e));
      recomputeWait(chat);
      const buyer = f.buyer ?? offer?.buyer;
      if (buyer) chat.buyer = { ...chat.buyer, ...buyer };
      if (f.note !== undefined) chat.note = f.note;
      if (f.roleHistory) chat.roleHistory = f.roleHistory;
      if (f.handovers) chat.handovers = f.handovers;
      delete chat.closed;
      delete chat.transferredTo;
      s.chats.set(f.sessionId, chat);
      if (!s.active || s.chats.get(s.active)?.closed) s.active = f.sessionId;
      else if (s.active !== f.sessionId) chat.unread = Math.max(chat.unread, 1);
      return [];
    }
    case 'message': {
      const chat = s.chats.get(f.sessionId) ?? newChat(f.sessionId, f.role ?? '?', ctx.now);
      s.chats.set(f.sessionId, chat);
      if (chat.events.has(f.seq)) return []; // replayed or raced: seen already
      addEvent(chat, toEvent(f));
      if (f.from !== 'agent' && (s.active !== f.sessionId || !ctx.visible)) chat.unread++;
      return [{ kind: 'transcript', sessionId: f.sessionId }];
    }
    case 'ack':
      for (const chat of s.chats.values()) {
        const i = chat.pending.findIndex((p) => p.clientMsgId === f.clientMsgId);
        if (i < 0) continue;
        const [p] = chat.pending.splice(i, 1);
        if (!chat.events.has(f.seq)) addEvent(chat, { seq: f.seq, from: 'agent', text: p!.text, ts: p!.ts, role: chat.role, ...(p!.card ? { card: p!.card } : {}), ...(p!.attachments ? { attachments: p!.attachments } : {}) });
        return [{ kind: 'transcript', sessionId: chat.id }];
      }
      return [];
    case 'session_closed': {
      const chat = s.chats.get(f.sessionId);
      if (!chat) return [];
      chat.closed = f.reason;
      delete chat.waitingSince;
      chat.pending = chat.pending.filter((p) => p.failed);
      return [];
    }
    case 'status':
      // Ops changed it (admin API): offers stop until the agent goes ready again.
      s.presence.status = f.status;
      return [{ kind: 'notice', key: f.status === 'away' ? 'agent.toast.setAway' : 'agent.toast.setReady' }];
    case 'reply_overdue': {
      const chat = s.chats.get(f.sessionId);
      if (chat) chat.unread = Math.max(chat.unread, 1);
      return [{ kind: 'notice', key: 'agent.toast.overdue', vars: { buyer: chat ? buyerLabel(chat) : shortId(f.sessionId), min: Math.round((ctx.now - f.waitingSince) / 60_000) } }];
    }
    case 'buyer_status': {
      const target = s.chats.get(f.sessionId) ?? s.offers.get(f.sessionId);
      if (target) target.buyer = { ...(target.buyer ?? { id: '', vip: 0 }), online: f.online };
      return [];
    }
    case 'history': {
      s.historySupported = true;
      s.historyAsked.delete(f.sessionId);
      const chat = s.chats.get(f.sessionId);
      if (chat && Array.isArray(f.sessions)) chat.history = f.sessions.slice(0, 50);
      return [];
    }
    case 'history_transcript':
      s.past = { chatId: f.sessionId, session: f.session, events: f.transcript.map(toEvent) };
      return [];
    case 'error':
      return applyError(s, f);
    case 'pong':
      return [];
  }
}

/** Marks a line refused for good; one with a blocked word is remembered so it cannot go again unchanged. */
export function refuse(chat: Chat, p: Pending, code: string | undefined, why: string): void {
  p.failed = why;
  if (code) p.code = code;
  if (code === 'forbidden' && p.text && !chat.refused?.includes(p.text)) chat.refused = [...(chat.refused ?? []).slice(-9), p.text];
}

/** Whether `text` may be sent in this chat: not when exactly that text was refused for a blocked word. */
export function maySend(chat: Chat, text: string): boolean {
  return !chat.refused?.includes(text.trim());
}

function applyError(s: AgentState, f: Extract<AgentFrame, { type: 'error' }>): Effect[] {
  const ref = f.ref;
  if (ref && f.code === 'bad_frame' && s.historyAsked.has(ref)) {
    s.historySupported = false;
    s.historyAsked.clear();
    return [];
  }
  if (ref) {
    for (const chat of s.chats.values()) {
      const p = chat.pending.find((x) => x.clientMsgId === ref);
      if (!p) continue;
      // Refused for now (store down, rate limit): the client sends it again by itself.
      if (f.code === 'unavailable' || f.code === 'rate_limited') return [];
      refuse(chat, p, f.code, f.message);
      return [{ kind: 'notice', key: 'agent.toast.notSent', vars: { why: f.message }, level: 'error' }, { kind: 'transcript', sessionId: chat.id }];
    }
    if (s.offers.delete(ref)) return [{ kind: 'notice', key: 'agent.toast.offerGone', vars: { id: shortId(ref), code: f.code }, level: 'error' }];
    const chat = s.chats.get(ref);
    if (chat && (f.code === 'not_assigned' || f.code === 'unknown_session')) {
      chat.closed = 'gone';
      return [];
    }
    if (chat) delete chat.transferredTo;
    if (ref === 'ready') s.presence.status = 'offline';
  }
  return [{ kind: 'notice', key: 'common.error', vars: { code: f.code, message: f.message }, level: 'error' }];
}
