import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { PreconditionFailed, type ConfigSync } from '../config/config-sync.ts';
import { ConfigError } from '../config/load.ts';
import type { LiveConfig } from '../config/live-config.ts';
import type { Ops } from '../domain/ops.ts';
import { isPeakError, type ErrorCode } from '../protocol/errors.ts';
import { AuthError, tokenOf, type Auth, type Claims } from './auth.ts';
import { agentView, errors, queueRow, sessionWithTranscript } from './admin-schemas.ts';
import { shopFor, shopsFor } from './admin-scope.ts';
import { registerDashboardRoutes } from './admin-dashboard.ts';
import { etagOf } from './admin-config.ts';
import { registerConfigRoutes, JSON_TYPE, MERGE_PATCH_TYPE } from './admin-config-routes.ts';
import { registerPlanRoutes } from './admin-plan.ts';
import { registerBuyerRoutes } from './admin-buyers.ts';
import { registerWebhookRoutes } from './admin-webhooks.ts';
import type { WebhookDeliverer } from '../domain/webhooks/deliverer.ts';
import { fieldProblems, sendProblem, type ProblemCode } from './problem.ts';

export interface AdminDeps {
  auth: Auth;
  ops: Ops;
  live: LiveConfig;
  sync: ConfigSync;
  webhooks: WebhookDeliverer;
  /** Largest request body the admin API reads; larger ones get 413. */
  bodyLimit: number;
}

const shopQuery = z.object({
  shop: z.string().min(1).max(64).optional().describe("shop id; defaults to the token's shop; another shop takes a token with scope \"platform\""),
});
const queuesQuery = z.object({
  shop: z.string().min(1).max(64).optional().describe("shop id, or `*` for every shop (scope \"platform\"); defaults to the token's shop"),
});
const sessionParams = z.object({ sessionId: z.string().min(1).max(128) });
const agentParams = z.object({ agentId: z.string().min(1).max(64) });

/** Protocol errors the domain throws, as HTTP statuses and problem codes. */
const FROM_PEAK: Partial<Record<ErrorCode, [number, ProblemCode]>> = {
  bad_frame: [400, 'bad_request'],
  unknown_session: [404, 'not_found'],
  not_assigned: [409, 'not_assigned'],
  bad_state: [409, 'bad_state'],
  forbidden: [403, 'forbidden'],
  unavailable: [503, 'unavailable'],
  rate_limited: [429, 'rate_limited'],
};

/** Fastify's own 4xx errors (body parsing, limits) as problem codes. */
function fromFastify(err: FastifyError): [number, ProblemCode, string] | null {
  const status = err.statusCode ?? 0;
  if (status < 400 || status >= 500) return null;
  if (err.code === 'FST_ERR_CTP_INVALID_JSON_BODY' || err instanceof SyntaxError) return [400, 'bad_json', `the body is not valid JSON: ${err.message}`];
  if (status === 413) return [413, 'too_large', err.message];
  if (status === 415) return [415, 'bad_request', err.message];
  return [status, 'bad_request', err.message];
}

/** The media type of a request, without parameters, lower-cased. */
function mediaType(req: FastifyRequest): string | undefined {
  return req.headers['content-type']?.split(';')[0]?.trim().toLowerCase();
}

/**
 * The ops HTTP API under /v1/admin: admin tokens only (401 without a valid one, 403 for a
 * buyer's or agent's, 403 for a shop the token may not act on), zod-validated input, JSON
 * bodies only (415 otherwise), every error as RFC 9457 problem+json. Its OpenAPI document
 * is served at /docs/json.
 */
