// Assembles the service from a Config: loads the definitions (throws on any issue), opens and migrates the
// storage, wires client authentication with shared replay protection, the FHIR fallback, served cards and
// feedback into the app, and starts retention. No listening, no globals.
import type express from 'express';
import type { Logger } from 'pino';
import { createApp } from './http/app';
import { createClientVerifier } from './auth/verify';
import type { Config } from './config';
import { loadRegistry } from './definitions/load';
import { type Registry } from './definitions/types';
import { fetchPrefetchKeys } from './fhir/client';
import { createReplayGuard } from './auth/replay-store';
import { openStorage, startRetention } from './storage/open-storage';
import { createPseudonymizer, resolvePseudonymKey } from './storage/patient-pseudonym';
import type { Storage } from './storage/storage';
import type { HookEvaluator } from './http/eval-pool';
import type { HealthDeps } from './http/health';
import { createMetrics, type Metrics } from './http/metrics';
import type { Registry as PromRegistry } from 'prom-client';

export interface Service {
  app: express.Express;
  registry: Registry;
  storage: Storage;
  metrics: Metrics;
  /** Stops retention and closes the storage. */
  close(): Promise<void>;
}

/** What the process running the app adds: the drain flag, readiness checks, cluster-wide metrics, the evaluation pool. */
export interface ServiceOptions {
  health?: HealthDeps;
  /** Builds GET /metrics' collector from this app's metrics registry (cluster mode: all workers'). */
  metricsCollector?: (registry: PromRegistry) => () => Promise<{ contentType: string; text: string }>;
  clock?: () => number;
  /** Where hook calls run, created once the definitions have loaded: the server's thread pool; inline (no deadline) when absent. */
  createEvaluator?: (metrics: Metrics) => HookEvaluator;
}

export async function buildService(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Service> {
  const registry = loadRegistry(config.definitionsDir, config.fhirpathEngine);
  const metrics = createMetrics(registry);
  const pseudonymize = createPseudonymizer(resolvePseudonymKey(config.storage));
  const storage = await openStorage(config.storage);
  const replays = createReplayGuard(storage, config.storage.replayQuotaPerIssuer, log);
  const storageReachable = () => storage.ping().then(() => true);
  const app = createApp(registry, config, {
    health: { ...options.health, readinessChecks: [...(options.health?.readinessChecks ?? []), storageReachable] },
    clock: options.clock,
    metrics,
    collectMetrics: options.metricsCollector?.(metrics.registry),
    log,
    storage,
    pseudonymize,
    evaluator: options.createEvaluator?.(metrics),
    verifier: config.auth.mode === 'jwt' ? createClientVerifier(config.auth, log, replays) : undefined,
    // Hook calls count their fallback outcomes in the app (the evaluation threads fetch for themselves).
    fetcher: (request, templates) => fetchPrefetchKeys(request, templates, config.fhir),
  });
  const retention = startRetention(storage, config.storage.retentionDays, log);
  return {
    app,
    registry,
    storage,
    metrics,
    async close() {
      retention.stop();
      await storage.close();
    },
  };
}
