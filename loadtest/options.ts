/**
 * The load test's command line: every option with its hard bounds, and what follows from
 * them (worker count, connection cap, behaviour of the simulated people, output folder).
 */
import { cpus } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { REPO_ROOT, fdLimits } from './processes.ts';
import { weighted } from './profile.ts';
import { loadFixtures, type AgentSpec, type Behaviour } from './types.ts';

export const { values: a } = parseArgs({
  options: {
    url: { type: 'string' },
    redis: { type: 'string' },
    'redis-server': { type: 'boolean', default: false },
    buyers: { type: 'string', default: '1000' },
    agents: { type: 'string', default: '50' },
    messages: { type: 'string', default: '5' },
    duration: { type: 'string', default: '60' },
    'spike-multiple': { type: 'string', default: '10' },
    'spike-rate': { type: 'string' },
    'spike-at': { type: 'string', default: '0.3' },
    decay: { type: 'string' },
    tail: { type: 'string', default: '30' },
    'max-seconds': { type: 'string', default: '300' },
    workers: { type: 'string', default: 'auto' },
    out: { type: 'string' },
    shop: { type: 'string', default: `loadtest-${Date.now()}` },
    secret: { type: 'string', default: 'loadtest-secret-0123456789abcdef' },
    seed: { type: 'string', default: '11' },
    burst: { type: 'string' },
    'interval-ms': { type: 'string' },
    'capacity-min': { type: 'string', default: '3' },
    'capacity-max': { type: 'string', default: '8' },
    'handle-seconds': { type: 'string', default: '25' },
    'think-seconds': { type: 'string', default: '3' },
    'typing-seconds': { type: 'string', default: '2' },
    'reconnect-rate': { type: 'string', default: '0.05' },
    'abandon-rate': { type: 'string', default: '0.08' },
    'patience-seconds': { type: 'string', default: '20' },
    'transfer-rate': { type: 'string', default: '0.05' },
    'decline-rate': { type: 'string', default: '0.02' },
    'vip-share': { type: 'string', default: '0.1' },
    'vip-level': { type: 'string', default: '3' },
    'leave-share': { type: 'string', default: '0.1' },
    'away-seconds': { type: 'string', default: '15' },
    'max-conns': { type: 'string' },
    ceilings: { type: 'boolean', default: false },
    'no-ceilings': { type: 'boolean', default: false },
    'sat-pairs': { type: 'string' },
    'sat-seconds': { type: 'string', default: '8' },
    'sat-rate': { type: 'string', default: '9' },
    'sat-workers': { type: 'string', default: '2' },
    'gateway-cpu-prof': { type: 'boolean', default: false },
    'gateway-workers': { type: 'string', default: '1' },
    'gateway-log-level': { type: 'string', default: 'info' },
    'gateway-pid': { type: 'string' },
    'gateway-node-args': { type: 'string' },
    'gateway-config': { type: 'string' },
    plan: { type: 'string' },
    webhooks: { type: 'boolean', default: false },
    'plan-interval': { type: 'string', default: '0' },
    'plan-warmup': { type: 'string' },
    quiet: { type: 'boolean', default: false },
    help: { type: 'boolean', short: 'h', default: false },
  },
});

