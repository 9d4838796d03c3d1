import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { hasZodFastifySchemaValidationErrors, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { ConfigSync } from '../config/config-sync.ts';
import { ConfigError } from '../config/load.ts';
import type { LiveConfig } from '../config/live-config.ts';
import type { Ops } from '../domain/ops.ts';
import { isPeakError, type ErrorCode } from '../protocol/errors.ts';
import { AuthError, tokenOf, type Auth, type Claims } from './auth.ts';
import { agentView, configState, errors, queueRow, sessionWithTranscript } from './admin-schemas.ts';
import { registerPlanRoutes } from './admin-plan.ts';

export interface AdminDeps {
  auth: Auth;
  ops: Ops;
  live: LiveConfig;
  sync: ConfigSync;
}

const shopQuery = z.object({
  shop: z.string().min(1).max(64).optional().describe("shop id; defaults to the token's shop"),
});
const queuesQuery = z.object({
  shop: z.string().min(1).max(64).optional().describe("shop id, or `*` for every shop; defaults to the token's shop"),
});
const sessionParams = z.object({ sessionId: z.string().min(1).max(128) });
const agentParams = z.object({ agentId: z.string().min(1).max(64) });

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  bad_frame: 400,
  unknown_session: 404,
  not_assigned: 409,
  bad_state: 409,
  forbidden: 403,
  unavailable: 503,
};

function fail(reply: FastifyReply, status: number, error: string, message: string, issues?: unknown[]) {
  return reply.code(status).send({ error, message, ...(issues ? { issues } : {}) });
}

/**
 * The ops HTTP API under /v1/admin: admin tokens only (401 without a valid one, 403 for a
 * buyer's or agent's), zod-validated input (400 with the issues), 404 for unknown ids.
 * Its OpenAPI document is served at /docs/json.
 */
