// The scale-out back end: PostgreSQL (pg), shared by every instance behind a load balancer. Replay keys are taken
// with one INSERT ... ON CONFLICT statement (atomic across instances); migrations run under an advisory lock so
// instances starting together migrate once.
import pg from 'pg';
import { INSERT_MIGRATION, MIGRATIONS_TABLE, pendingMigrations } from './migrations';
import { feedbackParams, INSERT_FEEDBACK, overrideReasonsSql, PURGE_REPLAY_KEYS, PURGE_SERVED_CARDS, SNOOZED_TOPICS, topicCountsSql } from './queries';
import { PURGE_BATCH, type OverrideReasonCount, type ServedCardRef, type Storage, type TopicCounts } from './storage';

// Arbitrary constant naming this service's migration lock (pg_advisory_xact_lock takes a bigint).
const MIGRATION_LOCK_KEY = 7_305_117_204;
// A hook call must not hang on an unreachable or locked database.
const CONNECT_TIMEOUT_MS = 3000;
const STATEMENT_TIMEOUT_MS = 3000;
const POOL_SIZE = 10;

/** `?` placeholders (the shared SQL) to PostgreSQL's `$1, $2, ...`. The shared SQL has no `?` inside literals. */
export function numbered(sql: string): string {
  let n = 0;
  return sql.replace(/\?/g, () => `$${++n}`);
}

// COUNT/SUM and BIGINT epoch milliseconds arrive as strings by default; every value here fits a double exactly.
const INT8_OID = 20;
const NUMERIC_OID = 1700;
const types = {
  getTypeParser(oid: number, format?: 'text' | 'binary') {
    if (oid === INT8_OID || oid === NUMERIC_OID) return (value: string) => Number(value);
    return pg.types.getTypeParser(oid, format);
  },
} as pg.CustomTypesConfig;

/** The URL without its password, for messages. */
export function redactDatabaseUrl(url: string): string {
  try {
    const u = new URL(url);
    if (u.password !== '') u.password = '***';
    return u.toString();
  } catch {
    return 'postgres://(unparseable URL)';
  }
}

async function migrate(pool: pg.Pool): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    await client.query(MIGRATIONS_TABLE);
    const applied = (await client.query<{ version: number }>('SELECT version FROM schema_migrations')).rows.map((r) => r.version);
    for (const m of pendingMigrations(applied)) {
      for (const statement of m.statements) await client.query(statement);
      await client.query(numbered(INSERT_MIGRATION), [m.version, m.name, Date.now()]);
    }
    await client.query('COMMIT');
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

async function inTransaction<T>(pool: pg.Pool, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    const result = await work(client);
    await client.query('COMMIT');
    return result;
  } catch (e) {
    await client.query('ROLLBACK').catch(() => undefined);
    throw e;
  } finally {
    client.release();
  }
}

// One statement: the quota count and the insert see the same snapshot; the unique key decides concurrent inserts
// of the same (iss, jti). The count may overshoot the quota by the number of concurrent first uses, never more.
const REMEMBER_JTI = `WITH live AS (
    SELECT COUNT(*) AS n FROM (SELECT 1 FROM replay_keys WHERE iss = $1 AND expires_at > $4 LIMIT $5) l
  ), ins AS (
    INSERT INTO replay_keys (iss, jti, expires_at)
    SELECT $1, $2, $3 WHERE (SELECT n FROM live) < $5
    ON CONFLICT (iss, jti) DO UPDATE SET expires_at = EXCLUDED.expires_at WHERE replay_keys.expires_at <= $4
    RETURNING 1
  )
  SELECT (SELECT n FROM live) AS live, (SELECT COUNT(*) FROM ins) AS inserted`;

// One statement, one round trip: the cards and their suggestions from parallel arrays. The foreign key is checked at
// the end of the statement, when the cards are in.
const RECORD_SERVED_CARDS = `WITH cards AS (
    INSERT INTO served_cards (card_uuid, service, topic, hook_instance, patient_key, served_at)
    SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::bigint[])
    ON CONFLICT DO NOTHING
  )
  INSERT INTO served_suggestions (card_uuid, suggestion_uuid)
  SELECT * FROM unnest($7::text[], $8::text[])
  ON CONFLICT DO NOTHING`;

const FIND_CARDS = `SELECT c.card_uuid AS uuid, c.service AS service,
    COALESCE(ARRAY_AGG(s.suggestion_uuid) FILTER (WHERE s.suggestion_uuid IS NOT NULL), '{}') AS suggestions
  FROM served_cards c LEFT JOIN served_suggestions s ON s.card_uuid = c.card_uuid
  WHERE c.card_uuid = ANY($1::text[])
  GROUP BY c.card_uuid, c.service`;

