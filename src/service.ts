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

export interface Service {
  app: express.Express;
  registry: Registry;
}

export function buildService(config: Config, log: Logger): Service {
  const registry = loadRegistry(config.definitionsDir);
  const app = createApp(registry, config, {
    log,
    feedback: createFeedbackStore(),
    verifier: config.auth.mode === 'jwt' ? createClientVerifier(config.auth, log) : undefined,
    fetcher: (request, templates) => fetchPrefetchKeys(request, templates, config.fhir),
  });
  return { app, registry };
}
