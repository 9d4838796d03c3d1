import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { BuyerHistory } from '../domain/buyer-history.ts';
import { HISTORY_PAGE_MAX, historyEntry } from '../protocol/frames.ts';
import { errors } from './admin-schemas.ts';
import { shopFor } from './admin-scope.ts';

const params = z.object({ buyerId: z.string().min(1).max(64) });
const query = z.object({
  shop: z.string().min(1).max(64).optional().describe("shop id; defaults to the token's shop; another shop takes a token with scope \"platform\""),
  limit: z.coerce.number().int().min(1).max(HISTORY_PAGE_MAX).optional().describe(`sessions per page (default 20, at most ${HISTORY_PAGE_MAX})`),
  before: z.coerce.number().int().min(0).optional().describe('the `next` of the previous page: sessions created before it'),
});

/**
 * `GET /v1/admin/buyers/:buyerId/sessions`: the buyer's sessions in the shop, newest first
 * (PROTOCOL v1.1). A listed session's transcript is `GET /v1/admin/sessions/:sessionId`.
 */
export function registerBuyerRoutes(admin: FastifyInstance, { history }: { history: BuyerHistory }): void {
  admin.withTypeProvider<ZodTypeProvider>().get('/buyers/:buyerId/sessions', {
    schema: {
      summary: "A buyer's sessions in the shop, newest first, with roles, agents, rating and a preview",
      tags: ['sessions'],
      params,
      querystring: query,
      response: { 200: z.object({ buyerId: z.string(), sessions: z.array(historyEntry), next: z.number().optional() }), ...errors },
    },
    handler: async (req) => {
      const shop = shopFor(req.admin!, req.query.shop);
      const page = await history.list(shop, req.params.buyerId, { ...(req.query.limit ? { limit: req.query.limit } : {}), ...(req.query.before !== undefined ? { before: req.query.before } : {}) });
      return { buyerId: req.params.buyerId, ...page };
    },
  });
}
