// A pino logger whose output a test can read: every chunk it writes is kept, in order.
import { Writable } from 'node:stream';
import type { Logger } from 'pino';
import { createLogger } from '../../src/logger';

export function capturedLogger(level: 'info' | 'warn' | 'debug' = 'info'): { log: Logger; logged: string[] } {
  const logged: string[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, done) {
      logged.push(chunk.toString());
      done();
    },
  });
  return { log: createLogger({ level, destination }), logged };
}
