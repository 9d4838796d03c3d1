import type { WebSocket } from 'ws';
import type { Metrics } from '../metrics/metrics.ts';

/**
 * Sockets pinged per turn of the event loop. All at once, the beat was one synchronous block
 * of ~15 µs per socket (4,000 sockets: 50–70 ms of CPU; 15,000 at midnight: ~0.25 s, and as
 * long again for their pongs arriving together), which every chat and greeting on the
 * instance waited behind every interval. In slices the frames, store replies and new
 * connections of the moment get their turn between them.
 */
export const HEARTBEAT_SLICE = 250;

/**
 * Server-side WebSocket pings. A peer whose process froze (or whose network vanished) keeps
 * its TCP connection open and would keep its sessions forever; every `intervalMs()` each
 * socket is pinged, and one that has not answered the previous ping is terminated. Its
 * 'close' then runs the usual disconnect (an agent's grace period starts).
 *
 * One timer for all sockets, not one per socket: at peak there are tens of thousands. A beat
 * goes through them in slices of HEARTBEAT_SLICE, one per turn of the event loop; the next
 * beat is timed from the end of the last slice, so a socket's pings stay an interval apart.
 */
export class Heartbeat {
  private readonly awaiting = new WeakSet<WebSocket>();
  private timer: NodeJS.Timeout | undefined;
  private slicing: NodeJS.Immediate | undefined;
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
    if (this.slicing) clearImmediate(this.slicing);
    this.slicing = undefined;
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => this.beat([...this.sockets()], 0), this.intervalMs());
    this.timer.unref();
  }

  private beat(sockets: WebSocket[], from: number): void {
    this.slicing = undefined;
    if (this.stopped) return;
    const end = Math.min(sockets.length, from + HEARTBEAT_SLICE);
    for (let i = from; i < end; i++) this.check(sockets[i]!);
    if (end < sockets.length) {
      this.slicing = setImmediate(() => this.beat(sockets, end));
      this.slicing.unref();
    } else {
      this.schedule();
    }
  }

  private check(socket: WebSocket): void {
    // Closed since the beat began (or not open yet): nothing to ask.
    if (socket.readyState !== socket.OPEN) return;
    if (this.awaiting.has(socket)) {
      this.metrics.connectionsDropped.inc({ reason: 'ping_timeout' });
      socket.terminate();
      return;
    }
    this.awaiting.add(socket);
    socket.ping();
  }
}
