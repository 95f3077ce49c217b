// /app/: the SMART on FHIR work-up app (static files built from app/ into dist-app/, with their own strict CSP) and
// POST /app/api/workup, which reads the patient's record from the EHR's FHIR server with the app's access token
// (the FHIR client's allow-list and budgets), evaluates the patient-view definitions and returns checklist and series.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import express, { type Request, type RequestHandler, type Router } from 'express';
import type { HookRequest } from '../cds-hooks';
import type { Registry, ServiceDefinition } from '../definitions/types';
import { HttpError } from '../errors';
import { evaluateService } from '../evaluation/evaluate';
import { compileWorkupDefinitions } from '../evaluation/workup-definitions';
import { buildWorkupReport } from '../evaluation/workup-report';
import { resolvePrefetch, type PrefetchFetcher } from '../fhir/prefetch';
import { PROJECT_ROOT } from '../project-root';

export const APP_SERVICE_ID = 'iph-patient-view';
export const DEFAULT_APP_DIR = path.join(PROJECT_ROOT, 'dist-app');

export interface AppRoutesOptions {
  registry: Registry;
  fetcher?: PrefetchFetcher;
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

interface WorkupBody {
  patientId: string;
  fhirServer: string;
  accessToken?: string;
}

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

/** The request the definitions are evaluated for: a patient-view for this patient, every key fetched from fhirServer. */
function hookRequestFor(body: WorkupBody): HookRequest {
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    fhirServer: body.fhirServer,
    ...(body.accessToken ? { fhirAuthorization: { access_token: body.accessToken, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'iph-workup-app' } } : {}),
    context: { patientId: body.patientId, userId: 'Practitioner/unknown' },
  } as HookRequest;
}

export function createAppRoutes(options: AppRoutesOptions): Router {
  const service: ServiceDefinition | undefined = options.registry.services.get(APP_SERVICE_ID);
  if (!service) throw new Error(`the app needs the ${APP_SERVICE_ID} service definitions`);
  const definitions = compileWorkupDefinitions(service, options.registry.runtime);
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
      const body = readBody(req.body);
      const request = hookRequestFor(body);
      const at = now();
      const prefetch = await resolvePrefetch(service, request, options.fetcher);
      // A hook call may go on without demographics; the app was launched for a patient that must exist.
      if (prefetch.values.patient === null || prefetch.values.patient === undefined) {
        throw new HttpError(404, { code: 'not-found', diagnostics: 'The FHIR server has no such Patient', expression: ['patientId'] });
      }
      const evaluation = evaluateService(service, request, prefetch, at, options.registry.valueSets);
      res.json(buildWorkupReport(definitions, evaluation, body.patientId, at));
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
