import type { FastifyInstance } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import { z } from 'zod';
import type { Dashboard } from '../domain/dashboard.ts';
import type { Monitor, MonitorEvent } from '../domain/monitor.ts';
import { recentResponse } from '../protocol/dashboard.ts';
import { errors } from './admin-schemas.ts';
import { shopFor } from './admin-scope.ts';
import { problemResponses, sendProblem } from './problem.ts';

/** A comment line this often keeps proxies from closing a quiet live view. */
const KEEPALIVE_MS = 15_000;

const shop = z.string().min(1).max(64).optional().describe("shop id; defaults to the token's shop; another shop takes a token with scope \"platform\"");
/**
 * The ops dashboard's endpoints: the last half hour per role (counted in Redis, so every
 * instance answers the same) and a supervisor's live view of one session as server-sent
 * events. Registered inside the admin scope (its auth and error handling); the domain does
 * the work.
 */
export function registerDashboardRoutes(admin: FastifyInstance, deps: { dashboard: Dashboard; monitor: Monitor }): void {
  const r = admin.withTypeProvider<ZodTypeProvider>();
  const live = new Set<() => void>();
  // Before the server waits for its connections to end: a live view never ends by itself.
  admin.addHook('preClose', async () => {
    for (const end of [...live]) end();
  });

  r.get('/stats/recent', {
    schema: {
      summary: 'The last minutes per role: arrivals, time to agent p50/p90, abandonment, overflow, waiting, agents and capacity, and alerts',
      description:
        'Per `dashboard.bucketMs` bucket. Counters come from the events; waiting (of them offline), the oldest wait, agents ready, their capacity and the sessions in use are sampled once per bucket (null where no instance sampled). ' +
        'Alerts follow `dashboard.alerts`.',
      tags: ['queues'],
      querystring: z.object({ shop, minutes: z.coerce.number().int().min(1).max(360).default(30).describe('how far back (at most dashboard.windowMs)') }),
      response: { 200: recentResponse, ...errors },
    },
    handler: async (req) => {
      const s = shopFor(req.admin!, req.query.shop);
      return deps.dashboard.recent(s, Math.min(req.query.minutes * 60_000, deps.dashboard.windowMs));
    },
  });

  r.get('/sessions/:sessionId/live', {
    schema: {
      summary: "A supervisor's read-only live view of a session (text/event-stream)",
      description:
        'Server-sent events: `session` (data: the session, whenever it changes) and `message` (data: a transcript message frame, in seq order, each once), starting with the session and its transcript so far. ' +
        'Stays open until the client goes; force a transfer or close with the session endpoints.',
      tags: ['sessions'],
      params: z.object({ sessionId: z.string().min(1).max(128) }),
      querystring: z.object({ shop }),
      produces: ['text/event-stream'],
      response: { ...errors, ...problemResponses(429) },
    },
    handler: async (req, reply) => {
      const s = shopFor(req.admin!, req.query.shop);
      const pending: MonitorEvent[] = [];
      let write = (ev: MonitorEvent) => void pending.push(ev);
      const stop = await deps.monitor.watch(s, req.params.sessionId, (ev) => write(ev));
      if (!stop) return sendProblem(reply, 404, 'not_found', `no session ${req.params.sessionId}`);
      reply.hijack();
      const res = reply.raw;
      const socket = res.socket;
      // connection: close, so ending the view (client gone, shutdown) frees the socket too.
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-store', 'x-accel-buffering': 'no', connection: 'close' });
      write = (ev) => void res.write(`event: ${ev.type}\ndata: ${JSON.stringify(ev.type === 'session' ? ev.session : ev.message)}\n\n`);
      for (const ev of pending.splice(0)) write(ev);
      const keepalive = setInterval(() => res.write(': keepalive\n\n'), KEEPALIVE_MS);
      const end = () => {
        if (!live.delete(end)) return;
        clearInterval(keepalive);
        void stop();
        // The socket goes with the view: a hijacked response's socket outlives it otherwise
        // (and holds shutdown open). Nothing is lost: the client left, or the server is stopping.
        res.end();
        socket?.destroy();
      };
      live.add(end);
      // The client went (a request's own 'close' comes as soon as its body is read).
      res.on('close', end);
      socket?.on('close', end);
    },
  });
}
