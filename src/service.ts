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
import type { HealthDeps } from './http/health';
import { createMetrics, type Metrics } from './http/metrics';
import type { Registry as PromRegistry } from 'prom-client';

export interface Service {
  app: express.Express;
  registry: Registry;
  metrics: Metrics;
}

/** What the process running the app adds: the drain flag, readiness checks, cluster-wide metrics collection. */
export interface ServiceOptions {
  health?: HealthDeps;
  /** Builds GET /metrics' collector from this app's metrics registry (cluster mode: all workers'). */
  metricsCollector?: (registry: PromRegistry) => () => Promise<{ contentType: string; text: string }>;
  clock?: () => number;
}

export function buildService(config: Config, log: Logger, options: ServiceOptions = {}): Service {
  const registry = loadRegistry(config.definitionsDir);
  const metrics = createMetrics(registry);
  const app = createApp(registry, config, {
    health: options.health,
    clock: options.clock,
    metrics,
    collectMetrics: options.metricsCollector?.(metrics.registry),
    log,
    feedback: createFeedbackStore(),
    verifier: config.auth.mode === 'jwt' ? createClientVerifier(config.auth, log) : undefined,
    fetcher: async (request, templates) => {
      const outcomes = await fetchPrefetchKeys(request, templates, config.fhir);
      metrics.observeFallback(outcomes);
      return outcomes;
    },
  });
  return { app, registry, metrics };
}
