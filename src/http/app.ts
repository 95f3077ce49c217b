// createApp(registry, config, deps): the HTTP surface (Express appears only here): security headers,
// CORS with preflight, client authentication, discovery, hook calls, feedback, and one error
// middleware that turns every failure into an OperationOutcome.
import cors from 'cors';
import express, { type NextFunction, type Request, type RequestHandler, type Response } from 'express';
import helmet from 'helmet';
import type { Logger } from 'pino';
import { clientAuthMiddleware } from './client-auth';
import { type ClientVerifier } from '../auth/verify';
import type { Config } from '../config';
import type { Registry } from '../definitions/types';
import { stripData } from '../logger';
import { errorMiddleware, HttpError } from '../errors';
import { createFeedbackValidator, type FeedbackStore, type FeedbackValidator } from './feedback';
import type { PrefetchFetcher } from '../fhir/prefetch';
import { answerHookCall } from '../hook-call';
import { createRequestValidator, type RequestValidator } from './hook-request';

export interface AppDeps {
  log: Logger;
  feedback: FeedbackStore;
  /** Client JWT verification; required when config.auth.mode is `jwt`. */
  verifier?: ClientVerifier;
  /** FHIR fallback for prefetch keys the client did not send. */
  fetcher?: PrefetchFetcher;
  /** Request and feedback validators (compiled schemas); built for this app when not given. */
  requestValidator?: RequestValidator;
  feedbackValidator?: FeedbackValidator;
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
function accessLog(log: Logger, registry: Registry): RequestHandler {
  return (req, res, next) => {
    const started = process.hrtime.bigint();
    res.on('finish', () => {
      const call = callLog(res);
      // Calls rejected before their handler ran (401, 413, 415, unparseable JSON) still name the known service.
      const routed = SERVICE_PATH.exec(req.path)?.[1];
      if (call.service === undefined && routed !== undefined && registry.services.has(routed)) call.service = routed;
      const client = res.locals.client as { iss?: string; jti?: string } | undefined;
      log.info(
        {
          method: req.method,
          path: req.path,
          service: call.service,
          hookInstance: call.hookInstance,
          status: res.statusCode,
          durationMs: Number((Number(process.hrtime.bigint() - started) / 1e6).toFixed(2)),
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

export function createApp(registry: Registry, config: Config, deps: AppDeps): express.Express {
  if (config.auth.mode === 'jwt' && !deps.verifier) throw new Error('CDS_AUTH=jwt needs a client verifier');
  const requestValidator = deps.requestValidator ?? createRequestValidator();
  const feedbackValidator = deps.feedbackValidator ?? createFeedbackValidator();
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
  app.use(accessLog(deps.log, registry));
  if (deps.verifier) app.use(clientAuthMiddleware(deps.verifier, config.auth));

  const json = express.json({ limit: config.bodyLimitBytes, type: ['application/json', 'application/*+json'], strict: true });

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
  }, requireJson, json, async (req, res) => {
    const service = findService(req.params.id as string);
    const call = callLog(res);
    call.service = service.id;
    const body = req.body as { hookInstance?: unknown } | undefined;
    if (typeof body?.hookInstance === 'string' && body.hookInstance.length <= 64) call.hookInstance = body.hookInstance;
    const { cards, failures } = await answerHookCall(service, req.body, Date.now(), { registry, requestValidator, fetcher: deps.fetcher });
    if (failures.length) {
      deps.log.warn({ service: service.id, hookInstance: call.hookInstance, failures: failures.map((f) => ({ name: f.name, message: stripData(f.message) })) }, 'expressions failed on this record');
    }
    call.topics = cards.map((c) => c.source.topic.code);
    res.json({ cards });
  });

  app.post('/cds-services/:id/feedback', (req, _res, next) => {
    findService(req.params.id as string);
    next();
  }, requireJson, json, (req, res) => {
    const service = findService(req.params.id as string);
    callLog(res).service = service.id;
    deps.feedback.add(service.id, feedbackValidator.validateFeedback(req.body));
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

  app.use((req, _res, next) => {
    next(new HttpError(404, { code: 'not-found', diagnostics: `Nothing at ${req.method} ${req.path}; discovery is GET /cds-services` }));
  });
  app.use(errorMiddleware(deps.log));
  return app;
}
