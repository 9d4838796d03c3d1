/**
 * The outbound side of a socket: frames sent within one turn of the event loop leave in one
 * write (one syscall), in order, and none waits for a later turn.
 */
import type net from 'node:net';
import WebSocket, { WebSocketServer } from 'ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sender } from '../src/transport/sender.ts';
import { until } from './support/client.ts';

let wss: WebSocketServer;
let url: string;

beforeAll(async () => {
  wss = new WebSocketServer({ port: 0, host: '127.0.0.1' });
  await new Promise<void>((r) => wss.once('listening', () => r()));
  url = `ws://127.0.0.1:${(wss.address() as net.AddressInfo).port}`;
});

afterAll(async () => {
  for (const c of wss.clients) c.terminate();
  await new Promise((r) => wss.close(r));
});

async function pair() {
  const client = new WebSocket(url);
  const [server] = await Promise.all([
    new Promise<WebSocket>((r) => wss.once('connection', (ws) => r(ws))),
    new Promise<void>((r) => client.once('open', () => r())),
  ]);
  const received: string[] = [];
  client.on('message', (d) => received.push(String(d)));
  // Every flush of the TCP socket's buffer goes through one of these two.
  const tcp = (server as unknown as { _socket: net.Socket & { _write: Function; _writev: Function } })._socket;
  let writes = 0;
  for (const m of ['_write', '_writev'] as const) {
    const orig = tcp[m].bind(tcp);
    tcp[m] = (...args: unknown[]) => {
      writes++;
      return orig(...args);
    };
  }
  return { client, server, received, writes: () => writes };
}

describe('sender', () => {
  it('sends the frames of one turn in one write, in order', async () => {
    const p = await pair();
    const send = sender(p.server);
    send('a');
    send('b');
    send('c');
    await until(() => p.received.length === 3, 5_000, 'three frames');
    expect(p.received).toEqual(['a', 'b', 'c']);
    expect(p.writes()).toBe(1);
    p.client.terminate();
  });

  it('coalesces frames sent from the microtasks of the same turn, and holds nothing for a later one', async () => {
    const p = await pair();
    const send = sender(p.server);
    send('1');
    await Promise.resolve();
    send('2');
    queueMicrotask(() => send('3'));
    await until(() => p.received.length === 3, 5_000, 'three frames');
    expect(p.writes()).toBe(1);
    // A frame alone in its turn goes out without anything else to push it.
    await new Promise((r) => setImmediate(r));
    send('4');
    await until(() => p.received.length === 4, 5_000, 'the lone frame');
    expect(p.received).toEqual(['1', '2', '3', '4']);
    expect(p.writes()).toBe(2);
    p.client.terminate();
  });
});
