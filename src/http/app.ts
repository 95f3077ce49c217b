// createApp(registry, config, deps): the HTTP surface (Express appears only here): security headers,
// CORS with preflight, operator routes, client authentication, discovery, hook calls, feedback, and one error
// middleware that turns every failure into an OperationOutcome.
import cors from 'cors';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { clientAuthMiddleware } from './client-auth';
import { type ClientVerifier } from '../auth/verify';
import type { AuthSettings } from '../auth/trusted-clients';
import type { ServerConfig } from '../config';
import type { StorageSettings } from '../storage/storage-settings';
import type { Registry } from '../definitions/types';
import { errorMiddleware, HttpError } from '../errors';
import { createCardLedger } from './card-ledger';
import { createFeedbackRecorder, createFeedbackValidator, type FeedbackValidator } from './feedback';
import { createOpsRouter, type OpsSettings } from './ops-routes';
import type { Pseudonymize } from '../storage/patient-pseudonym';
import type { Storage } from '../storage/storage';
import type { PrefetchFetcher } from '../fhir/prefetch';
import { createRequestValidator, type RequestValidator } from './hook-request';
import { createAppRoutes, publicBase } from './app-routes';
import { declaredLengthLimit } from './body-limit';
import { createInlineEvaluator, type HookEvaluator } from './eval-pool';
import { taskError } from '../hook-task';
import { healthRouter, type HealthDeps } from './health';
import { createMetrics, metricsHandler, type Metrics } from './metrics';

/** The settings the app reads: the server's own and those of the features it mounts. */
export type AppConfig = Pick<ServerConfig, 'production' | 'corsOrigins' | 'bodyLimitBytes'> & {
  readonly auth: AuthSettings;
  readonly ops: OpsSettings;
  readonly storage: Pick<StorageSettings, 'snoozeDays'>;
};

export interface AppDeps {
  log: Logger;
  /** Shared state: served cards, feedback, card outcomes (replay keys go through the verifier). */
  storage: Storage;
  /** Keyed HMAC of patient ids, for served cards and snoozing. */
  pseudonymize: Pseudonymize;
  /** Client JWT verification; required when config.auth.mode is `jwt`. */
  verifier?: ClientVerifier;
  /** FHIR fallback for prefetch keys the client did not send. */
  fetcher?: PrefetchFetcher;
  /** Request and feedback validators (compiled schemas); built for this app when not given. */
  requestValidator?: RequestValidator;
  feedbackValidator?: FeedbackValidator;
  /** The SMART work-up app at /app/: where its built files are, and the clock of its API (tests pin it). */
  app?: { dir?: string; now?: () => number };
  /** Where hook calls are evaluated (the server's thread pool); inline on this thread when not given. */
  evaluator?: HookEvaluator;
  /** Readiness checks and the drain flag behind GET /health/ready. */
  health?: HealthDeps;
  /** This app's metrics (a fresh registry when not given) and, in cluster mode, how GET /metrics collects them. */
  metrics?: Metrics;
  collectMetrics?: () => Promise<{ contentType: string; text: string }>;
  /** The evaluation clock (ms since epoch); the demo pins it with DEMO_NOW. */
  clock?: () => number;
}

interface CallLog {
  service?: string;
  hookInstance?: string;
  topics?: string[];
}

function callLog(res: Response): CallLog {
  return (res.locals.call ??= {}) as CallLog;
}

const SERVICE_PATH = /^\/cds-services\/([^/]+)(?:\/feedback)?\/?$/;

