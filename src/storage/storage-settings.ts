// Storage configuration from the environment: the back end (SQLite in CDS_DATA_DIR, or PostgreSQL when
// CDS_DATABASE_URL is set), retention, snoozing, the per-issuer replay quota and the pseudonym key.
import path from 'node:path';
import type { StorageBackend } from './storage';

export interface StorageSettings {
  readonly backend: StorageBackend;
  /** SQLite file and the development pseudonym key live here (absolute). */
  readonly dataDir: string;
  readonly databaseUrl?: string;
  readonly retentionDays: number;
  /** 0 = snoozing off. */
  readonly snoozeDays: number;
  readonly replayQuotaPerIssuer: number;
  /** HMAC key of the patient pseudonym; required in production, generated and kept in dataDir otherwise. */
  readonly pseudonymKey?: string;
}

type Env = NodeJS.ProcessEnv;

export const MIN_PSEUDONYM_KEY_LENGTH = 32;
const MAX_SECRET_LENGTH = 512;

function wholeNumber(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = env[name]?.trim();
  if (!raw) return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new Error(`${name} must be a whole number from ${min} to ${max}, got "${raw.slice(0, 40)}"`);
  }
  return Number(raw);
}

function databaseUrl(raw: string): string {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new Error('CDS_DATABASE_URL must be a URL like postgres://user:password@host:5432/database');
  }
  if (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:') {
    throw new Error(`CDS_DATABASE_URL must start with postgres:// or postgresql://, got "${url.protocol}//..."`);
  }
  if (url.pathname.length <= 1) throw new Error('CDS_DATABASE_URL must name the database (postgres://host/database)');
  return raw;
}

/** Reads CDS_DATA_DIR, CDS_DATABASE_URL, CDS_RETENTION_DAYS, CDS_SNOOZE_DAYS, CDS_REPLAY_QUOTA, CDS_PSEUDONYM_KEY. */
export function readStorageSettings(env: Env, production: boolean): StorageSettings {
  const rawUrl = env.CDS_DATABASE_URL?.trim() ?? '';
  const key = env.CDS_PSEUDONYM_KEY ?? '';
  if (key !== '' && (key.length < MIN_PSEUDONYM_KEY_LENGTH || key.length > MAX_SECRET_LENGTH || /\s/.test(key))) {
    throw new Error(`CDS_PSEUDONYM_KEY must be ${MIN_PSEUDONYM_KEY_LENGTH} to ${MAX_SECRET_LENGTH} characters without spaces (e.g. openssl rand -hex 32)`);
  }
  if (key === '' && production) {
    throw new Error('CDS_PSEUDONYM_KEY must be set in production (a random secret, the same on every instance; e.g. openssl rand -hex 32)');
  }
  return Object.freeze({
    backend: rawUrl === '' ? 'sqlite' : 'postgres',
    dataDir: path.resolve(env.CDS_DATA_DIR?.trim() || 'data'),
    ...(rawUrl !== '' ? { databaseUrl: databaseUrl(rawUrl) } : {}),
    retentionDays: wholeNumber(env, 'CDS_RETENTION_DAYS', 400, 1, 36_500),
    snoozeDays: wholeNumber(env, 'CDS_SNOOZE_DAYS', 0, 0, 3650),
    replayQuotaPerIssuer: wholeNumber(env, 'CDS_REPLAY_QUOTA', 100_000, 1, 100_000_000),
    ...(key !== '' ? { pseudonymKey: key } : {}),
  });
}
