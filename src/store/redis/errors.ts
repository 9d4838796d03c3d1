import { PeakError, type ErrorCode } from '../../protocol/errors.ts';

/**
 * The one place that decides what a failed Redis call means to a client. Lua scripts report
 * client mistakes as `PEAK <code> <message>`; everything Redis or the connection can do
 * transiently (outage, failover, out of memory, a replica that took over read-only, loading
 * after a restart, a busy script, scripts lost with a restarted node) is `unavailable`, which
 * clients retry. What is left is a bug of ours and propagates (answered `internal`).
 */

const PEAK_ERROR = /^PEAK (\w+) (.*)$/s;

/**
 * Redis error codes (the first word of a reply error) that say "not now" rather than "never":
 * OOM (maxmemory reached under noeviction), READONLY (a replica, e.g. during failover),
 * LOADING (restarting from disk), BUSY (a long script), NOSCRIPT (a failover or restart lost
 * the script cache and the EVAL fallback raced it), TRYAGAIN / CLUSTERDOWN / MOVED / ASK
 * (slots moving, a master down), MASTERDOWN / NOREPLICAS (replication not in place).
 */
const RETRYABLE_REPLIES = new Set(['OOM', 'READONLY', 'LOADING', 'BUSY', 'NOSCRIPT', 'TRYAGAIN', 'CLUSTERDOWN', 'MOVED', 'ASK', 'MASTERDOWN', 'NOREPLICAS', 'UNBLOCKED']);

/** Redis 6 wraps the error of a call inside a script: `ERR Error running script … -OOM …`. */
const WRAPPED_REPLY = /Error running script.*?-([A-Z]+) /s;

/** ioredis' own errors when it has no usable connection, and the socket errors under them. */
const CONNECTION_ERROR_NAMES = new Set(['MaxRetriesPerRequestError', 'ClusterAllFailedError', 'AbortError', 'InterruptError']);
const CONNECTION_MESSAGES =
  /Connection is closed|Stream isn't writeable|Cluster isn't ready|Cluster is disconnect|Node is disconnected|None of startup nodes is available|Too many Cluster redirections|Failed to refresh slots cache|Command timed out|Socket timeout|Ready check failed|connect ETIMEDOUT|^timeout$/;
const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ECONNABORTED', 'EPIPE', 'ETIMEDOUT', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTCONN', 'EAI_AGAIN']);

const UNAVAILABLE = 'the store is unavailable right now; retry';

/** The first word of a Redis reply error, or of the reply error wrapped in a script error. */
function replyCode(message: string): string {
  const first = /^([A-Z]+)\b/.exec(message)?.[1] ?? '';
  if (first === 'ERR') return WRAPPED_REPLY.exec(message)?.[1] ?? first;
  return first;
}

/** True when `err` is a failure a client may retry: Redis or the way to it, not our logic. */
export function isRetryable(err: unknown): boolean {
  if (!(err instanceof Error)) return false;
  if (err.name === 'ReplyError') return RETRYABLE_REPLIES.has(replyCode(err.message));
  if (CONNECTION_ERROR_NAMES.has(err.name)) return true;
  const code = (err as NodeJS.ErrnoException).code;
  if (code && SOCKET_CODES.has(code)) return true;
  return CONNECTION_MESSAGES.test(err.message);
}

/** Rethrows a failed Redis call as the error the client gets (see the module comment). */
export function translate(err: unknown): never {
  if (err instanceof Error && err.name === 'ReplyError') {
    const m = PEAK_ERROR.exec(err.message);
    if (m) throw new PeakError(m[1] as ErrorCode, m[2]!.replace(/ script: .*$/s, ''));
  }
  if (isRetryable(err)) throw new PeakError('unavailable', UNAVAILABLE);
  throw err;
}
