import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

/**
 * The gateway's own web pages: `vite build --config src/web/vite.config.ts` writes them to
 * dist/web, which src/transport/web.ts serves at `/`, `/agent/`, `/buyer/` and `/ops/`.
 * `vite --config src/web/vite.config.ts` serves them with live reload, proxying the gateway's
 * `/v1` (WebSockets included) and `/metrics` to a gateway on 127.0.0.1:8080 (override with
 * PEAKDESK_GATEWAY).
 */
const root = fileURLToPath(new URL('.', import.meta.url));
const gateway = process.env.PEAKDESK_GATEWAY ?? 'http://127.0.0.1:8080';
export const outDir = fileURLToPath(new URL('../../dist/web', import.meta.url));

export default defineConfig({
  root,
  base: '/',
  publicDir: false,
  clearScreen: false,
  build: {
    outDir,
    emptyOutDir: true,
    target: 'es2022',
    sourcemap: true,
    reportCompressedSize: false,
    rolldownOptions: {
      input: {
        index: `${root}index.html`,
        agent: `${root}agent/index.html`,
        buyer: `${root}buyer/index.html`,
        ops: `${root}ops/index.html`,
      },
    },
  },
  server: {
    proxy: {
      '/v1': { target: gateway, ws: true },
      '/metrics': { target: gateway },
    },
  },
});
