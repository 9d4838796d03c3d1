/** Stable error codes of the wire protocol (shared/PROTOCOL.md). Clients branch on these. */
export const ERROR_CODES = [
  'bad_json',
  'bad_frame',
  'too_large',
  'unauthorized',
  'forbidden',
  'unknown_session',
  'not_assigned',
  'bad_state',
  'rate_limited',
  'blocked',
  'unavailable',
  'internal',
] as const;

export type ErrorCode = (typeof ERROR_CODES)[number];

/**
 * The one error type domain and store code throw for anything a client can act on.
 * Anything else that escapes is reported as `internal` without leaking its message.
 */
export class PeakError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'PeakError';
  }
}

export function isPeakError(err: unknown): err is PeakError {
  return err instanceof PeakError;
}
