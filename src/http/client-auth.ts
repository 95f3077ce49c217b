// The client-authentication middleware: every non-preflight request's JWT verified against the exact URL called.
import type { RequestHandler } from 'express';
import type { AuthSettings } from '../auth/trusted-clients';
import type { ClientVerifier } from '../auth/verify';

/**
 * The audience a client must have put in `aud`: the exact URL it called. Behind a proxy that rewrites host or
 * prefix, CDS_PUBLIC_URL gives the external base; otherwise it comes from the request (Host header).
 */
export function computeExpectedAudience(
  publicUrl: string | undefined,
  req: { protocol: string; originalUrl: string; get(name: string): string | undefined },
): string {
  const path = req.originalUrl.split('?')[0] ?? '';
  if (publicUrl !== undefined) return `${publicUrl}${path}`;
  const host = req.get('host');
  return host ? `${req.protocol}://${host}${path}` : '';
}

/** Authenticates every non-preflight request when auth is on; the client lands in res.locals.client. */
export function clientAuthMiddleware(verifier: ClientVerifier, settings: AuthSettings): RequestHandler {
  return (req, res, next) => {
    // Preflights carry no Authorization header by design (Fetch spec), so they cannot be authenticated.
    if (settings.mode === 'off' || req.method === 'OPTIONS') {
      next();
      return;
    }
    verifier.verify(req.get('authorization'), computeExpectedAudience(settings.publicUrl, req)).then(
      (client) => {
        res.locals.client = client;
        next();
      },
      next,
    );
  };
}

