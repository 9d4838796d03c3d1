/**
 * The ops dashboard's staffing-plan panel: the shop's recorded stats over the last hours,
 * × a growth factor, planned by the gateway (POST /v1/admin/plan), one row per role with the
 * measured inputs and the agents needed at the busiest interval; the stats as a CSV download.
 */
import { byId, h, toast } from '../shared/dom.ts';
import { t } from '../shared/i18n/index.ts';

type Api = <T>(method: string, path: string, body?: unknown) => Promise<T>;

interface Measured {
  role: string;
  counts: { arrivals: number; transfersIn: number };
  handleSeconds: number | null;
  capacity: number | null;
  patienceSeconds: number | null;
  abandonment: number | null;
}

interface RolePlan {
  role: string;
  model: string;
  concurrency: number;
  handleSeconds: number;
  patienceSeconds: number | null;
  agents: number;
  serviceLevel: number;
  averageSpeedOfAnswerSeconds: number | null;
  occupancy: number;
  intervals: { arrivals: number; met: boolean }[];
  target: { answerWithinSeconds: number; serviceLevel: number; maxAbandonment: number };
}

const HOUR_MS = 3_600_000;
const pct = (x: number | null) => (x === null ? '—' : `${(Math.round(x * 1000) / 10).toFixed(1)}%`);
const secs = (x: number | null) => (x === null ? '—' : `${x < 10 ? x.toFixed(1) : Math.round(x)}s`);

export function mountPlanPanel(api: Api, shop: () => string, token: () => string | null, roleLabel: (role: string) => string, shopLabel: (shop: string) => string): { refresh(): Promise<void> } {
  const body = byId<HTMLTableElement>('plan').tBodies[0]!;
  const note = byId('plan-note');
  const hours = byId<HTMLInputElement>('plan-hours');
  const growth = byId<HTMLInputElement>('plan-growth');
  const run = byId<HTMLButtonElement>('plan-run');
  const csv = byId<HTMLButtonElement>('plan-csv');
  const window = () => {
    const to = Date.now();
    return { from: to - Math.min(720, Math.max(1, Number(hours.value) || 24)) * HOUR_MS, to };
  };

  async function refresh(): Promise<void> {
    const s = shop();
    run.disabled = true;
    try {
      const { from, to } = window();
      const r = await api<{ plan: { roles: RolePlan[] }; measured: Measured[]; skipped: { role: string; reason: string }[] }>('POST', `/v1/admin/plan?shop=${encodeURIComponent(s)}`, {
        from,
        to,
        growth: Number(growth.value) || 1,
      });
      const measured = new Map(r.measured.map((m) => [m.role, m]));
      body.replaceChildren(
        ...r.plan.roles.map((p) => {
          const m = measured.get(p.role);
          const arrivals = p.intervals.reduce((n, i) => n + i.arrivals, 0);
          return h(
            'tr',
            { 'data-role': p.role },
            h('td', {}, h('span.role-tag', { title: p.role }, roleLabel(p.role))),
            h('td.num', {}, String(Math.round(arrivals))),
            h('td.num', {}, secs(p.handleSeconds)),
            h('td.num', {}, String(p.concurrency)),
            h('td.num', { title: p.model }, secs(p.patienceSeconds)),
            h('td.num', {}, pct(m?.abandonment ?? null)),
            h(`td.num.agents${p.intervals.every((i) => i.met) ? '' : '.level-poor'}`, {}, String(p.agents)),
            h(`td.num${p.serviceLevel >= p.target.serviceLevel ? '.level-good' : '.level-poor'}`, {}, pct(p.serviceLevel)),
            h('td.num', {}, secs(p.averageSpeedOfAnswerSeconds)),
            h('td.num', {}, pct(p.occupancy)),
          );
        }),
        ...r.skipped.map((k) => {
          const m = measured.get(k.role);
          return h(
            'tr.skipped',
            { 'data-role': k.role },
            h('td', {}, h('span.role-tag', { title: k.role }, roleLabel(k.role))),
            h('td.num', {}, String(Math.round(((m?.counts.arrivals ?? 0) + (m?.counts.transfersIn ?? 0)) * (Number(growth.value) || 1)))),
            h('td.muted.small', { colspan: 8 }, t('ops.plan.skipped', { why: k.reason })),
          );
        }),
      );
      const target = r.plan.roles[0]?.target;
      note.textContent = target
        ? t('ops.plan.summary', { shop: shopLabel(s), hours: hours.value, growth: growth.value, sl: pct(target.serviceLevel), within: target.answerWithinSeconds, abandon: pct(target.maxAbandonment) })
        : '';
    } catch (err) {
      body.replaceChildren();
      note.textContent = t('ops.plan.none', { shop: shopLabel(s), why: (err as Error).message });
    } finally {
      run.disabled = false;
    }
  }

  async function download(): Promise<void> {
    const { from, to } = window();
    try {
      // Not through api(): the answer is CSV, not JSON.
      const res = await fetch(`/v1/admin/plan/stats?shop=${encodeURIComponent(shop())}&from=${from}&to=${to}&format=csv`, { headers: { authorization: `Bearer ${token() ?? ''}` } });
      if (!res.ok) throw new Error(`HTTP ${res.status}`);
      const text = await res.text();
      const a = h('a', { href: URL.createObjectURL(new Blob([text], { type: 'text/csv' })), download: `plan-stats-${shop()}.csv` });
      a.click();
      URL.revokeObjectURL(a.href);
    } catch (err) {
      toast(`CSV: ${(err as Error).message}`, 'error');
    }
  }

  run.addEventListener('click', () => void refresh());
  csv.addEventListener('click', () => void download());
  return { refresh };
}
