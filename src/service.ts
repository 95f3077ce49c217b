// Assembles the service from a Config: loads the definitions (throws on any issue), wires client
// authentication, the FHIR fallback and the feedback store into the app. No listening, no globals.
import type express from 'express';
import type { Logger } from 'pino';
import { createApp } from './http/app';
import { createClientVerifier } from './auth/verify';
import type { Config } from './config';
import { loadRegistry } from './definitions/load';
import { type Registry } from './definitions/types';
import { createFeedbackStore } from './http/feedback';
import { fetchPrefetchKeys } from './fhir/client';
import type { HookEvaluator } from './http/eval-pool';

export interface Service {
  app: express.Express;
  registry: Registry;
}

export interface ServiceOptions {
  /** Where hook calls run, created once the definitions have loaded: the server's thread pool; inline (no deadline) when absent. */
  createEvaluator?: () => HookEvaluator;
}

export function buildService(config: Config, log: Logger, options: ServiceOptions = {}): Service {
  const registry = loadRegistry(config.definitionsDir);
  const app = createApp(registry, config, {
    log,
    evaluator: options.createEvaluator?.(),
    feedback: createFeedbackStore(),
    verifier: config.auth.mode === 'jwt' ? createClientVerifier(config.auth, log) : undefined,
    fetcher: (request, templates) => fetchPrefetchKeys(request, templates, config.fhir),
  });
  return { app, registry };
}
