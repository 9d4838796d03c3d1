import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { WebhookDeliverer } from '../domain/webhooks/deliverer.ts';
import { errors } from './admin-schemas.ts';
import { shopFor } from './admin-scope.ts';
import { sendProblem } from './problem.ts';

/** A dead letter's id: its entry id in the shop's dead-letter stream. */
const DEAD_ID = /^\d{1,20}-\d{1,20}$/;

const listQuery = z.object({
  shop: z.string().min(1).max(64).optional().describe("shop id; defaults to the token's shop; another shop takes a token with scope \"platform\""),
  limit: z.coerce.number().int().min(1).max(1_000).default(100).describe('at most this many, newest first'),
});
const shopQuery = listQuery.pick({ shop: true });
const deadParams = z.object({ id: z.string().min(1).max(64) });

const deadLetter = z.object({
  id: z.string().describe('the dead letter (POST …/:id/replay sends it again)'),
  eventId: z.string().describe('the event\'s `id`, as the receiver saw it in the body and X-Peakdesk-Event-Id'),
  type: z.string(),
  sessionId: z.string(),
  url: z.string().describe('the subscriber it could not reach'),
  attempts: z.number(),
  firstAt: z.number().describe('first attempt, epoch ms'),
  lastError: z.string().optional(),
  event: z.unknown().describe('the body every attempt sent'),
});

/**
 * Dead letters of the shops' webhooks (deliveries that failed for `webhookDelivery.retryForMs`):
 * listed newest first and sent again on request. Registered inside the admin scope (its
 * auth and problem+json errors).
 */
export function registerWebhookRoutes(admin: FastifyInstance, deps: { webhooks: WebhookDeliverer }): void {
  const r = admin.withTypeProvider<ZodTypeProvider>();
  const shopOf = (req: FastifyRequest, q: { shop?: string | undefined }) => shopFor(req.admin!, q.shop);

  r.get('/webhooks/dead-letters', {
    schema: {
      summary: 'Webhook deliveries that failed for retryForMs and were parked, newest first',
      tags: ['webhooks'],
      querystring: listQuery,
      response: { 200: z.object({ deadLetters: z.array(deadLetter) }), ...errors },
    },
    handler: async (req) => ({ deadLetters: await deps.webhooks.deadLetters(shopOf(req, req.query), req.query.limit) }),
  });

  r.post('/webhooks/dead-letters/:id/replay', {
    schema: {
      summary: 'Send a dead letter again (same event id and body), with a fresh retry budget',
      tags: ['webhooks'],
      params: deadParams,
      querystring: shopQuery,
      response: { 202: z.object({ id: z.string(), eventId: z.string(), status: z.literal('scheduled') }), ...errors },
    },
    handler: async (req, reply) => {
      const shop = shopOf(req, req.query);
      const done = DEAD_ID.test(req.params.id) ? await deps.webhooks.replay(shop, req.params.id) : null;
      if (!done) return sendProblem(reply, 404, 'not_found', `no dead letter ${req.params.id} in shop ${shop}`);
      return reply.code(202).send({ id: req.params.id, eventId: done.eventId, status: 'scheduled' as const });
    },
  });
}
