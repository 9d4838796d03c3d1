import type { WebSocket } from 'ws';
import type { Metrics } from '../metrics/metrics.ts';

/**
 * Server-side WebSocket pings. A peer whose process froze (or whose network vanished) keeps
 * its TCP connection open and would keep its sessions forever; every `intervalMs()` each
 * socket is pinged, and one that has not answered the previous ping is terminated. Its
 * 'close' then runs the usual disconnect (an agent's grace period starts).
 *
 * One timer for all sockets, not one per socket: at peak there are tens of thousands.
 */
export class Heartbeat {
  private readonly awaiting = new WeakSet<WebSocket>();
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(
    private readonly sockets: () => Iterable<WebSocket>,
    private readonly intervalMs: () => number,
    private readonly metrics: Metrics,
  ) {}

  /** Call for every socket when it opens: any pong counts as an answer. */
  watch(socket: WebSocket): void {
    socket.on('pong', () => this.awaiting.delete(socket));
  }

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  stop(): void {
    this.stopped = true;
    clearTimeout(this.timer);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.beat();
      this.schedule();
    }, this.intervalMs());
    this.timer.unref();
  }

  private beat(): void {
    for (const socket of this.sockets()) {
      if (socket.readyState !== socket.OPEN) continue;
      if (this.awaiting.has(socket)) {
        this.metrics.connectionsDropped.inc({ reason: 'ping_timeout' });
        socket.terminate();
        continue;
      }
      this.awaiting.add(socket);
      socket.ping();
    }
  }
}