/** One log line per call: ids, status, duration, card topics, the client's iss/jti. Never bodies or tokens. */
function accessLog(log: Logger, registry: Registry, metrics: Metrics): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      // originalUrl: a mounted router (/app) has stripped its prefix from req.path by now.
      const path = req.originalUrl.split('?')[0] ?? '';
      const call = callLog(res);
      // Calls rejected before their handler ran (401, 413, 415, unparseable JSON) still name the known service.
      const routed = SERVICE_PATH.exec(path)?.[1];
      if (call.service === undefined && routed !== undefined && registry.services.has(routed)) call.service = routed;
      const durationS = Number(process.hrtime.bigint() - started) / 1e9;
      metrics.observeRequest(call.service, res.statusCode, durationS);
      const client = res.locals.client as { iss?: string; jti?: string } | undefined;
      log.info(
        {
          method: req.method,
          path,
          service: call.service,
          hookInstance: call.hookInstance,
          status: res.statusCode,
          durationMs: Number((durationS * 1000).toFixed(2)),
          topics: call.topics,
          iss: client?.iss,
          jti: client?.jti,
        },
        'cds call',
      );
    });
    next();
  };
}

function requireJson(req: Request, _res: Response, next: NextFunction): void {
  if (!req.is(['application/json', 'application/*+json'])) {
    next(new HttpError(415, { code: 'not-supported', diagnostics: 'Send the request body as application/json' }));
    return;
  }
  next();
}

function methodNotAllowed(allow: string): RequestHandler {
  return (req, _res, next) => {
    next(new HttpError(405, { code: 'not-supported', diagnostics: `${req.method} is not allowed here; use ${allow}` }, { Allow: allow }));
  };
}

