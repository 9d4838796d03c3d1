/**
 * The ops dashboard's last half hour of one shop: six small uPlot charts for the role picked
 * (waiting online/offline, arrivals, time to agent p50/p90, abandonment, overflow, agents ready
 * vs capacity and sessions in use) and the alerts the gateway raises (dashboard.alerts), polled
 * from GET /v1/admin/stats/recent. The numbers come from Redis, so every instance shows the same.
 */
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';
import type { RecentResponse } from '../../protocol/dashboard.ts';
import { byId, clock, h } from '../shared/dom.ts';
import { duration, t, type MessageKey } from '../shared/i18n/index.ts';
import { apply, chartData, CHARTS, totals, type ChartData, type ChartId, type OpsState } from './state.ts';

type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

const POLL_MS = 5_000;

const SERIES: Record<ChartId, { label: MessageKey; color: string; bars?: boolean }[]> = {
  waiting: [
    { label: 'ops.series.online', color: '#ff5000' },
    { label: 'ops.series.offline', color: '#9ca3af' },
  ],
  arrivals: [{ label: 'ops.series.arrivals', color: '#2563eb', bars: true }],
  wait: [
    { label: 'ops.series.p50', color: '#16a34a' },
    { label: 'ops.series.p90', color: '#d97706' },
  ],
  abandoned: [{ label: 'ops.series.abandoned', color: '#dc2626', bars: true }],
  overflowed: [{ label: 'ops.series.overflowed', color: '#7c3aed', bars: true }],
  agents: [
    { label: 'ops.series.ready', color: '#0891b2' },
    { label: 'ops.series.capacity', color: '#94a3b8' },
    { label: 'ops.series.inUse', color: '#ff5000' },
  ],
};

export interface TrendsPanel {
  refresh(): Promise<void>;
}

export function mountTrendsPanel(api: Api, shop: () => string, roleLabel: (role: string) => string, state: OpsState): TrendsPanel {
  const grid = byId('trend-charts');
  const picker = byId<HTMLSelectElement>('trend-role');
  const updated = byId('trend-updated');
  const sums = byId('trend-totals');
  const alerts = byId('alerts');
  const charts = new Map<ChartId, { plot: uPlot; box: HTMLElement }>();
  let timer: ReturnType<typeof setTimeout> | undefined;
  let seq = 0;

  const width = () => Math.max(220, Math.floor((grid.clientWidth - 24) / 3) - 12);

  function makeChart(id: ChartId, data: ChartData): { plot: uPlot; box: HTMLElement } {
    const box = h('figure.trend', { 'data-chart': id }, h('figcaption', {}, t(`ops.chart.${id}` as MessageKey)));
    grid.append(box);
    const bars = uPlot.paths.bars?.({ size: [0.8, 12] });
    const plot = new uPlot(
      {
        width: width(),
        height: 130,
        legend: { show: true, live: false },
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, y: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        axes: [{ size: 30, font: '11px sans-serif' }, { size: 36, font: '11px sans-serif' }],
        series: [
          {},
          ...SERIES[id].map((s) => ({ label: t(s.label), stroke: s.color, width: 1.5, spanGaps: false, ...(s.bars && bars ? { paths: bars, fill: `${s.color}55` } : {}) })),
        ],
      },
      data as uPlot.AlignedData,
      box,
    );
    return { plot, box };
  }

  function render(): void {
    const body = state.recent;
    const roles = body?.roles.map((r) => r.role) ?? [];
    const have = [...picker.options].map((o) => o.value);
    if (roles.join('\n') !== have.join('\n')) picker.replaceChildren(...roles.map((r) => h('option', { value: r }, roleLabel(r))));
    if (state.role) picker.value = state.role;
    renderAlerts();
    const data = chartData(state);
    if (!body || !data) {
      updated.textContent = t('ops.trends.empty');
      return;
    }
    updated.textContent = t('ops.trends.updated', { time: clock(body.to), s: Math.round(body.bucketMs / 1000) });
    const sum = totals(state)!;
    sums.textContent = t('ops.trends.totals', sum);
    for (const id of CHARTS) {
      let c = charts.get(id);
      if (!c) charts.set(id, (c = makeChart(id, data[id])));
      else c.plot.setData(data[id] as uPlot.AlignedData);
      // For tests and curious eyes: what the chart holds right now.
      const values = data[id].slice(1).flat().filter((v): v is number => v !== null);
      c.box.dataset.points = String(values.length);
      c.box.dataset.sum = String(Math.round(values.reduce((a, b) => a + b, 0) * 1000) / 1000);
    }
  }

  function renderAlerts(): void {
    alerts.dataset.count = String(state.alerts.length);
    if (!state.alerts.length) {
      alerts.replaceChildren(h('span.alert-none', {}, t('ops.alerts.none')));
      return;
    }
    alerts.replaceChildren(
      ...state.alerts.map((a) =>
        h(
          'div.alert',
          { role: 'alert', 'data-kind': a.kind, 'data-role': a.role },
          a.kind === 'oldestWait'
            ? t('ops.alert.oldestWait', { role: roleLabel(a.role), value: duration(a.value * 1000), threshold: duration(a.threshold * 1000) })
            : t('ops.alert.abandonment', { role: roleLabel(a.role), value: `${Math.round(a.value * 100)}%`, threshold: `${Math.round(a.threshold * 100)}%` }),
        ),
      ),
    );
  }

  async function refresh(): Promise<void> {
    clearTimeout(timer);
    const mine = ++seq;
    const s = shop();
    try {
      const body = await api<RecentResponse>('GET', `/v1/admin/stats/recent?shop=${encodeURIComponent(s)}&minutes=30`);
      if (mine !== seq || s !== shop()) return;
      apply(state, { type: 'recent', body });
      render();
      updated.classList.remove('stale');
    } catch {
      updated.classList.add('stale');
    } finally {
      if (mine === seq) timer = setTimeout(() => void refresh(), POLL_MS);
    }
  }

  picker.addEventListener('change', () => {
    apply(state, { type: 'pick_role', role: picker.value });
    render();
  });
  window.addEventListener('resize', () => {
    for (const { plot } of charts.values()) plot.setSize({ width: width(), height: 130 });
  });
  return { refresh };
}
