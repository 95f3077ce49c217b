// The embedded back end: one SQLite file (better-sqlite3) shared by every worker process on the host. WAL mode lets
// readers run beside the one writer; write transactions take the lock up front (BEGIN IMMEDIATE) and wait for it
// up to busy_timeout, so concurrent workers serialise instead of failing.
import { mkdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { INSERT_MIGRATION, MIGRATIONS_TABLE, pendingMigrations } from './migrations';
import { feedbackParams, INSERT_FEEDBACK, overrideReasonsSql, PURGE_REPLAY_KEYS, PURGE_SERVED_CARDS, SNOOZED_TOPICS, topicCountsSql } from './queries';
import { PURGE_BATCH, type OverrideReasonCount, type ServedCardRef, type Storage, type TopicCounts } from './storage';

export const SQLITE_FILE_NAME = 'iph-cds.sqlite';
const BUSY_TIMEOUT_MS = 5000;

/** Applies the pending migrations under the write lock, so workers starting together migrate once. */
function migrate(db: Database.Database): void {
  db.transaction(() => {
    db.exec(MIGRATIONS_TABLE);
    const applied = (db.prepare('SELECT version FROM schema_migrations').all() as { version: number }[]).map((r) => r.version);
    const record = db.prepare(INSERT_MIGRATION);
    for (const m of pendingMigrations(applied)) {
      for (const statement of m.statements) db.exec(statement);
      record.run(m.version, m.name, Date.now());
    }
  }).immediate();
}

/** Opens (creating the directory and file if needed) and migrates `${dataDir}/iph-cds.sqlite`; `:memory:` for a private database. */
export function openSqliteStorage(dataDir: string | ':memory:'): Storage {
  let file: string = dataDir;
  if (dataDir !== ':memory:') {
    mkdirSync(dataDir, { recursive: true, mode: 0o700 });
    file = path.join(dataDir, SQLITE_FILE_NAME);
  }
  const db = new Database(file);
  try {
    db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL survives a process crash; only a power cut can lose the last commits.
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    migrate(db);
  } catch (e) {
    db.close();
    throw e;
  }

  const liveKeysOfIssuer = db.prepare('SELECT COUNT(*) AS n FROM (SELECT 1 FROM replay_keys WHERE iss = ? AND expires_at > ? LIMIT ?)');
  // An expired key not yet purged may be taken again: its token can no longer be replayed.
  const upsertKey = db.prepare(
    'INSERT INTO replay_keys (iss, jti, expires_at) VALUES (?, ?, ?) ON CONFLICT (iss, jti) DO UPDATE SET expires_at = excluded.expires_at WHERE replay_keys.expires_at <= ?',
  );
  const rememberJti = db.transaction((iss: string, jti: string, expiresAt: number, now: number, quota: number) => {
    const { n } = liveKeysOfIssuer.get(iss, now, quota) as { n: number };
    if (n >= quota) return 'quota-full' as const;
    return upsertKey.run(iss, jti, expiresAt, now).changes === 1 ? ('stored' as const) : ('replay' as const);
  });

  // Row by row: statements are in-process calls here, and the transaction makes the batch one commit.
  const insertCard = db.prepare(
    'INSERT INTO served_cards (card_uuid, service, topic, hook_instance, patient_key, served_at) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  const insertSuggestion = db.prepare('INSERT INTO served_suggestions (card_uuid, suggestion_uuid) VALUES (?, ?) ON CONFLICT DO NOTHING');
  const insertFeedback = db.prepare(INSERT_FEEDBACK);
  const findCard = db.prepare('SELECT service FROM served_cards WHERE card_uuid = ?');
  const suggestionsOf = db.prepare('SELECT suggestion_uuid FROM served_suggestions WHERE card_uuid = ?').pluck();
  const topicCounts = { all: db.prepare(topicCountsSql(false)), service: db.prepare(topicCountsSql(true)) };
  const reasons = { all: db.prepare(overrideReasonsSql(false)), service: db.prepare(overrideReasonsSql(true)) };
  const snoozed = db.prepare(SNOOZED_TOPICS).pluck();
  const purgeKeys = db.prepare(PURGE_REPLAY_KEYS);
  const purgeCards = db.prepare(PURGE_SERVED_CARDS);

  const storage: Storage = {
    backend: 'sqlite',
    async rememberJti(iss, jti, expiresAt, now, quota) {
      return rememberJti.immediate(iss, jti, expiresAt, now, quota);
    },
    async recordServedCards(cards) {
      if (cards.length === 0) return;
      db.transaction(() => {
        for (const c of cards) {
          insertCard.run(c.uuid, c.service, c.topic, c.hookInstance, c.patientKey, c.servedAt);
          for (const s of c.suggestionUuids) insertSuggestion.run(c.uuid, s);
        }
      }).immediate();
    },
    async findServedCards(uuids) {
      const found = new Map<string, ServedCardRef>();
      db.transaction(() => {
        for (const uuid of new Set(uuids)) {
          const row = findCard.get(uuid) as { service: string } | undefined;
          if (row) found.set(uuid, { uuid, service: row.service, suggestionUuids: suggestionsOf.all(uuid) as string[] });
        }
      })();
      return found;
    },
    async recordFeedback(items) {
      let stored = 0;
      db.transaction(() => {
        for (const f of items) {
          stored += insertFeedback.run(...feedbackParams(f)).changes;
        }
      }).immediate();
      return stored;
    },
    async outcomeRows(q) {
      const params = q.service === undefined ? [q.since, q.until] : [q.since, q.until, q.service];
      const which = q.service === undefined ? 'all' : 'service';
      // One read transaction: both results describe the same snapshot.
      return db.transaction(() => ({
        topics: topicCounts[which].all(...params) as TopicCounts[],
        reasons: reasons[which].all(...params) as OverrideReasonCount[],
      }))();
    },
    async snoozedTopics(service, patientKey, since) {
      return new Set(snoozed.all(patientKey, service, since) as string[]);
    },
    async purge(now, servedBefore) {
      const replayKeys = purgeKeys.run(now).changes;
      let servedCards = 0;
      let batch: number;
      do {
        batch = purgeCards.run(servedBefore, PURGE_BATCH).changes;
        servedCards += batch;
      } while (batch === PURGE_BATCH);
      return { replayKeys, servedCards };
    },
    async ping() {
      db.prepare('SELECT 1').get();
    },
    async close() {
      if (db.open) db.close();
    },
  };
  return storage;
}
