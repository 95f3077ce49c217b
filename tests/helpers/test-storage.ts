// Storage for tests that do not test storage itself: a private in-memory SQLite database (the real back end),
// a fixed pseudonym key, a replay guard on it, and a way to record a served card so feedback on it is accepted.
import { randomUUID } from 'node:crypto';
import { createLogger } from '../../src/logger';
import { createReplayGuard, type ReplayGuard } from '../../src/auth/replay-store';
import { createPseudonymizer, type Pseudonymize } from '../../src/storage/patient-pseudonym';
import { openSqliteStorage } from '../../src/storage/sqlite-storage';
import type { Storage } from '../../src/storage/storage';

export interface TestStorage {
  storage: Storage;
  pseudonymize: Pseudonymize;
}

export function memoryStorage(): TestStorage {
  return { storage: openSqliteStorage(':memory:'), pseudonymize: createPseudonymizer('test-pseudonym-key-0123456789abcdef') };
}

export function memoryReplayGuard(storage: Storage = openSqliteStorage(':memory:'), quotaPerIssuer = 100_000): ReplayGuard {
  return createReplayGuard(storage, quotaPerIssuer, createLogger({ level: 'silent' }));
}

/** Records a card as served by `service` now; returns its uuid and its suggestions' uuids. */
export async function serveCard(storage: Storage, service: string, suggestions = 1): Promise<{ card: string; suggestions: string[] }> {
  const card = randomUUID();
  const suggestionUuids = Array.from({ length: suggestions }, () => randomUUID());
  await storage.recordServedCards([
    { uuid: card, service, topic: 'test-topic', suggestionUuids, hookInstance: randomUUID(), patientKey: null, servedAt: Date.now() },
  ]);
  return { card, suggestions: suggestionUuids };
}
