/** The result of a run (written as result.json), its targets, and the console summary. */
import type { PlanComparison } from './plan-run.ts';
import type { WebhookSummary } from './webhook-receiver.ts';
import type { RedisCeiling, SatSummary } from './ceilings.ts';
import type { ProfileSummary } from './cpuprofile.ts';
import type { SessionCosts } from './costs.ts';
import type { Profile } from './profile.ts';
import type { Counters, LatencySummary } from './stats.ts';
import type { SecondCounts } from './types.ts';

export interface Pcts {
  p50: number | null;
  p99: number | null;
}

export interface TimelineRow extends SecondCounts {
  plannedArrivals: number;
  firstResponse: Pcts;
  buyerToAgent: Pcts;
  agentToBuyer: Pcts;
  gatewayCpuPct: number | null;
  gatewayRssMB: number | null;
  redisCpuPct: number | null;
  redisRssMB: number | null;
  redisUsedMemoryMB: number | null;
  toolCpuPct: number[];
  /** Whole machine, and what is left after the gateway, Redis and the tool: other processes (noise). */
  machineCpuPct: number | null;
  otherCpuPct: number | null;
  toolElu: number[];
  toolLoopDelayP99Ms: number[];
}

export interface ResourceSummary {
  cpuPctMean: number | null;
  cpuPctMax: number | null;
  cpuSeconds: number | null;
  rssMBMax: number | null;
}

export interface Target {
  name: string;
  target: string;
  value: string;
  pass: boolean | null;
}

export interface RunReport {
  tool: 'peakdesk-loadtest';
  startedAt: string;
  finishedAt: string;
  command: string;
  machine: { cpus: number; cpuModel: string; node: string; platform: string; memGB: number; fdLimit: { soft: number; hard: number }; loadAvgAtStart: number[] };
  options: Record<string, unknown>;
  profile: Profile;
  setup: { gatewayUrl: string; gatewayStarted: boolean; store: string; redisUrl: string | null; privateRedis: boolean; workers: number; shops: string[]; maxBuyerConnections: number; notes: string[] };
  run: {
    wallSeconds: number;
    connectionsHeldPeak: number;
    buyersConnectedPeak: number;
    agentsConnected: number;
    agentsFailed: number;
    buyerMessagesPerSecond: { mean: number; peak: number };
    agentMessagesPerSecond: { mean: number; peak: number };
    peakArrivalsPerSecond: number;
    queueDepthPeak: number;
    queueDepthAtEnd: number;
    greetedShare: number;
    /** Over every arriving buyer: a buyer who never connected was never greeted. */
    greetedWithin6sShare: number;
    greetedWithin6sOfArrivalShare: number;
    latency: Record<string, LatencySummary>;
    counters: Counters;
    lost: number;
    duplicated: number;
    errors: { buyer: Record<string, number>; agent: Record<string, number> };
    frames: Record<string, number>;
    samples: { kind: string; detail: unknown }[];
    strayAgentEvents: number;
    /** Connection attempts the kernel dropped because the accept queue was full (machine-wide TcpExt ListenOverflows during the run). */
    listenOverflows: number | null;
    /** Per role a buyer asked for: waited in line, reached an agent, gave up; time to agent (ms). */
    byRole: { role: string; waited: number; reachedAgent: number; abandoned: number; timeToAgent: LatencySummary }[];
  };
  /** What one session costs (Redis, log, gateway memory), measured after the run, before the ceilings. */
  costs: SessionCosts;
  resources: {
    gateway: ResourceSummary;
    redis: ResourceSummary & { usedMemoryMBMax: number | null; commandsPerBuyerMessage: Record<string, number> | null };
    tool: { workers: { worker: number; cpuSeconds: number; cpuPctMean: number; cpuPctMax: number; eluMax: number; loopDelayP99MaxMs: number }[]; coordinatorCpuSeconds: number };
    /** CPU used by other processes on the machine during the run (% of one core): noise. */
    otherProcesses: { cpuPctMean: number | null; cpuPctMax: number | null };
  };
  ceilings: {
    gateway: SatSummary | null;
    echo: SatSummary | null;
    /** The peer: Socket.IO with @socket.io/redis-adapter on the same Redis (socketio-server.ts). */
    socketio: SatSummary | null;
    /** The same gateway as 2 cluster workers (PEAKDESK_WORKERS=2). */
    gateway2Workers: SatSummary | null;
    redis: RedisCeiling | null;
    gatewayRedisCommandsPerMessage: Record<string, number> | null;
    gatewayCpuPctDuringSat: number | null;
    echoCpuPctDuringSat: number | null;
    socketioCpuPctDuringSat: number | null;
    gateway2WorkersCpuPctDuringSat: number | null;
    redisCpuPctDuringSat: number | null;
    otherCpuPctDuringSat: { gateway: number | null; echo: number | null };
    ratios: { gatewayVsEcho: number | null; gatewayVsRedis: number | null; gatewayVsSocketio: number | null; twoWorkersVsOne: number | null };
  };
  timeline: TimelineRow[];
  targets: Target[];
  /** Gateway CPU profiles, one per phase (the run; the gateway's saturation). */
  cpuProfiles: { phase: string; summary: ProfileSummary }[];
  /** --plan: predicted vs measured per role. */
  plan?: PlanComparison;
  /** --webhooks: what the local receiver got. */
  webhooks?: WebhookSummary;
}