export async function registerAdmin(app: FastifyInstance, deps: AdminDeps): Promise<void> {
  await app.register(async (admin) => {
    admin.setValidatorCompiler(validatorCompiler);
    admin.setSerializerCompiler(serializerCompiler);

    admin.addHook('onRequest', async (req, reply) => {
      let claims: Claims;
      try {
        const token = tokenOf(req);
        if (!token) throw new AuthError('missing token');
        claims = await deps.auth.verify(token);
      } catch (err) {
        return fail(reply, 401, 'unauthorized', (err as Error).message);
      }
      if (claims.kind !== 'admin') return fail(reply, 403, 'forbidden', `a ${claims.kind} token cannot use the admin API`);
      req.admin = claims;
    });

    admin.setErrorHandler((err, req, reply) => {
      if (hasZodFastifySchemaValidationErrors(err)) return fail(reply, 400, 'bad_request', err.message, err.validation);
      if (isPeakError(err)) return fail(reply, HTTP_STATUS[err.code] ?? 500, err.code === 'unknown_session' ? 'not_found' : err.code, err.message);
      if (err instanceof ConfigError) return fail(reply, 400, 'bad_request', 'invalid config; nothing was changed', err.problems);
      if ((err as { statusCode?: number }).statusCode === 400) return fail(reply, 400, 'bad_request', (err as Error).message);
      req.log.error({ err }, 'admin request failed');
      return fail(reply, 500, 'internal', 'internal error');
    });

    const r = admin.withTypeProvider<ZodTypeProvider>();
    const shopOf = (req: FastifyRequest, q: { shop?: string | undefined }) => q.shop ?? req.admin!.shop;
    const configView = () => {
      const s = deps.live.current;
      return { version: s.version, source: s.source, appliedAt: s.appliedAt, config: s.doc };
    };

    r.get('/v1/admin/config', {
      schema: { summary: 'The active config and its version', tags: ['config'], response: { 200: configState, ...errors } },
      handler: async () => configView(),
    });

    r.put('/v1/admin/config', {
      schema: {
        summary: 'Validate and roll out a new config to every instance',
        description:
          'The body is a whole config document (as config/default.json, without server.host, server.port, redis and auth, which are per instance). ' +
          'It is validated in full; on any problem nothing changes and every problem is listed. New decisions use it; no session moves.',
        tags: ['config'],
        body: z.record(z.string(), z.unknown()),
        response: { 200: configState, ...errors },
      },
      handler: async (req) => {
        await deps.sync.put(req.body, `admin:${req.admin!.sub}`);
        return configView();
      },
    });

    r.get('/v1/admin/queues', {
      schema: {
        summary: 'Queue depth and oldest wait per shop and role',
        tags: ['queues'],
        querystring: queuesQuery,
        response: {
          200: z.object({ queues: z.array(queueRow) }),
          ...errors,
        },
      },
      handler: async (req) => {
        const shop = shopOf(req, req.query);
        const shops = shop === '*' ? await deps.ops.knownShops() : [shop];
        return { queues: await deps.ops.queues(shops) };
      },
    });

    r.get('/v1/admin/agents', {
      schema: {
        summary: 'Agents of a shop with roles, capacity, load and status',
        tags: ['agents'],
        querystring: shopQuery,
        response: { 200: z.object({ agents: z.array(agentView) }), ...errors },
      },
      handler: async (req) => ({ agents: await deps.ops.agents(shopOf(req, req.query)) }),
    });

    r.post('/v1/admin/agents/:agentId/away', {
      schema: {
        summary: 'Stop offering sessions to an agent (its chats stay with it)',
        tags: ['agents'],
        params: agentParams,
        querystring: shopQuery,
        response: { 200: z.object({ agent: agentView }), ...errors },
      },
      handler: async (req, reply) => {
        const agent = await deps.ops.away(shopOf(req, req.query), req.params.agentId, req.admin!.sub);
        if (!agent) return fail(reply, 404, 'not_found', `no agent ${req.params.agentId}`);
        return { agent };
      },
    });

    r.get('/v1/admin/sessions/:sessionId', {
      schema: {
        summary: 'A session with its transcript (closed ones stay readable for sessions.retentionMs)',
        tags: ['sessions'],
        params: sessionParams,
        querystring: shopQuery,
        response: { 200: sessionWithTranscript, ...errors },
      },
      handler: async (req, reply) => {
        const found = await deps.ops.session(shopOf(req, req.query), req.params.sessionId);
        if (!found) return fail(reply, 404, 'not_found', `no session ${req.params.sessionId}`);
        return found;
      },
    });

    registerPlanRoutes(admin, { planning: deps.ops.planning, shopOf, fail });

    r.post('/v1/admin/sessions/:sessionId/transfer', {
      schema: {
        summary: 'Move a waiting or served session to another role',
        tags: ['sessions'],
        params: sessionParams,
        querystring: shopQuery,
        body: z.object({ toRole: z.string().min(1).max(64), note: z.string().max(2000).optional() }).strict(),
        response: { 200: z.object({ sessionId: z.string(), fromRole: z.string(), toRole: z.string(), position: z.number() }), ...errors },
      },
      handler: async (req) => deps.ops.transfer(shopOf(req, req.query), req.params.sessionId, req.body.toRole, req.body.note, req.admin!.sub),
    });

    r.post('/v1/admin/sessions/:sessionId/close', {
      schema: {
        summary: 'End a session now (the buyer gets the goodbye)',
        tags: ['sessions'],
        params: sessionParams,
        querystring: shopQuery,
        body: z.object({ reason: z.string().min(1).max(200).default('ops_closed') }).strict().prefault({}),
        response: { 200: z.object({ sessionId: z.string(), state: z.literal('closed'), reason: z.string() }), ...errors },
      },
      handler: async (req) => deps.ops.close(shopOf(req, req.query), req.params.sessionId, req.body.reason, req.admin!.sub),
    });
  });
}

declare module 'fastify' {
  interface FastifyRequest {
    /** The verified admin token of an /v1/admin request. */
    admin?: Claims;
  }
}
