/**
 * Throughput ceilings measured in the same run as the gateway, so their ratios hold on a
 * noisy machine:
 * - saturate(): the saturation pattern (sat.ts) over all workers, against the gateway or the
 *   bare ws relay (echo-server.ts);
 * - redisCeiling(): what Redis alone does with the command mix of one relayed message (one
 *   script doing what the gateway's appendEvent does: HMGET, HGET, HINCRBY, XADD, HSET,
 *   PUBLISH to a subscribed channel), driven by redis-benchmark (pipelined, 50 clients) or,
 *   without it, a pipelined ioredis loop.
 */
import { execFile } from 'node:child_process';
import { connect as netConnect } from 'node:net';
import { Redis } from 'ioredis';
import type { WorkerPool } from './pool.ts';
import { addEncoded, newHist, summarize, type LatencySummary } from './stats.ts';
import type { SatRequest, SatResult } from './types.ts';

export interface SatSummary {
  target: 'gateway' | 'echo' | 'socketio';
  pairs: number;
  ready: number;
  ratePerBuyer: number;
  /** Messages delivered to the agent side per second in the measured window. */
  messagesPerSecond: number;
  /** The most the pattern could offer (pairs × rate): a result near it means the pacing, not the server, was the limit. */
  offeredCapPerSecond: number;
  capped: boolean;
  latency: LatencySummary;
  errors: Record<string, number>;
  setup: Record<string, number>;
  toolCpuPct: number[];
  toolElu: number[];
  measureS: number;
}

export async function saturate(
  pool: WorkerPool,
  req: Omit<SatRequest, 'localAddresses' | 'pairs' | 'shop'> & { pairs: number; shop: string },
  addresses: (i: number) => string[],
  warmupMs: number,
  measureMs: number,
  /** Called at the start and end of the measured window (after warm-up), e.g. to sample the server's CPU. */
  window?: { begin(): unknown; end(): unknown },
): Promise<SatSummary> {
  const per = Math.ceil(req.pairs / pool.size);
  const ready = await pool.all(
    (i) => ({ type: 'sat', sat: { ...req, shop: `${req.shop}-w${i}`, pairs: Math.max(1, Math.min(per, req.pairs - i * per)), localAddresses: addresses(i) } }),
    'sat-ready',
    90_000,
  );
  const startAt = Date.now() + 500;
  const timers: Promise<unknown>[] = [];
  if (window) {
    timers.push(new Promise((r) => setTimeout(() => r(window.begin()), startAt + warmupMs - Date.now())));
    timers.push(new Promise((r) => setTimeout(() => r(window.end()), startAt + warmupMs + measureMs - Date.now())));
  }
  const results = await pool.all({ type: 'sat-go', startAt, warmupMs, measureMs }, 'sat-result', warmupMs + measureMs + 60_000);
  await Promise.all(timers);
  const all = results.map((r) => r.result as SatResult);
  const hist = newHist();
  const errors: Record<string, number> = {};
  const setup: Record<string, number> = {};
  let delivered = 0;
  for (const r of all) {
    addEncoded(hist, r.hist);
    delivered += r.delivered;
    for (const [k, v] of Object.entries(r.errors)) errors[k] = (errors[k] ?? 0) + v;
    for (const [k, v] of Object.entries(r.setup)) setup[k] = (setup[k] ?? 0) + v;
  }
  const measureS = Math.max(...all.map((r) => r.measureMs)) / 1000;
  const readyN = ready.reduce((s, r) => s + r.ready, 0);
  const mps = delivered / (measureMs / 1000);
  const cap = readyN * req.rate;
  return {
    target: req.target,
    pairs: req.pairs,
    ready: readyN,
    ratePerBuyer: req.rate,
    messagesPerSecond: mps,
    offeredCapPerSecond: cap,
    capped: mps >= 0.9 * cap,
    latency: summarize(hist),
    errors,
    setup,
    toolCpuPct: all.map((r) => ((r.cpu.userMs + r.cpu.systemMs) / r.cpu.wallMs) * 100),
    toolElu: all.map((r) => r.elu),
    measureS,
  };
}

/** What the gateway's appendEvent.lua does for a buyer line of an assigned session, minus its branches. */
export const APPEND_LIKE_LUA = `
local s = redis.call('HMGET', KEYS[1], 'state', 'buyer', 'agent', 'role', 'arrived', 'roles', 'firstAt', 'frAt')
local prev = redis.call('HGET', KEYS[2], 'b:' .. ARGV[1])
local seq = redis.call('HINCRBY', KEYS[1], 'seq', 1)
redis.call('XADD', KEYS[3], '*', 'f', 'buyer', 't', ARGV[2], 'ts', ARGV[3])
redis.call('HSET', KEYS[2], 'b:' .. ARGV[1], seq)
redis.call('PUBLISH', ARGV[4], cjson.encode({ type = 'message', sessionId = KEYS[1], seq = seq, from = 'buyer', text = ARGV[2], ts = tonumber(ARGV[3]) }))
return seq
`;

