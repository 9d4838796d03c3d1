import { z } from 'zod';
import { ERROR_CODES } from './errors.ts';

/**
 * zod schemas of every frame in shared/PROTOCOL.md. Inbound schemas are strict about
 * types and bounds; unknown extra fields are ignored so newer clients keep working.
 * Outbound schemas exist so tests can check what the gateway sends.
 */

// Roles are configurable, so the wire only checks shape; the domain checks membership.
export const roleName = z.string().min(1).max(64);
const sessionId = z.string().min(1).max(128);
const clientMsgId = z.string().min(1).max(64);
const text = z.string().min(1).max(2000);
const seq = z.number().int().min(0);

/** A product or order the buyer or agent points at (v1.1 "Messages with cards and images"). */
export const card = z.object({
  kind: z.enum(['product', 'order']),
  id: z.string().min(1).max(64),
  title: z.string().min(1).max(200),
  price: z.string().max(32).optional(),
  imageUrl: z.string().url().max(1000).optional(),
  url: z.string().url().max(1000).optional(),
  status: z.string().max(64).optional(),
});
export type Card = z.infer<typeof card>;
export const IMAGE_TYPES = ['image/jpeg', 'image/png', 'image/webp', 'image/gif'] as const;
/** A file uploaded first with POST /v1/uploads; contentType and size are the server's, never the client's. */
export const attachment = z.object({
  id: z.string().min(1).max(64),
  contentType: z.enum(IMAGE_TYPES),
  name: z.string().max(200).optional(),
  size: z.number().int().min(1),
});
export type Attachment = z.infer<typeof attachment>;
export const MAX_ATTACHMENTS = 4;
const attachments = z.array(attachment).min(1).max(MAX_ATTACHMENTS);
/** A message says something: text, a card, images, or several of them. */
const content = { text: text.optional(), card: card.optional(), attachments: attachments.optional() };
const hasContent = (m: { text?: string; card?: unknown; attachments?: unknown }) => m.text !== undefined || m.card !== undefined || m.attachments !== undefined;
const NO_CONTENT = { message: 'a message needs text, a card or attachments', path: ['text'] };

/** What the shop's context hook says about a buyer (v1.1 "Buyer identity"); unknown fields are dropped. */
export const buyerContext = z.object({
  name: z.string().min(1).max(64).optional(),
  vip: z.number().int().min(0).max(9).optional(),
  tags: z.array(z.string().min(1).max(32)).max(20).optional(),
  orders: z
    .array(
      z.object({
        id: z.string().min(1).max(64),
        title: z.string().max(200).optional(),
        status: z.string().max(64).optional(),
        total: z.union([z.string().max(32), z.number()]).optional(),
        ts: z.number().int().optional(),
      }),
    )
    .max(20)
    .optional(),
});
export type BuyerContext = z.infer<typeof buyerContext>;
/** The buyer as `offer` and `assigned` show it. */
/** The buyer as `offer`/`assigned` show it: the token's name and VIP level, overridden by the shop's context hook, and whether a connection of the buyer is live. */
export const buyerOut = buyerContext.extend({ id: z.string(), vip: z.number().int().min(0).max(9), online: z.boolean() });

// ---------- buyer -> server ----------
export const buyerMessageIn = z.object({ type: z.literal('message'), clientMsgId, ...content }).refine(hasContent, NO_CONTENT);
export const buyerResumeIn = z.object({ type: z.literal('resume'), lastSeq: seq });
export const buyerRateIn = z.object({
  type: z.literal('rate'),
  score: z.number().int().min(1).max(5),
  comment: z.string().max(500).optional(),
});
export const pingIn = z.object({ type: z.literal('ping') });

export const buyerInbound = z.discriminatedUnion('type', [buyerMessageIn, buyerResumeIn, buyerRateIn, pingIn]);
export type BuyerInbound = z.infer<typeof buyerInbound>;

