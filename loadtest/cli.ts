/**
 * Double 11 load test: buyers arrive on a pre-heat / midnight-spike / decay profile, chat
 * with agents through the gateway over loopback WebSockets, and the run is measured and
 * reported (console, result.json, report.html). Bounded in count and time.
 *
 *   npm run loadtest -- --buyers 2000 --agents 100 --duration 30 --redis-server
 *
 * Without --url it starts the gateway as a child process (embedded store, --redis URL, or
 * --redis-server for a private redis-server on a free port), so the gateway, Redis and the
 * load generators (forked workers, one shop each) are separate processes. See README.md,
 * "Load testing", for every option and what the figures mean.
 */
import { cpus, freemem, loadavg, totalmem } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import cliProgress from 'cli-progress';
import { redisCeiling, saturate, type RedisCeiling, type SatSummary } from './ceilings.ts';
import { summarizeCpuProfile, type ProfileSummary } from './cpuprofile.ts';
import { InspectorSession } from './inspector.ts';
import { WorkerPool } from './pool.ts';
import { CpuMeter, MachineMeter, RedisProbe, commandCalls, freePort, listenOverflows, spawned, GATEWAY_NODE_FLAGS, builtGateway, startNodeChild, startRedisServer, treeCpuSeconds, type Child } from './processes.ts';
import { AGENTS, BUYERS, CEILINGS, GATEWAY_WORKERS, DURATION, MAX_BUYER_CONNS, MAX_S, OUT, PLAN, SEED, TAIL, W, a, addressesOf, agentSpecs, behaviour, burst, clampInt, fdCap, limits, log, numIn, sleep } from './options.ts';
import { addTallies, comparePlan, loadPlanRun, planAgents, planArrivals, planTable, type PlanTally } from './plan-run.ts';
import { loadFixtures } from './types.ts';
import { arrivalTimes, makeProfile, plannedPerSecond, rng } from './profile.ts';
import { logCosts, redisSessionBytes, rssPerBuyerKB, type SessionCosts } from './costs.ts';
import { consoleSummary, evaluateTargets, type ResourceSummary, type RunReport } from './report.ts';
import { renderHtml } from './report-html.ts';
import { Timeline } from './timeline.ts';
import { WebhookReceiver, webhookLine } from './webhook-receiver.ts';
import { LATENCIES, addCounters, addCounts, addEncoded, newCounters, newHist, summarize, type Histogram, type LatencySummary } from './stats.ts';
import type { WorkerResult } from './types.ts';

/** Everything started, so a failure or Ctrl-C stops it too. */
let pool: WorkerPool | undefined;
function killAll(): void {
  for (const c of spawned) if (c.exitCode === null) c.kill('SIGKILL');
  pool?.procs.forEach((w) => w.exitCode === null && w.kill('SIGKILL'));
}
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    process.stderr.write(`\n${sig}: stopping the gateway, Redis and workers\n`);
    killAll();
    process.exit(130);
  });
}


