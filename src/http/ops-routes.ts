// Operator routes under /ops, outside the client-JWT path: GET /ops/card-outcomes (JSON) and GET /ops/ (the HTML
// page), both behind CDS_OPS_TOKEN (Bearer, or Basic with the token as password so a browser can log in).
// Without CDS_OPS_TOKEN the routes do not exist.
import { createHash, timingSafeEqual } from 'node:crypto';
import express, { type Request, type RequestHandler } from 'express';
import type { Logger } from 'pino';
import { HttpError } from '../errors';
import { OPS_PAGE_CSP, renderOpsPage } from './ops-page';
import { readOpsWindow } from './ops-window';
import { cardOutcomes } from '../storage/card-outcomes';
import type { Storage } from '../storage/storage';

export interface OpsSettings {
  /** Absent: the operator routes are disabled. */
  readonly token?: string;
}

const MIN_TOKEN_LENGTH = 32;
const MAX_TOKEN_LENGTH = 512;
const MAX_AUTHORIZATION_LENGTH = 2048;
const REALM = 'iph-cds-ops';

/** Reads CDS_OPS_TOKEN: 32 to 512 printable characters without spaces. */
export function readOpsSettings(env: NodeJS.ProcessEnv): OpsSettings {
  const token = env.CDS_OPS_TOKEN ?? '';
  if (token === '') return Object.freeze({});
  if (token.length < MIN_TOKEN_LENGTH || token.length > MAX_TOKEN_LENGTH || !/^[\x21-\x7e]+$/.test(token)) {
    throw new Error(`CDS_OPS_TOKEN must be ${MIN_TOKEN_LENGTH} to ${MAX_TOKEN_LENGTH} printable characters without spaces (e.g. openssl rand -hex 32)`);
  }
  return Object.freeze({ token });
}

/** The token a request presents: `Bearer <token>`, or `Basic base64(<any user>:<token>)`. */
function presentedToken(req: Request): string | undefined {
  const header = req.get('authorization');
  if (header === undefined || header.length > MAX_AUTHORIZATION_LENGTH) return undefined;
  const bearer = /^Bearer +(\S+) *$/i.exec(header);
  if (bearer) return bearer[1];
  const basic = /^Basic +([A-Za-z0-9+/]+=*) *$/i.exec(header);
  if (!basic?.[1]) return undefined;
  const decoded = Buffer.from(basic[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon < 0 ? undefined : decoded.slice(colon + 1);
}

/** Constant time whatever the lengths: both sides are hashed to 32 bytes first. */
function sameSecret(presented: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s, 'utf8').digest();
  return timingSafeEqual(digest(presented), digest(expected));
}

function requireOpsToken(token: string, log: Logger): RequestHandler {
  return (req, res, next) => {
    const presented = presentedToken(req);
    if (presented !== undefined && sameSecret(presented, token)) {
      next();
      return;
    }
    log.warn({ ops: { path: req.path, reason: presented === undefined ? 'no token' : 'wrong token' } }, 'operator authentication failed');
    // Browsers show a login dialog only for a Basic challenge; API clients read the Bearer one.
    res.setHeader('WWW-Authenticate', [`Bearer realm="${REALM}"`, `Basic realm="${REALM}", charset="UTF-8"`]);
    next(new HttpError(401, { code: 'login', diagnostics: 'unauthorized' }));
  };
}

export interface OpsRouterOptions {
  settings: OpsSettings;
  storage: Storage;
  services: readonly string[];
  log: Logger;
  /** Answers what the app answers for a path that does not exist (the routes when disabled). */
  notFound: RequestHandler;
  now?: () => number;
}

export function createOpsRouter({ settings, storage, services, log, notFound, now = () => Date.now() }: OpsRouterOptions): express.Router {
  const router = express.Router({ strict: false });
  if (settings.token === undefined) {
    router.use(notFound);
    return router;
  }
  const known = new Set(services);
  router.use(requireOpsToken(settings.token, log));
  router.use((_req, res, next) => {
    res.setHeader('Cache-Control', 'no-store');
    next();
  });
  router.get('/card-outcomes', async (req, res) => {
    const report = await cardOutcomes(storage, readOpsWindow(req.query as Record<string, unknown>, known, now()));
    res.json(report);
  });
  router.get('/', async (req, res) => {
    const report = await cardOutcomes(storage, readOpsWindow(req.query as Record<string, unknown>, known, now()));
    res.setHeader('Content-Security-Policy', OPS_PAGE_CSP);
    res.type('text/html').send(renderOpsPage(report, services));
  });
  for (const path of ['/', '/card-outcomes']) {
    router.all(path, (req, _res, next) => {
      next(new HttpError(405, { code: 'not-supported', diagnostics: `${req.method} is not allowed here; use GET` }, { Allow: 'GET' }));
    });
  }
  router.use(notFound);
  return router;
}
