import { STATUS_CODES } from 'node:http';
import type { FastifyReply } from 'fastify';
import { z } from 'zod';
import { ERROR_CODES } from '../protocol/errors.ts';

/** Errors of the HTTP API as RFC 9457 problem details (`application/problem+json`). */

export const PROBLEM_TYPE = 'application/problem+json';

export const PROBLEM_CODES = [...ERROR_CODES, 'bad_request', 'not_found', 'conflict', 'precondition_failed'] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

export interface FieldProblem {
  path: string;
  message: string;
}

export const problemSchema = z
  .object({
    type: z.string().describe('URI naming the problem: urn:peakdesk:problem:<code>'),
    title: z.string().describe('short summary of the problem type'),
    status: z.number().int().describe('the HTTP status code'),
    detail: z.string().describe('what went wrong with this request'),
    code: z.enum(PROBLEM_CODES).describe('stable code to branch on: the protocol error codes, or bad_request, not_found, conflict, precondition_failed'),
    errors: z
      .array(z.object({ path: z.string().describe('dotted path of the field, e.g. routing.offerTimeoutMs or querystring.shop'), message: z.string() }))
      .optional()
      .describe('every validation problem, when the request did not validate'),
  })
  .describe('RFC 9457 problem details');
export type Problem = z.infer<typeof problemSchema>;

const TITLES: Partial<Record<ProblemCode, string>> = {
  bad_request: 'Bad request',
  bad_json: 'Body is not valid JSON',
  not_found: 'Not found',
  conflict: 'Conflict',
  precondition_failed: 'Precondition failed',
  unauthorized: 'Unauthorized',
  forbidden: 'Forbidden',
  too_large: 'Body too large',
  bad_state: 'Not possible in the current state',
  not_assigned: 'Not assigned',
  unavailable: 'Store unavailable, retry',
  internal: 'Internal error',
};

export function problem(status: number, code: ProblemCode, detail: string, errors?: FieldProblem[]): Problem {
  return {
    type: `urn:peakdesk:problem:${code}`,
    title: TITLES[code] ?? STATUS_CODES[status] ?? 'Error',
    status,
    detail,
    code,
    ...(errors ? { errors } : {}),
  };
}

export function sendProblem(reply: FastifyReply, status: number, code: ProblemCode, detail: string, errors?: FieldProblem[]) {
  if (status === 401) void reply.header('www-authenticate', 'Bearer');
  return reply.code(status).type(PROBLEM_TYPE).send(problem(status, code, detail, errors));
}

/** `path: message` strings (config problems) as field problems. */
export function fieldProblems(lines: readonly string[]): FieldProblem[] {
  return lines.map((line) => {
    const at = line.indexOf(': ');
    return at > 0 ? { path: line.slice(0, at), message: line.slice(at + 2) } : { path: '(root)', message: line };
  });
}

/** The problem+json response of each error status, for a route's OpenAPI `response`. */
export function problemResponses<S extends number>(...statuses: S[]): Record<S, { description: string; content: { [PROBLEM_TYPE]: { schema: typeof problemSchema } } }> {
  const out = {} as Record<S, { description: string; content: { [PROBLEM_TYPE]: { schema: typeof problemSchema } } }>;
  for (const s of statuses) out[s] = { description: STATUS_CODES[s] ?? String(s), content: { [PROBLEM_TYPE]: { schema: problemSchema } } };
  return out;
}
