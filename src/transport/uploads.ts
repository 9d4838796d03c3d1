import multipart from '@fastify/multipart';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { isPeakError, type ErrorCode } from '../protocol/errors.ts';
import type { Deps } from '../domain/deps.ts';
import { NotAnImage, type Reader, type Uploads } from '../domain/uploads.ts';
import { AuthError, tokenOf, type Auth } from './auth.ts';
import { codeOfStatus, sendError } from './http-error.ts';

const STATUS: Partial<Record<ErrorCode, number>> = {
  bad_frame: 400,
  unauthorized: 401,
  forbidden: 403,
  not_assigned: 403,
  unknown_session: 404,
  too_large: 413,
  rate_limited: 429,
  unavailable: 503,
};

/** Room for the multipart envelope around a file of the largest accepted size. */
const ENVELOPE_BYTES = 16_384;

async function reader(auth: Auth, req: FastifyRequest): Promise<Reader> {
  const token = tokenOf(req);
  if (!token) throw new AuthError('missing token');
  const c = await auth.verify(token);
  return { kind: c.kind, id: c.sub, shop: c.shop };
}

/** Every refusal as `{ error, message }` with a stable code (http-error.ts), never a framework's own body. */
function fail(reply: FastifyReply, err: unknown, log: Deps['logger']): FastifyReply {
  if (err instanceof AuthError) return sendError(reply, 401, 'unauthorized', err.message);
  if (err instanceof NotAnImage) return sendError(reply, 415, err.code, err.message);
  if (isPeakError(err)) return sendError(reply, STATUS[err.code] ?? 400, err.code, err.message);
  const e = err as { code?: string; statusCode?: number; message?: string };
  if (e.code === 'FST_INVALID_MULTIPART_CONTENT_TYPE') return sendError(reply, 415, 'bad_frame', 'the body must be multipart/form-data with a field "file"');
  if (e.code === 'FST_REQ_FILE_TOO_LARGE') return sendError(reply, 413, 'too_large', e.message ?? 'file too large');
  if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) return sendError(reply, e.statusCode, codeOfStatus(e.statusCode), e.message ?? 'bad request');
  log.error({ err }, 'upload request failed');
  return sendError(reply, 500, 'internal', 'internal error');
}

/**
 * `POST /v1/uploads` (multipart field `file`) and `GET /v1/uploads/:id`, both with the socket's
 * token (header or `?token=`). Multipart parsing stays inside this scope.
 */
export async function registerUploads(app: FastifyInstance, ctx: { deps: Deps; auth: Auth; uploads: Uploads }): Promise<void> {
  const { deps, auth, uploads } = ctx;
  await app.register(async (scope) => {
    // Refusals before a handler runs (body parsing, content types) get the same body as the handlers'.
    scope.setErrorHandler((err, _req, reply) => fail(reply, err, deps.logger));
    await scope.register(multipart, { limits: { files: 1, fields: 4, parts: 5, fieldSize: 1_024, headerPairs: 100 } });

    scope.post('/v1/uploads', async (req, reply) => {
      try {
        const who = await reader(auth, req);
        const { maxBytes } = deps.config().uploads;
        const declared = Number(req.headers['content-length'] ?? 0);
        if (declared > maxBytes + ENVELOPE_BYTES) return sendError(reply, 413, 'too_large', `a file may have at most ${maxBytes} bytes`);
        await uploads.admit(who);
        const part = await req.file({ limits: { fileSize: maxBytes } });
        if (!part || part.fieldname !== 'file') return sendError(reply, 400, 'bad_frame', 'file: expected a multipart field named "file"');
        const body = await part.toBuffer();
        const q = req.query as Record<string, unknown>;
        const sessionId = typeof q.sessionId === 'string' ? q.sessionId : undefined;
        const meta = await uploads.put(who, body, sessionId);
        return reply.send({ id: meta.id, contentType: meta.contentType, size: meta.size, url: meta.url });
      } catch (err) {
        return fail(reply, err, deps.logger);
      }
    });

    scope.get<{ Params: { id: string } }>('/v1/uploads/:id', async (req, reply) => {
      try {
        const q = req.query as Record<string, unknown>;
        const via = typeof q.via === 'string' && q.via.length <= 128 ? q.via : undefined;
        const file = await uploads.read(await reader(auth, req), req.params.id, via);
        return reply
          .type(file.meta.contentType)
          .header('x-content-type-options', 'nosniff')
          .header('cache-control', 'private, max-age=300')
          .header('content-disposition', 'inline')
          .send(file.body);
      } catch (err) {
        return fail(reply, err, deps.logger);
      }
    });
  });
}
