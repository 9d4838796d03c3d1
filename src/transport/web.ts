import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';

/** Where `npm run build` (Vite, src/web/vite.config.ts) puts the pages; the same path from src/ and from dist/. */
export const WEB_DIR = fileURLToPath(new URL('../../dist/web', import.meta.url));

/**
 * Serves the built web pages: `/` (an index), `/agent/` (agent workbench), `/buyer/` (buyer
 * chat demo) and their hashed `/assets/`. They talk to the gateway over the same WebSocket
 * protocol as any other client. Without a build the gateway runs without them and says so.
 */
export function registerWeb(app: FastifyInstance, dir: string = WEB_DIR): void {
  if (!existsSync(join(dir, 'index.html'))) {
    app.log.warn({ dir }, 'web pages not built (npm run build): /agent/, /buyer/ and /ops/ are not served');
    return;
  }
  void app.register(fastifyStatic, {
    root: dir,
    prefix: '/',
    // Other plugins (API docs) may bring their own copy; these pages do not need reply.sendFile.
    decorateReply: false,
    // `/agent` → `/agent/`, so the pages' relative URLs resolve.
    redirect: true,
    index: ['index.html'],
    setHeaders(reply, path) {
      // Asset names carry a content hash; the HTML names the current ones, so it must not be cached.
      void reply.header('cache-control', path.startsWith(join(dir, 'assets')) ? 'public, max-age=31536000, immutable' : 'no-cache');
      void reply.header('x-content-type-options', 'nosniff');
      void reply.header('referrer-policy', 'no-referrer');
    },
  });
}
