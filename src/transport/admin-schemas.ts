import { z } from 'zod';
import { SESSION_STATES } from '../store/lifecycle.ts';
import { buyerContext, messageOut } from '../protocol/frames.ts';
import { problemResponses } from './problem.ts';

/** Response shapes of the admin API (src/transport/admin.ts); they are its OpenAPI document too. */

/** Every admin route can answer these (auth, validation, the store); routes add their own. */
export const errors = problemResponses(400, 401, 403, 404, 409, 413, 415, 503);

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
  online: z.number().describe('of depth: sessions whose buyer is connected'),
  offline: z.number().describe('of depth: sessions whose buyer is offline (offered only after the online ones; closed as abandoned after sessions.abandonMs)'),
  oldestWaitSeconds: z.number().nullable().describe('how long the head of the queue has waited; null when empty'),
  open: z.boolean().describe("inside the role's business hours (bots.businessHours) now; outside, its sessions wait as left messages"),
  overflowed: z.number().describe("offers of this role's sessions to agents of another role (routing.overflow), all instances, since the store's data began"),
  sticky: z.number().describe("offers of this role's sessions to the buyer's known agent (routing.sticky), likewise"),
  abandoned: z.number().describe('queued sessions closed as abandoned (sessions.abandonMs), likewise'),
  deflected: z.number().describe('sessions of this bot-first role (bots.mode) that ended without ever queuing, likewise'),
});

export const configState = z.object({
  version: z.string().describe('content hash of the shared document; equal on every instance running it; the ETag is this, quoted'),
  source: z.string().describe('file:<path>, admin:<sub>, shared (another instance) or startup'),
  appliedAt: z.number(),
  config: z
    .record(z.string(), z.unknown())
    .describe("the shared config document (instance-local settings left out); a shop's admin token sees only its own shop under `shops`"),
});

/** A whole shared config document, as PUT takes it: the shape of config/default.json without the per-instance settings. */
export const configDocument = z
  .record(z.string(), z.unknown())
  .describe(
    'The whole shared config document (as config/default.json, without server.host, server.port, redis and auth, which are per instance). ' +
      'It is validated in full against the config schema (see the README configuration table); on any problem nothing changes and every problem is listed in `errors`.',
  );

/** An RFC 7396 JSON merge patch of the shared config document. */
export const configPatch = z
  .record(z.string(), z.unknown())
  .describe('RFC 7396 JSON merge patch: objects merge key by key, `null` removes a key, anything else (arrays too) replaces. The result is validated as a whole document.');

export const ifMatchHeaders = z.looseObject({
  'if-match': z.string().max(1_000).optional().describe('the ETag of GET /v1/admin/config; required (missing: 428, stale: 412)'),
});
