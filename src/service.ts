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

export interface Service {
  app: express.Express;
  registry: Registry;
  storage: Storage;
  /** Stops retention and closes the storage. */
  close(): Promise<void>;
}

export interface ServiceOptions {
  /** Where hook calls run, created once the definitions have loaded: the server's thread pool; inline (no deadline) when absent. */
  createEvaluator?: () => HookEvaluator;
}

export async function buildService(config: Config, log: Logger, options: ServiceOptions = {}): Promise<Service> {
  const registry = loadRegistry(config.definitionsDir, config.fhirpathEngine);
  const pseudonymize = createPseudonymizer(resolvePseudonymKey(config.storage));
  const storage = await openStorage(config.storage);
  const replays = createReplayGuard(storage, config.storage.replayQuotaPerIssuer, log);
  const app = createApp(registry, config, {
    log,
    storage,
    pseudonymize,
    evaluator: options.createEvaluator?.(),
    verifier: config.auth.mode === 'jwt' ? createClientVerifier(config.auth, log, replays) : undefined,
    fetcher: (request, templates) => fetchPrefetchKeys(request, templates, config.fhir),
  });
  const retention = startRetention(storage, config.storage.retentionDays, log);
  return {
    app,
    registry,
    storage,
    async close() {
      retention.stop();
      await storage.close();
    },
  };
}
