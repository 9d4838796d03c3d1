import { z } from 'zod';
import { SESSION_STATES } from '../domain/lifecycle.ts';
import { buyerContext, messageOut } from '../protocol/frames.ts';

/** Response shapes of the admin API (src/transport/admin.ts); they are its OpenAPI document too. */

export const errorBody = z.object({
  error: z.string().describe('stable code: unauthorized, forbidden, bad_request, not_found, bad_state, unavailable, internal'),
  message: z.string(),
  issues: z.array(z.unknown()).optional().describe('zod issues (bad input) or `path: message` problems (config)'),
});
export const errors = { 400: errorBody, 401: errorBody, 403: errorBody, 404: errorBody, 409: errorBody, 503: errorBody };

export const agentView = z.object({
  id: z.string(),
  shop: z.string(),
  status: z.enum(['ready', 'away', 'offline']),
  roles: z.array(z.string()),
  capacity: z.number(),
  load: z.number().describe('offered + assigned sessions'),
  sessions: z.array(z.string()),
  offers: z.array(z.string()),
  ratingSum: z.number(),
  ratingCount: z.number(),
  replyMisses: z.number().describe('buyers left waiting past routing.replyWindowMs'),
});

export const sessionView = z.object({
  id: z.string(),
  shop: z.string(),
  buyerId: z.string(),
  state: z.enum(SESSION_STATES),
  role: z.string(),
  arrivedAt: z.number(),
  createdAt: z.number(),
  lastSeq: z.number(),
  agentId: z.string().optional(),
  offerExpiresAt: z.number().optional(),
  lastAgentId: z.string().optional(),
  roleHistory: z.array(z.string()),
  handovers: z.array(z.object({ fromRole: z.string(), toRole: z.string(), agentId: z.string(), note: z.string().optional(), ts: z.number() })),
  note: z.string().optional(),
  closingUntil: z.number().optional(),
  closedReason: z.string().optional(),
  closedAt: z.number().optional(),
  rating: z.number().optional(),
  ratingComment: z.string().optional(),
  replyMisses: z.number(),
  buyerContext: buyerContext.optional().describe("what the shop's context hook said about the buyer"),
});

export const sessionWithTranscript = z.object({ session: sessionView, transcript: z.array(messageOut) });

export const queueRow = z.object({
  shop: z.string(),
  role: z.string(),
  depth: z.number(),
  oldestWaitSeconds: z.number().nullable().describe('how long the head of the queue has waited; null when empty'),
});

export const configState = z.object({
  version: z.string().describe('content hash of the shared document; equal on every instance running it'),
  source: z.string().describe('file:<path>, admin:<sub>, shared (another instance) or startup'),
  appliedAt: z.number(),
  config: z.record(z.string(), z.unknown()).describe('the shared config document (instance-local settings left out)'),
});
