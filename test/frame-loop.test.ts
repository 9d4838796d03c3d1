/**
 * The frame loop's ordering on its own: frames of one key one after another, in arrival
 * order, whatever each handler waits for; other keys meanwhile; a key's chain forgotten once it
 * drains, without a later frame of that key jumping ahead of one still running.
 */
import { EventEmitter } from 'node:events';
import pino from 'pino';
import type { WebSocket } from 'ws';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { Metrics } from '../src/metrics/metrics.ts';
import { PeakError } from '../src/protocol/errors.ts';
import { runFrameLoop } from '../src/transport/frame-loop.ts';
import { until } from './support/client.ts';

const schema = z.object({ type: z.literal('message'), key: z.string(), n: z.number(), wait: z.number().optional(), fail: z.boolean().optional() });
type F = z.infer<typeof schema>;

function loop(handle: (f: F) => Promise<void>) {
  const socket = Object.assign(new EventEmitter(), { readyState: 1, OPEN: 1, close() {} });
  const sent: string[] = [];
  const metrics = new Metrics();
  runFrameLoop<F>({
    socket: socket as unknown as WebSocket,
    kind: 'agent',
    schema,
    maxFrameBytes: 10_000,
    errorLimit: 100,
    errorWindowMs: 10_000,
    framesPerSecond: 1_000,
    frameBurst: 1_000,
    logger: pino({ level: 'silent' }),
    metrics,
    send: (p) => sent.push(p),
    ready: Promise.resolve(),
    orderKey: (f) => f.key,
    handle,
  });
  const frame = (f: F) => socket.emit('message', Buffer.from(JSON.stringify(f)));
  return { frame, sent, metrics };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('frame loop', () => {
  it('keeps each key in arrival order, runs other keys meanwhile, and keeps order when a key drains and fills again', async () => {
    const log: string[] = [];
    const { frame, metrics } = loop(async (f) => {
      log.push(`start ${f.key}${f.n}`);
      if (f.wait) await sleep(f.wait);
      log.push(`end ${f.key}${f.n}`);
    });
    frame({ type: 'message', key: 'a', n: 1, wait: 30 });
    frame({ type: 'message', key: 'a', n: 2, wait: 5 });
    frame({ type: 'message', key: 'b', n: 1 });
    frame({ type: 'message', key: 'a', n: 3 });
    await until(() => log.includes('end a3'), 5_000, 'a3 handled');
    // Key a drained (its chain was dropped); the next frames of a start a new chain, still in order.
    frame({ type: 'message', key: 'a', n: 4, wait: 20 });
    await Promise.resolve();
    frame({ type: 'message', key: 'a', n: 5 });
    await until(() => log.includes('end a5'), 5_000, 'a5 handled');
    expect(log.filter((l) => l.includes(' a'))).toEqual(['start a1', 'end a1', 'start a2', 'end a2', 'start a3', 'end a3', 'start a4', 'end a4', 'start a5', 'end a5']);
    // b did not wait for a's slow first frame.
    expect(log.indexOf('end b1')).toBeLessThan(log.indexOf('end a1'));
    const timed = (await metrics.frameSeconds.get()).values.find((v) => v.metricName?.endsWith('_count') && v.labels.type === 'message');
    expect(timed?.value).toBe(6);
  });

  it('answers a failed frame with its error code and reference, and the key goes on', async () => {
    const done: number[] = [];
    const { frame, sent } = loop(async (f) => {
      if (f.fail) throw new PeakError('bad_state', 'no such thing');
      done.push(f.n);
    });
    frame({ type: 'message', key: 'a', n: 1, fail: true });
    frame({ type: 'message', key: 'a', n: 2 });
    await until(() => done.length > 0, 5_000, 'a2 handled');
    expect(sent.map((s) => JSON.parse(s))).toEqual([{ type: 'error', code: 'bad_state', message: 'no such thing', ref: 'message' }]);
    expect(done).toEqual([2]);
  });
});
