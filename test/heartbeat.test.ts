/**
 * The heartbeat (src/transport/heartbeat.ts) pings every open socket once per interval and
 * terminates one that did not answer the previous ping, going through the sockets in slices,
 * one per turn of the event loop: a beat over tens of thousands of sockets must not be one
 * block that every chat on the instance waits behind.
 */
import { describe, expect, it } from 'vitest';
import type { WebSocket } from 'ws';
import type { Metrics } from '../src/metrics/metrics.ts';
import { HEARTBEAT_SLICE, Heartbeat } from '../src/transport/heartbeat.ts';
import { until } from './support/client.ts';

class FakeSocket {
  readonly OPEN = 1;
  readyState = 1;
  pings = 0;
  terminated = false;
  private onPong: (() => void) | undefined;
  constructor(private readonly onPing: (s: FakeSocket) => void = () => {}) {}
  on(event: string, fn: () => void): void {
    if (event === 'pong') this.onPong = fn;
  }
  ping(): void {
    this.pings++;
    this.onPing(this);
  }
  pong(): void {
    this.onPong?.();
  }
  terminate(): void {
    this.terminated = true;
    this.readyState = 3;
  }
}

const dropped: string[] = [];
const metrics = { connectionsDropped: { inc: (l: { reason: string }) => dropped.push(l.reason) } } as unknown as Metrics;

describe('heartbeat', () => {
  it('pings many sockets in slices, one per turn of the event loop, each once per beat', async () => {
    const count = HEARTBEAT_SLICE * 4 + 7;
    let pinged = 0;
    let pingedBeforeNextTurn = -1;
    const sockets: FakeSocket[] = [];
    for (let i = 0; i < count; i++) {
      sockets.push(
        new FakeSocket(() => {
          pinged++;
          // Runs at the loop's next check phase: whatever the beat pinged before it, it pinged in one block.
          if (pinged === 1) setImmediate(() => (pingedBeforeNextTurn = pinged));
        }),
      );
    }
    const hb = new Heartbeat(() => sockets as unknown as WebSocket[], () => 30, metrics);
    for (const s of sockets) hb.watch(s as unknown as WebSocket);
    hb.start();
    await until(() => pinged === count, 2_000, 'every socket pinged');
    hb.stop();
    expect(pingedBeforeNextTurn).toBe(HEARTBEAT_SLICE);
    expect(sockets.every((s) => s.pings === 1)).toBe(true);
  });

  it('terminates a socket that did not answer the previous ping, keeps those that did', async () => {
    dropped.length = 0;
    const sockets = Array.from({ length: HEARTBEAT_SLICE + 3 }, () => new FakeSocket());
    const silent = sockets[HEARTBEAT_SLICE + 1]!;
    for (const s of sockets) if (s !== silent) (s as unknown as { onPing: (s: FakeSocket) => void }).onPing = (x) => x.pong();
    const hb = new Heartbeat(() => sockets as unknown as WebSocket[], () => 20, metrics);
    for (const s of sockets) hb.watch(s as unknown as WebSocket);
    hb.start();
    await until(() => silent.terminated, 2_000, 'the silent socket terminated');
    await until(() => sockets.every((s) => s === silent || s.pings >= 3), 2_000, 'three beats');
    hb.stop();
    expect(sockets.filter((s) => s.terminated)).toEqual([silent]);
    expect(dropped).toEqual(['ping_timeout']);
  });
});
