import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest, RawReplyDefaultExpression, RawRequestDefaultExpression, RawServerDefault } from 'fastify';
import type { ZodTypeProvider } from 'fastify-type-provider-zod';
import type { ConfigSync } from '../config/config-sync.ts';
import type { ConfigState, LiveConfig } from '../config/live-config.ts';
import type { Claims } from './auth.ts';
import { configDocument, configPatch, configState, errors, ifMatchHeaders } from './admin-schemas.ts';
import { configFor, etagOf, ifMatches, patchedBy, replacedBy } from './admin-config.ts';
import { problemResponses, sendProblem } from './problem.ts';

export const JSON_TYPE = 'application/json';
export const MERGE_PATCH_TYPE = 'application/merge-patch+json';

type Doc = Record<string, unknown>;
type Router = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, ZodTypeProvider>;

/**
 * GET, PUT and PATCH /v1/admin/config: the version is the ETag, and a change must name it in
 * If-Match (missing: 428, stale: 412, nothing changes), so two people editing at once cannot
 * overwrite each other's work without noticing.
 */
export function registerConfigRoutes(r: Router, deps: { live: LiveConfig; sync: ConfigSync }): void {
  const claims = (req: FastifyRequest): Claims => req.admin!;
  const view = (req: FastifyRequest, reply: FastifyReply, s: ConfigState = deps.live.current) => {
    void reply.header('etag', etagOf(s.version));
    return { version: s.version, source: s.source, appliedAt: s.appliedAt, config: configFor(claims(req), s.doc) };
  };
  /** A conditional change: the compare-and-set checks If-Match against the store's version. */
  const change =
    (next: (claims: Claims, current: Doc, body: unknown) => unknown) =>
    async (req: FastifyRequest, reply: FastifyReply) => {
      const header = req.headers['if-match'];
      if (!header) return sendProblem(reply, 428, 'precondition_failed', 'a change of the config needs If-Match: <the ETag of GET /v1/admin/config>; nothing was changed');
      const s = await deps.sync.update(`admin:${claims(req).sub}`, (version) => ifMatches(header, version), (current) => next(claims(req), current, req.body));
      return view(req, reply, s);
    };
  const changeErrors = { ...errors, ...problemResponses(412, 428) };
  const scopeNote = "A shop's admin token may change only `shops.<its shop>` (403 otherwise).";

  r.get('/config', {
    schema: {
      summary: 'The active config, its version and (as ETag) what a change must name in If-Match',
      tags: ['config'],
      response: { 200: configState, ...errors },
    },
    handler: async (req, reply) => view(req, reply),
  });

  r.put('/config', {
    schema: {
      summary: 'Replace the whole config document and roll it out to every instance',
      description:
        'Needs `If-Match` with the ETag of GET (missing: 428, stale: 412, nothing changed) and `Content-Type: application/json` (else 415). ' +
        'The document is validated in full; on any problem nothing changes and every problem is listed in `errors`. New decisions use it; no session moves. ' +
        scopeNote,
      tags: ['config'],
      headers: ifMatchHeaders,
      body: configDocument,
      consumes: [JSON_TYPE],
      response: { 200: configState, ...changeErrors },
    },
    config: { bodyType: JSON_TYPE },
    handler: change((c, current, body) => replacedBy(c, current, body as Doc)),
  });

  r.patch('/config', {
    schema: {
      summary: 'Change part of the config (RFC 7396 JSON merge patch) and roll it out to every instance',
      description:
        'Needs `Content-Type: application/merge-patch+json` (else 415) and `If-Match` with the ETag of GET (missing: 428, stale: 412). ' +
        'Only what the patch names changes; the result is validated as a whole document, all or nothing. ' +
        scopeNote,
      tags: ['config'],
      headers: ifMatchHeaders,
      body: configPatch,
      consumes: [MERGE_PATCH_TYPE],
      response: { 200: configState, ...changeErrors },
    },
    config: { bodyType: MERGE_PATCH_TYPE },
    handler: change(patchedBy),
  });
}
