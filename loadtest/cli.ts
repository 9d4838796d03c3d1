/**
 * Loopback load test: N buyers and M agents chat through one gateway; reports the time from
 * a buyer's message to its delivery at the agent (and back). Bounded in count and time.
 *
 *   npm run loadtest -- --buyers 1000 --agents 50 --messages 5
 *
 * Without --url it starts the gateway as a child process (embedded store, or --redis URL),
 * so the gateway and the clients do not share one event loop.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';
import WebSocket from 'ws';

const { values: args } = parseArgs({
  options: {
    url: { type: 'string' },
    redis: { type: 'string' },
    buyers: { type: 'string', default: '1000' },
    agents: { type: 'string', default: '50' },
    messages: { type: 'string', default: '5' },
    'interval-ms': { type: 'string', default: '200' },
    'max-seconds': { type: 'string', default: '120' },
    secret: { type: 'string', default: 'loadtest-secret-0123456789abcdef' },
    shop: { type: 'string', default: `loadtest-${Date.now()}` },
    /** Burst mode: this many buyers arrive within one second, no agent online; measures the greeting. */
    burst: { type: 'string' },
  },
});

const BUYERS = Number(args.buyers);
const AGENTS = Number(args.agents);
const MESSAGES = Number(args.messages);
const INTERVAL = Number(args['interval-ms']);
const MAX_MS = Number(args['max-seconds']) * 1000;
const key = new TextEncoder().encode(args.secret);

function token(sub: string, kind: 'buyer' | 'agent'): Promise<string> {
  return new SignJWT({ shop: args.shop, kind }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).sign(key);
}

async function startGateway(): Promise<{ url: string; proc?: ChildProcess }> {
  if (args.url) return { url: args.url };
  const proc = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    env: { ...process.env, PORT: '0', HOST: '127.0.0.1', PEAKDESK_AUTH_SECRET: args.secret, LOG_LEVEL: 'info', REDIS_URL: args.redis ?? '' },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    let buf = '';
    proc.stdout!.on('data', (d) => {
      buf += d;
      const lines = buf.split('\n');
      buf = lines.pop()!;
      for (const line of lines) if (line.includes('"msg":"listening"')) resolve(JSON.parse(line).port);
    });
    proc.once('exit', (code) => reject(new Error(`gateway exited with ${code}`)));
  });
  return { url: `ws://127.0.0.1:${port}`, proc };
}

