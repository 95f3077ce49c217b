// PostgreSQL for tests: CDS_TEST_DATABASE_URL names a server (set by .ci/run); each test file works in its own
// freshly created schema and drops exactly that schema afterwards. Without a server the PostgreSQL tests skip,
// except in CI (CI=true), where a missing server is a failure.
import { randomBytes } from 'node:crypto';
import pg from 'pg';

export const TEST_DATABASE_URL = process.env.CDS_TEST_DATABASE_URL?.trim() || undefined;
export const IN_CI = process.env.CI === 'true';

if (TEST_DATABASE_URL === undefined && !IN_CI) {
  console.warn('CDS_TEST_DATABASE_URL is not set: the PostgreSQL tests are skipped (.ci/run sets it up).');
}

export interface TestSchema {
  /** The database URL with search_path set to the schema. */
  url: string;
  drop(): Promise<void>;
}

/** Creates `cds_test_<random>` and returns a URL whose connections use it. */
export async function createTestSchema(): Promise<TestSchema> {
  if (TEST_DATABASE_URL === undefined) {
    throw new Error('CDS_TEST_DATABASE_URL is not set, but CI=true: the PostgreSQL suite must run in CI (see .ci/run)');
  }
  const schema = `cds_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: TEST_DATABASE_URL });
  await admin.connect();
  try {
    await admin.query(`CREATE SCHEMA ${schema}`);
  } finally {
    await admin.end();
  }
  const url = new URL(TEST_DATABASE_URL);
  url.searchParams.set('options', `-c search_path=${schema}`);
  return {
    url: url.toString(),
    async drop() {
      const c = new pg.Client({ connectionString: TEST_DATABASE_URL });
      await c.connect();
      try {
        await c.query(`DROP SCHEMA ${schema} CASCADE`);
      } finally {
        await c.end();
      }
    },
  };
}

/** `describe` for the PostgreSQL variants: runs with a server, skips without one, and runs (to fail) in CI. */
export const describeWithPostgres: jest.Describe = TEST_DATABASE_URL !== undefined || IN_CI ? describe : describe.skip;