const f1 = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(1));
const f2 = (n: number | null | undefined) => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(2));
const pct = (n: number) => (Number.isFinite(n) ? `${(n * 100).toFixed(2)}%` : 'n/a');

/** Whether the run is the reference run's size: only then are the engineering targets judged. */
export function atReferenceScale(r: RunReport): boolean {
  return r.profile.buyers >= 20_000 && r.run.agentsConnected >= 1000 && r.run.peakArrivalsPerSecond >= 1800;
}

/** The queue over the run: its peak, when, and the first second after it with nobody waiting. */
export function queueStory(r: RunReport): { peak: number; peakAtS: number; drainedAtS: number | null; atEnd: number } {
  let peak = 0;
  let peakAtS = 0;
  for (const row of r.timeline) if (row.waiting > peak) [peak, peakAtS] = [row.waiting, row.sec];
  // The count at the end is taken after the last second's sample: it can be the peak.
  if (r.run.queueDepthAtEnd > peak) [peak, peakAtS] = [r.run.queueDepthAtEnd, r.run.wallSeconds];
  const drained = r.timeline.find((row) => row.sec > peakAtS && row.waiting === 0);
  return { peak, peakAtS, drainedAtS: peak === 0 ? peakAtS : (drained?.sec ?? null), atEnd: r.run.queueDepthAtEnd };
}

export interface Verdict {
  holds: boolean;
  /** Plain sentences for a shop, the first says holds / does not hold and why. */
  lines: string[];
}

/**
 * The shop's verdict: do the golden 6 seconds hold for every arriving buyer with nothing lost
 * or duplicated, and what the staffing did to the queue. One source for console and HTML.
 */
export function shopVerdict(r: RunReport): Verdict {
  const c = r.run.counters;
  const share = r.run.greetedWithin6sShare;
  const holds = c.buyersArrived > 0 && share >= 1 && r.run.lost === 0 && r.run.duplicated === 0;
  const why: string[] = [];
  if (share < 1) why.push(`${pct(share)} of ${c.buyersArrived} buyers were greeted within 6 s (${c.buyersArrived - c.greetedWithin6s} were not)`);
  if (r.run.lost) why.push(`${r.run.lost} lines were lost`);
  if (r.run.duplicated) why.push(`${r.run.duplicated} lines were duplicated`);
  const lines = [
    holds
      ? `Holds: every one of the ${c.buyersArrived} buyers was greeted within 6 s of their first line (p99 ${f1(r.run.latency.firstResponse?.p99)} ms), and no line was lost or duplicated.`
      : `Does not hold: ${why.join('; ')}.`,
  ];
  const q = queueStory(r);
  const at = (s: number) => `${Math.floor(s / 60)}:${String(Math.round(s % 60)).padStart(2, '0')}`;
  if (r.options.burst === null || r.options.burst === undefined) {
    lines.push(
      q.peak === 0
        ? `With ${r.run.agentsConnected} agents nobody had to wait in line.`
        : `With ${r.run.agentsConnected} agents the queue peaked at ${q.peak} buyers (at ${at(q.peakAtS)})${q.drainedAtS !== null ? ` and drained by ${at(q.drainedAtS)}` : ` and had not drained when the run ended (${q.atEnd} still waiting)`}.`,
    );
    const waited = r.run.byRole.reduce((n, x) => n + x.waited, 0);
    const gaveUp = r.run.byRole.reduce((n, x) => n + x.abandoned, 0);
    if (waited) lines.push(`${gaveUp} of ${waited} buyers who waited for an agent gave up (${pct(gaveUp / waited)}); ${c.buyersReachedAgent} reached one (time to agent p50 ${sec(r.run.latency.timeToAgent?.p50)}, p90 ${sec(r.run.latency.timeToAgent?.p90)}).`);
  }
  return { holds, lines };
}

