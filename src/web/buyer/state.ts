/**
 * The buyer widget's state, apart from the DOM: what each frame from the gateway does to the
 * one chat the widget shows. `apply` is pure apart from mutating the state it is given, so it
 * is unit-tested without a browser (test/web-buyer-state.test.ts); main.ts feeds it frames and
 * view.ts draws the result.
 */
import { toEvent, type BuyerServerFrame, type TranscriptEvent } from '../../client/frames.ts';

export type Attachments = NonNullable<TranscriptEvent['attachments']>;

export interface Pending {
  clientMsgId: string;
  text: string;
  ts: number;
  failed?: string;
  /** Images uploaded for this line (with their `url`, to show them before the ack). */
  attachments?: Attachments;
}

/** Not a transcript event: shown after the event with seq `afterSeq`, in the page's language. */
export type Notice = { afterSeq: number; ts: number } & (
  | { kind: 'handover'; fromRole: string; toRole: string }
  | { kind: 'closed'; blocked: boolean }
);

export interface BuyerState {
  sessionId: string | null;
  events: Map<number, TranscriptEvent>;
  notices: Notice[];
  pending: Pending[];
  queue?: { role: string; position: number; etaSeconds?: number };
  /** The team the chat is queued for or was handed to (from `queue` and `handover`). */
  role?: string;
  agentRole?: string;
  closed?: string;
  ratingInvited?: boolean;
  rated?: number;
  /** Role display names and the shop's name, from the welcome of a server that sends them. */
  roleNames: Record<string, string>;
  shopName?: string;
}

/** What sessionStorage keeps of the state (a Map does not survive JSON). */
export type Saved = Omit<BuyerState, 'events'> & { events: TranscriptEvent[] };

/** What the page does besides drawing the new state. */
export type Effect = { kind: 'new_session' };

export function initialState(): BuyerState {
  return { sessionId: null, events: new Map(), notices: [], pending: [], roleNames: {} };
}

export function restore(saved: Saved): BuyerState {
  return { ...saved, roleNames: saved.roleNames ?? {}, notices: saved.notices.filter((n) => 'kind' in n), events: new Map(saved.events.map((e) => [e.seq, e])) };
}

export function toSaved(s: BuyerState): Saved {
  return { ...s, events: [...s.events.values()] };
}

export const roleLabel = (s: BuyerState, role: string) => (Object.hasOwn(s.roleNames, role) ? s.roleNames[role]! : role);

const lastSeqShown = (s: BuyerState) => Math.max(0, ...s.events.keys());

/** Applies one frame; `error` frames are the page's (they need the connection), ignored here. */
export function apply(s: BuyerState, f: BuyerServerFrame): Effect[] {
  switch (f.type) {
    case 'welcome': {
      const extra = f as { roleNames?: Record<string, string>; shopName?: string };
      if (extra.roleNames) s.roleNames = { ...extra.roleNames };
      if (extra.shopName) s.shopName = extra.shopName;
      // The client resumes and resends by itself; a new conversation (the last one ended) starts
      // a clean transcript, and lines not sent yet go into it.
      if (s.sessionId === f.sessionId) return [];
      Object.assign(s, { sessionId: f.sessionId, events: new Map(), notices: [] });
      for (const k of ['queue', 'role', 'agentRole', 'closed', 'ratingInvited', 'rated'] as const) delete s[k];
      return [{ kind: 'new_session' }];
    }
    case 'ack': {
      const i = s.pending.findIndex((p) => p.clientMsgId === f.clientMsgId);
      if (i < 0) return [];
      const [p] = s.pending.splice(i, 1);
      if (!s.events.has(f.seq)) s.events.set(f.seq, { seq: f.seq, from: 'buyer', text: p!.text, ts: p!.ts, ...(p!.attachments ? { attachments: p!.attachments } : {}) });
      return [];
    }
    case 'message':
      if (f.sessionId !== s.sessionId || s.events.has(f.seq)) return [];
      s.events.set(f.seq, toEvent(f));
      if (f.from === 'agent') {
        delete s.queue;
        s.agentRole = f.role ?? s.role ?? s.agentRole ?? 'service';
      }
      if (f.kind === 'rating_invite') s.ratingInvited = true;
      return [];
    case 'queue':
      if (f.sessionId !== s.sessionId) return [];
      s.queue = { role: f.role, position: f.position, ...(f.etaSeconds !== undefined ? { etaSeconds: f.etaSeconds } : {}) };
      s.role = f.role;
      delete s.agentRole;
      return [];
    case 'handover':
      if (f.sessionId !== s.sessionId) return [];
      s.notices.push({ afterSeq: lastSeqShown(s), ts: Date.now(), kind: 'handover', fromRole: f.fromRole, toRole: f.toRole });
      s.role = f.toRole;
      delete s.agentRole;
      delete s.queue;
      return [];
    case 'closed':
      if (f.sessionId !== s.sessionId) return [];
      s.closed = f.reason;
      delete s.queue;
      s.notices.push({ afterSeq: lastSeqShown(s), ts: Date.now(), kind: 'closed', blocked: f.reason === 'blocked' });
      return [];
    default:
      return [];
  }
}

/** The status line: a catalogue key and its values. */
export function status(s: BuyerState): { key: 'buyer.status.ended' | 'buyer.status.agent' | 'buyer.status.waiting' | 'buyer.status.ask'; role?: string } | null {
  if (s.closed) return { key: 'buyer.status.ended' };
  if (s.agentRole) return { key: 'buyer.status.agent', role: roleLabel(s, s.agentRole) };
  if (s.queue) return { key: 'buyer.status.waiting' };
  return s.sessionId ? { key: 'buyer.status.ask' } : null;
}