/** Connects, migrates and returns the PostgreSQL storage; the URL is a libpq-style postgres:// URL. */
export async function openPostgresStorage(databaseUrl: string): Promise<Storage> {
  const pool = new pg.Pool({
    connectionString: databaseUrl,
    max: POOL_SIZE,
    connectionTimeoutMillis: CONNECT_TIMEOUT_MS,
    statement_timeout: STATEMENT_TIMEOUT_MS,
    application_name: 'iph-cds-hooks',
    types,
  });
  // An idle client losing its connection must not crash the process; the next query reconnects.
  pool.on('error', () => undefined);
  try {
    await migrate(pool);
  } catch (e) {
    await pool.end();
    throw new Error(`PostgreSQL at ${redactDatabaseUrl(databaseUrl)}: ${e instanceof Error ? e.message : String(e)}`);
  }

  const sql = {
    insertFeedback: numbered(INSERT_FEEDBACK),
    topics: { all: numbered(topicCountsSql(false)), service: numbered(topicCountsSql(true)) },
    reasons: { all: numbered(overrideReasonsSql(false)), service: numbered(overrideReasonsSql(true)) },
    snoozed: numbered(SNOOZED_TOPICS),
    purgeKeys: numbered(PURGE_REPLAY_KEYS),
    purgeCards: numbered(PURGE_SERVED_CARDS),
  };

  return {
    backend: 'postgres',
    async rememberJti(iss, jti, expiresAt, now, quota) {
      const { rows } = await pool.query<{ live: number; inserted: number }>(REMEMBER_JTI, [iss, jti, expiresAt, now, quota]);
      const row = rows[0];
      if (row?.inserted === 1) return 'stored';
      return row !== undefined && row.live >= quota ? 'quota-full' : 'replay';
    },
    async recordServedCards(cards) {
      if (cards.length === 0) return;
      const suggestions = cards.flatMap((c) => c.suggestionUuids.map((s) => [c.uuid, s] as const));
      await pool.query(RECORD_SERVED_CARDS, [
        cards.map((c) => c.uuid),
        cards.map((c) => c.service),
        cards.map((c) => c.topic),
        cards.map((c) => c.hookInstance),
        cards.map((c) => c.patientKey),
        cards.map((c) => c.servedAt),
        suggestions.map(([card]) => card),
        suggestions.map(([, s]) => s),
      ]);
    },
    async findServedCards(uuids) {
      const found = new Map<string, ServedCardRef>();
      if (uuids.length === 0) return found;
      const { rows } = await pool.query<{ uuid: string; service: string; suggestions: string[] }>(FIND_CARDS, [[...new Set(uuids)]]);
      for (const r of rows) found.set(r.uuid, { uuid: r.uuid, service: r.service, suggestionUuids: r.suggestions });
      return found;
    },
    async recordFeedback(items) {
      if (items.length === 0) return 0;
      return inTransaction(pool, async (client) => {
        let stored = 0;
        for (const f of items) {
          const r = await client.query(sql.insertFeedback, feedbackParams(f));
          stored += r.rowCount ?? 0;
        }
        return stored;
      });
    },
    async outcomeRows(q) {
      const params = q.service === undefined ? [q.since, q.until] : [q.since, q.until, q.service];
      const which = q.service === undefined ? 'all' : 'service';
      // REPEATABLE READ: both results describe the same snapshot.
      return inTransaction(pool, async (client) => {
        await client.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY');
        const topics = (await client.query<TopicCounts>(sql.topics[which], params)).rows;
        const reasons = (await client.query<OverrideReasonCount>(sql.reasons[which], params)).rows;
        return { topics, reasons };
      });
    },
    async snoozedTopics(service, patientKey, since) {
      const { rows } = await pool.query<{ topic: string }>(sql.snoozed, [patientKey, service, since]);
      return new Set(rows.map((r) => r.topic));
    },
    async purge(now, servedBefore) {
      const replayKeys = (await pool.query(sql.purgeKeys, [now])).rowCount ?? 0;
      let servedCards = 0;
      let batch: number;
      do {
        batch = (await pool.query(sql.purgeCards, [servedBefore, PURGE_BATCH])).rowCount ?? 0;
        servedCards += batch;
      } while (batch === PURGE_BATCH);
      return { replayKeys, servedCards };
    },
    async ping() {
      await pool.query('SELECT 1');
    },
    async close() {
      await pool.end();
    },
  };
}
