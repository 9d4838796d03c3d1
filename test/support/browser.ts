/**
 * Headless Chromium for the web page tests: the system's Chromium (Debian package
 * `chromium`), driven by playwright-core. Nothing is ever downloaded.
 */
import { existsSync, mkdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { WEB_DIR } from '../../src/transport/web.ts';

export const CHROMIUM_PATH = process.env.PEAKDESK_CHROMIUM ?? '/usr/bin/chromium';
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];
export const SCREENSHOT_DIR = path.resolve('test-results/screenshots');

export async function launchChromium(): Promise<Browser> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(
      `Chromium not found at ${CHROMIUM_PATH}. The web page tests drive the system's headless Chromium ` +
        `(they never download one): install it with \`apt-get install -y chromium\` (Debian), ` +
        `or point PEAKDESK_CHROMIUM at a Chromium/Chrome binary.`,
    );
  }
  return chromium.launch({ executablePath: CHROMIUM_PATH, headless: true, args: CHROMIUM_ARGS, timeout: 20_000 });
}

/** Builds the pages into dist/web (what the gateway serves), as `npm run build:web` does. */
export async function buildWebPages(): Promise<string> {
  await build({ configFile: path.resolve('src/web/vite.config.ts'), logLevel: 'warn' });
  if (!existsSync(path.join(WEB_DIR, 'agent', 'index.html'))) throw new Error(`vite build produced no ${WEB_DIR}/agent/index.html`);
  return WEB_DIR;
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