export function createApp(registry: Registry, config: AppConfig, deps: AppDeps): express.Express {
  if (config.auth.mode === 'jwt' && !deps.verifier) throw new Error('CDS_AUTH=jwt needs a client verifier');
  const requestValidator = deps.requestValidator ?? createRequestValidator();
  const feedbackValidator = deps.feedbackValidator ?? createFeedbackValidator();
  const evaluator = deps.evaluator ?? createInlineEvaluator({ registry, requestValidator, fetcher: deps.fetcher });
  const metrics = deps.metrics ?? createMetrics(registry);
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', config.production ? 'loopback' : false);
  app.set('etag', false);

  app.use(helmet({ crossOriginResourcePolicy: { policy: 'cross-origin' }, contentSecurityPolicy: { directives: { defaultSrc: ["'none'"], frameAncestors: ["'none'"] } } }));
  app.use(
    cors({
      origin: config.corsOrigins === '*' ? '*' : [...config.corsOrigins],
      methods: ['GET', 'POST', 'OPTIONS'],
      allowedHeaders: ['Content-Type', 'Authorization'],
      credentials: false,
      maxAge: 600,
    }),
  );
  // Before the access log and client auth: probes and scrapes carry no client JWT and would flood the call log.
  app.use(healthRouter(deps.health ?? {}));
  app.get('/metrics', metricsHandler(deps.collectMetrics ?? (async () => ({ contentType: metrics.registry.contentType, text: await metrics.registry.metrics() })), config.ops.token));
  app.use(accessLog(deps.log, registry, metrics));
  // The app's pages and API carry no CDS client JWT (a browser holds a SMART token instead), so they come before it.
  app.use('/app', createAppRoutes({ registry, evaluator, log: deps.log, appDir: deps.app?.dir, now: deps.app?.now, publicUrl: config.auth.publicUrl, production: config.production }));
  const notFound: RequestHandler = (req, _res, next) => {
    next(new HttpError(404, { code: 'not-found', diagnostics: `Nothing at ${req.method} ${req.path}; discovery is GET /cds-services` }));
  };
  // Operators authenticate with CDS_OPS_TOKEN, never with a client JWT: mounted before the client-JWT middleware.
  app.use('/ops', createOpsRouter({ settings: config.ops, storage: deps.storage, services: [...registry.services.keys()], log: deps.log, notFound }));
  if (deps.verifier) app.use(clientAuthMiddleware(deps.verifier, config.auth));
  const ledger = createCardLedger({ storage: deps.storage, pseudonymize: deps.pseudonymize, snoozeDays: config.storage.snoozeDays, log: deps.log });
  const feedback = createFeedbackRecorder(deps.storage);

  const jsonTypes = ['application/json', 'application/*+json'];
  const json = express.json({ limit: config.bodyLimitBytes, type: jsonTypes, strict: true });
  // Hook bodies are parsed in the evaluation thread: here they are only read, as bytes.
  const raw = express.raw({ limit: config.bodyLimitBytes, type: jsonTypes });
  const lengthLimit = declaredLengthLimit(config.bodyLimitBytes);

  const discovery = {
    services: [...registry.services.values()].map((s) => ({
      hook: s.hook,
      title: s.title,
      description: s.description,
      id: s.id,
      ...(Object.keys(s.prefetch).length ? { prefetch: Object.fromEntries(Object.entries(s.prefetch).map(([k, p]) => [k, p.query])) } : {}),
      ...(s.usageRequirements ? { usageRequirements: s.usageRequirements } : {}),
    })),
  };
  const discoveryBody = JSON.stringify(discovery);

  app.get('/cds-services', (_req, res) => {
    res.type('application/json').send(discoveryBody);
  });
  app.all('/cds-services', methodNotAllowed('GET'));

  const findService = (id: string) => {
    const service = registry.services.get(id);
    if (!service) throw new HttpError(404, { code: 'not-found', diagnostics: `No CDS service with id "${id}"` });
    return service;
  };

  app.post('/cds-services/:id', (req, _res, next) => {
    findService(req.params.id as string);
    next();
  }, requireJson, lengthLimit, raw, async (req, res) => {
    const service = findService(req.params.id as string);
    const call = callLog(res);
    call.service = service.id;
    const body = Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0);
    const started = process.hrtime.bigint();
    const result = await evaluator.evaluate({ serviceId: service.id, body, now: (deps.clock ?? Date.now)(), baseUrl: publicBase(config.auth.publicUrl, req) });
    call.hookInstance = result.hookInstance;
    if (result.fetched) metrics.observeFallback(result.fetched);
    const ids = { service: service.id, hookInstance: result.hookInstance };
    if (result.failures) deps.log.warn({ ...ids, failures: result.failures }, 'expressions failed on this record');
    if (result.fhir) deps.log.warn({ ...ids, fhir: result.fhir }, 'FHIR fallback could not read some keys');
    if (result.consoleWrites) deps.log.debug({ ...ids, consoleWrites: result.consoleWrites }, 'a library wrote to the console during the call; suppressed');
    // An unexpected error in the thread reaches the error middleware as itself (logged with its stack, 500).
    if (result.error) throw taskError(result.error);
    if (!('cards' in result)) throw new HttpError(result.status, result.issues, result.headers);
    const cards = await ledger.serve(service.id, { hookInstance: result.hookInstance ?? '', context: { patientId: result.patientId } }, result.cards);
    metrics.observeEvaluation(service.id, Number(process.hrtime.bigint() - started) / 1e9);
    metrics.observeCards(service.id, cards);
    call.topics = cards.map((c) => c.source.topic.code);
    res.json({ cards });
  });

  app.post('/cds-services/:id/feedback', (req, _res, next) => {
    findService(req.params.id as string);
    next();
  }, requireJson, lengthLimit, json, async (req, res) => {
    const service = findService(req.params.id as string);
    callLog(res).service = service.id;
    const items = feedbackValidator.validateFeedback(req.body);
    await feedback.record(service.id, items);
    metrics.observeFeedback(service.id, items);
    res.status(200).json({});
  });

  app.all('/cds-services/:id', (req, _res, next) => {
    findService(req.params.id as string);
    methodNotAllowed('POST')(req, _res, next);
  });
  app.all('/cds-services/:id/feedback', (req, _res, next) => {
    findService(req.params.id as string);
    methodNotAllowed('POST')(req, _res, next);
  });

  app.use(notFound);
  app.use(errorMiddleware(deps.log));
  return app;
}
