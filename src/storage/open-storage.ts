// Opens the configured back end and runs retention: expired replay keys and served cards older than
// CDS_RETENTION_DAYS (with their feedback) are purged at start and then every minute, by every worker (idempotent).
import type { Logger } from 'pino';
import { openSqliteStorage } from './sqlite-storage';
import type { Storage } from './storage';
import type { StorageSettings } from './storage-settings';

export const PURGE_INTERVAL_MS = 60_000;
export const DAY_MS = 86_400_000;

export async function openStorage(settings: StorageSettings): Promise<Storage> {
  if (settings.backend === 'postgres' && settings.databaseUrl !== undefined) {
    // Loaded only when configured: an embedded-only start never pays for the pg driver.
    const { openPostgresStorage } = await import('./postgres-storage');
    return openPostgresStorage(settings.databaseUrl);
  }
  return openSqliteStorage(settings.dataDir);
}

export interface Retention {
  /** One purge now; resolves when done (errors are logged, never thrown). */
  runOnce(): Promise<void>;
  stop(): void;
}

export function startRetention(storage: Storage, retentionDays: number, log: Logger, now: () => number = () => Date.now()): Retention {
  let running: Promise<void> | undefined;
  const runOnce = () => {
    running ??= (async () => {
      try {
        const t = now();
        const purged = await storage.purge(t, t - retentionDays * DAY_MS);
        if (purged.servedCards > 0) log.info({ purged }, 'retention: purged expired rows');
      } catch (e) {
        log.error({ err: e }, 'retention: purge failed; retrying at the next interval');
      } finally {
        running = undefined;
      }
    })();
    return running;
  };
  const timer = setInterval(() => void runOnce(), PURGE_INTERVAL_MS);
  // Background work must never keep the process alive.
  timer.unref();
  void runOnce();
  return { runOnce, stop: () => clearInterval(timer) };
}