/** The handler is attached before the upgrade completes: the welcome can share its TCP read. */
function connect(url: string, path: string, tok: string, onFrame: (ws: WebSocket, data: WebSocket.RawData) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${url}${path}`, { headers: { authorization: `Bearer ${tok}` } });
    ws.on('message', (data) => onFrame(ws, data));
    ws.once('open', () => resolve(ws));
    ws.once('error', reject);
  });
}

function pct(sorted: number[], p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

function summary(name: string, samples: number[]): string {
  const s = [...samples].sort((a, b) => a - b);
  const f = (n: number) => n.toFixed(2);
  return `${name}: n=${s.length} p50=${f(pct(s, 50))}ms p99=${f(pct(s, 99))}ms p99.9=${f(pct(s, 99.9))}ms max=${f(s.at(-1) ?? NaN)}ms`;
}

/** N buyers arrive spread over one second with nobody to serve them: how fast does the bot greet? */
async function burst(url: string, n: number): Promise<void> {
  const tokens = await Promise.all(Array.from({ length: n }, (_, i) => token(`burst-${i}`, 'buyer')));
  const latencies: number[] = [];
  const errors: Record<string, number> = {};
  const sockets: WebSocket[] = [];
  const started = performance.now();
  await Promise.all(
    tokens.map(async (tok, i) => {
      await new Promise((r) => setTimeout(r, (i / n) * 1000));
      let sentAt = 0;
      await new Promise<void>((resolve) => {
        const timeout = setTimeout(resolve, MAX_MS);
        connect(url, '/v1/buyer', tok, (ws, data) => {
          const f = JSON.parse(data.toString());
          if (f.type === 'error') errors[f.code] = (errors[f.code] ?? 0) + 1;
          if (f.type === 'welcome') {
            sentAt = performance.now();
            ws.send(JSON.stringify({ type: 'message', clientMsgId: 'hi', text: '双十一有什么活动？' }));
          } else if (f.type === 'message' && f.from === 'bot' && latencies.length < n && sentAt) {
            latencies.push(performance.now() - sentAt);
            sentAt = 0;
            clearTimeout(timeout);
            resolve();
          }
        }).then((ws) => sockets.push(ws), () => resolve());
      });
    }),
  );
  const wall = (performance.now() - started) / 1000;
  console.log(JSON.stringify({ burst: n, greeted: latencies.length, wallSeconds: wall, within6s: latencies.filter((l) => l <= 6000).length, errors }));
  console.log(summary('greeting latency (buyer first message → bot greeting)', latencies));
  for (const ws of sockets) ws.close();
}

async function main(): Promise<void> {
  const { url, proc } = await startGateway();
  if (args.burst) {
    await burst(url, Number(args.burst));
    proc?.kill('SIGTERM');
    return;
  }
  const deadline = Date.now() + MAX_MS;
  const toAgent: number[] = [];
  const toBuyer: number[] = [];
  const errors: Record<string, number> = {};
  const countError = (f: { type: string; code?: string }) => {
    if (f.type === 'error') errors[f.code!] = (errors[f.code!] ?? 0) + 1;
  };
  const seen: Record<string, number> = {};
  const see = (side: string, f: { type: string }) => {
    const k = `${side}.${f.type}`;
    seen[k] = (seen[k] ?? 0) + 1;
  };
  let sent = 0;
  let received = 0;
  const capacity = Math.min(50, Math.ceil(BUYERS / AGENTS) + 1);

  const agents = await Promise.all(
    Array.from({ length: AGENTS }, async (_, i) => {
      const ws = await connect(url, '/v1/agent', await token(`agent-${i}`, 'agent'), (ws, data) => {
        const now = performance.now() + performance.timeOrigin;
        const f = JSON.parse(data.toString());
        countError(f);
        see('agent', f);
        if (f.type === 'offer') ws.send(JSON.stringify({ type: 'accept', sessionId: f.sessionId }));
        else if (f.type === 'assigned') ws.send(JSON.stringify({ type: 'message', sessionId: f.sessionId, clientMsgId: 'greet', text: '亲，在的' }));
        else if (f.type === 'message' && f.from === 'buyer') {
          const m = /^t=(\d+(?:\.\d+)?) /.exec(f.text);
          if (!m) return;
          toAgent.push(now - Number(m[1]));
          received++;
          ws.send(JSON.stringify({ type: 'message', sessionId: f.sessionId, clientMsgId: `r${f.seq}`, text: `t=${now} reply` }));
        }
      });
      ws.send(JSON.stringify({ type: 'ready', roles: ['pre-sale'], capacity }));
      return ws;
    }),
  );

  const started = Date.now();
  const buyers = await Promise.all(
    Array.from({ length: BUYERS }, async (_, i) => {
      let n = 0;
      let timer: NodeJS.Timeout | undefined;
      let finish!: () => void;
      const done = new Promise<void>((resolve) => (finish = resolve));
      // Talk only once an agent is there (its greeting), at a steady pace, so what is
      // measured is relay latency, not time spent waiting in the queue.
      const startTalking = (ws: WebSocket) => {
        timer = setInterval(() => {
          if (n >= MESSAGES || Date.now() > deadline) {
            clearInterval(timer);
            if (Date.now() > deadline) finish();
            return;
          }
          n++;
          sent++;
          ws.send(JSON.stringify({ type: 'message', clientMsgId: `m${n}`, text: `t=${performance.now() + performance.timeOrigin} 这件衣服有L码吗` }));
        }, INTERVAL + Math.random() * INTERVAL);
      };
      const ws = await connect(url, '/v1/buyer', await token(`buyer-${i}`, 'buyer'), (ws, data) => {
        const now = performance.now() + performance.timeOrigin;
        const f = JSON.parse(data.toString());
        countError(f);
        see('buyer', f);
        if (f.type === 'welcome') {
          ws.send(JSON.stringify({ type: 'message', clientMsgId: 'hello', text: '你好，请问双十一有优惠吗？' }));
        } else if (f.type === 'message' && f.from === 'agent') {
          const m = /^t=(\d+(?:\.\d+)?) /.exec(f.text);
          if (m) toBuyer.push(now - Number(m[1]));
          else if (!timer) startTalking(ws);
          if (n >= MESSAGES && m) finish();
        }
      });
      return { ws, done };
    }),
  );
  await Promise.race([Promise.all(buyers.map((b) => b.done)), new Promise((r) => setTimeout(r, MAX_MS))]);
  // Give the last replies a moment to land.
  await new Promise((r) => setTimeout(r, 500));
  const wall = (Date.now() - started) / 1000;

  console.log(JSON.stringify({ buyers: BUYERS, agents: AGENTS, messagesPerBuyer: MESSAGES, wallSeconds: wall, sent, receivedByAgents: received, lost: sent - received, errors, frames: seen }));
  console.log(summary('buyer→agent delivery', toAgent));
  console.log(summary('agent→buyer delivery', toBuyer));
  for (const ws of [...agents, ...buyers.map((b) => b.ws)]) ws.close();
  proc?.kill('SIGTERM');
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
