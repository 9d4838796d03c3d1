import { performance } from 'node:perf_hooks';
import type { WebSocket, RawData } from 'ws';
import type { Logger } from 'pino';
import type { z } from 'zod';
import { isPeakError, type ErrorCode } from '../protocol/errors.ts';
import { describeIssues } from '../protocol/frames.ts';
import { encode } from '../protocol/encode.ts';
import { sender } from './sender.ts';
import type { Metrics } from '../metrics/metrics.ts';

/** Errors that are not the client's doing do not count towards closing it. */
const NOT_CLIENTS_FAULT = new Set<ErrorCode>(['unavailable', 'internal']);

export interface FrameLoopOptions<F extends { type: string }> {
  socket: WebSocket;
  kind: 'buyer' | 'agent';
  schema: z.ZodType<F>;
  maxFrameBytes: number;
  errorLimit: number;
  errorWindowMs: number;
  framesPerSecond: number;
  frameBurst: number;
  logger: Logger;
  metrics: Metrics;
  /** How frames go out (see `sender`); default: straight to the socket. */
  send?: (payload: string) => void;
  /** Resolves when the connection is set up; frames that arrive earlier wait for it. */
  ready: Promise<unknown>;
  /**
   * Frames with the same key are handled one after another, in arrival order; different keys
   * run concurrently. An agent's sessions are independent, so one slow chat (or one store
   * round trip) must not hold up the agent's other chats.
   */
  orderKey?: (frame: F) => string;
  handle(frame: F): Promise<void>;
}

/** Reference a client can match an error to: the message id, else the session, else the frame type. */
function refOf(frame: unknown): string | undefined {
  if (!frame || typeof frame !== 'object') return undefined;
  const f = frame as Record<string, unknown>;
  for (const k of ['clientMsgId', 'sessionId', 'type']) if (typeof f[k] === 'string') return f[k] as string;
  return undefined;
}

/**
 * Reads frames off one socket: size check, JSON, schema, then the handler, keeping the
 * client's order wherever order matters (see `orderKey`).
 */
export function runFrameLoop<F extends { type: string }>(o: FrameLoopOptions<F>): void {
  const send = o.send ?? sender(o.socket);
  const errorTimes: number[] = [];
  const ready: Promise<unknown> = o.ready.catch(() => {});
  const chains = new Map<string, Promise<void>>();
  // The metrics' label objects per frame type, made once rather than for every frame.
  const labelSets = new Map<string, { kind: 'buyer' | 'agent'; type: string }>();
  const labelsOf = (type: string) => {
    let l = labelSets.get(type);
    if (!l) labelSets.set(type, (l = { kind: o.kind, type }));
    return l;
  };
  let tokens = o.frameBurst;
  let refilledAt = Date.now();
  const admit = () => {
    const now = Date.now();
    tokens = Math.min(o.frameBurst, tokens + ((now - refilledAt) / 1000) * o.framesPerSecond);
    refilledAt = now;
    if (tokens < 1) return false;
    tokens -= 1;
    return true;
  };

  const fail = (code: ErrorCode, message: string, ref?: string) => {
    o.metrics.errors.inc({ code });
    send(encode({ type: 'error', code, message, ...(ref ? { ref } : {}) }));
    if (NOT_CLIENTS_FAULT.has(code)) return;
    const now = Date.now();
    errorTimes.push(now);
    while (errorTimes.length && errorTimes[0]! <= now - o.errorWindowMs) errorTimes.shift();
    if (errorTimes.length > o.errorLimit) {
      o.logger.warn({ errors: errorTimes.length }, 'closing a client that keeps sending bad frames');
      o.socket.close(1008, 'too many errors');
    }
  };

  o.socket.on('message', (data: RawData) => {
    if (!admit()) return fail('rate_limited', `more than ${o.framesPerSecond} frames per second`);
    const bytes = Array.isArray(data) ? data.reduce((n, b) => n + b.length, 0) : (data as Buffer | ArrayBuffer).byteLength;
    if (bytes > o.maxFrameBytes) return fail('too_large', `frame of ${bytes} bytes exceeds ${o.maxFrameBytes}`);
    let raw: unknown;
    try {
      raw = JSON.parse(Buffer.isBuffer(data) ? data.toString('utf8') : Buffer.concat(Array.isArray(data) ? data : [Buffer.from(data)]).toString('utf8'));
    } catch {
      return fail('bad_json', 'frame is not valid JSON');
    }
    const parsed = o.schema.safeParse(raw);
    if (!parsed.success) return fail('bad_frame', describeIssues(parsed.error), refOf(raw));
    const frame = parsed.data;
    const labels = labelsOf(frame.type);
    o.metrics.framesIn.inc(labels);
    if (frame.type === 'ping') {
      send('{"type":"pong"}');
      return;
    }
    const key = o.orderKey?.(frame) ?? '';
    // One promise per frame on the hot path: the chain's tail is dropped in the handler's own
    // finally (it runs after `next` is assigned), the timing is two clock reads.
    const next: Promise<void> = (chains.get(key) ?? ready).then(async () => {
      const startedAt = performance.now();
      try {
        await o.handle(frame);
      } catch (err) {
        if (isPeakError(err)) return fail(err.code, err.message, refOf(frame));
        o.logger.error({ err, frame: frame.type }, 'frame handling failed');
        fail('internal', 'internal error', refOf(frame));
      } finally {
        o.metrics.frameSeconds.observe(labels, (performance.now() - startedAt) / 1000);
        if (chains.get(key) === next) chains.delete(key);
      }
    });
    chains.set(key, next);
  });
}
