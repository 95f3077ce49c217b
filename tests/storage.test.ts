// The storage layer against both back ends with one suite: SQLite on a temporary directory always, PostgreSQL
// when CDS_TEST_DATABASE_URL names a server (always in CI). Migrations, replay keys with per-issuer quotas,
// served cards, idempotent feedback, card outcomes, snooze look-ups, purging and durability across a reopen.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { cardOutcomes } from '../src/storage/card-outcomes';
import { LATEST_VERSION, MIGRATIONS, pendingMigrations } from '../src/storage/migrations';
import { createPseudonymizer, resolvePseudonymKey } from '../src/storage/patient-pseudonym';
import { numbered, openPostgresStorage, redactDatabaseUrl } from '../src/storage/postgres-storage';
import { openSqliteStorage } from '../src/storage/sqlite-storage';
import type { FeedbackRecord, ServedCard, Storage } from '../src/storage/storage';
import { readStorageSettings } from '../src/storage/storage-settings';
import { createTestSchema, describeWithPostgres, type TestSchema } from './helpers/test-database';

const T0 = Date.UTC(2026, 10, 1, 12, 0, 0);
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

function card(uuid: string, overrides: Partial<ServedCard> = {}): ServedCard {
  return {
    uuid,
    service: 'iph-patient-view',
    topic: 'iph-evaluation',
    suggestionUuids: [],
    hookInstance: 'hook-1',
    patientKey: 'patient-a',
    servedAt: T0,
    ...overrides,
  };
}

function feedback(cardUuid: string, overrides: Partial<FeedbackRecord> = {}): FeedbackRecord {
  return { cardUuid, outcome: 'accepted', outcomeAt: T0 + HOUR, acceptedSuggestions: [], withReason: false, receivedAt: T0 + HOUR, ...overrides };
}

function overriddenWith(cardUuid: string, code: string | undefined, overrides: Partial<FeedbackRecord> = {}): FeedbackRecord {
  return feedback(cardUuid, {
    outcome: 'overridden',
    ...(code !== undefined ? { reason: { system: 'https://iph-cds.dev/override-reason', code, display: `Reason ${code}` } } : {}),
    withReason: code !== undefined,
    ...overrides,
  });
}

interface Backend {
  /** A new handle on the same database each call (another worker or instance). */
  open(): Promise<Storage>;
  teardown(): Promise<void>;
}

function sqliteBackend(): Backend {
  const dir = mkdtempSync(path.join(tmpdir(), 'cds-storage-'));
  return { open: async () => openSqliteStorage(dir), teardown: async () => rmSync(dir, { recursive: true, force: true }) };
}

async function postgresBackend(): Promise<Backend> {
  const schema: TestSchema = await createTestSchema();
  return { open: () => openPostgresStorage(schema.url), teardown: () => schema.drop() };
}

