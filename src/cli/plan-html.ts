/** The staffing plan as one self-contained HTML file: a chart and a table per role. */
import type { Plan } from '../plan/planner.ts';
import { chartJs, esc } from './html.ts';

const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const sec = (x: number | null) => (x === null ? '∞' : x.toFixed(1));

export function renderPlanHtml(plan: Plan): string {
  const data = JSON.stringify(plan).replace(/</g, '\\u003c');
  const t = plan.target;
  const sections = plan.roles
    .map(
      (r, i) => `<h2>${esc(r.role)} — ${r.agents} agents at the peak</h2>
<div class="sub">${r.model === 'erlang-a' ? `Erlang A, mean patience ${sec(r.patienceSeconds)} s` : 'Erlang C (nobody gives up)'} · handle ${r.handleSeconds.toFixed(1)} s · ${r.concurrency} chat(s) per agent ·
target ${pct(r.target.serviceLevel)} within ${r.target.answerWithinSeconds} s${r.model === 'erlang-a' ? `, at most ${pct(r.target.maxAbandonment)} giving up` : ''}</div>
<div class="card"><canvas id="c${i}"></canvas></div>
<table><thead><tr><th>interval</th><th>arrivals</th><th>per hour</th><th>agents</th><th>servers</th><th>service level</th><th>ASA s</th><th>abandonment</th><th>occupancy</th></tr></thead><tbody>
${r.intervals
  .map(
    (x) =>
      `<tr class="${x.met ? '' : 'fail'}"><td>${esc(x.start ?? `#${x.index}`)}</td><td>${x.arrivals.toFixed(1)}</td><td>${x.arrivalsPerHour.toFixed(0)}</td><td>${x.agents}</td><td>${x.servers}</td><td>${pct(x.serviceLevel)}</td><td>${sec(x.averageSpeedOfAnswerSeconds)}</td><td>${pct(x.abandonment)}</td><td>${pct(x.occupancy)}</td></tr>`,
  )
  .join('\n')}
</tbody></table>`,
    )
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>peakdesk staffing plan ${esc(plan.generatedAt)}</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"PingFang SC","Noto Sans CJK SC",sans-serif;margin:24px auto;max-width:1100px;padding:0 16px;color:#1d2330}
h1{font-size:22px;margin-bottom:4px} h2{font-size:17px;margin-top:32px;border-bottom:1px solid #dde;padding-bottom:4px} .sub{color:#667}
table{border-collapse:collapse;margin:8px 0;font-variant-numeric:tabular-nums} th,td{border:1px solid #dde;padding:4px 8px;text-align:right} th{background:#f3f4f8} td:first-child,th:first-child{text-align:left}
tr.fail td{color:#b3261e} .card{border:1px solid #dde;border-radius:6px;padding:8px} canvas{width:100%!important;height:280px!important}
</style></head><body>
<h1>peakdesk — staffing plan</h1>
<div class="sub">${esc(plan.generatedAt)} · intervals of ${plan.intervalSeconds / 60} min · target ${pct(t.serviceLevel)} answered within ${t.answerWithinSeconds} s, at most ${pct(t.maxAbandonment)} giving up ·
${plan.agents} agents at the peaks in all · service level ${pct(plan.serviceLevel)} · occupancy ${pct(plan.occupancy)}</div>
${sections}
<script>${chartJs().replace(/<\/script/gi, '<\\/script')}</script>
<script>
const plan = ${data};
plan.roles.forEach((r, i) => {
  const labels = r.intervals.map((x) => x.start ? x.start.slice(11, 16) : '#' + x.index);
  new Chart(document.getElementById('c' + i), {
    data: { labels, datasets: [
      { type: 'bar', label: 'agents needed', data: r.intervals.map((x) => x.agents), backgroundColor: 'rgba(28,126,214,.55)', yAxisID: 'y' },
      { type: 'line', label: 'arrivals per hour', data: r.intervals.map((x) => x.arrivalsPerHour), borderColor: '#868e96', borderDash: [4, 4], pointRadius: 0, yAxisID: 'y3' },
      { type: 'line', label: 'service level %', data: r.intervals.map((x) => x.serviceLevel * 100), borderColor: '#2b8a3e', pointRadius: 2, yAxisID: 'y2' },
      { type: 'line', label: 'occupancy %', data: r.intervals.map((x) => x.occupancy * 100), borderColor: '#e8590c', pointRadius: 2, yAxisID: 'y2' },
      { type: 'line', label: 'abandonment %', data: r.intervals.map((x) => x.abandonment * 100), borderColor: '#c92a2a', pointRadius: 2, yAxisID: 'y2' },
    ] },
    options: { animation: false, maintainAspectRatio: false, interaction: { mode: 'index', intersect: false },
      scales: { y: { beginAtZero: true, title: { display: true, text: 'agents' } }, y2: { position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false }, title: { display: true, text: '%' } }, y3: { display: false, beginAtZero: true } } },
  });
});
</script>
</body></html>
`;
}
