// An announced body over the limit is refused before a byte of it is read: 413 at once (body-parser would wait for
// the whole announced body before answering). Node then discards what the client still sends, within the request
// timeout; the connection is not cut, so a client that writes its whole body before reading still gets the 413.
import type { RequestHandler } from 'express';
import { HttpError } from '../errors';

export function declaredLengthLimit(limitBytes: number): RequestHandler {
  return (req, res, next) => {
    const declared = req.headers['content-length'];
    if (declared !== undefined && /^\d+$/.test(declared) && Number(declared) > limitBytes) {
      next(new HttpError(413, { code: 'too-long', diagnostics: `Request body exceeds the limit of ${limitBytes} bytes` }));
      return;
    }
    next();
  };
}