function storageSuite(name: string, describeFn: jest.Describe, makeBackend: () => Backend | Promise<Backend>): void {
  describeFn(`${name} storage`, () => {
    let backend: Backend;
    let storage: Storage;
    const extra: Storage[] = [];

    beforeAll(async () => {
      backend = await makeBackend();
      storage = await backend.open();
    });
    afterAll(async () => {
      for (const s of extra) await s.close();
      await storage?.close();
      await backend?.teardown();
    });
    const another = async () => {
      const s = await backend.open();
      extra.push(s);
      return s;
    };

    it('migrates once: a second and a concurrent open find the schema in place', async () => {
      const handles = await Promise.all([another(), another()]);
      for (const h of handles) await h.ping();
      expect(storage.backend).toBe(name);
    });

    describe('replay keys', () => {
      it('stores a first use and reports the second as a replay, per issuer', async () => {
        expect(await storage.rememberJti('iss-a', 'jti-1', T0 + HOUR, T0, 10)).toBe('stored');
        expect(await storage.rememberJti('iss-a', 'jti-1', T0 + HOUR, T0 + 1000, 10)).toBe('replay');
        expect(await storage.rememberJti('iss-b', 'jti-1', T0 + HOUR, T0, 10)).toBe('stored');
      });

      it('sees a key stored through another handle (another worker or instance)', async () => {
        const other = await another();
        expect(await storage.rememberJti('iss-a', 'jti-shared', T0 + HOUR, T0, 10)).toBe('stored');
        expect(await other.rememberJti('iss-a', 'jti-shared', T0 + HOUR, T0, 10)).toBe('replay');
      });

      it('takes a key again once it has expired, even before the purge', async () => {
        expect(await storage.rememberJti('iss-a', 'jti-short', T0 + 1000, T0, 10)).toBe('stored');
        expect(await storage.rememberJti('iss-a', 'jti-short', T0 + HOUR, T0 + 1000, 10)).toBe('stored');
        expect(await storage.rememberJti('iss-a', 'jti-short', T0 + HOUR, T0 + 2000, 10)).toBe('replay');
      });

      it('accepts exactly one of 20 concurrent first uses of one key from two handles', async () => {
        const other = await another();
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) => (i % 2 === 0 ? storage : other).rememberJti('iss-race', 'jti-race', T0 + HOUR, T0, 1000)),
        );
        expect(results.filter((r) => r === 'stored')).toHaveLength(1);
        expect(results.filter((r) => r === 'replay')).toHaveLength(19);
      });

      it('a full quota refuses only that issuer, and frees up as its keys expire', async () => {
        for (let i = 0; i < 3; i++) expect(await storage.rememberJti('iss-flood', `f-${i}`, T0 + 1000 * (i + 1), T0, 3)).toBe('stored');
        expect(await storage.rememberJti('iss-flood', 'f-more', T0 + HOUR, T0, 3)).toBe('quota-full');
        expect(await storage.rememberJti('iss-quiet', 'q-1', T0 + HOUR, T0, 3)).toBe('stored');
        // At T0 + 1000 the first flood key has expired: one slot is free again.
        expect(await storage.rememberJti('iss-flood', 'f-more', T0 + HOUR, T0 + 1000, 3)).toBe('stored');
        expect(await storage.rememberJti('iss-flood', 'f-even-more', T0 + HOUR, T0 + 1000, 3)).toBe('quota-full');
      });
    });

    describe('served cards and feedback', () => {
      it('finds served cards with their suggestions; unknown uuids are absent', async () => {
        await storage.recordServedCards([card('c-1', { suggestionUuids: ['s-1', 's-2'] }), card('c-2')]);
        const found = await storage.findServedCards(['c-1', 'c-2', 'c-unknown', 'c-1']);
        expect([...found.keys()].sort()).toEqual(['c-1', 'c-2']);
        expect(found.get('c-1')).toEqual({ uuid: 'c-1', service: 'iph-patient-view', suggestionUuids: expect.arrayContaining(['s-1', 's-2']) });
        expect(found.get('c-1')?.suggestionUuids).toHaveLength(2);
        expect(found.get('c-2')?.suggestionUuids).toEqual([]);
        expect((await storage.findServedCards([])).size).toBe(0);
      });

      it('stores each feedback item once: resends are ignored', async () => {
        await storage.recordServedCards([card('c-idem', { suggestionUuids: ['s-1'] })]);
        const item = feedback('c-idem', { acceptedSuggestions: ['s-1'] });
        expect(await storage.recordFeedback([item, item])).toBe(1);
        expect(await storage.recordFeedback([item])).toBe(0);
        expect(await storage.recordFeedback([{ ...item, outcomeAt: item.outcomeAt + 1 }])).toBe(1);
      });
    });

    describe('card outcomes', () => {
      const W = 30 * DAY;
      const SVC = 'outcome-svc';
      beforeAll(async () => {
        const at = W + T0;
        await storage.recordServedCards([
          card('o-1', { service: SVC, topic: 'topic-a', servedAt: at }),
          card('o-2', { service: SVC, topic: 'topic-a', servedAt: at + 1 }),
          card('o-3', { service: SVC, topic: 'topic-a', servedAt: at + 2 }),
          card('o-4', { service: SVC, topic: 'topic-a', servedAt: at + 3 }),
          card('o-5', { service: SVC, topic: 'topic-a', servedAt: at + 4 }),
          card('o-6', { service: SVC, topic: 'topic-b', servedAt: at + 5 }),
          card('o-old', { service: SVC, topic: 'topic-a', servedAt: at - 10 * DAY }),
          card('o-other', { service: 'other-svc', topic: 'topic-a', servedAt: at }),
        ]);
        await storage.recordFeedback([
          feedback('o-1'),
          overriddenWith('o-2', 'busy'),
          overriddenWith('o-3', 'busy'),
          overriddenWith('o-4', 'not-relevant'),
          // o-5: overridden first, then accepted later: the latest feedback decides.
          overriddenWith('o-5', 'busy', { outcomeAt: at + HOUR }),
          feedback('o-5', { outcomeAt: at + 2 * HOUR }),
          overriddenWith('o-6', undefined),
          feedback('o-old'),
          feedback('o-other'),
        ]);
      });

      it('counts per topic, with rates and the top coded override reasons', async () => {
        const report = await cardOutcomes(storage, { service: SVC, since: W + T0 - DAY, until: W + T0 + DAY });
        expect(report.service).toBe(SVC);
        expect(report.topics).toEqual([
          {
            service: SVC,
            topic: 'topic-a',
            served: 5,
            accepted: 2,
            overridden: 3,
            noFeedback: 0,
            acceptanceRate: 0.4,
            overrideRate: 0.6,
            topOverrideReasons: [
              { system: 'https://iph-cds.dev/override-reason', code: 'busy', display: 'Reason busy', count: 2 },
              { system: 'https://iph-cds.dev/override-reason', code: 'not-relevant', display: 'Reason not-relevant', count: 1 },
            ],
          },
          { service: SVC, topic: 'topic-b', served: 1, accepted: 0, overridden: 1, noFeedback: 0, acceptanceRate: 0, overrideRate: 1, topOverrideReasons: [] },
        ]);
      });

      it('counts only cards served in [since, until), and every service without a filter', async () => {
        const wide = await cardOutcomes(storage, { since: W + T0 - 20 * DAY, until: W + T0 + DAY });
        const a = wide.topics.find((t) => t.service === SVC && t.topic === 'topic-a');
        expect(a).toMatchObject({ served: 6, accepted: 3 });
        expect(wide.topics.find((t) => t.service === 'other-svc')).toMatchObject({ served: 1, accepted: 1 });
        const none = await cardOutcomes(storage, { service: SVC, since: W + T0 + 100, until: W + T0 + 200 });
        expect(none.topics).toEqual([]);
        const exactlyOne = await cardOutcomes(storage, { service: SVC, since: W + T0 + 5, until: W + T0 + 6 });
        expect(exactlyOne.topics).toMatchObject([{ topic: 'topic-b', served: 1 }]);
        expect(exactlyOne.since).toBe(new Date(W + T0 + 5).toISOString());
      });

      it('counts served cards without feedback', async () => {
        await storage.recordServedCards([card('o-silent', { service: SVC, topic: 'topic-b', servedAt: W + T0 + 6 })]);
        const report = await cardOutcomes(storage, { service: SVC, since: W + T0, until: W + T0 + DAY });
        expect(report.topics.find((t) => t.topic === 'topic-b')).toMatchObject({ served: 2, overridden: 1, noFeedback: 1, acceptanceRate: 0, overrideRate: 0.5 });
      });
    });

    describe('snooze look-up', () => {
      it('names the topics overridden with a reason for this patient and service since the given time', async () => {
        const SVC = 'snooze-svc';
        await storage.recordServedCards([
          card('z-1', { service: SVC, topic: 'with-reason', patientKey: 'pk-1' }),
          card('z-2', { service: SVC, topic: 'without-reason', patientKey: 'pk-1' }),
          card('z-3', { service: SVC, topic: 'accepted', patientKey: 'pk-1' }),
          card('z-4', { service: SVC, topic: 'other-patient', patientKey: 'pk-2' }),
          card('z-5', { service: 'another-svc', topic: 'other-service', patientKey: 'pk-1' }),
          card('z-6', { service: SVC, topic: 'long-ago', patientKey: 'pk-1' }),
        ]);
        await storage.recordFeedback([
          overriddenWith('z-1', 'busy', { receivedAt: T0 + 5 * DAY }),
          overriddenWith('z-2', undefined, { receivedAt: T0 + 5 * DAY }),
          feedback('z-3', { receivedAt: T0 + 5 * DAY }),
          overriddenWith('z-4', 'busy', { receivedAt: T0 + 5 * DAY }),
          overriddenWith('z-5', 'busy', { receivedAt: T0 + 5 * DAY }),
          overriddenWith('z-6', 'busy', { receivedAt: T0 + DAY }),
        ]);
        expect([...(await storage.snoozedTopics(SVC, 'pk-1', T0 + 2 * DAY))]).toEqual(['with-reason']);
        expect([...(await storage.snoozedTopics(SVC, 'pk-1', T0))].sort()).toEqual(['long-ago', 'with-reason']);
        expect((await storage.snoozedTopics(SVC, 'pk-unknown', T0)).size).toBe(0);
      });
    });

    describe('purge', () => {
      it('deletes expired replay keys and cards older than the retention, with their feedback', async () => {
        const P = T0 + 1000 * DAY;
        expect(await storage.rememberJti('iss-purge', 'old', P - 1, P - HOUR, 10)).toBe('stored');
        expect(await storage.rememberJti('iss-purge', 'live', P + HOUR, P - HOUR, 10)).toBe('stored');
        await storage.recordServedCards([
          card('p-old', { service: 'purge-svc', servedAt: P - 2 * DAY, suggestionUuids: ['s'] }),
          card('p-new', { service: 'purge-svc', servedAt: P }),
        ]);
        await storage.recordFeedback([feedback('p-old', { acceptedSuggestions: ['s'] }), feedback('p-new')]);

        const purged = await storage.purge(P, P - DAY);
        expect(purged.replayKeys).toBeGreaterThanOrEqual(1);
        // Every card recorded by earlier tests is older too: all of them go.
        expect(purged.servedCards).toBeGreaterThanOrEqual(1);
        expect([...(await storage.findServedCards(['p-old', 'p-new'])).keys()]).toEqual(['p-new']);
        const report = await cardOutcomes(storage, { service: 'purge-svc', since: 0, until: P + DAY });
        expect(report.topics).toMatchObject([{ served: 1, accepted: 1 }]);
        // The purged key can be used again; the live one is still a replay.
        expect(await storage.rememberJti('iss-purge', 'live', P + HOUR, P, 10)).toBe('replay');
        expect(await storage.purge(P, P - DAY)).toEqual({ replayKeys: 0, servedCards: 0 });
      });
    });

    it('keeps everything across a close and reopen', async () => {
      await storage.recordServedCards([card('d-1', { servedAt: T0 + 2000 * DAY })]);
      await storage.recordFeedback([feedback('d-1')]);
      await storage.rememberJti('iss-durable', 'j', T0 + 3000 * DAY, T0, 10);
      await storage.close();
      storage = await backend.open();
      expect((await storage.findServedCards(['d-1'])).size).toBe(1);
      expect(await storage.recordFeedback([feedback('d-1')])).toBe(0);
      expect(await storage.rememberJti('iss-durable', 'j', T0 + 3000 * DAY, T0, 10)).toBe('replay');
    });
  });
}

