// Connection-level limits of the HTTP server: a connection must deliver complete request headers within the
// headers timeout of opening (Node's own headersTimeout only starts with the first byte, so a silent connection
// would stay open forever), idle keep-alive connections close after keepAliveTimeout, and at most
// maxConnections are open at once. At the cap, the oldest connection that has not sent a request yet gives way to
// the new one (Node's own maxConnections drops the newest, so a flood of silent connections would lock every real
// client out until the flood timed out); when every open connection has sent a request, the new one is dropped.
import type { Server } from 'node:http';
import type { Socket } from 'node:net';

export interface ConnectionLimits {
  headersTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxConnections: number;
}

export function applyConnectionLimits(server: Server, limits: ConnectionLimits): void {
  server.keepAliveTimeout = limits.keepAliveTimeoutMs;
  const open = new Set<Socket>();
  // Connections that have not sent a request yet, oldest first (a Map keeps insertion order), with their deadline.
  const silent = new Map<Socket, NodeJS.Timeout>();
  const forget = (socket: Socket): void => {
    open.delete(socket);
    clearTimeout(silent.get(socket));
    silent.delete(socket);
  };
  const drop = (socket: Socket): void => {
    forget(socket);
    socket.destroy();
  };
  server.on('connection', (socket: Socket) => {
    if (open.size >= limits.maxConnections) {
      const oldestSilent = silent.keys().next();
      if (oldestSilent.done) {
        socket.destroy();
        return;
      }
      drop(oldestSilent.value);
    }
    open.add(socket);
    socket.once('close', () => forget(socket));
    // A connection that sent something is Node's to time out (headersTimeout answers 408); a silent one is ours.
    const timer = setTimeout(() => {
      if (socket.bytesRead === 0) drop(socket);
    }, limits.headersTimeoutMs);
    timer.unref();
    silent.set(socket, timer);
  });
  server.on('request', (req) => {
    const timer = silent.get(req.socket);
    if (timer === undefined) return;
    clearTimeout(timer);
    silent.delete(req.socket);
  });
}
