// Versioned schema migrations, one list for both back ends: portable SQL only (TEXT, BIGINT epoch ms, SMALLINT
// flags, ON DELETE CASCADE). A migration is applied once, inside a transaction, and never edited after release.

export interface Migration {
  version: number;
  name: string;
  statements: readonly string[];
}

export const MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS schema_migrations (
  version INTEGER PRIMARY KEY,
  name TEXT NOT NULL,
  applied_at BIGINT NOT NULL
)`;

export const INSERT_MIGRATION = 'INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)';

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'replay keys, served cards, feedback',
    statements: [
      `CREATE TABLE replay_keys (
        iss TEXT NOT NULL,
        jti TEXT NOT NULL,
        expires_at BIGINT NOT NULL,
        PRIMARY KEY (iss, jti)
      )`,
      // Serves both the per-issuer quota count and the purge of expired keys of one issuer.
      'CREATE INDEX replay_keys_iss_expiry ON replay_keys (iss, expires_at)',
      'CREATE INDEX replay_keys_expiry ON replay_keys (expires_at)',
      `CREATE TABLE served_cards (
        card_uuid TEXT PRIMARY KEY,
        service TEXT NOT NULL,
        topic TEXT NOT NULL,
        hook_instance TEXT NOT NULL,
        patient_key TEXT,
        served_at BIGINT NOT NULL
      )`,
      'CREATE INDEX served_cards_service_time ON served_cards (service, served_at)',
      'CREATE INDEX served_cards_time ON served_cards (served_at)',
      'CREATE INDEX served_cards_patient ON served_cards (patient_key, service, topic)',
      `CREATE TABLE served_suggestions (
        card_uuid TEXT NOT NULL REFERENCES served_cards (card_uuid) ON DELETE CASCADE,
        suggestion_uuid TEXT NOT NULL,
        PRIMARY KEY (card_uuid, suggestion_uuid)
      )`,
      `CREATE TABLE card_feedback (
        card_uuid TEXT NOT NULL REFERENCES served_cards (card_uuid) ON DELETE CASCADE,
        outcome TEXT NOT NULL CHECK (outcome IN ('accepted', 'overridden')),
        outcome_at BIGINT NOT NULL,
        accepted_suggestions TEXT NOT NULL,
        reason_system TEXT,
        reason_code TEXT,
        reason_display TEXT,
        with_reason SMALLINT NOT NULL,
        received_at BIGINT NOT NULL,
        PRIMARY KEY (card_uuid, outcome, outcome_at)
      )`,
    ],
  },
];

/** The newest version this code knows; a database migrated further belongs to a newer release. */
export const LATEST_VERSION = MIGRATIONS.reduce((max, m) => Math.max(max, m.version), 0);

/** The migrations still to apply on a database at these versions; refuses a database newer than the code. */
export function pendingMigrations(applied: readonly number[]): Migration[] {
  const newest = applied.reduce((max, v) => Math.max(max, v), 0);
  if (newest > LATEST_VERSION) {
    throw new Error(`the database schema is at version ${newest}, newer than this release knows (${LATEST_VERSION}); start a newer release`);
  }
  const done = new Set(applied);
  return MIGRATIONS.filter((m) => !done.has(m.version));
}
