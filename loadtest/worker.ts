/**
 * A load-generating worker process (forked by cli.ts). It owns one shop's share of the
 * buyers and agents, starts buyers on their arrival times, reports a tick every second and,
 * when told to stop, drains, checks its ledger and sends its result. It also runs the
 * saturation pattern for the throughput ceilings (sat.ts).
 */
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { SimAgent } from './agent.ts';
import { SimBuyer } from './buyer.ts';
import { SimContext } from './context.ts';
import { rng } from './profile.ts';
import { runSaturation } from './sat.ts';
import { encodeHist } from './stats.ts';
import { loadFixtures, type FromWorker, type ToWorker, type WorkerInit } from './types.ts';

function post(m: FromWorker): void {
  process.send?.(m);
}

let init: WorkerInit | undefined;
let ctx: SimContext | undefined;
const agents: SimAgent[] = [];
const buyers: SimBuyer[] = [];
let startAt = 0;
let tickTimer: NodeJS.Timeout | undefined;
let arrivalTimer: NodeJS.Timeout | undefined;
let nextArrival = 0;
let deferred = 0;
let finishedSent = false;
const wallStart = performance.now();
const cpuStart = process.cpuUsage();
let sat: Awaited<ReturnType<typeof runSaturation>> | undefined;

async function onInit(i: WorkerInit): Promise<void> {
  init = i;
  const rand = rng(i.seed * 7919 + i.index);
  ctx = new SimContext(i.url, i.secret, i.shop, rand, loadFixtures(), i.behaviour, i.localAddresses);
  ctx.describeBuyer = (sid) => buyers.find((b) => b.sessionId === sid)?.describe();
  let failed = 0;
  // Agents connect in small batches: a thousand upgrades at once would only measure the backlog.
  for (let k = 0; k < i.agents.length; k += 50) {
    await Promise.all(
      i.agents.slice(k, k + 50).map(async (spec) => {
        const a = new SimAgent(ctx!, spec);
        try {
          await a.connect();
          agents.push(a);
        } catch {
          failed++;
        }
      }),
    );
  }
  post({ type: 'ready', agents: agents.length, failed });
}

let active = 0;

function onBuyerDone(): void {
  active--;
  if (deferred > 0) scheduleArrivals();
  maybeFinished();
}

function maybeFinished(): void {
  if (finishedSent || !init || !ctx) return;
  if (nextArrival < init.arrivals.length) return;
  const allDone = ctx.b.greetOnly ? buyers.every((b) => b.settled) : active === 0;
  if (allDone) {
    finishedSent = true;
    post({ type: 'finished' });
  }
}

/** Starts every buyer whose time has come, within the connection cap; re-arms itself. */
function scheduleArrivals(): void {
  if (!init || !ctx || ctx.stopping) return;
  clearTimeout(arrivalTimer);
  const elapsed = (Date.now() - startAt) / 1000;
  let held = 0;
  while (nextArrival < init.arrivals.length && init.arrivals[nextArrival]! <= elapsed) {
    if (active >= init.maxConns) {
      held = init.arrivals.length - nextArrival;
      break;
    }
    const b = new SimBuyer(ctx, `${init.shop}-b${init.index}-${nextArrival}`, onBuyerDone, init.planBuyers?.[nextArrival]);
    nextArrival++;
    active++;
    buyers.push(b);
    b.start();
  }
  if (held > 0) {
    // Counted once per held arrival (not per retry).
    let lo = nextArrival;
    let hi = init.arrivals.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (init.arrivals[mid]! <= elapsed) lo = mid + 1;
      else hi = mid;
    }
    const due = lo - nextArrival;
    if (due > deferred) ctx.counters.arrivalsDeferred += due - deferred;
    deferred = due;
    arrivalTimer = setTimeout(scheduleArrivals, 20);
    return;
  }
  deferred = 0;
  if (nextArrival < init.arrivals.length) {
    const wait = init.arrivals[nextArrival]! * 1000 - (Date.now() - startAt);
    arrivalTimer = setTimeout(scheduleArrivals, Math.max(1, Math.min(wait, 1000)));
  } else maybeFinished();
}

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let lastCpu = process.cpuUsage();
let lastElu = performance.eventLoopUtilization();
let lastTickAt = performance.now();

