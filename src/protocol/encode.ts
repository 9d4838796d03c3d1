import type { StoredEvent } from '../store/types.ts';
import type { MessageOut, ServerFrame } from './frames.ts';

export function encode(frame: ServerFrame): string {
  return JSON.stringify(frame);
}

/** A stored transcript event as the wire's `message` frame. */
export function messageFrame(sessionId: string, ev: StoredEvent): MessageOut {
  const out: MessageOut = { type: 'message', sessionId, seq: ev.seq, from: ev.from, text: ev.text, ts: ev.ts };
  if (ev.role) out.role = ev.role;
  if (ev.kind) out.kind = ev.kind;
  if (ev.card) out.card = ev.card;
  if (ev.attachments) out.attachments = ev.attachments;
  return out;
}

