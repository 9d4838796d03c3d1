/**
 * What the web page tests share: a redis-server of their own, the pages built (once per source
 * change, see buildWebPages), a gateway on loopback serving them, and headless Chromium. Call
 * `useWebHarness()` at the top of a test file: it registers the beforeAll/afterAll that start
 * and stop all of it, and returns what the tests use once it runs.
 */
import { afterAll, beforeAll } from 'vitest';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { startRedis, type RedisHandle } from './redis-server.ts';
import { startGateway, type RunningGateway } from './gateway.ts';
import { buildWebPages, launchChromium } from './browser.ts';

export interface WebHarnessOptions {
  viewport: { width: number; height: number };
  /** Console errors the pages are expected to log (Chromium logs failed requests the page handles). A missing favicon never counts. */
  expectedConsoleError?: RegExp;
  /** Config over config/default.json for the gateway. */
  config?: Record<string, unknown>;
}

export interface WebHarness {
  /** The gateway serving the pages (once beforeAll has run). */
  readonly g: RunningGateway;
  /** Uncaught errors and unexpected console errors of every page opened: a test expects none. */
  readonly pageErrors: string[];
  /** Opens `path` in a fresh browser context (its own sessionStorage); `name` labels its errors. */
  open(path: string, name: string, viewport?: { width: number; height: number }): Promise<Page>;
  /** Closes `c` in afterAll, before the gateway stops. */
  track<T extends { close(): Promise<unknown> }>(c: T): T;
}

export function useWebHarness(opts: WebHarnessOptions): WebHarness {
  let redis: RedisHandle | undefined;
  let g: RunningGateway | undefined;
  let browser: Browser | undefined;
  const contexts: BrowserContext[] = [];
  const tracked: { close(): Promise<unknown> }[] = [];
  const pageErrors: string[] = [];

  beforeAll(async () => {
    // Chromium first: a machine without it should fail fast with the install hint.
    browser = await launchChromium();
    [redis] = await Promise.all([startRedis(), buildWebPages()]);
    g = await startGateway({ redisUrl: redis.url, ...(opts.config ? { config: opts.config } : {}) });
  }, 45_000);

  afterAll(async () => {
    await Promise.allSettled(tracked.map((c) => c.close()));
    await Promise.allSettled(contexts.map((c) => c.close()));
    await browser?.close().catch(() => {});
    await g?.stop();
    await redis?.stop();
  });

  return {
    get g() {
      if (!g) throw new Error('the web harness has not started (beforeAll failed or has not run)');
      return g;
    },
    pageErrors,
    async open(path, name, viewport) {
      const context = await browser!.newContext({ viewport: viewport ?? opts.viewport });
      contexts.push(context);
      const page = await context.newPage();
      page.setDefaultTimeout(8_000);
      page.on('pageerror', (err) => pageErrors.push(`${name}: ${err.message}`));
      page.on('console', (msg) => {
        if (msg.type() !== 'error') return;
        const url = msg.location().url;
        if (url.endsWith('/favicon.ico') || opts.expectedConsoleError?.test(msg.text())) return;
        pageErrors.push(`${name} console: ${msg.text()} ${url}`);
      });
      await page.goto(`${g!.http}${path}`);
      return page;
    },
    track(c) {
      tracked.push(c);
      return c;
    },
  };
}

/** Waits until `selector` has a visible element (containing `text`, when given). */
export async function see(page: Page, selector: string, text?: string | RegExp, timeout = 8_000): Promise<void> {
  await page.locator(selector, text === undefined ? {} : { hasText: text }).first().waitFor({ state: 'visible', timeout });
}
