/**
 * The HTML report: one self-contained file (Chart.js inlined, data inlined), so it opens in
 * a browser without network access.
 */
import { chartJs, esc } from '../src/cli/html.ts';
import { roleRows, shopVerdict, type RunReport } from './report.ts';
import type { PlanComparison } from './plan-run.ts';
const num = (n: number | null | undefined, d = 1) => (n === null || n === undefined || !Number.isFinite(n) ? 'n/a' : n.toFixed(d));

function table(head: string[], rows: (string | number)[][]): string {
  return `<table><thead><tr>${head.map((h) => `<th>${esc(h)}</th>`).join('')}</tr></thead><tbody>${rows
    .map((r) => `<tr>${r.map((c) => `<td>${esc(c)}</td>`).join('')}</tr>`)
    .join('')}</tbody></table>`;
}

export function renderHtml(r: RunReport): string {
  const L = r.run.latency;
  const c = r.run.counters;
  const latRows = (['connect', 'firstResponse', 'arrivalToGreeting', 'timeToAgent', 'timeToAgentVip', 'timeToAgentRegular', 'buyerToAgent', 'agentToBuyer'] as const)
    .filter((k) => L[k])
    .map((k) => {
      const s = L[k]!;
      const label = { connect: 'connect (arrival → socket open)', firstResponse: 'first response (greeting)', arrivalToGreeting: 'arrival → greeting', timeToAgent: 'time to agent', timeToAgentVip: 'time to agent: VIP buyers', timeToAgentRegular: 'time to agent: regular buyers', buyerToAgent: 'buyer→agent delivery', agentToBuyer: 'agent→buyer delivery' }[k];
      return [label, s.count, num(s.p50), num(s.p90), num(s.p95), num(s.p99), num(s.p999), num(s.max)];
    });
  const ce = r.ceilings;
  const satRow = (name: string, s: typeof ce.gateway) =>
    s ? [name, num(s.messagesPerSecond, 0), `${s.ready}/${s.pairs}`, num(s.latency.p50), num(s.latency.p99), s.capped ? 'yes (pacing was the limit)' : 'no', s.toolCpuPct.map((x) => num(x, 0)).join(' / ')] : [name, 'not measured', '', '', '', '', ''];
  const targets = r.targets
    .map((t) => `<tr class="${t.pass === null ? 'na' : t.pass ? 'pass' : 'fail'}"><td>${t.pass === null ? '—' : t.pass ? 'PASS' : 'FAIL'}</td><td>${esc(t.name)}</td><td>${esc(t.target)}</td><td>${esc(t.value)}</td></tr>`)
    .join('');
  const errs = [...Object.entries(r.run.errors.buyer).map(([k, v]) => [`buyer`, k, v]), ...Object.entries(r.run.errors.agent).map(([k, v]) => [`agent`, k, v])];
  const data = JSON.stringify({ timeline: r.timeline, workers: r.setup.workers }).replace(/</g, '\\u003c');
  const profs = r.cpuProfiles;
  const verdict = shopVerdict(r);
  const k = r.costs;
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peakdesk load test ${esc(r.startedAt)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:24px auto;max-width:1200px;padding:0 16px;color:#1d2330}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:32px;border-bottom:1px solid #dde;padding-bottom:4px}
.sub{color:#667} code{background:#f3f4f8;padding:1px 4px;border-radius:3px}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums} th,td{border:1px solid #dde;padding:4px 8px;text-align:right} th{background:#f3f4f8} td:first-child,th:first-child{text-align:left}
td{overflow-wrap:anywhere;max-width:760px} table.text td{text-align:left}
.verdict{border:2px solid;border-radius:8px;padding:8px 16px;margin:16px 0} .verdict.holds{border-color:#0a7a32} .verdict.fails{border-color:#b3261e} .verdict h2{border:0;margin:4px 0}
tr.pass td:first-child{color:#0a7a32;font-weight:600} tr.fail td:first-child{color:#b3261e;font-weight:600} tr.na td:first-child{color:#888}
.grid{display:grid;grid-template-columns:1fr 1fr;gap:16px} .card{border:1px solid #dde;border-radius:6px;padding:8px} .card h3{margin:0 0 4px;font-size:14px}
canvas{width:100%!important;height:260px!important} .kpis{display:flex;flex-wrap:wrap;gap:12px;margin:12px 0} .kpi{border:1px solid #dde;border-radius:6px;padding:8px 12px;min-width:150px} .kpi b{display:block;font-size:20px}
@media (max-width:900px){.grid{grid-template-columns:1fr}}
</style></head><body>
<h1>peakdesk — Double 11 load test</h1>
<div class="sub">${esc(r.startedAt)} · ${r.machine.cpus} CPU (${esc(r.machine.cpuModel)}) · Node ${esc(r.machine.node)} · store ${esc(r.setup.store)} · ${r.setup.workers} worker process(es)<br><code>${esc(r.command)}</code></div>
<div class="verdict ${verdict.holds ? 'holds' : 'fails'}"><h2>For the shop: ${verdict.holds ? 'holds' : 'does not hold'}</h2>
${verdict.lines.map((l) => `<p>${esc(l)}</p>`).join('')}
${r.run.byRole.length ? table(['role the buyer asked for', 'waited for an agent', 'reached an agent', 'gave up', 'time to agent p50', 'p90', 'p99'], roleRows(r)) : ''}
</div>
<h2>Engineering figures</h2>
<div class="kpis">
<div class="kpi">connections held (peak)<b>${r.run.connectionsHeldPeak}</b></div>
<div class="kpi">buyer messages/s (mean / peak)<b>${num(r.run.buyerMessagesPerSecond.mean, 0)} / ${r.run.buyerMessagesPerSecond.peak}</b></div>
<div class="kpi">greeted within 6 s<b>${num(r.run.greetedWithin6sShare * 100, 2)}%</b><span class="sub">of arriving: ${num(r.run.greetedWithin6sOfArrivalShare * 100, 2)}%</span></div>
<div class="kpi">greeting p99<b>${num(L.firstResponse?.p99)} ms</b></div>
<div class="kpi">buyer→agent p99<b>${num(L.buyerToAgent?.p99)} ms</b></div>
<div class="kpi">lost / duplicated<b>${r.run.lost} / ${r.run.duplicated}</b></div>
</div>
<h3>Reference-scale targets (judged only on a run of the reference size)</h3>
<table class="text"><thead><tr><th></th><th>what</th><th>target</th><th>measured</th></tr></thead><tbody>${targets}</tbody></table>
${r.setup.notes.length ? `<ul>${r.setup.notes.map((n) => `<li>${esc(n)}</li>`).join('')}</ul>` : ''}
${r.plan ? planSection(r.plan) : ''}
<h2>Over time</h2>
<div class="grid">
<div class="card"><h3>Arrivals per second (actual vs Double 11 profile) and connections held</h3><canvas id="arrivals"></canvas></div>
<div class="card"><h3>Queue depth (buyers waiting for an agent) and chats in progress</h3><canvas id="queue"></canvas></div>
<div class="card"><h3>Latency percentiles per second (ms, log scale)</h3><canvas id="latency"></canvas></div>
<div class="card"><h3>Messages per second</h3><canvas id="messages"></canvas></div>
<div class="card"><h3>CPU (% of one core): gateway, Redis, load tool, other processes</h3><canvas id="cpu"></canvas></div>
<div class="card"><h3>Memory (MB)</h3><canvas id="mem"></canvas></div>
</div>
<h2>Latency (ms)</h2>
${table(['series', 'count', 'p50', 'p90', 'p95', 'p99', 'p99.9', 'max'], latRows)}
<p class="sub">Connect = from the buyer's arrival to the open socket (TCP + upgrade + auth; SYN retries when the gateway's accept backlog overflows show up here). First response = from sending the first line to the first bot or agent line (the greeting). Time to agent = from the first line to the first agent line. Delivery = from sending to receipt on the other side, live lines only (lines a buyer wrote while queued reach the agent inside <code>assigned</code> and are not timed). HDR histograms, 3 significant digits.</p>
<h2>Messages sent and received</h2>
${table(
  ['side', 'sent', 'acked', 'received by other side', 'lost', 'duplicated', 'not deliverable'],
  [
    ['buyer → agent', c.buyerMessagesSent, c.buyerMessagesAcked, `${c.buyerMessagesReceivedByAgents} (live ${c.buyerMessagesLiveToAgents})`, c.buyerMessagesLost, c.buyerMessagesDuplicated, `${c.buyerMessagesStillQueued} still queued, ${c.buyerMessagesBotOnly} answered by the FAQ bot`],
    ['agent → buyer', c.agentMessagesSent, c.agentMessagesAcked, c.agentMessagesReceivedByBuyers, c.agentMessagesLost, c.agentMessagesDuplicated, `${c.agentMessagesToAbsentBuyers} to buyers who had left`],
    ['bot → buyer', '', '', c.botMessagesReceivedByBuyers, '', c.botMessagesDuplicated, ''],
  ],
)}
<p class="sub">Checked against the transcripts: every acked line's seq must reach the other side exactly once; an agent's view of a session must be gap-free (gaps ${c.agentStreamGaps}, repeats ${c.agentStreamDuplicates}).</p>
${table(
  ['buyers', 'count'],
  [
    ['arrived', c.buyersArrived],
    ['connected', c.buyersConnected],
    ['failed connection attempts (retried)', c.buyerConnectErrors],
    ['never connected (after 3 retries)', c.buyersNeverConnected],
    ['arrivals held back by the connection cap', c.arrivalsDeferred],
    ['accept-queue overflows during the run (kernel dropped the SYN; machine-wide)', r.run.listenOverflows ?? 'n/a'],
    ['sent a first line', c.buyersFirstMessageSent],
    ['greeted', c.buyersGreeted],
    ['greeted within 6 s of their first line', c.greetedWithin6s],
    ['greeted within 6 s of arriving (connecting included)', c.greetedWithin6sOfArrival],
    ['reached an agent', c.buyersReachedAgent],
    ['gave up while queued', c.buyersAbandoned],
    ['FAQ-only, answered by the bot', c.buyersFaqOnlyDone],
    ['rated, then got closed', c.ratings],
    ['left after the rating invite without rating', c.buyersLeftAfterInvite],
    ['got closed (any reason)', c.buyersClosed],
    ['answered by a new session (old one ended meanwhile)', c.sessionRestarts],
    ['…of which a line resent after a reconnect opened it', c.resendsIntoNewSession],
    ['reconnected mid-chat', c.reconnects],
    ['still waiting at the end', c.buyersStillWaitingAtEnd],
    ['never greeted by the end', c.buyersNotGreetedAtEnd],
  ],
)}
${table(
  ['agents', 'count'],
  [
    ['connected', r.run.agentsConnected],
    ['offers', c.offers],
    ['accepted', c.accepts],
    ['declined', c.declines],
    ['revoked', c.revoked],
    ['assigned', c.assigned],
    ['transferred', c.transfers],
    ['closed', c.closes],
  ],
)}
${errs.length ? `<h3>Error frames</h3>${table(['side', 'code', 'count'], errs)}` : ''}
${
  r.run.samples.length
    ? `<h3>Examples of findings (lost, duplicated, errors)</h3><pre style="white-space:pre-wrap;font-size:12px;background:#f8f9fb;padding:8px">${esc(
        [...r.run.samples]
          .sort((x, y) => Number(/Error$/.test(x.kind)) - Number(/Error$/.test(y.kind)))
          .map((x) => `${x.kind}: ${JSON.stringify(x.detail)}`)
          .join('\n'),
      )}</pre>`
    : ''
}
<h3>Frames received, by side and type</h3>
${table(
  ['frame', 'count', 'per buyer line sent'],
  Object.entries(r.run.frames)
    .sort((x, y) => y[1] - x[1])
    .map(([k, v]) => [k, v, num(v / Math.max(1, c.buyerMessagesSent), 2)]),
)}
<h2>Throughput ceilings (same run)</h2>
${table(['pattern', 'messages/s', 'pairs ready', 'p50 ms', 'p99 ms', 'capped by pacing', 'tool CPU % per worker'], [
  satRow('gateway (buyer→agent relay)', ce.gateway),
  satRow('gateway, PEAKDESK_WORKERS=2 (cluster, same Redis)', ce.gateway2Workers),
  satRow('Socket.IO + @socket.io/redis-adapter (rooms, same Redis)', ce.socketio),
  satRow('bare ws relay (same Node, same clients)', ce.echo),
])}
<p>Redis ceiling for the same per-message command mix: <b>${num(ce.redis?.messagesPerSecond, 0)}</b> scripts/s (${esc(ce.redis?.method ?? 'not measured')}${ce.redis ? `, ${ce.redis.clients} clients × pipeline ${ce.redis.pipeline}` : ''}).
Gateway Redis commands per relayed message: ${esc(ce.gatewayRedisCommandsPerMessage ? Object.entries(ce.gatewayRedisCommandsPerMessage).map(([k, v]) => `${k} ${v.toFixed(2)}`).join(', ') : 'n/a')}.</p>
<p>Ratios: gateway ÷ raw ws relay <b>${num(ce.ratios.gatewayVsEcho, 2)}</b>; gateway ÷ Socket.IO relay <b>${num(ce.ratios.gatewayVsSocketio, 2)}</b>; gateway ÷ Redis ceiling <b>${num(ce.ratios.gatewayVsRedis, 2)}</b>; 2 workers ÷ 1 <b>${num(ce.ratios.twoWorkersVsOne, 2)}</b> (Socket.IO CPU ${num(ce.socketioCpuPctDuringSat, 0)}%, 2-worker gateway CPU ${num(ce.gateway2WorkersCpuPctDuringSat, 0)}%).
CPU in the measured windows (% of one core): gateway ${num(ce.gatewayCpuPctDuringSat, 0)}%, Redis ${num(ce.redisCpuPctDuringSat, 0)}% (gateway's window); bare relay ${num(ce.echoCpuPctDuringSat, 0)}%. Other processes on the machine (noise) in the two windows: ${num(ce.otherCpuPctDuringSat.gateway, 0)}% and ${num(ce.otherCpuPctDuringSat.echo, 0)}%.</p>
<h2>Cost per session</h2>
${table(
  ['what', 'measured', 'how'],
  [
    ['Redis, per open session', k.redis?.bytesPerOpen != null ? `${k.redis.bytesPerOpen} B` : 'n/a', `MEMORY USAGE of the session's hash, transcript and message ids, ${k.redis?.openSessions ?? 0} sessions sampled at the end of the run`],
    ['Redis, per closed session (kept for sessions.retentionMs)', k.redis?.bytesPerClosed != null ? `${k.redis.bytesPerClosed} B` : 'n/a', `the same, ${k.redis?.closedSessions ?? 0} sessions sampled`],
    ['gateway log, per session', k.log ? `${num(k.log.linesPerSession)} lines, ${num((k.log.bytesPerSession ?? NaN) / 1024, 2)} KB` : 'n/a', k.log ? `${k.log.lines} lines, ${num(k.log.bytes / 2 ** 20)} MB over ${k.log.sessionsOpened} sessions at LOG_LEVEL=${String(r.options.gatewayLogLevel)}; most: ${Object.entries(k.log.byMessage).slice(0, 6).map(([m, n]) => `${m} ${n}`).join(', ')}` : ''],
    ['gateway RSS, per connected buyer', k.gatewayRssPerBuyerKB !== null ? `${num(k.gatewayRssPerBuyerKB)} KB` : 'n/a', 'RSS growth from the first second to its peak ÷ buyers connected at the peak'],
  ],
)}
<h2>Resources</h2>
${table(
  ['process', 'CPU mean %', 'CPU max %', 'CPU s', 'RSS max MB'],
  [
    ['gateway', num(r.resources.gateway.cpuPctMean), num(r.resources.gateway.cpuPctMax), num(r.resources.gateway.cpuSeconds), num(r.resources.gateway.rssMBMax)],
    ['redis', num(r.resources.redis.cpuPctMean), num(r.resources.redis.cpuPctMax), num(r.resources.redis.cpuSeconds), num(r.resources.redis.rssMBMax)],
    ...r.resources.tool.workers.map((w) => [`load tool worker ${w.worker} (ELU max ${num(w.eluMax, 2)}, loop delay p99 max ${num(w.loopDelayP99MaxMs)} ms)`, num(w.cpuPctMean), num(w.cpuPctMax), num(w.cpuSeconds), '']),
    ['load tool coordinator', '', '', num(r.resources.tool.coordinatorCpuSeconds), ''],
    ['other processes on the machine (noise)', num(r.resources.otherProcesses.cpuPctMean), num(r.resources.otherProcesses.cpuPctMax), '', ''],
  ],
)}
${profs
  .map(
    ({ phase, summary: prof }) => `<h2>Gateway CPU profile — ${esc(phase === 'run' ? 'the Double 11 run' : 'the saturation ceiling')}</h2><p class="sub">${esc(prof.file)} · ${prof.totalMs} ms sampled, ${prof.busyPct}% busy (the rest idle)</p>
<div class="grid"><div>${table(['self time by package / file', 'ms', '%'], prof.byCategory.map((e) => [e.name, e.selfMs, e.pct]))}</div>
<div>${table(['top functions (self time)', 'ms', '%'], prof.topFunctions.map((e) => [e.name, e.selfMs, e.pct]))}</div></div>`,
  )
  .join('')}
<h2>Setup</h2>
${table(
  ['', ''],
  [
    ['gateway', `${r.setup.gatewayUrl}${r.setup.gatewayStarted ? ' (started by the tool)' : ''}`],
    ['store', `${r.setup.store}${r.setup.redisUrl ? ` ${r.setup.redisUrl}` : ''}${r.setup.privateRedis ? ' (private redis-server)' : ''}`],
    ['shops', r.setup.shops.join(', ')],
    ['profile', `${r.profile.buyers} buyers over ${r.profile.durationS}s: base ${num(r.profile.baseRate)}/s, midnight at ${num(r.profile.spikeAtS)}s ×${r.profile.spikeMultiple} → ${num(r.profile.peakRate)}/s, decay τ ${num(r.profile.decayS)}s`],
    ['max buyer connections', r.setup.maxBuyerConnections],
    ['open files limit', `${r.machine.fdLimit.soft} / ${r.machine.fdLimit.hard}`],
    ['options', JSON.stringify(r.options)],
  ],
)}
<script>${chartJs().replace(/<\/script/gi, '<\\/script')}</script>
<script>
const R = ${data};
const T = R.timeline;
const labels = T.map((r) => r.sec);
const nn = (v) => (v === null || v === undefined || !Number.isFinite(v) ? null : v);
const ds = (label, key, color, extra) => ({ label, data: T.map((r) => nn(typeof key === 'function' ? key(r) : r[key])), borderColor: color, backgroundColor: color, pointRadius: 0, borderWidth: 1.5, tension: 0.15, ...(extra || {}) });
const base = (y, y2) => ({ animation: false, responsive: true, maintainAspectRatio: false, interaction: { mode: 'index', intersect: false },
  scales: { x: { title: { display: true, text: 'seconds' } }, y: { beginAtZero: true, ...(y || {}) }, ...(y2 ? { y2: { position: 'right', beginAtZero: true, grid: { drawOnChartArea: false }, ...y2 } } : {}) } });
new Chart(document.getElementById('arrivals'), { type: 'line', data: { labels, datasets: [
  ds('arrivals/s', 'arrivals', '#d9480f'), ds('planned/s', 'plannedArrivals', '#999', { borderDash: [4, 4] }),
  ds('connections held', (r) => r.connectedBuyers + r.connectedAgents, '#1c7ed6', { yAxisID: 'y2' }) ] }, options: base({ title: { display: true, text: 'per second' } }, { title: { display: true, text: 'connections' } }) });
new Chart(document.getElementById('queue'), { type: 'line', data: { labels, datasets: [ ds('waiting for an agent', 'waiting', '#e8590c', { fill: true, backgroundColor: 'rgba(232,89,12,.15)' }), ds('chatting with an agent', 'chatting', '#2b8a3e') ] }, options: base() });
new Chart(document.getElementById('latency'), { type: 'line', data: { labels, datasets: [
  ds('greeting p50', (r) => r.firstResponse.p50, '#74c0fc'), ds('greeting p99', (r) => r.firstResponse.p99, '#1864ab'),
  ds('buyer→agent p50', (r) => r.buyerToAgent.p50, '#b2f2bb'), ds('buyer→agent p99', (r) => r.buyerToAgent.p99, '#2b8a3e'),
  ds('agent→buyer p99', (r) => r.agentToBuyer.p99, '#ae3ec9') ] }, options: base({ type: 'logarithmic', beginAtZero: false, title: { display: true, text: 'ms' } }) });
new Chart(document.getElementById('messages'), { type: 'line', data: { labels, datasets: [ ds('buyer lines/s', 'buyerMessages', '#1c7ed6'), ds('agent lines/s', 'agentMessages', '#f08c00'), ds('assigned/s', 'assigned', '#2b8a3e'), ds('closed/s', 'closed', '#868e96') ] }, options: base() });
const toolSets = Array.from({ length: R.workers }, (_, w) => ds('load tool w' + w, (r) => r.toolCpuPct[w], ['#868e96', '#adb5bd', '#495057', '#ced4da'][w % 4]));
new Chart(document.getElementById('cpu'), { type: 'line', data: { labels, datasets: [ ds('gateway', 'gatewayCpuPct', '#c92a2a'), ds('redis', 'redisCpuPct', '#5f3dc4'), ...toolSets, ds('other processes (noise)', 'otherCpuPct', '#f59f00', { borderDash: [3, 3] }) ] }, options: base({ title: { display: true, text: '% of one core' } }) });
new Chart(document.getElementById('mem'), { type: 'line', data: { labels, datasets: [ ds('gateway RSS', 'gatewayRssMB', '#c92a2a'), ds('redis RSS', 'redisRssMB', '#5f3dc4'), ds('redis used_memory', 'redisUsedMemoryMB', '#9775fa', { borderDash: [4, 4] }) ] }, options: base() });
</script>
</body></html>
`;
}

function planSection(p: PlanComparison): string {
  const pct = (x: number | null) => (x === null ? 'n/a' : `${(x * 100).toFixed(1)} %`);
  return `<h2>Staffing plan: predicted vs measured</h2>
<p class="sub">${esc(p.file)}, interval ${p.interval}; buyers of the first ${p.warmupS.toFixed(0)} s not counted</p>
${table(
  ['role', 'agents × chats', 'arrivals/h (plan)', 'in the run', 'handle s in the run', 'buyers counted', 'service level (plan)', 'model at the run', 'measured', 'abandonment (plan)', 'model at the run', 'measured', 'ASA s (plan)', 'measured'],
  p.rows.map((x) => [
    x.role,
    `${x.agents} × ${x.concurrency}`,
    num(x.arrivalsPerHour, 0),
    num(x.measured.arrivalsPerHour, 0),
    num(x.measured.handleSeconds, 2),
    x.counted,
    pct(x.predicted.serviceLevel),
    pct(x.modelAtMeasured?.serviceLevel ?? null),
    pct(x.measured.serviceLevel),
    pct(x.predicted.abandonment),
    pct(x.modelAtMeasured?.abandonment ?? null),
    pct(x.measured.abandonment),
    num(x.predicted.averageSpeedOfAnswerSeconds, 2),
    num(x.measured.averageSpeedOfAnswerSeconds, 2),
  ]),
)}`;
}
