/**
 * The gateway's own web pages in headless Chromium: an agent workbench and the buyer widget
 * chat both ways, survive dropped connections without losing or repeating a line, and a
 * transfer reaches a second agent's workbench with the transcript and the note.
 * Screenshots go to test-results/screenshots/.
 */
import { describe, expect, it } from 'vitest';
import { SignJWT } from 'jose';
import type { Page } from 'playwright-core';
import { screenshot } from './support/browser.ts';
import { see, useWebHarness } from './support/web-harness.ts';

const web = useWebHarness({ viewport: { width: 1280, height: 800 } });

async function count(page: Page, selector: string, text: string): Promise<number> {
  return page.locator(selector, { hasText: text }).count();
}

async function online(page: Page): Promise<void> {
  await see(page, '#conn[data-state="open"]');
}

async function say(page: Page, text: string): Promise<void> {
  await page.locator('#text').fill(text);
  await page.locator('#text').press('Enter');
}

describe('web pages', () => {
  it('serves the index, the agent workbench and the buyer widget', async () => {
    const index = await fetch(`${web.g.http}/`);
    expect(index.status).toBe(200);
    expect(await index.text()).toContain('Agent workbench');
    const redirect = await fetch(`${web.g.http}/agent`, { redirect: 'manual' });
    expect(redirect.status).toBe(301);
    expect(redirect.headers.get('location')).toBe('/agent/');
    for (const p of ['/agent/', '/buyer/']) {
      const res = await fetch(`${web.g.http}${p}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toMatch(/text\/html/);
      expect(res.headers.get('cache-control')).toBe('no-cache');
    }
    // The gateway's own endpoints are untouched by the static files.
    expect((await fetch(`${web.g.http}/healthz`)).status).toBe(200);
  });

  it('signs in with a pasted token and refuses the wrong kind', async () => {
    const page = await web.open('/agent/', 'agent-signin');
    await see(page, '#signin-form');
    await page.locator('#token-input').fill(await web.g.token({ sub: 'someone', kind: 'buyer' }));
    await page.locator('#signin-form button[type=submit]').click();
    await see(page, '#signin-error', '这是买家令牌');
    await page.locator('#token-input').fill(await web.g.token({ sub: 'web-agent-0', kind: 'agent' }));
    await page.locator('#signin-form button[type=submit]').click();
    await online(page);
    await see(page, '#who', 'web-agent-0');
    // Every role of the default config is offered when the token names none.
    expect(await page.locator('#roles input[type=checkbox]').count()).toBe(4);
    // A reload keeps the token (sessionStorage) and connects again.
    await page.reload();
    await online(page);
    await page.context().close();
  });

  it('says when the gateway refuses a token (HTTP 401) instead of retrying', async () => {
    // Well-formed, of the right kind, but signed with another secret: only the gateway can tell.
    const forged = await new SignJWT({ shop: 'shop-1', kind: 'buyer' })
      .setProtectedHeader({ alg: 'HS256' })
      .setSubject('forger')
      .sign(new TextEncoder().encode('some-other-secret-0123456789'));
    const page = await web.open(`/buyer/?token=${forged}`, 'buyer-refused');
    await see(page, '#signin-error', /HTTP 401/);
    await see(page, '#signin-form');
    await page.context().close();
    // The browser logs the refused upgrade and the probe's 401 itself; those are this test's point.
    const mine = web.pageErrors.filter((e) => e.startsWith('buyer-refused'));
    expect(mine.every((e) => /401|Authentication failed/.test(e)), mine.join('\n')).toBe(true);
    web.pageErrors.splice(0, web.pageErrors.length, ...web.pageErrors.filter((e) => !mine.includes(e)));
  });

  it('agent and buyer chat both ways, resume after dropped connections, and a transfer reaches a second agent', async () => {
    const buyerToken = await web.g.token({ sub: 'web-buyer', kind: 'buyer' });
    const a1Token = await web.g.token({ sub: 'web-agent-1', kind: 'agent', roles: ['pre-sale'] });
    const a2Token = await web.g.token({ sub: 'web-agent-2', kind: 'agent', roles: ['after-sale'] });
    const pages: Record<string, Page> = {};
    try {
      // The buyer asks first and waits in line.
      const buyer = (pages.buyer = await web.open(`/buyer/?token=${buyerToken}`, 'buyer'));
      await online(buyer);
      expect(buyer.url()).not.toContain('token='); // kept in sessionStorage, not in the address bar
      await say(buyer, '你好，这件有货吗？');
      await see(buyer, '#transcript li.from-buyer', '你好，这件有货吗？');
      await see(buyer, '#transcript li.from-bot');
      await see(buyer, '#queue[data-position]');

      // Agent 1 goes ready for pre-sale and takes the offer.
      const a1 = (pages.a1 = await web.open(`/agent/?token=${a1Token}`, 'agent-1'));
      await online(a1);
      await a1.locator('#capacity').fill('2');
      await a1.locator('#ready').click();
      await see(a1, '#presence-state[data-status="ready"]', '售前');
      await see(a1, '#offers .offer', '你好，这件有货吗？');
      expect(await a1.locator('#offers .offer .countdown').first().textContent()).toMatch(/^\d+s$/);
      await a1.locator('#offers .offer button.accept').click();
      await see(a1, '#chat-list .chat-item', '售前');
      await see(a1, '#transcript li.from-buyer', '你好，这件有货吗？');
      await see(a1, '#transcript li.from-bot');

      // Both ways.
      await say(a1, '有货的亲，今天下单明天发');
      await see(buyer, '#transcript li.from-agent', '有货的亲，今天下单明天发');
      await see(buyer, '#status-line', '售前');
      await say(buyer, '好的，我要M码');
      await see(a1, '#transcript li.from-buyer', '好的，我要M码');
      // A quick reply: click inserts it, Enter sends it.
      const chip = a1.locator('#quick .chip').first();
      const phrase = (await chip.getAttribute('data-text'))!;
      await chip.click();
      await a1.locator('#text').press('Enter');
      await see(buyer, '#transcript li.from-agent', phrase);

      // The buyer's connection drops; what the agent says meanwhile arrives once, after resume.
      await buyer.evaluate('window.__peakdesk.drop()');
      await say(a1, '亲还在吗？');
      await see(a1, '#transcript li.from-agent:not(.pending)', '亲还在吗？');
      await see(buyer, '#transcript li.from-agent', '亲还在吗？');
      await online(buyer);
      // The agent's drops too: it comes back to the same chat and sees what the buyer wrote.
      await a1.evaluate('window.__peakdesk.drop()');
      await say(buyer, '在的');
      await see(a1, '#transcript li.from-buyer', '在的');
      await online(a1);
      await see(a1, '#presence-state[data-status="ready"]', '售前');
      expect(await count(buyer, '#transcript li.from-agent', '亲还在吗？')).toBe(1);
      expect(await count(a1, '#transcript li.from-buyer', '在的')).toBe(1);
      expect(await count(buyer, '#transcript li.from-agent', '有货的亲，今天下单明天发')).toBe(1);
      await screenshot(a1, 'agent-workbench');

      // Agent 2 serves after-sale; agent 1 hands the chat over with a note.
      const a2 = (pages.a2 = await web.open(`/agent/?token=${a2Token}`, 'agent-2'));
      await online(a2);
      await a2.locator('#ready').click();
      await see(a2, '#presence-state[data-status="ready"]', '售后');
      await a1.locator('#transfer-role').selectOption('after-sale');
      await a1.locator('#transfer-note').fill('Wants to return the size M, order 2024-1111');
      await a1.locator('#transfer-form button[type=submit]').click();
      await see(a1, '#closed-banner[data-reason="transferred"]', '售后');
      await see(buyer, '#transcript li.notice', '售后');

      await see(a2, '#offers .offer[data-role="after-sale"]');
      await screenshot(a2, 'agent-offer');
      await a2.locator('#offers .offer button.accept').click();
      await see(a2, '#handover', 'Wants to return the size M, order 2024-1111');
      for (const line of ['你好，这件有货吗？', '好的，我要M码', '在的']) await see(a2, '#transcript li.from-buyer', line);
      for (const line of ['有货的亲，今天下单明天发', '亲还在吗？']) await see(a2, '#transcript li.from-agent', line);
      await say(a2, '您好，售后这边为您处理退货');
      await see(buyer, '#transcript li.from-agent', '您好，售后这边为您处理退货');
      await see(buyer, '#status-line', '售后');
      await screenshot(a2, 'agent-workbench-after-transfer');

      // Agent 2 closes; the buyer rates.
      // Closing asks first.
      a2.once('dialog', (d) => void d.accept());
      await a2.locator('#close-chat').click();
      await see(a2, '#closed-banner[data-reason="agent_closed"]', '客服已结束会话');
      await see(buyer, '#rating');
      await buyer.locator('#rating .star[data-score="5"]').click();
      await screenshot(buyer, 'buyer-widget');
      await buyer.locator('#rating button[type=submit]').click();
      await see(buyer, '#rating-done', '5/5');
      const sessionId = (await buyer.evaluate('window.__peakdesk.state().sessionId')) as string;
      const deadline = Date.now() + 3000;
      while ((await web.g.gateway.deps.store.getSession('shop-1', sessionId))?.rating !== 5 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      expect((await web.g.gateway.deps.store.getSession('shop-1', sessionId))?.rating).toBe(5);

      // Ops set the second agent away: its page says so.
      const away = await fetch(`${web.g.http}/v1/admin/agents/web-agent-2/away`, {
        method: 'POST',
        headers: { authorization: `Bearer ${await web.g.token({ sub: 'ops', kind: 'admin' })}` },
      });
      expect(away.status).toBe(200);
      await see(a2, '#presence-state[data-status="away"]');
      expect(web.pageErrors).toEqual([]);
    } catch (err) {
      for (const [name, page] of Object.entries(pages)) await screenshot(page, `failed-${name}`).catch(() => {});
      throw err;
    }
  }, 60_000);
});
