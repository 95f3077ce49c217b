// Graceful drain of one HTTP server: stop accepting connections, let in-flight calls finish, answer requests that
// still arrive on kept-alive connections with `Connection: close` (never a reset), close connections that stay idle,
// and report when the last connection is gone or the grace period is over.
import type http from 'node:http';
import net from 'node:net';
import type { Socket } from 'node:net';

// A connection idle this long while draining is closed. Short enough to finish quickly, long enough that a client
// that just received an answer and is writing its next request on the same connection gets `Connection: close`
// rather than a closed socket.
export const DRAIN_IDLE_MS = 2000;

export interface Drain {
  isDraining(): boolean;
  /** Starts draining (idempotent); resolves true when every connection closed, false when the grace ran out. */
  drain(): Promise<boolean>;
}

interface Tracked {
  inFlight: number;
  idleSince: number;
}

/** Tracks `server`'s connections from now on; `now` and the timers are injectable for tests. */
export function createDrain(server: http.Server, graceMs: number, now: () => number = () => performance.now()): Drain {
  const connections = new Map<Socket, Tracked>();
  const open = new Set<http.ServerResponse>();
  let draining: Promise<boolean> | undefined;

  server.on('connection', (socket: Socket) => {
    connections.set(socket, { inFlight: 0, idleSince: now() });
    socket.once('close', () => connections.delete(socket));
  });
  // Prepended, so it runs before the app's handler can write headers.
  server.prependListener('request', (_req: http.IncomingMessage, res: http.ServerResponse) => {
    const tracked = connections.get(res.socket as Socket);
    if (tracked) tracked.inFlight += 1;
    open.add(res);
    // Node then sends `Connection: close` and ends the connection after this response.
    if (draining) res.shouldKeepAlive = false;
    res.once('close', () => {
      open.delete(res);
      if (tracked) {
        tracked.inFlight -= 1;
        tracked.idleSince = now();
      }
    });
  });

  function closeIdle(): void {
    const t = now();
    for (const [socket, tracked] of connections) {
      if (tracked.inFlight === 0 && t - tracked.idleSince >= DRAIN_IDLE_MS) socket.end();
    }
  }

  return {
    isDraining: () => draining !== undefined,
    drain() {
      draining ??= new Promise<boolean>((resolve) => {
        for (const res of open) if (!res.headersSent) res.shouldKeepAlive = false;
        const sweep = setInterval(closeIdle, DRAIN_IDLE_MS / 5);
        const grace = setTimeout(() => {
          clearInterval(sweep);
          for (const socket of connections.keys()) socket.destroy();
          resolve(false);
        }, graceMs);
        // net.Server.close, not http.Server.close: Node 19+'s http close also cuts idle keep-alive connections at once,
        // which resets a request the client is sending on one at that moment. The callback runs when the last
        // connection has closed.
        net.Server.prototype.close.call(server, () => {
          clearInterval(sweep);
          clearTimeout(grace);
          resolve(true);
        });
        closeIdle();
      });
      return draining;
    },
  };
}
