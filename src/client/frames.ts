/**
 * The wire frames (docs/protocol.md) as clients see them: the SDK, the web pages, the load
 * tool. Written out here rather than imported from src/protocol so a browser bundle never
 * pulls in server code (zod); every field a client does not strictly need is optional, so
 * additions on the server side never break them.
 */

export type From = 'buyer' | 'bot' | 'agent';

/** A transcript event (`message` frame without its `type`). */
export interface TranscriptEvent {
  seq: number;
  from: From;
  text: string;
  ts: number;
  role?: string;
  /** e.g. `"rating_invite"` on the bot line that asks for a rating (optional, newer servers). */
  kind?: string;
  /** A product or order card (PROTOCOL v1.1). */
  card?: { kind: 'product' | 'order'; id: string; title: string; price?: number | string; imageUrl?: string; url?: string; status?: string };
  /** Uploaded images (PROTOCOL v1.1), at most 4. */
  attachments?: { id: string; contentType: string; name?: string; size: number; url?: string }[];
}

export interface Handover {
  fromRole: string;
  toRole: string;
  note?: string;
  agentId?: string;
  ts: number;
}

export interface ErrorFrame {
  type: 'error';
  code: string;
  message: string;
  ref?: string;
}

export type BuyerServerFrame =
  | { type: 'welcome'; sessionId: string; lastSeq: number }
  | { type: 'ack'; clientMsgId: string; seq: number }
  | ({ type: 'message'; sessionId: string } & TranscriptEvent)
  | { type: 'queue'; sessionId: string; role: string; position: number; etaSeconds?: number }
  | { type: 'handover'; sessionId: string; fromRole: string; toRole: string }
  | { type: 'closed'; sessionId: string; reason: string }
  | { type: 'pong' }
  | ErrorFrame;

export type AgentServerFrame =
  | { type: 'welcome'; agentId: string; sessions: string[]; quickReplies?: Record<string, string[]> }
  | { type: 'offer'; sessionId: string; role: string; expiresAt: number; preview: TranscriptEvent[] }
  | { type: 'revoked'; sessionId: string; reason: string }
  | {
      type: 'assigned';
      sessionId: string;
      role: string;
      transcript: TranscriptEvent[];
      note?: string;
      roleHistory?: string[];
      handovers?: Handover[];
    }
  | ({ type: 'message'; sessionId: string } & TranscriptEvent)
  | { type: 'ack'; clientMsgId: string; seq: number }
  | { type: 'session_closed'; sessionId: string; reason: string }
  | { type: 'status'; status: 'ready' | 'away'; reason: string }
  | { type: 'reply_overdue'; sessionId: string; waitingSince: number }
  | { type: 'pong' }
  | ErrorFrame;

/** The roles of the default config; a token's `roles` claim or the server may name others. */
export const DEFAULT_ROLES = ['pre-sale', 'order-edit', 'after-sale', 'bargaining'];

/** Copies the fields of a transcript event out of a `message` frame or a transcript entry. */
export function toEvent(f: TranscriptEvent): TranscriptEvent {
  const e: TranscriptEvent = { seq: f.seq, from: f.from, text: f.text, ts: f.ts };
  if (f.role) e.role = f.role;
  if (f.kind) e.kind = f.kind;
  if (f.card) e.card = f.card;
  if (f.attachments) e.attachments = f.attachments;
  return e;
}

export function newClientMsgId(): string {
  return typeof crypto.randomUUID === 'function'
    ? crypto.randomUUID()
    : `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
}
