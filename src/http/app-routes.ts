// /app/: the SMART on FHIR work-up app (static files built from app/ into dist-app/, with their own strict CSP) and
// POST /app/api/workup, which checks the request here and hands it to the evaluator (an evaluation thread, under the
// hook calls' deadline): it reads the patient's record from the EHR's FHIR server with the app's access token (the
// FHIR client's allow-list and budgets), evaluates the patient-view definitions and returns checklist and series.
import fs from 'node:fs';
import path from 'node:path';
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { Logger } from 'pino';
import type { Registry } from '../definitions/types';
import { HttpError } from '../errors';
import { PROJECT_ROOT } from '../project-root';
import { taskError } from '../hook-task';
import { appService, type WorkupTask } from '../workup-task';
import type { HookEvaluator } from './eval-pool';

export const DEFAULT_APP_DIR = path.join(PROJECT_ROOT, 'dist-app');

export interface AppRoutesOptions {
  registry: Registry;
  /** Runs the work-up (the server's evaluation pool). */
  evaluator: Pick<HookEvaluator, 'workup'>;
  log: Pick<Logger, 'warn' | 'error'>;
  /** Folder of the built app (index.html, launch.html, bundles). */
  appDir?: string;
  /** External base URL (CDS_PUBLIC_URL); else the request's own origin. */
  publicUrl?: string;
  production: boolean;
  /** The clock (tests pin it to a golden case's `now`). */
  now?: () => number;
}

const FHIR_ID = /^[A-Za-z0-9\-.]{1,64}$/;
const MAX_URL = 2048;
const MAX_TOKEN = 16_384;

/**
 * The app's pages: scripts and styles from this origin only, no inline code, no framing by other sites. The browser
 * itself only talks to the SMART endpoints of the EHR (discovery, token), so connect-src allows https (and loopback in
 * development, for the demo FHIR server); FHIR data is read by the service, not by the page.
 */
export function appContentSecurityPolicy(production: boolean): string {
  const connect = ["'self'", 'https:', ...(production ? [] : ['http://localhost:*', 'http://127.0.0.1:*'])];
  return [
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self'",
    "img-src 'self' data:",
    `connect-src ${connect.join(' ')}`,
    "base-uri 'none'",
    "form-action 'none'",
    "frame-ancestors 'self' https:",
  ].join('; ');
}

type WorkupBody = Omit<WorkupTask, 'now'>;

function readBody(body: unknown): WorkupBody {
  const bad = (diagnostics: string, field: string) => new HttpError(400, { code: 'invalid', diagnostics, expression: [field] });
  if (!body || typeof body !== 'object' || Array.isArray(body)) throw bad('Send a JSON object with patientId, fhirServer and (for a secured server) accessToken', '$');
  const b = body as Record<string, unknown>;
  for (const key of Object.keys(b)) if (!['patientId', 'fhirServer', 'accessToken'].includes(key)) throw bad(`Unknown member "${key.slice(0, 40)}"`, key.slice(0, 40));
  if (typeof b.patientId !== 'string' || !FHIR_ID.test(b.patientId)) throw bad('patientId must be a FHIR id (1-64 of A-Z a-z 0-9 - .)', 'patientId');
  if (typeof b.fhirServer !== 'string' || b.fhirServer.length > MAX_URL || !/^https?:\/\//.test(b.fhirServer)) throw bad(`fhirServer must be an http(s) URL of at most ${MAX_URL} characters`, 'fhirServer');
  if (b.accessToken !== undefined && (typeof b.accessToken !== 'string' || b.accessToken.length === 0 || b.accessToken.length > MAX_TOKEN)) {
    throw bad(`accessToken must be a non-empty string of at most ${MAX_TOKEN} characters`, 'accessToken');
  }
  return { patientId: b.patientId, fhirServer: b.fhirServer, ...(typeof b.accessToken === 'string' ? { accessToken: b.accessToken } : {}) };
}

/** The service's external base URL: CDS_PUBLIC_URL (may carry a path prefix), else the request's own origin. */
export function publicBase(publicUrl: string | undefined, req: Request): string | undefined {
  if (publicUrl) return publicUrl.replace(/\/+$/, '');
  const host = req.get('host');
  return host ? `${req.protocol}://${host}` : undefined;
}

function ownOrigin(publicUrl: string | undefined, req: Request): string | undefined {
  const base = publicBase(publicUrl, req);
  return base ? new URL(base).origin : undefined;
}

/** The token is a bearer credential for the patient's record: only the app's own pages may hand it over. */
function sameOriginOnly(publicUrl: string | undefined): RequestHandler {
  return (req, _res, next) => {
    const origin = req.get('origin');
    const site = req.get('sec-fetch-site');
    if ((origin !== undefined && origin !== ownOrigin(publicUrl, req)) || (site !== undefined && site !== 'same-origin' && site !== 'none')) {
      next(new HttpError(403, { code: 'forbidden', diagnostics: 'The work-up API answers the app pages of this service only' }));
      return;
    }
    next();
  };
}

export function createAppRoutes(options: AppRoutesOptions): Router {
  // Definitions without the app's service or its work-up checklist fail at start-up, not on the first app call.
  appService(options.registry);
  const appDir = options.appDir ?? DEFAULT_APP_DIR;
  const now = options.now ?? Date.now;
  const csp = appContentSecurityPolicy(options.production);
  const router = express.Router();

  router.use((_req, res, next) => {
    res.setHeader('Content-Security-Policy', csp);
    res.setHeader('Cache-Control', 'no-store');
    res.setHeader('Referrer-Policy', 'no-referrer');
    next();
  });

  router.post(
    '/api/workup',
    sameOriginOnly(options.publicUrl),
    (req, _res, next) => {
      if (!req.is('application/json')) next(new HttpError(415, { code: 'not-supported', diagnostics: 'Send the request body as application/json' }));
      else next();
    },
    express.json({ limit: '32kb', strict: true }),
    async (req, res) => {
      const result = await options.evaluator.workup({ ...readBody(req.body), now: now() });
      if (result.fhir) options.log.warn({ fhir: result.fhir }, 'FHIR server could not be read for the work-up app');
      // An unexpected error in the thread reaches the error middleware as itself (logged with its stack, 500).
      if (result.error) throw taskError(result.error);
      if (!('report' in result)) throw new HttpError(result.status, result.issues, result.headers);
      res.json(result.report);
    },
  );
  router.all('/api/workup', (req, _res, next) => {
    next(new HttpError(405, { code: 'not-supported', diagnostics: `${req.method} is not allowed here; use POST` }, { Allow: 'POST' }));
  });

  router.use((req, res, next) => {
    if (req.method !== 'GET' && req.method !== 'HEAD') return next();
    if (!fs.existsSync(path.join(appDir, 'index.html'))) {
      next(new HttpError(404, { code: 'not-found', diagnostics: 'The work-up app is not built: run npm run build:app' }));
      return;
    }
    next();
  });
  router.use(express.static(appDir, { index: 'index.html', redirect: true, dotfiles: 'ignore', fallthrough: true }));
  return router;
}