// ---------- agent -> server ----------
export const agentReadyIn = z.object({
  type: z.literal('ready'),
  roles: z.array(roleName).min(1).max(32),
  capacity: z.number().int().min(1).max(50),
});
export const agentAwayIn = z.object({ type: z.literal('away') });
export const agentAcceptIn = z.object({ type: z.literal('accept'), sessionId });
export const agentDeclineIn = z.object({ type: z.literal('decline'), sessionId });
export const agentMessageIn = z.object({ type: z.literal('message'), sessionId, clientMsgId, ...content }).refine(hasContent, NO_CONTENT);
export const agentTransferIn = z.object({
  type: z.literal('transfer'),
  sessionId,
  toRole: roleName,
  note: z.string().max(2000).optional(),
});
export const agentCloseIn = z.object({ type: z.literal('close'), sessionId });
export const agentBlockIn = z.object({ type: z.literal('block'), sessionId, reason: z.string().min(1).max(500) });
export const agentResumeIn = z.object({ type: z.literal('resume'), sessionId, lastSeq: seq });
/** Most past sessions one `history` answer lists. */
export const HISTORY_PAGE_MAX = 50;
/** A page of the buyer's past sessions, newest first; `before` is the previous answer's `next`. */
const historyPage = { limit: z.number().int().min(1).max(HISTORY_PAGE_MAX).optional(), before: z.number().int().min(0).optional() };
/** The past sessions of the buyer of a session the agent holds (assigned or offered to it). */
export const agentHistoryIn = z.object({ type: z.literal('history'), sessionId, ...historyPage });
/** The transcript of one of the sessions `history` listed (`pastSessionId`), for the agent holding `sessionId`. */
export const agentHistoryTranscriptIn = z.object({ type: z.literal('history_transcript'), sessionId, pastSessionId: sessionId });

export const agentInbound = z.discriminatedUnion('type', [
  agentReadyIn,
  agentAwayIn,
  agentAcceptIn,
  agentDeclineIn,
  agentMessageIn,
  agentTransferIn,
  agentCloseIn,
  agentBlockIn,
  agentResumeIn,
  agentHistoryIn,
  agentHistoryTranscriptIn,
  pingIn,
]);
export type AgentInbound = z.infer<typeof agentInbound>;

// ---------- server -> client ----------
export const eventFrom = z.enum(['buyer', 'bot', 'agent']);
export type EventFrom = z.infer<typeof eventFrom>;

/** Bot lines that belong to a state change, so clients can show them differently (e.g. rating stars). */
export const eventKind = z.enum(['handover', 'rating_invite', 'goodbye', 'idle_close']);
export type EventKind = z.infer<typeof eventKind>;

/** A stored transcript event as it travels on the wire. */
export const messageOut = z.object({
  type: z.literal('message'),
  sessionId,
  seq: z.number().int().min(1),
  from: eventFrom,
  text: z.string(),
  ts: z.number().int(),
  role: roleName.optional(),
  kind: eventKind.optional(),
  card: card.optional(),
  /** With `url`: where the file is served (GET, the reader's token required). */
  attachments: z.array(attachment.extend({ url: z.string() })).optional(),
});
export type MessageOut = z.infer<typeof messageOut>;

/** How the shop and its roles are named on the pages (config `shops.<id>.displayName` / `shop.displayName`, `bots.roleNames`). */
const shopName = z.string().min(1).max(64);
const roleNames = z.record(z.string(), z.string());

export const buyerWelcomeOut = z.object({ type: z.literal('welcome'), sessionId, lastSeq: seq, shopName: shopName.optional(), roleNames: roleNames.optional() });
export const ackOut = z.object({ type: z.literal('ack'), clientMsgId, seq: z.number().int().min(1) });
export const queueOut = z.object({
  type: z.literal('queue'),
  sessionId,
  role: roleName,
  position: z.number().int().min(1),
  etaSeconds: z.number().int().min(0).optional(),
});
export const handoverOut = z.object({ type: z.literal('handover'), sessionId, fromRole: roleName, toRole: roleName });
export const closedOut = z.object({ type: z.literal('closed'), sessionId, reason: z.string() });
export const pongOut = z.object({ type: z.literal('pong') });
export const errorOut = z.object({
  type: z.literal('error'),
  code: z.enum(ERROR_CODES),
  message: z.string(),
  ref: z.string().optional(),
});

