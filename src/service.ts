// Assembles the service: composes its Config (the core server settings and each feature's own), loads the
// definitions (throws on any issue), opens and migrates the storage, wires client authentication with shared replay
// protection, the FHIR fallback, served cards and feedback into the app, and starts retention. No listening, no globals.
import type express from 'express';
import type { Logger } from 'pino';
import { createApp } from './http/app';
import { createClientVerifier } from './auth/verify';
import { readServerConfig, type ServerConfig } from './config';
import { readAuthSettings, type AuthSettings } from './auth/trusted-clients';
import { readFhirFetchSettings, type FhirFetchSettings } from './fhir/client';
import { readOpsSettings, type OpsSettings } from './http/ops-routes';
import { readStorageSettings, type StorageSettings } from './storage/storage-settings';
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

/** The service's settings: the server's own and those each feature reads for itself. */
export interface Config extends ServerConfig {
  readonly auth: AuthSettings;
  readonly fhir: FhirFetchSettings;
  readonly storage: StorageSettings;
  readonly ops: OpsSettings;
}

/** Reads the environment once into a frozen Config; throws on bad values so a misconfigured server never starts. */
export function readConfig(env: NodeJS.ProcessEnv = process.env): Config {
  const server = readServerConfig(env);
  const config: Config = {
    ...server,
    auth: readAuthSettings(env),
    fhir: readFhirFetchSettings(env),
    storage: readStorageSettings(env, server.production),
    ops: readOpsSettings(env),
  };
  // The deadline must leave the FHIR fallback its whole budget, or every fallback that uses it would end in 503.
  if (config.evalTimeoutMs <= config.fhir.budgetMs) {
    throw new Error(`CDS_EVAL_TIMEOUT_MS (${config.evalTimeoutMs}) must exceed CDS_FHIR_BUDGET_MS (${config.fhir.budgetMs})`);
  }
  // Without a fixed public URL the expected JWT audience would come from the caller's Host header, so a token minted
  // for another service with the same paths could be replayed here.
  if (config.production && config.auth.mode === 'jwt' && !config.auth.publicUrl) {
    throw new Error('CDS_PUBLIC_URL must be set in production when CDS_AUTH=jwt (the external base URL clients put in the JWT aud)');
  }
  return Object.freeze(config);
}

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