if (a.help) {
  process.stdout.write(`Usage: npm run loadtest -- [options]   (see README.md, "Load testing")

  --buyers N            buyers arriving over the run (default 1000; max 100000)
  --agents N            agents online from the start (default 50; max 5000)
  --duration S          seconds of arrivals (default 60; max 600)
  --spike-multiple M    midnight rate as a multiple of the pre-heat rate (default 10)
  --spike-rate R        peak new buyers/s at midnight (fixes base = R/M; decay follows)
  --spike-at F          where midnight falls, share of the duration (default 0.3)
  --decay S             after midnight the rate decays with this time constant (default: from the profile)
  --tail S              after the last arrival, chats go on at most S seconds (default 30)
  --seed N              random seed for arrivals and behaviour (default 11)
  --shop NAME           shop id prefix (default loadtest-<time>; workers add -w0, -w1, …)
  --secret S            the gateway's PEAKDESK_AUTH_SECRET, to sign tokens (default: a test secret)
  --max-conns N         buyer connections held at once at most (default: the open-files limit less agents)

 Behaviour of the simulated buyers and agents:
  --messages N          buyer lines per chat after an agent answers (median; default 5)
  --think-seconds S     buyer's think time before each reply (median; default 3)
  --interval-ms MS      the same as --think-seconds, in ms (older name)
  --typing-seconds S    agent's typing delay before each answer (median; default 2)
  --handle-seconds S    agent's handle time before closing a chat (median, log-normal; default 25)
  --capacity-min N      an agent's fewest concurrent chats (default 3)
  --capacity-max N      an agent's most concurrent chats (default 8)
  --reconnect-rate P    share of buyers who lose their connection mid-chat and resume (default 0.05)
  --abandon-rate P      share of queued buyers who give up (default 0.08)
  --patience-seconds S  median wait before such a buyer gives up (default 20)
  --transfer-rate P     share of chats an agent transfers to another role (default 0.05)
  --decline-rate P      share of offers an agent declines (default 0.02)

 Where and how:
  --workers N|auto      load-generator processes (default auto)
  --vip-share F         share of buyers whose token carries vip = --vip-level (default 0.1)
  --vip-level N         their VIP level, 1..9 (default 3); the report gives time to agent
                        p50/p99 for VIP and regular buyers apart
  --leave-share F       share of queued buyers who close the page while waiting (default 0.1);
                        they come back after a median --away-seconds (default 15) and resume
  --redis-server        start a private redis-server on a free loopback port for the run
  --redis URL           use this Redis (the gateway's store and the Redis ceiling)
  --url ws://HOST:PORT  drive a running gateway instead of starting one
  --out DIR             result.json + report.html (default loadtest/results/<timestamp>/)
  --burst N             N buyers within one second, no agents: greeting latency only
  --ceilings            after the run, measure throughput ceilings in the same run (opt-in; ~1 min):
                        the gateway, the gateway as 2 cluster workers, a bare ws relay, a Socket.IO
                        relay with @socket.io/redis-adapter, and Redis alone; reports the ratios
  --no-ceilings         no ceilings (the default; kept for older command lines)
  --sat-pairs N         buyer→agent pairs in the ceilings (default 6000, in shops of 100)
  --sat-seconds S       measured seconds per ceiling, after a 2 s warm-up (default 8)
  --sat-rate R          lines per second per pair at most (default 9, under the 10/s buyer rate limit)
  --sat-workers N       load-generator processes for the ceilings (default 2)
  --gateway-config F    the gateway's config file (PEAKDESK_CONFIG), for experiments
  --gateway-node-args A node flags for the gateway, e.g. "--max-semi-space-size=64"
  --gateway-log-level L the gateway's LOG_LEVEL (default info, as in production)
  --gateway-cpu-prof    profile the gateway (inspector) during the run and its saturation; summarised in the report
  --webhooks            subscribe a local receiver to every webhook event (gateway started here
                        only) and report delivery latency p50/p99, throughput, duplicates
  --gateway-pid PID     with --url: the running gateway's pid, to measure its CPU and memory
  --gateway-workers N   start the gateway with PEAKDESK_WORKERS=N (cluster on one port; needs Redis;
                        its CPU and memory are the primary's and workers' together; default 1)
  --max-seconds S       hard cap on the whole run, ceilings included (default 300)
  --plan FILE           staff each role as a staffing plan says (npm run plan -- --out FILE) and
                        run its arrivals; reports measured vs predicted service level per role
                        (replaces --buyers, --agents, the spike profile; see README "Staffing plan")
  --plan-interval N     which interval of the plan to run (default 0)
  --plan-warmup S       buyers of the first S seconds are not counted (default: 2 × the longest
                        handle time, at most a third of --duration)
  --quiet               no progress bar or log lines, only the summary
  -h, --help            this text
`);
  process.exit(0);
}

// ---------- options, with hard bounds ----------
export const clampInt = (v: string | undefined, lo: number, hi: number, name: string) => {
  const n = Math.round(Number(v));
  if (!Number.isFinite(n)) throw new Error(`--${name}: not a number: ${v}`);
  return Math.max(lo, Math.min(hi, n));
};
export const numIn = (v: string | undefined, lo: number, hi: number, name: string) => {
  const n = Number(v);
  if (!Number.isFinite(n)) throw new Error(`--${name}: not a number: ${v}`);
  return Math.max(lo, Math.min(hi, n));
};