const sec = (ms: number | null | undefined) => (ms === null || ms === undefined || !Number.isFinite(ms) ? 'n/a' : `${(ms / 1000).toFixed(1)} s`);

/** Time to agent and abandonment per role, as rows: role, waited, reached, gave up (share), p50, p90, p99. */
export function roleRows(r: RunReport): string[][] {
  return r.run.byRole.map((x) => [
    x.role,
    String(x.waited),
    String(x.reachedAgent),
    `${x.abandoned} (${x.waited ? pct(x.abandoned / x.waited) : 'n/a'})`,
    sec(x.timeToAgent?.p50),
    sec(x.timeToAgent?.p90),
    sec(x.timeToAgent?.p99),
  ]);
}

/**
 * Engineering figures against the issue's reference-scale targets. Judged (PASS/FAIL) only on a
 * run of the reference run's size; on a smaller run they are shown without a badge.
 */
export function evaluateTargets(r: RunReport): Target[] {
  const L = r.run.latency;
  const t: Target[] = [];
  const scale = atReferenceScale(r);
  const judge = (ok: boolean) => (scale ? ok : null);
  t.push({
    name: `reference scale (20,000 buyers, 1,000 agents, ~2,000 new buyers/s at midnight)${scale ? '' : ': not this run, so nothing below is judged'}`,
    target: '≥ 20,000 / 1,000 / 1,800/s',
    value: `${r.profile.buyers} / ${r.run.agentsConnected} / ${r.run.peakArrivalsPerSecond}/s`,
    pass: scale ? true : null,
  });
  t.push({ name: 'greeted within 6 s of the first line (all arriving buyers)', target: '100%', value: pct(r.run.greetedWithin6sShare), pass: judge(r.run.greetedWithin6sShare >= 1) });
  t.push({
    name: 'greeted within 6 s of arriving, connecting included (not an issue target; what a buyer lives)',
    target: '100%',
    value: pct(r.run.greetedWithin6sOfArrivalShare),
    pass: null,
  });
  t.push({ name: 'greeting (first response) p99', target: '< 100 ms', value: `${f1(L.firstResponse?.p99)} ms`, pass: judge((L.firstResponse?.p99 ?? Infinity) < 100) });
  t.push({ name: 'buyer→agent delivery p99', target: '< 50 ms', value: `${f1(L.buyerToAgent?.p99)} ms`, pass: judge((L.buyerToAgent?.p99 ?? Infinity) < 50) });
  t.push({ name: 'lost messages', target: '0', value: String(r.run.lost), pass: judge(r.run.lost === 0) });
  t.push({ name: 'duplicated messages', target: '0', value: String(r.run.duplicated), pass: judge(r.run.duplicated === 0) });
  const ce = r.ceilings;
  const ratio = ce.ratios.gatewayVsEcho;
  t.push({
    name: 'gateway throughput ÷ raw ws relay ceiling',
    target: '≥ 0.5',
    value: ratio === null ? 'not measured (--ceilings)' : `${f2(ratio)} (${f1(ce.gateway?.messagesPerSecond)} vs ${f1(ce.echo?.messagesPerSecond)} msg/s)`,
    pass: ratio === null ? null : judge(ratio >= 0.5),
  });
  const sio = ce.ratios.gatewayVsSocketio;
  t.push({
    name: 'gateway throughput ÷ Socket.IO relay with the Redis adapter (a peer; stated, no target)',
    target: '—',
    value: sio === null ? 'not measured (--ceilings with Redis)' : `${f2(sio)} (${f1(ce.gateway?.messagesPerSecond)} vs ${f1(ce.socketio?.messagesPerSecond)} msg/s)`,
    pass: null,
  });
  const two = ce.ratios.twoWorkersVsOne;
  t.push({
    name: 'gateway ceiling with PEAKDESK_WORKERS=2 ÷ with 1 (stated, no target)',
    target: '—',
    value: two === null ? 'not measured (--ceilings with Redis, gateway started by the tool)' : `${f2(two)} (${f1(ce.gateway2Workers?.messagesPerSecond)} vs ${f1(ce.gateway?.messagesPerSecond)} msg/s)`,
    pass: null,
  });
  return t;
}

