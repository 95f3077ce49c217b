// An announced body over the limit is refused before a byte of it is read: 413 at once, and the connection is
// closed after the answer (body-parser would otherwise wait for the whole announced body before answering).
import type { RequestHandler } from 'express';
import { HttpError } from '../errors';

export function declaredLengthLimit(limitBytes: number): RequestHandler {
  return (req, res, next) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limitBytes) {
      res.setHeader('Connection', 'close');
      res.on('finish', () => req.socket.destroySoon());
      next(new HttpError(413, { code: 'too-long', diagnostics: `Request body exceeds the limit of ${limitBytes} bytes` }));
      return;
    }
    next();
  };
}
