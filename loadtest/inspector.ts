/**
 * Profiles a phase of the gateway through its inspector (the child runs with
 * --inspect=127.0.0.1:0): Profiler.start before the phase, Profiler.stop after, so the
 * profile holds that phase only, not start-up, other phases or idle time.
 */
import { writeFileSync } from 'node:fs';
import WebSocket from 'ws';

export class InspectorSession {
  private id = 0;
  private readonly waiting = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(private readonly ws: WebSocket) {
    ws.on('message', (data) => {
      const m = JSON.parse(data.toString()) as { id?: number; result?: unknown; error?: { message: string } };
      if (m.id === undefined) return;
      const w = this.waiting.get(m.id);
      if (!w) return;
      this.waiting.delete(m.id);
      if (m.error) w.reject(new Error(m.error.message));
      else w.resolve(m.result);
    });
  }

  static async attach(url: string): Promise<InspectorSession> {
    const ws = new WebSocket(url, { perMessageDeflate: false, maxPayload: 1 << 30 });
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('error', reject);
    });
    const s = new InspectorSession(ws);
    await s.send('Profiler.enable');
    await s.send('Profiler.setSamplingInterval', { interval: 1000 });
    return s;
  }

  send(method: string, params: Record<string, unknown> = {}): Promise<unknown> {
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.waiting.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ id, method, params }));
    });
  }

  start(): Promise<unknown> {
    return this.send('Profiler.start');
  }

  async stop(file: string): Promise<void> {
    const r = (await this.send('Profiler.stop')) as { profile: unknown };
    writeFileSync(file, JSON.stringify(r.profile));
  }

  close(): void {
    this.ws.close();
  }
}
