// The hostile part of the soak (test/soak.test.ts), in a child process started at the lowest
// CPU priority: the attackers' own client work (framing 6 KB lines, reading errors) runs on
// their machines in production, not beside the gateway, so here it must not take the
// gateway's CPU either. The parent says {hostile: true|false} over IPC to run or hold the mix,
// and {done: true} to stop; the child answers {counts} when it has stopped, then exits.
import net from 'node:net';
import WebSocket from 'ws';

const { url, port, http, floodToken, idleTokens, scrapers, slowLoris } = JSON.parse(process.env.HOSTILE_MIX);
const parentPort = { on: (e, fn) => process.on(e, fn), postMessage: (m) => process.send(m) };
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const run = { hostile: false, done: false };
const counts = { sent: 0, limited: 0, closed: 0, scrapes: 0, slowLorisClosed: 0 };

parentPort.on('message', (m) => {
  if ('hostile' in m) run.hostile = m.hostile;
  if (m.done) run.done = true;
});

async function on() {
  while (!run.done && !run.hostile) await sleep(100);
  return !run.done;
}

/** One buyer token on five sockets, 19 lines/s each of 2,000 characters; reconnects when closed. */
async function flood(s) {
  const text = '刷'.repeat(2_000);
  let k = 0;
  while (!run.done) {
    const ws = new WebSocket(`${url}/v1/buyer`, { headers: { authorization: `Bearer ${floodToken}` } });
    ws.on('error', () => {});
    ws.on('message', (d) => {
      if (d.toString().includes('"rate_limited"')) counts.limited += 1;
    });
    const closed = new Promise((r) => ws.on('close', () => r()));
    await new Promise((r) => ws.once('open', r).once('close', r));
    while ((await on()) && ws.readyState === ws.OPEN) {
      ws.send(JSON.stringify({ type: 'message', clientMsgId: `f${s}-${k++}`, text }));
      counts.sent += 1;
      await sleep(1000 / 19);
    }
    ws.close();
    await closed;
    counts.closed += 1;
    await sleep(200);
  }
}

async function scrape() {
  while (await on()) {
    await fetch(`${http}/metrics`).then((r) => r.text()).catch(() => '');
    counts.scrapes += 1;
    await sleep(500);
  }
}

/** Headers sent a line every 2 s, never finished; reopened when the server closes it. */
async function loris() {
  while (!run.done) {
    const s = net.createConnection({ host: '127.0.0.1', port });
    s.on('error', () => {});
    const closed = new Promise((r) => s.on('close', () => r()));
    s.write('GET /v1/buyer HTTP/1.1\r\nHost: 127.0.0.1\r\n');
    while ((await on()) && !s.destroyed) {
      s.write(`X-Slow-${Math.random().toString(36).slice(2)}: 1\r\n`);
      await Promise.race([sleep(2_000), closed]);
    }
    if (s.destroyed) counts.slowLorisClosed += 1;
    s.destroy();
  }
}

const idle = await Promise.all(
  idleTokens.map(async (t) => {
    const ws = new WebSocket(`${url}/v1/buyer`, { headers: { authorization: `Bearer ${t}` } });
    ws.on('error', () => {});
    await new Promise((r) => ws.once('open', r).once('close', r));
    return ws;
  }),
);
parentPort.postMessage({ ready: true });
await Promise.all([
  ...Array.from({ length: 5 }, (_, s) => flood(s)),
  ...Array.from({ length: scrapers }, () => scrape()),
  ...Array.from({ length: slowLoris }, () => loris()),
]);
idle.forEach((ws) => ws.close());
process.send({ counts }, () => process.exit(0));