export interface RedisCeiling {
  method: 'redis-benchmark' | 'ioredis-pipeline';
  /** Scripts (= relayed messages) per second. */
  messagesPerSecond: number;
  requests: number;
  clients: number;
  pipeline: number;
  detail?: string;
}

const PREFIX = 'peakdesk-loadtest-ceiling:';

/** A subscriber that reads and discards, so PUBLISH has a receiver (as the gateway's sub connection is) at almost no CPU. */
function blackholeSubscriber(host: string, port: number, channel: string): Promise<() => void> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host, port }, () => {
      sock.write(`*2\r\n$9\r\nSUBSCRIBE\r\n$${Buffer.byteLength(channel)}\r\n${channel}\r\n`);
      sock.once('data', () => resolve(() => sock.destroy()));
    });
    sock.on('data', () => {});
    sock.once('error', reject);
  });
}

function redisBenchmark(args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('redis-benchmark', args, { timeout: timeoutMs, maxBuffer: 1 << 20 }, (err, stdout) => (err ? reject(err) : resolve(stdout)));
  });
}

export async function redisCeiling(url: string, opts: { requests: number; seconds: number; cleanup: boolean }): Promise<RedisCeiling> {
  const u = new URL(url);
  const host = u.hostname || '127.0.0.1';
  const port = Number(u.port || 6379);
  const db = Number(u.pathname.slice(1) || 0);
  const client = new Redis(url, { maxRetriesPerRequest: 1, enableAutoPipelining: true });
  client.on('error', () => {});
  const sha = (await client.script('LOAD', APPEND_LIKE_LUA)) as string;
  const channel = `${PREFIX}ch`;
  const stopSub = await blackholeSubscriber(host, port, channel);
  const text = '那黑色的也有货吗？';
  let result: RedisCeiling;
  try {
    const clients = 50;
    const pipeline = 16;
    try {
      const out = await redisBenchmark(
        [
          '-h', host, '-p', String(port), '--dbnum', String(db), '-c', String(clients), '-P', String(pipeline), '-n', String(opts.requests), '-r', '10000', '--csv',
          'EVALSHA', sha, '3', `${PREFIX}s:__rand_int__`, `${PREFIX}m:__rand_int__`, `${PREFIX}t:__rand_int__`, 'm__rand_int__', text, '1762790400000', channel,
        ],
        opts.seconds * 1000 * 4,
      );
      // --csv: a header line, then "EVALSHA ...","<rps>",...
      const row = out.trim().split('\n').find((l) => /^"EVALSHA/i.test(l));
      const rps = row ? Number(row.split('","')[1]) : NaN;
      if (!Number.isFinite(rps)) throw new Error(`cannot read redis-benchmark output: ${out.slice(0, 200)}`);
      result = { method: 'redis-benchmark', messagesPerSecond: rps, requests: opts.requests, clients, pipeline };
    } catch (err) {
      // No redis-benchmark: keep `clients × pipeline` scripts in flight from one process.
      const inflight = clients * pipeline;
      let n = 0;
      const until = performance.now() + opts.seconds * 1000;
      const started = performance.now();
      await Promise.all(
        Array.from({ length: inflight }, async (_, k) => {
          while (performance.now() < until) {
            const r = Math.floor(Math.random() * 10000);
            await client.evalsha(sha, 3, `${PREFIX}s:${r}`, `${PREFIX}m:${r}`, `${PREFIX}t:${r}`, `m${n}-${k}`, text, '1762790400000', channel);
            n++;
          }
        }),
      );
      result = {
        method: 'ioredis-pipeline',
        messagesPerSecond: n / ((performance.now() - started) / 1000),
        requests: n,
        clients: 1,
        pipeline: inflight,
        detail: `redis-benchmark unavailable: ${err instanceof Error ? err.message.split('\n')[0] : String(err)}`,
      };
    }
  } finally {
    stopSub();
    if (opts.cleanup) {
      let cursor = '0';
      do {
        const [next, keys] = await client.scan(cursor, 'MATCH', `${PREFIX}*`, 'COUNT', 1000);
        cursor = next;
        if (keys.length) await client.unlink(...keys);
      } while (cursor !== '0');
    }
    client.disconnect();
  }
  return result;
}