export function consoleSummary(r: RunReport): string {
  const L = r.run.latency;
  const c = r.run.counters;
  const line = (name: string, s: { count: number; p50: number; p95: number; p99: number; p999: number; max: number } | undefined) =>
    s ? `  ${name.padEnd(26)} n=${String(s.count).padStart(7)}  p50 ${f1(s.p50).padStart(8)}  p95 ${f1(s.p95).padStart(8)}  p99 ${f1(s.p99).padStart(8)}  p99.9 ${f1(s.p999).padStart(8)}  max ${f1(s.max).padStart(8)} ms` : '';
  const out: string[] = [];
  out.push('');
  const verdict = shopVerdict(r);
  out.push(`VERDICT — ${verdict.holds ? 'HOLDS' : 'DOES NOT HOLD'}`);
  for (const l of verdict.lines) out.push(`  ${l}`);
  if (r.run.byRole.length) {
    out.push('  per role (the role the buyer asked for): waited / reached an agent / gave up / time to agent p50 p90 p99');
    for (const row of roleRows(r)) out.push(`    ${row[0]!.padEnd(12)} ${row[1]!.padStart(6)} ${row[2]!.padStart(6)}  ${row[3]!.padEnd(14)} ${row[4]} ${row[5]} ${row[6]}`);
  }
  out.push('');
  out.push('ENGINEERING FIGURES');
  out.push(`peakdesk load test — ${r.profile.buyers} buyers, ${r.run.agentsConnected} agents, ${r.profile.durationS}s profile (peak ${r.run.peakArrivalsPerSecond} arrivals/s), ${r.setup.workers} worker(s), store ${r.setup.store}`);
  out.push(`  wall ${f1(r.run.wallSeconds)} s; connections held peak ${r.run.connectionsHeldPeak}; buyer msg/s mean ${f1(r.run.buyerMessagesPerSecond.mean)} peak ${r.run.buyerMessagesPerSecond.peak}; agent msg/s mean ${f1(r.run.agentMessagesPerSecond.mean)}`);
  out.push(`  greeted ${pct(r.run.greetedShare)}, within 6 s ${pct(r.run.greetedWithin6sShare)} (of arriving: ${pct(r.run.greetedWithin6sOfArrivalShare)}); reached an agent ${c.buyersReachedAgent}; queue depth peak ${r.run.queueDepthPeak}, at end ${r.run.queueDepthAtEnd}`);
  out.push(line('connect (arrival→open)', L.connect));
  if (r.run.listenOverflows) out.push(`  accept-queue overflows, machine-wide (SYNs dropped, retried by clients after 1, 3, 7, 15 s): ${r.run.listenOverflows}`);
  out.push(line('first response (greeting)', L.firstResponse));
  out.push(line('arrival → greeting', L.arrivalToGreeting));
  out.push(line('time to agent', L.timeToAgent));
  // VIP vs regular (--vip-share): what routing.vipBoostMs buys at the peak.
  if (c.buyersVip) {
    out.push(line('  VIP buyers', L.timeToAgentVip));
    out.push(line('  regular buyers', L.timeToAgentRegular));
    out.push(`  VIP buyers ${c.buyersVip}; left the page while queued ${c.buyersLeftPage} (back ${c.buyersBackFromPage})`);
  }
  out.push(line('buyer→agent delivery', L.buyerToAgent));
  out.push(line('agent→buyer delivery', L.agentToBuyer));
  out.push(
    `  buyer lines: sent ${c.buyerMessagesSent}, acked ${c.buyerMessagesAcked}, at agents ${c.buyerMessagesReceivedByAgents} (live ${c.buyerMessagesLiveToAgents}), still queued ${c.buyerMessagesStillQueued}, bot-only ${c.buyerMessagesBotOnly}, LOST ${c.buyerMessagesLost}, DUP ${c.buyerMessagesDuplicated}`,
  );
  out.push(
    `  agent lines: sent ${c.agentMessagesSent}, acked ${c.agentMessagesAcked}, at buyers ${c.agentMessagesReceivedByBuyers}, to absent buyers ${c.agentMessagesToAbsentBuyers}, LOST ${c.agentMessagesLost}, DUP ${c.agentMessagesDuplicated}; bot lines dup ${c.botMessagesDuplicated}; agent stream gaps ${c.agentStreamGaps}, dups ${c.agentStreamDuplicates}`,
  );
  const errs = [...Object.entries(r.run.errors.buyer).map(([k, v]) => `buyer.${k}=${v}`), ...Object.entries(r.run.errors.agent).map(([k, v]) => `agent.${k}=${v}`)];
  if (errs.length) out.push(`  error frames: ${errs.join(' ')}`);
  const g = r.resources.gateway;
  const rd = r.resources.redis;
  out.push(`  gateway cpu mean ${f1(g.cpuPctMean)}% max ${f1(g.cpuPctMax)}% rss max ${f1(g.rssMBMax)} MB | redis cpu mean ${f1(rd.cpuPctMean)}% max ${f1(rd.cpuPctMax)}% rss max ${f1(rd.rssMBMax)} MB`);
  out.push(`  other processes on the machine: cpu mean ${f1(r.resources.otherProcesses.cpuPctMean)}% max ${f1(r.resources.otherProcesses.cpuPctMax)}% (noise; of ${r.machine.cpus * 100}%)`);
  out.push(`  tool: ${r.resources.tool.workers.map((w) => `worker ${w.worker} cpu mean ${f1(w.cpuPctMean)}% max ${f1(w.cpuPctMax)}% elu max ${f2(w.eluMax)}`).join('; ')}`);
  const ce = r.ceilings;
  if (ce.gateway || ce.echo || ce.redis) {
    out.push(
      `  ceilings: gateway ${f1(ce.gateway?.messagesPerSecond)} msg/s (p99 ${f1(ce.gateway?.latency.p99)} ms; gateway cpu ${f1(ce.gatewayCpuPctDuringSat)}%, redis ${f1(ce.redisCpuPctDuringSat)}%) | raw ws relay ${f1(ce.echo?.messagesPerSecond)} msg/s${ce.echo?.capped ? ' (capped by pacing)' : ''} (relay cpu ${f1(ce.echoCpuPctDuringSat)}%) | redis ${f1(ce.redis?.messagesPerSecond)} msg/s (${ce.redis?.method ?? 'n/a'})`,
    );
    out.push(
      `  ceilings (2): gateway with 2 workers ${f1(ce.gateway2Workers?.messagesPerSecond)} msg/s (cpu ${f1(ce.gateway2WorkersCpuPctDuringSat)}%) | Socket.IO + redis-adapter ${f1(ce.socketio?.messagesPerSecond)} msg/s (cpu ${f1(ce.socketioCpuPctDuringSat)}%)`,
    );
    const us = (cpu: number | null, s: SatSummary | null) => (cpu !== null && s && s.messagesPerSecond > 0 ? f1((cpu / 100 / s.messagesPerSecond) * 1e6) : 'n/a');
    out.push(
      `  server CPU per relayed message (µs; steadier than msg/s on a busy machine): gateway ${us(ce.gatewayCpuPctDuringSat, ce.gateway)}, 2 workers ${us(ce.gateway2WorkersCpuPctDuringSat, ce.gateway2Workers)}, Socket.IO ${us(ce.socketioCpuPctDuringSat, ce.socketio)}, raw ws ${us(ce.echoCpuPctDuringSat, ce.echo)}`,
    );
    out.push(
      `  ratios: gateway ÷ raw ws ${f2(ce.ratios.gatewayVsEcho)}, gateway ÷ Socket.IO ${f2(ce.ratios.gatewayVsSocketio)}, gateway ÷ redis ${f2(ce.ratios.gatewayVsRedis)}, 2 workers ÷ 1 ${f2(ce.ratios.twoWorkersVsOne)} (other processes during the windows: ${f1(ce.otherCpuPctDuringSat.gateway)}% / ${f1(ce.otherCpuPctDuringSat.echo)}%)`,
    );
  }
  const k = r.costs;
  if (k.redis || k.log || k.gatewayRssPerBuyerKB !== null) {
    out.push(
      `  cost per session: Redis ${k.redis?.bytesPerOpen ?? 'n/a'} B open / ${k.redis?.bytesPerClosed ?? 'n/a'} B closed (MEMORY USAGE, ${k.redis?.sampled ?? 0} sampled); log ${f1(k.log?.linesPerSession)} lines / ${f1((k.log?.bytesPerSession ?? NaN) / 1024)} KB at ${String(r.options.gatewayLogLevel)}; gateway RSS ${f1(k.gatewayRssPerBuyerKB)} KB per connected buyer`,
    );
  }
  out.push(`  targets (reference scale; judged only at it):`);
  for (const t of r.targets) out.push(`    [${t.pass === null ? ' -- ' : t.pass ? 'PASS' : 'FAIL'}] ${t.name}: ${t.value} (target ${t.target})`);
  for (const n of r.setup.notes) out.push(`  note: ${n}`);
  return out.filter(Boolean).join('\n');
}