export const agentWelcomeOut = z.object({
  type: z.literal('welcome'),
  agentId: z.string(),
  sessions: z.array(sessionId),
  /** Canned phrases per role for the workbench (config `workbench.quickReplies`). */
  quickReplies: z.record(z.string(), z.array(z.string())).optional(),
  shopName: shopName.optional(),
  roleNames: roleNames.optional(),
});
export const offerOut = z.object({
  type: z.literal('offer'),
  sessionId,
  role: roleName,
  expiresAt: z.number().int(),
  preview: z.array(messageOut),
  buyer: buyerOut.optional(),
  /** Offered to an agent of another role (routing.overflow); `role` stays the session's own. */
  overflow: z.literal(true).optional(),
  /** Offered to the buyer's known agent (routing.sticky). */
  sticky: z.literal(true).optional(),
});
export const revokedOut = z.object({ type: z.literal('revoked'), sessionId, reason: z.string() });
export const assignedOut = z.object({
  type: z.literal('assigned'),
  sessionId,
  role: roleName,
  transcript: z.array(messageOut),
  note: z.string().optional(),
  buyer: buyerOut.optional(),
  /** Roles the session went through, oldest first (the current one last). */
  roleHistory: z.array(roleName).optional(),
  /** Every transfer with its note, oldest first. */
  handovers: z
    .array(z.object({ fromRole: roleName, toRole: roleName, agentId: z.string(), note: z.string().optional(), ts: z.number().int() }))
    .optional(),
  /** Assigned through routing.overflow; `role` stays the session's own. */
  overflow: z.literal(true).optional(),
});
/** The buyer of a session the agent holds or is offered went offline (last connection gone) or came back. */
export const buyerStatusOut = z.object({ type: z.literal('buyer_status'), sessionId, online: z.boolean(), since: z.number().int() });
/** Ops changed the agent's status (the admin API's "set away"). */
export const statusOut = z.object({ type: z.literal('status'), status: z.enum(['ready', 'away']), reason: z.string() });
/** The buyer of an assigned session has waited past the reply window (escalation `alert`). */
export const replyOverdueOut = z.object({ type: z.literal('reply_overdue'), sessionId, waitingSince: z.number().int() });
export const sessionClosedOut = z.object({ type: z.literal('session_closed'), sessionId, reason: z.string() });
/** One past (or the current) session of a buyer, as `history` and the admin buyer view list it. */
export const historyEntry = z.object({
  sessionId,
  state: z.string(),
  role: z.string(),
  /** Roles the session went through, oldest first. */
  roleHistory: z.array(roleName),
  /** The agent that held it last (or holds it now). */
  agentId: z.string().optional(),
  /** Who handed it on (each transfer's `agentId`: an admin for a transfer by ops), then its last agent. */
  agents: z.array(z.string()),
  rating: z.number().int().optional(),
  ratingComment: z.string().optional(),
  createdAt: z.number().int(),
  closedAt: z.number().int().optional(),
  closedReason: z.string().optional(),
  /** The buyer's last line (or the last line), at most 80 characters. */
  preview: z.string().optional(),
  events: z.number().int().min(0),
});
export type HistoryEntry = z.infer<typeof historyEntry>;
/** Answer to `history`: the buyer's sessions in this shop, newest first; `next` asks for the page after. */
export const historyOut = z.object({
  type: z.literal('history'),
  sessionId,
  buyerId: z.string(),
  sessions: z.array(historyEntry),
  next: z.number().int().optional(),
});
/** Answer to `history_transcript`: one listed session and its whole transcript. */
export const historyTranscriptOut = z.object({
  type: z.literal('history_transcript'),
  sessionId,
  pastSessionId: sessionId,
  session: historyEntry,
  transcript: z.array(messageOut),
});

export const buyerOutbound = z.discriminatedUnion('type', [
  buyerWelcomeOut,
  ackOut,
  messageOut,
  queueOut,
  handoverOut,
  closedOut,
  pongOut,
  errorOut,
]);
export const agentOutbound = z.discriminatedUnion('type', [
  agentWelcomeOut,
  offerOut,
  revokedOut,
  assignedOut,
  messageOut,
  ackOut,
  sessionClosedOut,
  replyOverdueOut,
  buyerStatusOut,
  statusOut,
  historyOut,
  historyTranscriptOut,
  pongOut,
  errorOut,
]);
export type BuyerOutbound = z.infer<typeof buyerOutbound>;
export type AgentOutbound = z.infer<typeof agentOutbound>;
export type ServerFrame = BuyerOutbound | AgentOutbound;

/** Names the first offending field so `bad_frame` messages say what to fix. */
export function describeIssues(error: z.ZodError): string {
  return error.issues
    .slice(0, 5)
    .map((i) => `${i.path.length ? i.path.join('.') : '(frame)'}: ${i.message}`)
    .join('; ');
}