storageSuite('sqlite', describe, sqliteBackend);
storageSuite('postgres', describeWithPostgres, postgresBackend);

describe('migrations', () => {
  it('are numbered 1..n without gaps', () => {
    expect(MIGRATIONS.map((m) => m.version)).toEqual(Array.from({ length: LATEST_VERSION }, (_, i) => i + 1));
  });

  it('pending = not yet applied; a database newer than the code is refused', () => {
    expect(pendingMigrations([]).map((m) => m.version)).toEqual(MIGRATIONS.map((m) => m.version));
    expect(pendingMigrations([LATEST_VERSION])).toHaveLength(LATEST_VERSION - 1);
    expect(() => pendingMigrations([LATEST_VERSION + 1])).toThrow(/newer than this release/);
  });

  it('a SQLite database from a newer release does not start', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cds-storage-newer-'));
    try {
      const s = openSqliteStorage(dir);
      void s.close();
      // Mark a future version as applied, as a newer release would.
      const Database = require('better-sqlite3') as typeof import('better-sqlite3');
      const db = new Database(path.join(dir, 'iph-cds.sqlite'));
      db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(LATEST_VERSION + 1, 'future', 0);
      db.close();
      expect(() => openSqliteStorage(dir)).toThrow(/newer than this release/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('PostgreSQL helpers', () => {
  it('numbers ? placeholders in order', () => {
    expect(numbered('SELECT ? , ?, (?)')).toBe('SELECT $1 , $2, ($3)');
  });

  it('keeps the password out of messages', () => {
    expect(redactDatabaseUrl('postgres://cds:s3cret@db.example:5432/cds')).toBe('postgres://cds:***@db.example:5432/cds');
    expect(redactDatabaseUrl('not a url')).not.toContain('not a url');
  });

  it('a server that does not answer fails the start with a message naming the server, not the password', async () => {
    await expect(openPostgresStorage('postgres://cds:s3cret@127.0.0.1:1/cds')).rejects.toThrow(/PostgreSQL at postgres:\/\/cds:\*\*\*@127\.0\.0\.1:1\/cds/);
  });
});

describe('readStorageSettings', () => {
  const KEY = 'k'.repeat(32);

  it('defaults: SQLite in ./data, 400 days retention, snoozing off, 100000 live jtis per issuer', () => {
    expect(readStorageSettings({}, false)).toEqual({
      backend: 'sqlite',
      dataDir: path.resolve('data'),
      retentionDays: 400,
      snoozeDays: 0,
      replayQuotaPerIssuer: 100_000,
    });
  });

  it('CDS_DATABASE_URL selects PostgreSQL; other variables are read and checked', () => {
    const s = readStorageSettings(
      { CDS_DATABASE_URL: 'postgres://u:p@db:5432/cds', CDS_DATA_DIR: '/var/lib/iph', CDS_RETENTION_DAYS: '30', CDS_SNOOZE_DAYS: '7', CDS_REPLAY_QUOTA: '50', CDS_PSEUDONYM_KEY: KEY },
      true,
    );
    expect(s).toEqual({ backend: 'postgres', dataDir: '/var/lib/iph', databaseUrl: 'postgres://u:p@db:5432/cds', retentionDays: 30, snoozeDays: 7, replayQuotaPerIssuer: 50, pseudonymKey: KEY });
  });

  it.each([
    [{ CDS_DATABASE_URL: 'mysql://db/cds' }, /postgres:\/\//],
    [{ CDS_DATABASE_URL: 'postgres://db' }, /name the database/],
    [{ CDS_DATABASE_URL: 'nonsense' }, /must be a URL/],
    [{ CDS_RETENTION_DAYS: '0' }, /CDS_RETENTION_DAYS/],
    [{ CDS_SNOOZE_DAYS: '-1' }, /CDS_SNOOZE_DAYS/],
    [{ CDS_REPLAY_QUOTA: '1e3' }, /CDS_REPLAY_QUOTA/],
    [{ CDS_PSEUDONYM_KEY: 'short' }, /CDS_PSEUDONYM_KEY must be 32/],
  ])('refuses %j', (env, message) => {
    expect(() => readStorageSettings(env, false)).toThrow(message);
  });

  it('production requires CDS_PSEUDONYM_KEY', () => {
    expect(() => readStorageSettings({}, true)).toThrow(/CDS_PSEUDONYM_KEY must be set in production/);
    expect(readStorageSettings({ CDS_PSEUDONYM_KEY: KEY }, true).pseudonymKey).toBe(KEY);
  });
});

describe('patient pseudonym', () => {
  it('is a keyed HMAC: stable per key, different across keys, never the id', () => {
    const a = createPseudonymizer('a'.repeat(32));
    const b = createPseudonymizer('b'.repeat(32));
    expect(a('patient-123')).toBe(a('patient-123'));
    expect(a('patient-123')).toMatch(/^[0-9a-f]{64}$/);
    expect(a('patient-123')).not.toBe(b('patient-123'));
    expect(a('patient-123')).not.toBe(a('patient-124'));
  });

  it('without a configured key, development generates one in the data directory and reuses it', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cds-pseudonym-'));
    try {
      const settings = readStorageSettings({ CDS_DATA_DIR: path.join(dir, 'nested') }, false);
      const first = resolvePseudonymKey(settings);
      expect(first).toMatch(/^[0-9a-f]{64}$/);
      expect(resolvePseudonymKey(settings)).toBe(first);
      expect(readFileSync(path.join(dir, 'nested', 'pseudonym.key'), 'utf8')).toBe(first);
      expect(resolvePseudonymKey({ ...settings, pseudonymKey: 'c'.repeat(32) })).toBe('c'.repeat(32));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