function sendTick(): void {
  if (!ctx || !init) return;
  const now = performance.now();
  const cpu = process.cpuUsage(lastCpu);
  lastCpu = process.cpuUsage();
  const elu = performance.eventLoopUtilization(lastElu);
  lastElu = performance.eventLoopUtilization();
  const hist: Record<string, string> = {};
  for (const [k, h] of Object.entries(ctx.tickHist)) {
    if (h.totalCount > 0) hist[k] = encodeHist(h);
    h.destroy();
  }
  ctx.tickHist = SimContext.tickHists();
  const t = ctx.tick;
  post({
    type: 'tick',
    tick: {
      worker: init.index,
      sec: Math.floor((Date.now() - startAt) / 1000) - 1,
      ...t,
      connectedBuyers: ctx.connectedBuyers,
      connectedAgents: ctx.connectedAgents,
      waiting: ctx.waiting,
      chatting: ctx.chatting,
      hist,
      cpuPct: ((cpu.user + cpu.system) / 1000 / (now - lastTickAt)) * 100,
      elu: elu.utilization,
      loopDelayP99Ms: loopDelay.percentile(99) / 1e6,
    },
  });
  loopDelay.reset();
  lastTickAt = now;
  ctx.tick = { arrivals: 0, buyerMessages: 0, agentMessages: 0, assigned: 0, closed: 0 };
  maybeFinished();
}

function onStart(at: number): void {
  startAt = at;
  loopDelay.enable();
  const begin = () => {
    lastCpu = process.cpuUsage();
    lastElu = performance.eventLoopUtilization();
    lastTickAt = performance.now();
    scheduleArrivals();
    // Ticks on whole seconds of the run's clock, so workers' seconds line up.
    const firstTick = 1000 - ((Date.now() - startAt) % 1000);
    setTimeout(() => {
      sendTick();
      tickTimer = setInterval(sendTick, 1000);
    }, firstTick);
  };
  setTimeout(begin, Math.max(0, at - Date.now()));
}

async function onStop(drainMs: number): Promise<void> {
  if (!ctx || !init) return;
  ctx.stopping = true;
  clearTimeout(arrivalTimer);
  // Let what is in flight land; wait for dropped buyers that are coming back.
  const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
  const until = performance.now() + drainMs;
  await sleep(Math.min(1500, drainMs));
  while (performance.now() < until && buyers.some((b) => b.reconnecting || b.away)) await sleep(100);
  // Who is not back by now is absent. A buyer welcomed back in the drain's last moment still
  // waits for its resume's replay: agent lines on their way to a buyer who is there get as
  // long again to land before they count as lost.
  for (const b of buyers) b.absentAtEnd();
  const landBy = performance.now() + drainMs;
  while (performance.now() < landBy && ctx.ledger.agentLinesInFlight() > 0) await sleep(100);
  await sleep(500);
  clearInterval(tickTimer);
  sendTick();
  const c = ctx.counters;
  for (const b of buyers) {
    if (b.waitingForAgent) c.buyersStillWaitingAtEnd++;
    if (b.notGreeted) c.buyersNotGreetedAtEnd++;
  }
  ctx.ledger.check(c, (kind, detail) => {
    const sid = (detail as { sessionId?: string }).sessionId;
    ctx!.sample(kind, { ...(detail as object), ...(sid ? (ctx!.describeBuyer?.(sid) ?? {}) : {}) });
  });
  const cpu = process.cpuUsage(cpuStart);
  const hist: Record<string, string> = {};
  for (const [k, h] of Object.entries(ctx.hist)) hist[k] = encodeHist(h);
  post({
    type: 'result',
    result: {
      worker: init.index,
      counters: c,
      hist,
      errors: ctx.errors,
      frames: ctx.frames,
      samples: ctx.samples,
      cpu: { userMs: cpu.user / 1000, systemMs: cpu.system / 1000, wallMs: performance.now() - wallStart },
      stray: ctx.ledger.stray,
      roles: Object.fromEntries(Object.entries(ctx.roles).map(([role, t]) => [role, { waited: t.waited, reachedAgent: t.reachedAgent, abandoned: t.abandoned, timeToAgent: encodeHist(t.timeToAgent) }])),
      ...(init.planBuyers ? { planTally: ctx.planTally } : {}),
    },
  });
  for (const b of buyers) b.shutdown();
  for (const a of agents) a.shutdown();
}

process.on('message', (m: ToWorker) => {
  const run = async () => {
    switch (m.type) {
      case 'init':
        return onInit(m.init);
      case 'start':
        return onStart(m.startAt);
      case 'stop':
        return onStop(m.drainMs);
      case 'sat':
        sat = await runSaturation(m.sat, rng(Date.now()));
        post({ type: 'sat-ready', ready: sat.ready });
        return;
      case 'sat-go': {
        if (!sat) return;
        const result = await sat.go(m.startAt, m.warmupMs, m.measureMs);
        sat = undefined;
        post({ type: 'sat-result', result: { ...result, worker: init?.index ?? 0 } });
        return;
      }
      case 'exit':
        process.exit(0);
    }
  };
  run().catch((err: unknown) => {
    post({ type: 'fatal', message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
  });
});

process.on('disconnect', () => process.exit(0));
