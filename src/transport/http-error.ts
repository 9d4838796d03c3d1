import type { FastifyReply } from 'fastify';
import type { ErrorCode } from '../protocol/errors.ts';

/**
 * The error body of every HTTP answer outside /v1/admin (upgrades, /v1/uploads, shutdown):
 * `{ error, message }` with `error` one of the protocol's stable codes (docs/protocol.md).
 * The admin API answers problem+json instead (problem.ts).
 */
export function sendError(reply: FastifyReply, status: number, code: ErrorCode, message: string): FastifyReply {
  return reply.code(status).type('application/json; charset=utf-8').send({ error: code, message });
}

/** The stable code of a 4xx status when nothing more specific is known (a framework's own refusal). */
export function codeOfStatus(status: number): ErrorCode {
  if (status === 401) return 'unauthorized';
  if (status === 403) return 'forbidden';
  if (status === 413) return 'too_large';
  if (status === 429) return 'rate_limited';
  if (status === 503) return 'unavailable';
  return 'bad_frame';
}
