/**
 * The workbench's buyer panel with the buyer's past chats, images and cards both ways, and the
 * buyer widget on a 375×667 phone with the rating form, in headless Chromium. Screenshots go
 * to test-results/screenshots/.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Page } from 'playwright-core';
import { screenshot } from './support/browser.ts';
import { TestClient, until } from './support/client.ts';
import { see, useWebHarness } from './support/web-harness.ts';

// The shop's context hook (a real local server) knows the history buyer's orders. It starts
// first: the harness reads `config` in its own beforeAll, registered after this one.
const config: Record<string, unknown> = { shops: { 'shop-1': { displayName: '示例旗舰店' } } };
let hook: Server;
beforeAll(async () => {
  hook = createServer((req, res) => {
    let body = '';
    req.on('data', (c) => (body += c));
    req.on('end', () => {
      const { buyerId } = JSON.parse(body) as { buyerId: string };
      const orders = buyerId === 'hist-buyer' ? [{ id: 'TB20261111', title: '羊毛外套', status: '已签收', total: '299.00' }] : [];
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ orders }));
    });
  });
  await new Promise<void>((r) => hook.listen(0, '127.0.0.1', r));
  config.context = { url: `http://127.0.0.1:${(hook.address() as AddressInfo).port}/ctx`, secret: 'web-history-hook-secret', timeoutMs: 2_000 };
});
afterAll(() => new Promise<void>((r) => hook.close(() => r())));
const web = useWebHarness({ viewport: { width: 1280, height: 800 }, config });

/** A `size`×`size` PNG of one colour, so the screenshots show the image (built here: no fixture file). */
function png(size: number, [r, g, b]: [number, number, number]): Buffer {
  const crcTable = Array.from({ length: 256 }, (_, n) => {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    return c >>> 0;
  });
  const crc = (buf: Buffer) => {
    let c = 0xffffffff;
    for (const x of buf) c = crcTable[(c ^ x) & 0xff]! ^ (c >>> 8);
    return (c ^ 0xffffffff) >>> 0;
  };
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
    const sum = Buffer.alloc(4);
    sum.writeUInt32BE(crc(body));
    return Buffer.concat([len, body, sum]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(size, 0);
  ihdr.writeUInt32BE(size, 4);
  ihdr.set([8, 2, 0, 0, 0], 8); // 8-bit RGB
  const row = Buffer.concat([Buffer.from([0]), Buffer.from(Array.from({ length: size }, () => [r, g, b]).flat())]);
  const raw = Buffer.concat(Array.from({ length: size }, () => row));
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', deflateSync(raw)), chunk('IEND', Buffer.alloc(0))]);
}
const PNG = png(96, [230, 90, 40]);
const AGENT_PNG = png(96, [40, 120, 220]);
const ALL_ROLES = ['pre-sale', 'order-edit', 'after-sale', 'bargaining'];

async function agentPage(sub: string, name: string): Promise<Page> {
  const page = await web.open(`/agent/?token=${await web.g.token({ sub, kind: 'agent', roles: ALL_ROLES })}`, name);
  await see(page, '#conn[data-state="open"]');
  await page.locator('#capacity').fill('3');
  await page.locator('#ready').click();
  await see(page, '#presence-state[data-status="ready"]');
  return page;
}

async function acceptOffer(page: Page): Promise<void> {
  await see(page, '#offers .offer');
  await page.locator('#offers .offer button.accept').first().click();
  await until(async () => (await page.locator('#offers .offer').count()) === 0, 8_000, 'offer taken');
}

/** Whether every <img> matching `selector` has loaded (the file URL answered with an image). */
const imagesLoaded = (page: Page, selector: string) =>
  page.locator(selector).evaluateAll((els) => els.length > 0 && els.every((e) => (e as HTMLImageElement).complete && (e as HTMLImageElement).naturalWidth > 0));

describe('buyer history, images and the phone widget', () => {
  it('shows the buyer\'s past chats in the buyer panel and opens one, with its image, on click', async () => {
    // An earlier chat, on the wire: the buyer sends a photo, an agent answers and closes, the buyer rates.
    const bt = await web.g.token({ sub: 'hist-buyer', kind: 'buyer', name: '李女士', vip: 3 });
    const b1 = web.track(await TestClient.connect(web.g.url, 'buyer', bt));
    await b1.next('welcome');
    const form = new FormData();
    form.append('file', new Blob([new Uint8Array(PNG)], { type: 'image/png' }), 'defect.png');
    const up = await (await fetch(`${web.g.http}/v1/uploads`, { method: 'POST', body: form, headers: { authorization: `Bearer ${bt}` } })).json();
    b1.send({ type: 'message', clientMsgId: 'h1', text: '上次买的外套破了个洞', attachments: [{ id: up.id, contentType: 'image/png', size: PNG.length, name: 'defect.png' }] });
    await b1.next('ack');
    const a1 = web.track(await TestClient.connect(web.g.url, 'agent', await web.g.token({ sub: 'hist-agent-1', kind: 'agent' })));
    await a1.next('welcome');
    a1.send({ type: 'ready', roles: ALL_ROLES, capacity: 1 });
    const offer = await a1.next('offer');
    a1.send({ type: 'accept', sessionId: offer.sessionId });
    await a1.next('assigned');
    a1.send({ type: 'message', sessionId: offer.sessionId, clientMsgId: 'r1', text: '抱歉，给您办理退货' });
    await a1.next('ack');
    a1.send({ type: 'close', sessionId: offer.sessionId });
    await b1.next('message', (f) => f.kind === 'rating_invite');
    b1.send({ type: 'rate', score: 4 });
    await b1.next('closed');
    await Promise.all([b1.close(), a1.close()]);

    // Today's chat reaches the workbench page of another agent.
    const page = await agentPage('hist-agent-2', 'history');
    const b2 = web.track(await TestClient.connect(web.g.url, 'buyer', bt));
    const { sessionId } = await b2.next('welcome');
    b2.send({ type: 'message', clientMsgId: 'h2', text: '新买的裤子什么时候发货？' });
    await b2.next('ack');
    await acceptOffer(page);
    await see(page, '#buyer-panel .buyer-name', '李女士');
    // The hook's order, with its total (the field the hook sends), beside the chat.
    await see(page, '#buyer-panel ul.orders li', /TB20261111 羊毛外套 · 已签收 ¥299\.00/);
    await see(page, `#buyer-panel li[data-testid="past-session"][data-session="${offer.sessionId}"]`, '上次买的外套破了个洞');
    await see(page, `#buyer-panel li[data-testid="past-session"][data-session="${sessionId}"].current`);
    expect(await page.locator('#buyer-panel li[data-testid="past-session"]').count()).toBe(2);
    await see(page, `#buyer-panel li[data-session="${offer.sessionId}"] .stars`, '★★★★');
    await screenshot(page, 'buyer-panel-history');

    await page.locator(`#buyer-panel li[data-session="${offer.sessionId}"]`).click();
    await see(page, '#past #past-transcript li.from-buyer', '上次买的外套破了个洞');
    await see(page, '#past #past-transcript li.from-agent', '抱歉，给您办理退货');
    await see(page, '#past-meta', 'hist-agent-1');
    // The past chat's photo loads for this agent, who never held that chat (through `via`).
    await until(() => imagesLoaded(page, '#past-transcript li.from-buyer .attachment img'), 8_000, 'past image loaded');
    await screenshot(page, 'buyer-history-transcript');
    await page.locator('#past-close').click();
    await until(async () => !(await page.locator('#past').evaluate((d) => (d as HTMLDialogElement).open)), 5_000, 'dialog closed');
    await page.context().close();
  });

  it('shows an image the buyer sends to the agent, and the agent\'s image and product card to the buyer', async () => {
    const page = await agentPage('img-agent', 'img-agent');
    const buyer = await web.open(`/buyer/?token=${await web.g.token({ sub: 'img-buyer', kind: 'buyer' })}`, 'img-buyer');
    await see(buyer, '#conn[data-state="open"]');
    await buyer.locator('#text').fill('收到的杯子是碎的');
    await buyer.locator('#text').press('Enter');
    await acceptOffer(page);
    // The buyer picks a photo: uploaded, then sent as an attachment.
    await buyer.locator('#attach').setInputFiles({ name: 'broken.png', mimeType: 'image/png', buffer: PNG });
    await see(page, '#transcript li.from-buyer .attachment img');
    await until(() => imagesLoaded(page, '#transcript li.from-buyer .attachment img'), 8_000, 'buyer image loaded on the workbench');
    await until(() => imagesLoaded(buyer, '#transcript li.from-buyer .attachment img'), 8_000, 'own image loaded in the widget');
    await screenshot(page, 'buyer-image-to-agent');

    // The agent answers with a photo and a product card.
    await page.locator('#attach').setInputFiles({ name: 'new.png', mimeType: 'image/png', buffer: AGENT_PNG });
    await see(page, '#transcript li.from-agent:not(.pending) .attachment img');
    await page.locator('#card-tool summary').click();
    await page.locator('#card-id').fill('sku-2046');
    await page.locator('#card-title').fill('加厚玻璃杯 两只装');
    await page.locator('#card-price').fill('29.9');
    await page.locator('#card-form button[type=submit]').click();
    await see(page, '#transcript li.from-agent .card-box[data-kind="product"]', '加厚玻璃杯');
    await see(buyer, '#transcript li.from-agent .card-box[data-kind="product"]', '加厚玻璃杯');
    await until(() => imagesLoaded(buyer, '#transcript li.from-agent .attachment img'), 8_000, 'agent image loaded in the widget');
    await screenshot(buyer, 'buyer-sees-agent-image-and-card');

    // An image pasted into the reply box goes out as well.
    await page.evaluate(async (b64) => {
      const bytes = Uint8Array.from(atob(b64), (c) => c.charCodeAt(0));
      const data = new DataTransfer();
      data.items.add(new File([bytes], 'pasted.png', { type: 'image/png' }));
      document.querySelector('#text')!.dispatchEvent(new ClipboardEvent('paste', { clipboardData: data, bubbles: true, cancelable: true }));
    }, AGENT_PNG.toString('base64'));
    await until(async () => (await buyer.locator('#transcript li.from-agent .attachment img').count()) === 2, 8_000, 'pasted image at the buyer');

    // A line refused for a blocked word, edited back into the box, cannot go again unchanged.
    await page.locator('#text').fill('加微信聊吧');
    await page.locator('#text').press('Enter');
    await see(page, '#transcript li.failed button.edit');
    await page.locator('#transcript li.failed button.edit').click();
    expect(await page.locator('#text').inputValue()).toBe('加微信聊吧');
    await page.locator('#text').press('Enter');
    await see(page, '#toasts .toast.error', '违禁词');
    expect(await page.locator('#transcript li.pending').count()).toBe(0);
    expect(await page.locator('#text').inputValue()).toBe('加微信聊吧');
    await Promise.all([page.context().close(), buyer.context().close()]);
  });

  it('fits the buyer widget on a 375×667 phone, the rating form never hiding the invite', async () => {
    const W = 375;
    const H = 667;
    const page = await agentPage('phone-agent', 'phone-agent');
    const phone = await web.open(`/buyer/?token=${await web.g.token({ sub: 'phone-375', kind: 'buyer' })}`, 'phone-375', { width: W, height: H });
    await see(phone, '#conn[data-state="open"]');
    await phone.locator('#text').fill('你好，请问这件羽绒服有XL码吗？');
    await phone.locator('#text').press('Enter');
    await acceptOffer(page);
    // Shortcuts: Alt+1 puts the first quick reply into the box, Alt+T goes to the transfer role.
    const first = await page.locator('#quick .chip').first().getAttribute('data-text');
    await page.locator('#text').focus();
    await page.keyboard.press('Alt+Digit1');
    expect(await page.locator('#text').inputValue()).toBe(first);
    await page.keyboard.press('Alt+KeyT');
    expect(await page.evaluate(() => document.activeElement?.id)).toBe('transfer-role');
    await page.locator('#text').fill('有的，亲');
    await page.locator('#text').press('Enter');
    await see(phone, '#transcript li.from-agent', '有的，亲');
    // Closing asks first: dismissed, nothing happens; confirmed, the buyer gets the rating invite.
    const asked: string[] = [];
    page.once('dialog', (d) => {
      asked.push(d.message());
      void d.dismiss();
    });
    await page.locator('#close-chat').click();
    await until(() => asked.length === 1, 5_000, 'close confirmation');
    await new Promise((r) => setTimeout(r, 300));
    expect(await phone.locator('#rating').isVisible()).toBe(false);
    page.once('dialog', (d) => void d.accept());
    await page.locator('#close-chat').click();
    await see(phone, '#rating');
    await see(phone, '#transcript li.kind-rating_invite');
    const within = async (sel: string) => (await phone.locator(sel).boundingBox())!;
    const widget = await within('#widget');
    expect(widget.x).toBeGreaterThanOrEqual(0);
    expect(widget.x + widget.width).toBeLessThanOrEqual(W);
    expect(widget.y + widget.height).toBeLessThanOrEqual(H);
    for (const sel of ['#composer', '#rating']) {
      const b = await within(sel);
      expect(b.y + b.height, sel).toBeLessThanOrEqual(H);
    }
    // The invite line is inside the transcript's visible part, above the rating form.
    await until(
      async () => {
        const invite = await within('#transcript li.kind-rating_invite');
        const list = await within('#transcript');
        const rating = await within('#rating');
        return invite.y >= list.y - 1 && invite.y + invite.height <= list.y + list.height + 1 && invite.y + invite.height <= rating.y + 1;
      },
      5_000,
      'rating invite in view above the form',
    );
    expect(await phone.evaluate(() => document.documentElement.scrollWidth)).toBeLessThanOrEqual(W);
    await screenshot(phone, 'buyer-phone-375-rating');
    await phone.locator('#rating .star[data-score="5"]').click();
    await phone.locator('#rating button[type=submit]').click();
    await see(phone, '#rating-done', '5/5');
    await Promise.all([page.context().close(), phone.context().close()]);
  });
});