export async function registerAdmin(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  await app.register(
    async (admin) => {
      admin.setValidatorCompiler(validatorCompiler);
      admin.setSerializerCompiler(serializerCompiler);
      // JSON only: a text/plain body would reach the handlers as a string.
      admin.removeAllContentTypeParsers();
      const parseJson = (_req: FastifyRequest, body: string, done: (err: Error | null, body?: unknown) => void) => {
        try {
          // An empty body is no body (a POST without one sent with a JSON content type).
          done(null, body.trim() === '' ? undefined : JSON.parse(body));
        } catch (err) {
          done(Object.assign(err as Error, { statusCode: 400, code: 'FST_ERR_CTP_INVALID_JSON_BODY' }));
        }
      };
      admin.addContentTypeParser([JSON_TYPE, MERGE_PATCH_TYPE], { parseAs: 'string', bodyLimit: deps.bodyLimit }, parseJson);

      admin.addHook('onRequest', async (req, reply) => {
        let claims: Claims;
        try {
          const token = tokenOf(req);
          if (!token) throw new AuthError('missing token');
          claims = await deps.auth.verify(token);
        } catch (err) {
          return sendProblem(reply, 401, 'unauthorized', (err as Error).message);
        }
        if (claims.kind !== 'admin') return sendProblem(reply, 403, 'forbidden', `a ${claims.kind} token cannot use the admin API`);
        req.admin = claims;
      });

      // Each route takes one media type (PATCH: merge patch; the rest: JSON).
      admin.addHook('preValidation', async (req, reply) => {
        if (req.body === undefined) return;
        const wanted = req.routeOptions.config.bodyType ?? JSON_TYPE;
        if (mediaType(req) !== wanted) return sendProblem(reply, 415, 'bad_request', `this endpoint takes Content-Type: ${wanted}`);
      });

      const notFound = (req: FastifyRequest, reply: FastifyReply) => sendProblem(reply, 404, 'not_found', `no admin endpoint ${req.method} ${req.url.split('?')[0]}`);
      admin.setNotFoundHandler(notFound);
      // The web pages' static files answer every other GET path; this keeps /v1/admin/* ours.
      admin.all('/*', { schema: { hide: true } }, notFound);

      admin.setErrorHandler((err: FastifyError, req, reply) => {
        if (hasZodFastifySchemaValidationErrors(err)) {
          const where = (err as { validationContext?: string }).validationContext ?? 'body';
          const list = err.validation.map((v) => ({ path: `${where}${v.instancePath.replaceAll('/', '.')}`.replace(/\.$/, ''), message: v.message ?? 'invalid' }));
          return sendProblem(reply, 400, 'bad_request', `the request does not validate: ${list.map((p) => p.path).join(', ')}`, list);
        }
        if (isPeakError(err)) {
          const [status, code] = FROM_PEAK[err.code] ?? [500, 'internal'];
          return sendProblem(reply, status, code, err.message);
        }
        if (err instanceof ConfigError) {
          return sendProblem(reply, 400, 'bad_request', 'invalid config; nothing was changed', fieldProblems(err.problems));
        }
        if (err instanceof PreconditionFailed) {
          void reply.header('etag', etagOf(err.currentVersion));
          return sendProblem(reply, 412, 'precondition_failed', `If-Match does not name the current config (${etagOf(err.currentVersion)}); nothing was changed. GET it again and retry`);
        }
        const mapped = fromFastify(err);
        if (mapped) return sendProblem(reply, mapped[0], mapped[1], mapped[2]);
        req.log.error({ err }, 'admin request failed');
        return sendProblem(reply, 500, 'internal', 'internal error');
      });

      const r = admin.withTypeProvider<ZodTypeProvider>();
      const claims = (req: FastifyRequest) => req.admin!;
      registerDashboardRoutes(admin, { dashboard: deps.ops.dashboard, monitor: deps.ops.monitor });

      registerConfigRoutes(r, deps);
      registerPlanRoutes(admin, { planning: deps.ops.planning });
      registerBuyerRoutes(admin, { history: deps.ops.history });
      registerWebhookRoutes(admin, { webhooks: deps.webhooks });

      r.get('/queues', {
        schema: {
          summary: 'Queue depth and oldest wait per shop and role',
          tags: ['queues'],
          querystring: queuesQuery,
          response: { 200: z.object({ queues: z.array(queueRow) }), ...errors },
        },
        handler: async (req) => {
          const which = shopsFor(claims(req), req.query.shop);
          const shops = which.all ? await deps.ops.activeShops() : [which.shop];
          return { queues: await deps.ops.queues(shops) };
        },
      });

      r.get('/agents', {
        schema: {
          summary: 'Agents of a shop with roles, capacity, load and status',
          tags: ['agents'],
          querystring: shopQuery,
          response: { 200: z.object({ agents: z.array(agentView) }), ...errors },
        },
        handler: async (req) => ({ agents: await deps.ops.agents(shopFor(claims(req), req.query.shop)) }),
      });

      r.post('/agents/:agentId/away', {
        schema: {
          summary: 'Stop offering sessions to an agent (its chats stay with it)',
          tags: ['agents'],
          params: agentParams,
          querystring: shopQuery,
          response: { 200: z.object({ agent: agentView }), ...errors },
        },
        handler: async (req, reply) => {
          const agent = await deps.ops.away(shopFor(claims(req), req.query.shop), req.params.agentId, claims(req).sub);
          if (!agent) return sendProblem(reply, 404, 'not_found', `no agent ${req.params.agentId}`);
          return { agent };
        },
      });

      r.get('/sessions/:sessionId', {
        schema: {
          summary: 'A session with its transcript (closed ones stay readable for sessions.retentionMs)',
          tags: ['sessions'],
          params: sessionParams,
          querystring: shopQuery,
          response: { 200: sessionWithTranscript, ...errors },
        },
        handler: async (req, reply) => {
          const found = await deps.ops.session(shopFor(claims(req), req.query.shop), req.params.sessionId);
          if (!found) return sendProblem(reply, 404, 'not_found', `no session ${req.params.sessionId}`);
          return found;
        },
      });

      r.post('/sessions/:sessionId/transfer', {
        schema: {
          summary: 'Move a waiting or served session to another role',
          tags: ['sessions'],
          params: sessionParams,
          querystring: shopQuery,
          body: z.object({ toRole: z.string().min(1).max(64), note: z.string().max(2000).optional() }).strict(),
          consumes: [JSON_TYPE],
          response: { 200: z.object({ sessionId: z.string(), fromRole: z.string(), toRole: z.string(), position: z.number() }), ...errors },
        },
        handler: async (req) =>
          deps.ops.transfer(shopFor(claims(req), req.query.shop), req.params.sessionId, req.body.toRole, req.body.note, claims(req).sub),
      });

      r.post('/sessions/:sessionId/close', {
        schema: {
          summary: 'End a session now (the buyer gets the goodbye)',
          tags: ['sessions'],
          params: sessionParams,
          querystring: shopQuery,
          body: z.object({ reason: z.string().min(1).max(200).default('ops_closed') }).strict().prefault({}),
          consumes: [JSON_TYPE],
          response: { 200: z.object({ sessionId: z.string(), state: z.literal('closed'), reason: z.string() }), ...errors },
        },
        handler: async (req) => deps.ops.close(shopFor(claims(req), req.query.shop), req.params.sessionId, req.body.reason, claims(req).sub),
      });
    },
    { prefix: '/v1/admin' },
  );
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified admin token of an /v1/admin request. */
    admin?: Claims;
  }
  interface FastifyContextConfig {
    /** The one media type an admin route's body may have; default application/json. */
    bodyType?: string;
  }
}
