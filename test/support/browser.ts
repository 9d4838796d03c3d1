/**
 * Headless Chromium for the web page tests: the system's Chromium (Debian package
 * `chromium`), driven by playwright-core. Nothing is ever downloaded.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build } from 'vite';
import { WEB_DIR } from '../../src/transport/web.ts';
import { distIsStale } from '../../scripts/stale.mjs';

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

/** The pages every build must produce. */
const PAGES = ['index.html', 'agent/index.html', 'buyer/index.html', 'ops/index.html'];
const WEB_SRC = path.resolve('src/web');
/** Hash of the sources dist/web was last built from by this helper (outside dist/web, which a build empties). */
const STAMP = path.join(WEB_DIR, '..', '.web-build-stamp');
const LOCK = path.join(WEB_DIR, '..', '.web-build-lock');
const LOCK_STALE_MS = 120_000;

/**
 * Builds the pages into dist/web (what the gateway serves), as `npm run build` does.
 * Test files run in parallel workers and a build empties dist/web first, so builds take a lock
 * (a directory, created atomically) and one whose sources are already built is skipped: a
 * second file never wipes the pages out from under a first one's browser.
 */
export async function buildWebPages(): Promise<string> {
  // The global setup builds all of dist/ when stale (scripts/build.mjs); rebuilding here would
  // empty dist/web under the process tests that serve it.
  if (!distIsStale() && PAGES.every((p) => existsSync(path.join(WEB_DIR, p)))) return WEB_DIR;
  const hash = sourcesHash();
  await withBuildLock(async () => {
    const built = existsSync(STAMP) && readFileSync(STAMP, 'utf8') === hash && PAGES.every((p) => existsSync(path.join(WEB_DIR, p)));
    if (built) return;
    rmSync(STAMP, { force: true });
    await build({ configFile: path.resolve('src/web/vite.config.ts'), logLevel: 'warn' });
    for (const p of PAGES) if (!existsSync(path.join(WEB_DIR, p))) throw new Error(`vite build produced no ${WEB_DIR}/${p}`);
    writeFileSync(STAMP, hash);
  });
  return WEB_DIR;
}

function sourcesHash(): string {
  const h = createHash('sha256');
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true }).sort((a, b) => a.name.localeCompare(b.name))) {
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile()) h.update(`${path.relative(WEB_SRC, full)}\0`).update(readFileSync(full)).update('\0');
    }
  };
  walk(WEB_SRC);
  return h.digest('hex');
}

async function withBuildLock(fn: () => Promise<void>): Promise<void> {
  mkdirSync(path.dirname(LOCK), { recursive: true });
  const deadline = Date.now() + LOCK_STALE_MS;
  for (;;) {
    try {
      mkdirSync(LOCK);
      break;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
      // Left behind by a worker that died mid-build.
      let age = 0;
      try {
        age = Date.now() - statSync(LOCK).mtimeMs;
      } catch {
        continue;
      }
      if (age > LOCK_STALE_MS) rmSync(LOCK, { recursive: true, force: true });
      else if (Date.now() > deadline) throw new Error(`${LOCK} held for too long`);
      else await new Promise((r) => setTimeout(r, 100));
    }
  }
  try {
    await fn();
  } finally {
    rmSync(LOCK, { recursive: true, force: true });
  }
}

export async function screenshot(page: Page, name: string): Promise<string> {
  mkdirSync(SCREENSHOT_DIR, { recursive: true });
  const file = path.join(SCREENSHOT_DIR, `${name}.png`);
  await page.screenshot({ path: file, fullPage: true });
  return file;
}
