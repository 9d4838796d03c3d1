/**
 * The ops dashboard's live parts in headless Chromium against a gateway on loopback with its
 * own redis-server: the last-30-minute charts move during a scripted burst of buyers, an alert
 * shows when a role's oldest wait passes dashboard.alerts.oldestWaitSeconds, and the supervisor
 * view follows a chat line by line and force-closes it.
 * Screenshots: test-results/screenshots/ops-trends-burst.png (charts after the burst),
 * ops-alert.png (the oldest-wait alert), ops-supervisor.png (a chat followed live),
 * ops-supervisor-closed.png (after the force close).
 */
import { describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { TestClient } from './support/client.ts';
import { screenshot } from './support/browser.ts';
import { see, useWebHarness } from './support/web-harness.ts';

const SHOP = 'dash-shop';

const web = useWebHarness({
  viewport: { width: 1360, height: 1000 },
  // The plan panel's POST /v1/admin/plan is refused (400) while nothing was handled yet; the page shows why.
  expectedConsoleError: /status of 400/,
  config: {
    dashboard: { bucketMs: 1_000, alerts: { oldestWaitSeconds: 2, abandonment: 0.5, minOutcomes: 1, windowSeconds: 60 } },
    routing: { sweepIntervalMs: 100 },
  },
});

/** The sum of what a chart holds now (the page writes it on the chart for this). */
async function chartSum(page: Page, chart: string): Promise<number> {
  return Number(await page.locator(`#trend-charts figure[data-chart="${chart}"]`).getAttribute('data-sum'));
}

/** Asks the page to poll the stats now until `cond` holds (the page itself polls every 5 s). */
async function until(page: Page, cond: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const end = Date.now() + ms;
  for (;;) {
    await page.evaluate(() => (window as unknown as { __peakdesk: { trends(): Promise<void> } }).__peakdesk.trends());
    if (await cond()) return;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await page.waitForTimeout(250);
  }
}

async function buyer(sub: string): Promise<TestClient> {
  const c = web.track(await TestClient.connect(web.g.url, 'buyer', await web.g.token({ sub, kind: 'buyer', shop: SHOP })));
  await c.next('welcome');
  return c;
}

async function agent(sub: string): Promise<TestClient> {
  const c = web.track(await TestClient.connect(web.g.url, 'agent', await web.g.token({ sub, kind: 'agent', shop: SHOP })));
  await c.next('welcome');
  return c;
}

describe('ops dashboard: charts, alerts, supervisor view', () => {
  it('moves the charts during a burst and raises the oldest-wait alert', async () => {
    const pages: Record<string, Page> = {};
    try {
      const token = await web.g.token({ sub: 'ops-1', kind: 'admin', shop: SHOP });
      const ops = (pages.ops = await web.open(`/ops/?token=${token}`, 'ops'));
      await see(ops, '#trend-charts figure[data-chart="arrivals"] canvas');
      await see(ops, '#alerts .alert-none', '一切正常');
      expect(await chartSum(ops, 'arrivals')).toBe(0);

      // A burst: eight buyers into after-sale, nobody to serve them.
      const buyers: TestClient[] = [];
      for (let i = 0; i < 8; i++) {
        const b = await buyer(`burst-${i}`);
        b.send({ type: 'message', clientMsgId: '1', text: '我要退货，快递破损了' });
        buyers.push(b);
      }
      await Promise.all(buyers.map((b) => b.next('queue')));
      await until(ops, async () => (await chartSum(ops, 'arrivals')) >= 8 && (await chartSum(ops, 'waiting')) > 0, 'arrivals and waiting on the charts');
      expect(await ops.locator('#trend-role').inputValue()).toBe('after-sale');
      expect(await ops.locator('#trend-role option:checked').textContent()).toBe('售后');
      await see(ops, '#trend-totals', '进线 8');
      await screenshot(ops, 'ops-trends-burst');

      // They have waited past dashboard.alerts.oldestWaitSeconds: the page says so, by role name.
      await until(ops, async () => (await ops.locator('#alerts .alert[data-kind="oldestWait"][data-role="after-sale"]').count()) === 1, 'the oldest-wait alert');
      await see(ops, '#alerts .alert', '售后：最久等待');
      await screenshot(ops, 'ops-alert');

      // Agents come: the queue is served, time to agent and capacity in use appear.
      const a = await agent('burst-agent');
      a.send({ type: 'ready', roles: ['after-sale'], capacity: 10 });
      for (let i = 0; i < 8; i++) {
        const offer = await a.next('offer');
        a.send({ type: 'accept', sessionId: offer.sessionId });
        await a.next('assigned', (f) => f.sessionId === offer.sessionId);
      }
      await until(ops, async () => (await chartSum(ops, 'wait')) > 0 && (await chartSum(ops, 'agents')) > 0, 'time to agent and agents on the charts');
      await until(ops, async () => (await ops.locator('#alerts .alert').count()) === 0, 'the alert to clear');
      expect(web.pageErrors).toEqual([]);
    } catch (err) {
      for (const [name, page] of Object.entries(pages)) await screenshot(page, `failed-${name}`).catch(() => {});
      throw err;
    }
  }, 60_000);

  it('follows a chat live from the session search and force-closes it', async () => {
    const pages: Record<string, Page> = {};
    try {
      const a = await agent('live-agent');
      a.send({ type: 'ready', roles: ['pre-sale'], capacity: 1 });
      const b = await buyer('live-buyer');
      b.send({ type: 'message', clientMsgId: '1', text: '这款有 XL 码吗' });
      const offer = await a.next('offer');
      a.send({ type: 'accept', sessionId: offer.sessionId });
      await a.next('assigned');

      const token = await web.g.token({ sub: 'ops-sup', kind: 'admin', shop: SHOP });
      const ops = (pages.ops = await web.open(`/ops/?token=${token}`, 'ops-live'));
      await see(ops, '#conn[data-state="open"]');
      await ops.locator('#session-id').fill(offer.sessionId);
      await ops.locator('#session-form button[type=submit]').click();
      await see(ops, '#session-head', '售前');
      await see(ops, '#session-transcript li.msg', '这款有 XL 码吗');
      await ops.locator('#live-watch').click();
      await see(ops, '#session-head .live-pill', '实时');

      // Lines from both sides arrive as they are said, in order.
      a.send({ type: 'message', sessionId: offer.sessionId, clientMsgId: 'a1', text: '有的亲，XL 有货' });
      await see(ops, '#session-transcript li.msg.from-agent', '有的亲，XL 有货');
      b.send({ type: 'message', clientMsgId: '2', text: '好的，我马上下单' });
      await see(ops, '#session-transcript li.msg.from-buyer', '好的，我马上下单');
      const seqs = await ops.locator('#session-transcript li.msg').evaluateAll((els) => els.map((e) => Number((e as HTMLElement).dataset.seq)));
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
      await screenshot(ops, 'ops-supervisor');

      // Force close from the live view (after the confirmation): the buyer and agent are told.
      ops.once('dialog', (d) => void d.accept());
      await ops.locator('#live-close').click();
      expect(await b.next('closed')).toMatchObject({ sessionId: offer.sessionId });
      await see(ops, '#session-head .status', '运营强制结束');
      await see(ops, '#live-close[disabled]');
      await screenshot(ops, 'ops-supervisor-closed');
      expect(web.pageErrors).toEqual([]);
    } catch (err) {
      for (const [name, page] of Object.entries(pages)) await screenshot(page, `failed-${name}`).catch(() => {});
      throw err;
    }
  }, 60_000);
});

describe('ops dashboard: FAQ and intent-keyword form', () => {
  it('checks entries with the server schema before sending, then applies them to the shop', async () => {
    const pages: Record<string, Page> = {};
    try {
      const token = await web.g.token({ sub: 'ops-faq', kind: 'admin', shop: SHOP });
      const ops = (pages.ops = await web.open(`/ops/?token=${token}`, 'ops-faq'));
      await see(ops, '#config-version', /\w{6}/);
      expect(await ops.locator('#faq-scope option').allTextContents()).toEqual(['本店：dash-shop']);

      // An entry without keywords is refused on the page (faqEntrySchema: keywords min 1), nothing sent.
      await ops.locator('#faq-add').click();
      await ops.locator('#faq-rows .faq-answer').last().fill('亲，满 99 包邮哦～');
      await ops.locator('#faq-apply').click();
      await see(ops, '#faq-problems li[data-path="faq.0.keywords"]');

      await ops.locator('#faq-rows .faq-keywords').last().fill('包邮，运费');
      await ops.locator('#rule-add').click();
      await ops.locator('#rule-rows .rule-role').last().selectOption('after-sale');
      await ops.locator('#rule-rows .rule-keywords').last().fill('坏了, 破损');
      await ops.locator('#faq-apply').click();
      await see(ops, '#config-result', '已应用');
      await screenshot(ops, 'ops-faq-form');

      const res = await fetch(`${web.g.http}/v1/admin/config`, { headers: { authorization: `Bearer ${token}` } });
      const shop = (await res.json()).config.shops[SHOP];
      expect(shop.bots.faq).toEqual([{ keywords: ['包邮', '运费'], answer: '亲，满 99 包邮哦～', queue: true }]);
      expect(shop.intent.rules).toEqual([{ role: 'after-sale', keywords: ['坏了', '破损'], patterns: [] }]);
      // The form shows what is live now.
      expect(await ops.locator('#faq-rows .faq-keywords').inputValue()).toBe('包邮, 运费');
      expect(web.pageErrors).toEqual([]);
    } catch (err) {
      for (const [name, page] of Object.entries(pages)) await screenshot(page, `failed-${name}`).catch(() => {});
      throw err;
    }
  }, 40_000);
});