export const PLAN = a.plan;
if (PLAN && a.burst !== undefined) throw new Error('--plan and --burst exclude each other');
export const burst = a.burst !== undefined ? clampInt(a.burst, 1, 100_000, 'burst') : undefined;
export const BUYERS = burst ?? clampInt(a.buyers, 1, 100_000, 'buyers');
export const AGENTS = burst !== undefined ? 0 : clampInt(a.agents, 0, 5_000, 'agents');
export const DURATION = burst !== undefined ? 1 : numIn(a.duration, 1, 600, 'duration');
export const TAIL = burst !== undefined ? Math.min(15, numIn(a.tail, 0, 300, 'tail')) : numIn(a.tail, 0, 300, 'tail');
export const MAX_S = numIn(a['max-seconds'], 10, 3600, 'max-seconds');
export const SEED = clampInt(a.seed, 0, 2 ** 31, 'seed');
export const GATEWAY_WORKERS = clampInt(a['gateway-workers'], 1, 64, 'gateway-workers');
if (GATEWAY_WORKERS > 1 && a['gateway-cpu-prof']) throw new Error('--gateway-cpu-prof profiles one process: use it with --gateway-workers 1');
export const CEILINGS = a.ceilings && !a['no-ceilings'] && burst === undefined;
export const limits = fdLimits();
// A plan's roles are pooled queues: one shop, so one worker (workers have a shop each).
export const W = PLAN
  ? 1
  : a.workers === 'auto'
    ? Math.min(4, Math.max(1, Math.ceil((BUYERS + AGENTS) / 12_000)))
    : clampInt(a.workers, 1, Math.max(1, Math.min(8, cpus().length * 2)), 'workers');
// The gateway (a child, same limits) holds every connection: buyers + agents + its own files.
export const fdCap = Number.isFinite(limits.soft) ? limits.soft : 1_000_000;
export const MAX_BUYER_CONNS = a['max-conns'] ? clampInt(a['max-conns'], 1, 1_000_000, 'max-conns') : Math.max(100, fdCap - AGENTS - 300);
export const behaviour: Behaviour = {
  messages: clampInt(a.messages, 0, 50, 'messages'),
  thinkS: a['interval-ms'] ? numIn(a['interval-ms'], 10, 60_000, 'interval-ms') / 1000 : numIn(a['think-seconds'], 0.05, 120, 'think-seconds'),
  typingS: numIn(a['typing-seconds'], 0.05, 120, 'typing-seconds'),
  handleS: numIn(a['handle-seconds'], 0.5, 3600, 'handle-seconds'),
  reconnectRate: numIn(a['reconnect-rate'], 0, 1, 'reconnect-rate'),
  abandonRate: numIn(a['abandon-rate'], 0, 1, 'abandon-rate'),
  patienceS: numIn(a['patience-seconds'], 0.5, 3600, 'patience-seconds'),
  transferRate: numIn(a['transfer-rate'], 0, 1, 'transfer-rate'),
  declineRate: numIn(a['decline-rate'], 0, 1, 'decline-rate'),
  vipShare: numIn(a['vip-share'], 0, 1, 'vip-share'),
  vipLevel: clampInt(a['vip-level'], 1, 9, 'vip-level'),
  leaveShare: numIn(a['leave-share'], 0, 1, 'leave-share'),
  awayS: numIn(a['away-seconds'], 0.5, 3600, 'away-seconds'),
  rateRate: 0.5,
  greetOnly: burst !== undefined,
  // A plan run keeps to the model: no transfers, declines or dropped connections.
  ...(PLAN ? { plan: true, transferRate: 0, declineRate: 0, reconnectRate: 0, vipShare: 0, leaveShare: 0 } : {}),
};
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
export const OUT = a.out ?? join(REPO_ROOT, 'loadtest', 'results', stamp);

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
export const log = (s: string) => {
  if (!a.quiet) process.stderr.write(`${s}\n`);
};

/** Loopback source addresses for worker i: 127.0.(i+1).1..16, so ephemeral ports never run out. */
export const addressesOf = (i: number) => Array.from({ length: 16 }, (_, k) => `127.0.${i + 1}.${k + 1}`);

export function agentSpecs(rand: () => number): AgentSpec[] {
  const fx = loadFixtures();
  const weights: Record<string, number> = {};
  for (const [role, l] of Object.entries(fx.roles)) weights[role] = l.weight;
  const roles = Object.keys(weights);
  const capMin = clampInt(a['capacity-min'], 1, 50, 'capacity-min');
  const capMax = Math.max(capMin, clampInt(a['capacity-max'], 1, 50, 'capacity-max'));
  return Array.from({ length: AGENTS }, (_, i) => {
    const primary = weighted(rand, weights);
    const set = [primary];
    // Some agents are multi-skilled.
    if (rand() < 0.3) {
      const other = roles[Math.floor(rand() * roles.length)]!;
      if (other !== primary) set.push(other);
    }
    return { id: `agent-${i}`, roles: set, capacity: capMin + Math.floor(rand() * (capMax - capMin + 1)) };
  });
}
