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

// ---------- buyer -> server ----------
export const buyerMessageIn = z.object({ type: z.literal('message'), clientMsgId, text });
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
export const agentMessageIn = z.object({ type: z.literal('message'), sessionId, clientMsgId, text });
export const agentTransferIn = z.object({
  type: z.literal('transfer'),
  sessionId,
  toRole: roleName,
  note: z.string().max(2000).optional(),
});
export const agentCloseIn = z.object({ type: z.literal('close'), sessionId });
export const agentBlockIn = z.object({ type: z.literal('block'), sessionId, reason: z.string().min(1).max(500) });
export const agentResumeIn = z.object({ type: z.literal('resume'), sessionId, lastSeq: seq });

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
});
export type MessageOut = z.infer<typeof messageOut>;

export const buyerWelcomeOut = z.object({ type: z.literal('welcome'), sessionId, lastSeq: seq });
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
});
/** The session's buyer (PROTOCOL v1.1 "Buyer identity and presence"); tags and orders come from the shop's context hook. */
export const buyerInfo = z.object({
  id: z.string(),
  name: z.string().optional(),
  vip: z.number().int().min(0).max(9),
  online: z.boolean(),
  tags: z.array(z.string()).optional(),
  orders: z.array(z.unknown()).optional(),
});
export const offerOut = z.object({
  type: z.literal('offer'),
  sessionId,
  role: roleName,
  expiresAt: z.number().int(),
  preview: z.array(messageOut),
  buyer: buyerInfo.optional(),
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
  /** Roles the session went through, oldest first (the current one last). */
  roleHistory: z.array(roleName).optional(),
  /** Every transfer with its note, oldest first. */
  handovers: z
    .array(z.object({ fromRole: roleName, toRole: roleName, agentId: z.string(), note: z.string().optional(), ts: z.number().int() }))
    .optional(),
  buyer: buyerInfo.optional(),
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
