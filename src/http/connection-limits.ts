// Connection-level limits of the HTTP server: a connection must deliver complete request headers within the
// headers timeout of opening (Node's own headersTimeout only starts with the first byte, so a silent connection
// would stay open forever), idle keep-alive connections close after keepAliveTimeout, and at most
// maxConnections are open at once (further ones are dropped by Node).
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

export function applyConnectionLimits(server: Server, limits: ConnectionLimits): void {
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  server.maxConnections = limits.maxConnections;
  const silent = new WeakMap<Socket, NodeJS.Timeout>();
  server.on('connection', (socket: Socket) => {
    // A connection that sent something is Node's to time out (headersTimeout answers 408); a silent one is ours.
    const timer = setTimeout(() => {
      if (socket.bytesRead === 0) socket.destroy();
    }, limits.headersTimeoutMs);
    timer.unref();
    silent.set(socket, timer);
    socket.once('close', () => clearTimeout(timer));
  });
  server.on('request', (req) => {
    const timer = silent.get(req.socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    silent.delete(req.socket);
  });
}