async function main(): Promise<void> {
  const startedAt = new Date();
  mkdirSync(OUT, { recursive: true });
  const notes: string[] = [];
  const deadline = Date.now() + MAX_S * 1000;
  const hardStop = setTimeout(() => {
    process.stderr.write(`\n--max-seconds ${MAX_S} reached: stopping everything\n`);
    killAll();
    process.exit(2);
  }, MAX_S * 1000 + 30_000);
  hardStop.unref();

  if (a.redis && a['redis-server']) throw new Error('--redis and --redis-server exclude each other');
  if (limits.soft < BUYERS + AGENTS + 300 && MAX_BUYER_CONNS < BUYERS) {
    notes.push(
      `open-files limit ${limits.soft} (hard ${limits.hard}): the gateway can hold at most ~${MAX_BUYER_CONNS} buyers at once besides ${AGENTS} agents; arrivals beyond that wait for a buyer to leave (counted as "held back"). Raise it with \`ulimit -n\` (needs a higher hard limit) to hold more.`,
    );
  }

  // ---------- Redis and the gateway ----------
  let redisUrl: string | null = a.redis ?? null;
  let redisChild: (Child & { url: string }) | undefined;
  if (a['redis-server']) {
    redisChild = await startRedisServer();
    redisUrl = redisChild.url;
    log(`private redis-server on ${redisUrl} (pid ${redisChild.pid})`);
  }
  let gatewayUrl = a.url ?? '';
  if (a.webhooks && a.url) throw new Error('--webhooks configures the gateway it starts: not with --url');
  let webhookRx: WebhookReceiver | undefined;
  let gateway: (Child & { inspectorUrl?: string }) | undefined;
  /** The started gateway's environment and entry, for the 2-worker ceiling. */
  let gatewayEnv: NodeJS.ProcessEnv | undefined;
  let gatewayEntry = '';
  if (!a.url) {
    // A port of our choosing: readiness then does not depend on the gateway's log level.
    const env: NodeJS.ProcessEnv = { ...process.env, PORT: String(await freePort()), HOST: '127.0.0.1', PEAKDESK_AUTH_SECRET: a.secret, LOG_LEVEL: a['gateway-log-level'] };
    if (GATEWAY_WORKERS > 1) {
      // A cluster: its port is known from the primary's "listening" line, once every worker accepts.
      if (!redisUrl) throw new Error('--gateway-workers above 1 needs Redis (--redis-server or --redis URL)');
      env.PEAKDESK_WORKERS = String(GATEWAY_WORKERS);
      env.PORT = '0';
    }
    delete env.REDIS_CLUSTER_NODES;
    if (redisUrl) env.REDIS_URL = redisUrl;
    else delete env.REDIS_URL;
    if (a['gateway-config']) env.PEAKDESK_CONFIG = a['gateway-config'];
    if (a.webhooks) {
      webhookRx = new WebhookReceiver();
      env.PEAKDESK_CONFIG = webhookRx.writeConfig(await webhookRx.start(), a['gateway-config'], OUT);
      log(`webhooks: every event to a local receiver (${env.PEAKDESK_CONFIG})`);
    }
    const nodeArgs = [...GATEWAY_NODE_FLAGS, ...(a['gateway-node-args']?.split(/\s+/).filter(Boolean) ?? []), ...(a['gateway-cpu-prof'] ? ['--inspect=127.0.0.1:0'] : [])];
    gatewayEntry = builtGateway(log);
    gateway = await startNodeChild(gatewayEntry, env, nodeArgs, join(OUT, 'gateway.log'));
    gatewayEnv = env;
    gatewayUrl = `ws://127.0.0.1:${gateway.port}`;
    log(`gateway on ${gatewayUrl} (pid ${gateway.pid}; log ${relative(process.cwd(), join(OUT, 'gateway.log'))})`);
  }
  const inspector = gateway?.inspectorUrl ? await InspectorSession.attach(gateway.inspectorUrl) : undefined;
  const cpuProfiles: { phase: string; summary: ProfileSummary }[] = [];
  const gatewayPid = gateway?.pid ?? (a['gateway-pid'] ? Number(a['gateway-pid']) : 0);
  // A cluster's CPU and memory are its primary's and workers' together.
  const gwMeter = gatewayPid ? new CpuMeter(gatewayPid, GATEWAY_WORKERS > 1) : undefined;
  const probe = redisUrl ? new RedisProbe(redisUrl) : undefined;
  let redisMeter: CpuMeter | undefined;
  if (probe) {
    await probe.sample();
    const pid = redisChild?.pid ?? probe.pid;
    // /proc works for a local redis-server; else Redis' own INFO counters.
    if (pid && new CpuMeter(pid).sample()) redisMeter = new CpuMeter(pid);
  }

  // ---------- workers ----------
  const rand = rng(SEED);
  const planRun = PLAN ? loadPlanRun(PLAN, clampInt(a['plan-interval'], 0, 10_000, 'plan-interval'), Object.keys(loadFixtures().roles)) : undefined;
  const planWarmup = planRun
    ? a['plan-warmup'] !== undefined
      ? numIn(a['plan-warmup'], 0, DURATION, 'plan-warmup')
      : Math.min(DURATION / 3, 2 * Math.max(...planRun.roles.map((r) => r.handleSeconds)))
    : 0;
  const planArrive = planRun ? planArrivals(planRun, DURATION, planWarmup, rand) : undefined;
  if (planArrive && !planArrive.times.length) throw new Error('--plan: no arrivals in that interval');
  const profile = makeProfile({
    buyers: planArrive ? planArrive.times.length : BUYERS,
    durationS: DURATION,
    spikeMultiple: burst !== undefined || planArrive ? 1 : numIn(a['spike-multiple'], 1, 1000, 'spike-multiple'),
    spikeAt: numIn(a['spike-at'], 0, 1, 'spike-at'),
    ...(a.decay ? { decayS: numIn(a.decay, 0.1, 3600, 'decay') } : {}),
    ...(a['spike-rate'] && burst === undefined ? { spikeRate: numIn(a['spike-rate'], 0.1, 100_000, 'spike-rate') } : {}),
  });
  if (profile.note) notes.push(profile.note);
  const arrivals = planArrive ? planArrive.times : arrivalTimes(profile, rand);
  const specs = planRun ? planAgents(planRun) : agentSpecs(rand);
  const shops = Array.from({ length: W }, (_, i) => (W === 1 ? a.shop : `${a.shop}-w${i}`));
  pool = new WorkerPool(W);
  const p = pool;
  log(`${W} worker(s); connecting ${specs.length} agents…`);
  const ready = await p.all(
    (i) => ({
      type: 'init',
      init: {
        index: i,
        url: gatewayUrl,
        secret: a.secret,
        shop: shops[i]!,
        arrivals: arrivals.filter((_, k) => k % W === i),
        agents: specs.filter((_, k) => k % W === i),
        ...(planArrive ? { planBuyers: planArrive.buyers.filter((_, k) => k % W === i) } : {}),
        behaviour,
        maxConns: Math.floor(MAX_BUYER_CONNS / W),
        seed: SEED,
        localAddresses: addressesOf(i),
      },
    }),
    'ready',
    180_000,
  );
  const agentsConnected = ready.reduce((s, r) => s + r.agents, 0);
  const agentsFailed = ready.reduce((s, r) => s + r.failed, 0);
  if (agentsFailed) notes.push(`${agentsFailed} agents could not connect`);

  // ---------- the run ----------
  const planned = plannedPerSecond(profile);
  const timeline = new Timeline(planned, W);
  let finished = 0;
  const off = p.on((_, m) => {
    if (m.type === 'finished') finished++;
    if (m.type === 'tick') timeline.add(m.tick);
  });

  await inspector?.start();
  const overflows0 = listenOverflows();
  const startAt = Date.now() + 1000;
  const runEndAt = startAt + (DURATION + TAIL) * 1000;
  p.broadcast({ type: 'start', startAt });
  const bar = new cliProgress.SingleBar(
    {
      format: ' {bar} {value}/{total}s | buyers {buyers} | waiting {waiting} | chatting {chatting} | buyer msg/s {mps} | greet p99 {fr} ms | b→a p99 {ba} ms | gw cpu {gw}%',
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  if (!a.quiet) bar.start(Math.ceil(DURATION + TAIL), 0, { buyers: 0, waiting: 0, chatting: 0, mps: 0, fr: '-', ba: '-', gw: '-' });
  await sleep(Math.max(0, startAt - Date.now()));
  // Sample resources on the run's seconds; fold the second before last into its row.
  const machineMeter = new MachineMeter();
  machineMeter.sample(cpus().length);
  let coordLast = process.cpuUsage().user + process.cpuUsage().system;
  let coordPct = 0;
  const sampler = setInterval(() => {
    const sec = Math.floor((Date.now() - startAt) / 1000) - 1;
    if (sec < 0) return;
    const r = timeline.row(sec);
    const gw = gwMeter?.sample();
    if (gw) {
      r.gatewayCpuPct = Number.isFinite(gw.cpuPct) ? Math.round(gw.cpuPct * 10) / 10 : null;
      r.gatewayRssMB = Math.round(gw.rssMB * 10) / 10;
    }
    const rm = redisMeter?.sample();
    if (rm) {
      r.redisCpuPct = Number.isFinite(rm.cpuPct) ? Math.round(rm.cpuPct * 10) / 10 : null;
      r.redisRssMB = Math.round(rm.rssMB * 10) / 10;
    }
    void probe?.sample().then((s) => {
      if (!s) return;
      r.redisUsedMemoryMB = Math.round(s.usedMemoryMB * 10) / 10;
      if (!redisMeter) {
        r.redisCpuPct = Number.isFinite(s.cpuPct) ? Math.round(s.cpuPct * 10) / 10 : null;
        r.redisRssMB = Math.round(s.rssMB * 10) / 10;
      }
    });
    const machine = machineMeter.sample(cpus().length);
    if (machine !== undefined) r.machineCpuPct = Math.round(machine * 10) / 10;
    const prev = timeline.has(sec - 1) ? timeline.row(sec - 1) : undefined;
    // Others = machine − gateway − Redis − tool workers − this coordinator, for the second before (its ticks are in).
    if (prev && prev.machineCpuPct !== null) {
      const ours = (prev.gatewayCpuPct ?? 0) + (prev.redisCpuPct ?? 0) + prev.toolCpuPct.reduce<number>((n, x) => n + (x ?? 0), 0) + coordPct;
      prev.otherCpuPct = Math.max(0, Math.round((prev.machineCpuPct - ours) * 10) / 10);
    }
    const cu = process.cpuUsage();
    coordPct = (((cu.user + cu.system - coordLast) / 1000) / 1000) * 100;
    coordLast = cu.user + cu.system;
    timeline.finalize(sec - 1);
    const shown = prev ?? r;
    if (!a.quiet)
      bar.update(Math.min(Math.ceil(DURATION + TAIL), sec + 1), {
        buyers: shown.connectedBuyers,
        waiting: shown.waiting,
        chatting: shown.chatting,
        mps: shown.buyerMessages,
        fr: shown.firstResponse.p99 ?? '-',
        ba: shown.buyerToAgent.p99 ?? '-',
        gw: shown.gatewayCpuPct ?? '-',
      });
  }, 1000);
  gwMeter?.sample();
  redisMeter?.sample();
  // Run until the tail is over, or every buyer is done after the last arrival.
  const statsBefore = probe ? commandCalls(await probe.info()) : undefined;
  while (Date.now() < runEndAt && Date.now() < deadline - 60_000) {
    if (finished === W && Date.now() >= startAt + DURATION * 1000) break;
    await sleep(200);
  }
  const results = (await p.all({ type: 'stop', drainMs: 5000 }, 'result', 120_000)).map((m) => m.result as WorkerResult);
  const wallSeconds = (Date.now() - startAt) / 1000;
  const overflows1 = listenOverflows();
  if (inspector) {
    const file = join(OUT, 'gateway-run.cpuprofile');
    await inspector.stop(file);
    cpuProfiles.push({ phase: 'run', summary: summarizeCpuProfile(file, 30) });
  }
  clearInterval(sampler);
  await sleep(300);
  off();
  if (!a.quiet) bar.stop();
  const statsAfterRun = probe ? commandCalls(await probe.info()) : undefined;
  // Deliveries still in flight (retries included) land before the figures are taken.
  await webhookRx?.drain(3_000, 30_000);
  const webhooks = webhookRx?.summary();
  await webhookRx?.stop();
  // What a session costs, before the ceilings add sessions and log lines of their own.
  const costs: SessionCosts = {
    redis: redisUrl ? await redisSessionBytes(redisUrl).catch(() => null) : null,
    log: gateway ? logCosts(join(OUT, 'gateway.log')) : null,
    gatewayRssPerBuyerKB: rssPerBuyerKB(timeline.rowsInOrder()),
  };

  // ---------- aggregate ----------
  const counters = newCounters();
  const hists = Object.fromEntries(LATENCIES.map((n) => [n, newHist()])) as Record<string, Histogram>;
  const errors = { buyer: {} as Record<string, number>, agent: {} as Record<string, number> };
  const frames: Record<string, number> = {};
  const samples: { kind: string; detail: unknown }[] = [];
  let stray = 0;
  const roleAcc: Record<string, { waited: number; reachedAgent: number; abandoned: number; hist: Histogram }> = {};
  for (const r of results) {
    for (const [role, t] of Object.entries(r.roles ?? {})) {
      const acc = (roleAcc[role] ??= { waited: 0, reachedAgent: 0, abandoned: 0, hist: newHist() });
      acc.waited += t.waited;
      acc.reachedAgent += t.reachedAgent;
      acc.abandoned += t.abandoned;
      addEncoded(acc.hist, t.timeToAgent);
    }
    addCounters(counters, r.counters);
    for (const [k, v] of Object.entries(r.hist)) addEncoded(hists[k]!, v);
    addCounts(errors.buyer, r.errors.buyer);
    addCounts(errors.agent, r.errors.agent);
    addCounts(frames, r.frames);
    samples.push(...r.samples);
    stray += r.stray;
  }
  const latency: Record<string, LatencySummary> = {};
  for (const n of LATENCIES) latency[n] = summarize(hists[n]!);
  const rows = timeline.rowsInOrder();
  const run = rows.filter((r) => r.sec < wallSeconds - 1);
  const max = (xs: (number | null)[]) => xs.reduce<number>((m, x) => (x !== null && Number.isFinite(x) && x > m ? x : m), 0);
  const mean = (xs: (number | null)[]) => {
    const v = xs.filter((x): x is number => x !== null && Number.isFinite(x));
    return v.length ? v.reduce((s, x) => s + x, 0) / v.length : null;
  };
  const resource = (cpu: (number | null)[], rss: (number | null)[], cpuS: number | null): ResourceSummary => ({
    cpuPctMean: mean(cpu),
    cpuPctMax: cpu.some((x) => x !== null) ? max(cpu) : null,
    cpuSeconds: cpuS,
    rssMBMax: rss.some((x) => x !== null) ? max(rss) : null,
  });
  const perMsg = (before?: Record<string, number>, after?: Record<string, number>, n?: number) => {
    if (!before || !after || !n) return null;
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(after)) {
      const d = v - (before[k] ?? 0);
      if (d > 0 && k !== 'info' && k !== 'client|setname') out[k] = Math.round((d / n) * 100) / 100;
    }
    return out;
  };

  // ---------- ceilings ----------
  let gwSat: SatSummary | null = null;
  let echoSat: SatSummary | null = null;
  let redisCeil: RedisCeiling | null = null;
  let gwSatCmds: Record<string, number> | null = null;
  let gwSatCpu: number | null = null;
  let echoSatCpu: number | null = null;
  let redisSatCpu: number | null = null;
  let gwSatMachine: number | null = null;
  let echoSatMachine: number | null = null;
  let sioSat: SatSummary | null = null;
  let sioSatCpu: number | null = null;
  let gw2Sat: SatSummary | null = null;
  let gw2SatCpu: number | null = null;
  const satMachine = new MachineMeter();
  await p.close();
  if (CEILINGS) {
    // The ceilings get their own workers: the raw relay needs more client CPU than the run.
    const SW = clampInt(a['sat-workers'], 1, 8, 'sat-workers');
    pool = new WorkerPool(SW);
    const sp = pool;
    const satPairs = a['sat-pairs'] ? clampInt(a['sat-pairs'], 1, 20_000, 'sat-pairs') : Math.max(SW, Math.min(6000, Math.floor(fdCap / 2) - 500));
    const satRate = numIn(a['sat-rate'], 1, 19, 'sat-rate');
    const measureMs = numIn(a['sat-seconds'], 2, 60, 'sat-seconds') * 1000;
    const warmupMs = 2000;
    const budget = () => deadline - Date.now();
    if (budget() > measureMs + 60_000) {
      log(`ceiling: gateway, ${satPairs} buyer→agent pairs, one line in flight each (≤ ${satRate}/s)…`);
      // Measured in the window only: the gateway's CPU, Redis' commands, and the CPU profile.
      let before: Record<string, number> | undefined;
      let after: Record<string, number> | undefined;
      let cpu0 = NaN;
      let t0 = 0;
      let redis0 = NaN;
      gwSat = await saturate(
        sp,
        { target: 'gateway', url: gatewayUrl, secret: a.secret, shop: `${a.shop}-sat`, pairs: satPairs, rate: satRate },
        addressesOf,
        warmupMs,
        measureMs,
        {
          begin: async () => {
            satMachine.sample(cpus().length);
            cpu0 = gwMeter?.total() ?? NaN;
            redis0 = redisMeter?.total() ?? NaN;
            t0 = performance.now();
            await inspector?.start();
            before = probe ? commandCalls(await probe.info()) : undefined;
          },
          end: async () => {
            const s = (performance.now() - t0) / 1000;
            gwSatCpu = gwMeter ? ((gwMeter.total() - cpu0) / s) * 100 : null;
            redisSatCpu = redisMeter ? ((redisMeter.total() - redis0) / s) * 100 : null;
            gwSatMachine = satMachine.sample(cpus().length) ?? null;
            after = probe ? commandCalls(await probe.info()) : undefined;
            if (inspector) {
              const file = join(OUT, 'gateway-saturation.cpuprofile');
              await inspector.stop(file);
              cpuProfiles.push({ phase: 'saturation', summary: summarizeCpuProfile(file, 30) });
            }
          },
        },
      );
      gwSatCmds = perMsg(before, after, gwSat.messagesPerSecond * (measureMs / 1000));
    } else notes.push('not enough time left for the gateway ceiling (see --max-seconds)');
    /** The same pattern against another server in its own process tree: its msg/s and CPU. */
    const peer = async (label: string, target: SatSummary['target'], server: Child, url: string, shop: string) => {
      log(label);
      let cpu0 = NaN;
      let t0 = 0;
      let cpu: number | null = null;
      let machine: number | null = null;
      const sat = await saturate(sp, { target, url, secret: a.secret, shop, pairs: satPairs, rate: satRate }, addressesOf, warmupMs, measureMs, {
        begin: () => {
          satMachine.sample(cpus().length);
          cpu0 = treeCpuSeconds(server.pid);
          t0 = performance.now();
        },
        end: () => {
          cpu = ((treeCpuSeconds(server.pid) - cpu0) / ((performance.now() - t0) / 1000)) * 100;
          machine = satMachine.sample(cpus().length) ?? null;
        },
      });
      await server.stop();
      if (sat.capped) notes.push(`${label.replace(/…$/, '')} reached the pacing cap (pairs × rate): its ceiling is at least the figure shown; raise --sat-pairs`);
      return { sat, cpu: cpu as number | null, machine: machine as number | null };
    };
    if (budget() > measureMs + 40_000) {
      const echo = await startNodeChild('loadtest/echo-server.ts', { ...process.env }, []);
      const r = await peer('ceiling: bare ws relay, same pattern…', 'echo', echo, `ws://127.0.0.1:${echo.port}`, 'echo');
      echoSat = r.sat;
      echoSatCpu = r.cpu;
      echoSatMachine = r.machine;
    }
    if (redisUrl && budget() > measureMs + 40_000) {
      const sio = await startNodeChild('loadtest/socketio-server.ts', { ...process.env, REDIS_URL: redisUrl }, []);
      const r = await peer('ceiling: Socket.IO relay with @socket.io/redis-adapter, same pattern…', 'socketio', sio, `http://127.0.0.1:${sio.port}`, 'sio');
      sioSat = r.sat;
      sioSatCpu = r.cpu;
    }
    // The same gateway as 2 cluster workers on one port (PEAKDESK_WORKERS=2), same Redis; port 0:
    // it is known from the primary's "listening" line, written once both workers accept.
    if (gatewayEnv && redisUrl && budget() > measureMs + 50_000) {
      const gw2 = await startNodeChild(gatewayEntry, { ...gatewayEnv, PORT: '0', PEAKDESK_WORKERS: '2' }, [...GATEWAY_NODE_FLAGS], join(OUT, 'gateway-2-workers.log'));
      const r = await peer('ceiling: gateway with PEAKDESK_WORKERS=2…', 'gateway', gw2, `ws://127.0.0.1:${gw2.port}`, `${a.shop}-sat2`);
      gw2Sat = r.sat;
      gw2SatCpu = r.cpu;
    }
    if (redisUrl && budget() > 30_000) {
      log('ceiling: Redis, the per-message command mix…');
      redisCeil = await redisCeiling(redisUrl, { requests: 300_000, seconds: 5, cleanup: !redisChild });
    } else if (!redisUrl) notes.push(a.url ? 'no --redis given: no Redis ceiling' : 'embedded store: no Redis ceiling (use --redis-server)');
    await sp.close();
  }

  // ---------- stop the gateway (writes its CPU profile) and Redis ----------
  const gwCpuSeconds = gwMeter?.total() ?? null;
  const redisCpuSeconds = redisMeter?.total() ?? null;
  inspector?.close();
  if (gateway) await gateway.stop(20_000);
  await probe?.close();
  if (redisChild) await redisChild.stop();

  // ---------- report ----------
  const buyersPeak = max(run.map((r) => r.connectedBuyers));
  const toolWorkers = results.map((r) => {
    const cpuSeries = run.map((row) => row.toolCpuPct[r.worker] ?? null);
    return {
      worker: r.worker,
      cpuSeconds: Math.round((r.cpu.userMs + r.cpu.systemMs) / 100) / 10,
      cpuPctMean: Math.round((mean(cpuSeries) ?? NaN) * 10) / 10,
      cpuPctMax: max(cpuSeries),
      eluMax: max(run.map((row) => row.toolElu[r.worker] ?? null)),
      loopDelayP99MaxMs: max(run.map((row) => row.toolLoopDelayP99Ms[r.worker] ?? null)),
    };
  });
  const coord = process.cpuUsage();
  const report: RunReport = {
    tool: 'peakdesk-loadtest',
    startedAt: startedAt.toISOString(),
    finishedAt: new Date().toISOString(),
    command: `npm run loadtest -- ${process.argv.slice(2).join(' ')}`,
    machine: {
      cpus: cpus().length,
      cpuModel: cpus()[0]?.model ?? '?',
      node: process.version,
      platform: `${process.platform} ${process.arch}`,
      memGB: Math.round((totalmem() / 2 ** 30) * 10) / 10,
      fdLimit: limits,
      loadAvgAtStart: loadavg(),
    },
    options: {
      buyers: arrivals.length,
      agents: specs.length,
      durationS: DURATION,
      tailS: TAIL,
      burst: burst ?? null,
      workers: W,
      seed: SEED,
      behaviour,
      capacity: [a['capacity-min'], a['capacity-max']].map(Number),
      ceilings: CEILINGS,
      gatewayLogLevel: a['gateway-log-level'],
      gatewayWorkers: GATEWAY_WORKERS,
      gatewayNodeArgs: a['gateway-node-args'] ?? null,
      gatewayConfig: a['gateway-config'] ?? null,
      freeMemMBAtEnd: Math.round(freemem() / 2 ** 20),
    },
    profile,
    setup: {
      gatewayUrl,
      gatewayStarted: !!gateway,
      store: redisUrl ? 'redis' : a.url ? 'unknown (external gateway)' : 'embedded (in-process)',
      redisUrl,
      privateRedis: !!redisChild,
      workers: W,
      shops,
      maxBuyerConnections: MAX_BUYER_CONNS,
      notes,
    },
    run: {
      wallSeconds,
      connectionsHeldPeak: max(run.map((r) => r.connectedBuyers + r.connectedAgents)),
      buyersConnectedPeak: buyersPeak,
      agentsConnected,
      agentsFailed,
      buyerMessagesPerSecond: { mean: counters.buyerMessagesSent / wallSeconds, peak: max(run.map((r) => r.buyerMessages)) },
      agentMessagesPerSecond: { mean: counters.agentMessagesSent / wallSeconds, peak: max(run.map((r) => r.agentMessages)) },
      peakArrivalsPerSecond: max(run.map((r) => r.arrivals)),
      // With the count at the end, taken after the last sampled second: console and report agree.
      queueDepthPeak: Math.max(max(run.map((r) => r.waiting)), counters.buyersStillWaitingAtEnd),
      queueDepthAtEnd: counters.buyersStillWaitingAtEnd,
      greetedShare: counters.buyersArrived ? counters.buyersGreeted / counters.buyersArrived : NaN,
      greetedWithin6sShare: counters.buyersArrived ? counters.greetedWithin6s / counters.buyersArrived : NaN,
      greetedWithin6sOfArrivalShare: counters.buyersArrived ? counters.greetedWithin6sOfArrival / counters.buyersArrived : NaN,
      latency,
      counters,
      lost: counters.buyerMessagesLost + counters.agentMessagesLost,
      duplicated: counters.buyerMessagesDuplicated + counters.agentMessagesDuplicated + counters.botMessagesDuplicated,
      errors,
      frames,
      samples,
      strayAgentEvents: stray,
      byRole: Object.entries(roleAcc)
        .sort((x, y) => x[0].localeCompare(y[0]))
        .map(([role, t]) => ({ role, waited: t.waited, reachedAgent: t.reachedAgent, abandoned: t.abandoned, timeToAgent: summarize(t.hist) })),
      listenOverflows: overflows0 !== undefined && overflows1 !== undefined ? overflows1 - overflows0 : null,
    },
    resources: {
      gateway: resource(
        run.map((r) => r.gatewayCpuPct),
        run.map((r) => r.gatewayRssMB),
        gwCpuSeconds,
      ),
      redis: {
        ...resource(
          run.map((r) => r.redisCpuPct),
          run.map((r) => r.redisRssMB),
          redisCpuSeconds,
        ),
        usedMemoryMBMax: run.some((r) => r.redisUsedMemoryMB !== null) ? max(run.map((r) => r.redisUsedMemoryMB)) : null,
        commandsPerBuyerMessage: perMsg(statsBefore, statsAfterRun, counters.buyerMessagesSent),
      },
      tool: { workers: toolWorkers, coordinatorCpuSeconds: Math.round((coord.user + coord.system) / 1e5) / 10 },
      otherProcesses: { cpuPctMean: mean(run.map((r) => r.otherCpuPct)), cpuPctMax: run.some((r) => r.otherCpuPct !== null) ? max(run.map((r) => r.otherCpuPct)) : null },
    },
    ceilings: {
      gateway: gwSat,
      echo: echoSat,
      socketio: sioSat,
      gateway2Workers: gw2Sat,
      redis: redisCeil,
      gatewayRedisCommandsPerMessage: gwSatCmds,
      gatewayCpuPctDuringSat: gwSatCpu,
      echoCpuPctDuringSat: echoSatCpu,
      socketioCpuPctDuringSat: sioSatCpu,
      gateway2WorkersCpuPctDuringSat: gw2SatCpu,
      redisCpuPctDuringSat: redisSatCpu,
      // Machine − server − Redis − tool workers: other processes during each measured window.
      otherCpuPctDuringSat: {
        gateway: gwSat && gwSatMachine !== null ? Math.max(0, gwSatMachine - (gwSatCpu ?? 0) - (redisSatCpu ?? 0) - gwSat.toolCpuPct.reduce((n, x) => n + x, 0)) : null,
        echo: echoSat && echoSatMachine !== null ? Math.max(0, echoSatMachine - (echoSatCpu ?? 0) - echoSat.toolCpuPct.reduce((n, x) => n + x, 0)) : null,
      },
      ratios: {
        gatewayVsEcho: gwSat && echoSat && echoSat.messagesPerSecond > 0 ? gwSat.messagesPerSecond / echoSat.messagesPerSecond : null,
        gatewayVsRedis: gwSat && redisCeil && redisCeil.messagesPerSecond > 0 ? gwSat.messagesPerSecond / redisCeil.messagesPerSecond : null,
        gatewayVsSocketio: gwSat && sioSat && sioSat.messagesPerSecond > 0 ? gwSat.messagesPerSecond / sioSat.messagesPerSecond : null,
        twoWorkersVsOne: gwSat && gw2Sat && gwSat.messagesPerSecond > 0 ? gw2Sat.messagesPerSecond / gwSat.messagesPerSecond : null,
      },
    },
    timeline: rows,
    costs,
    targets: [],
    cpuProfiles,
  };
  if (counters.arrivalsDeferred) notes.push(`${counters.arrivalsDeferred} arrivals were held back by the connection cap (${MAX_BUYER_CONNS} buyers at once)`);
  const busiest = Math.max(...toolWorkers.map((w) => w.eluMax));
  if (busiest > 0.9) notes.push(`a load-tool worker's event loop was busy ${Math.round(busiest * 100)}% of some second: the tool may have limited the result there; try more --workers`);
  const others = report.resources.otherProcesses.cpuPctMean;
  if (others !== null && others > 15)
    notes.push(`other processes used ${others.toFixed(0)}% of a core on average during the run (max ${report.resources.otherProcesses.cpuPctMax?.toFixed(0)}%): the figures are noisy; rerun on a quiet machine`);
  if (stray) notes.push(`${stray} agent events arrived for sessions the agent did not hold`);
  if (planRun) {
    const tallies: Record<string, PlanTally> = {};
    for (const r of results) addTallies(tallies, r.planTally);
    report.plan = comparePlan(planRun, planWarmup, DURATION - planWarmup, tallies);
  }
  if (webhooks) report.webhooks = webhooks;
  report.targets = evaluateTargets(report);
  writeFileSync(join(OUT, 'result.json'), JSON.stringify(report, null, 2));
  writeFileSync(join(OUT, 'report.html'), renderHtml(report));
  process.stdout.write(`${consoleSummary(report)}\n`);
  if (report.plan) process.stdout.write(`\n${planTable(report.plan)}\n`);
  if (webhooks) process.stdout.write(`\n${webhookLine(webhooks)}\n`);
  process.stdout.write(`\nresult: ${relative(process.cwd(), join(OUT, 'result.json'))}\nreport: ${relative(process.cwd(), join(OUT, 'report.html'))}\n`);
  clearTimeout(hardStop);
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    process.stderr.write(`\nloadtest failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    killAll();
    process.exit(1);
  },
);
