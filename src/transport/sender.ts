import type { Socket } from 'node:net';
import type { WebSocket } from 'ws';

export interface SendBound {
  /**
   * What may wait in memory for a peer that does not read (frozen, or on a link far slower than
   * what is sent to it); past it the socket is terminated, which counts as a disconnect.
   */
  maxBufferedBytes: number;
  onOverflow(): void;
}

/**
 * How payloads go out to one socket. Frames sent to it within one turn of the event loop (a
 * Redis reply chunk resolving many steps, a batch of pub/sub deliveries for an agent's chats)
 * leave in one write: each write is a syscall, and at midnight the syscalls were a fifth of the
 * gateway's CPU. The TCP socket is corked at the turn's first frame and uncorked once the
 * turn's callbacks and microtasks have run (`process.nextTick` queued from a microtask runs
 * after the microtask queue drains), so no frame waits for a later turn.
 */
export function sender(socket: WebSocket, bound?: SendBound): (payload: string) => void {
  const tcp = (socket as unknown as { _socket?: Socket })._socket;
  let corked = false;
  const flush = () => {
    corked = false;
    tcp!.uncork();
  };
  return (payload) => {
    if (socket.readyState !== socket.OPEN) return;
    if (bound && socket.bufferedAmount > bound.maxBufferedBytes) {
      bound.onOverflow();
      socket.terminate();
      return;
    }
    if (tcp && !corked) {
      corked = true;
      tcp.cork();
      process.nextTick(flush);
    }
    socket.send(payload);
  };
}
