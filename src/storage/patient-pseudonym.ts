// The pseudonymous patient key stored with served cards: HMAC-SHA256 of the patient id under CDS_PSEUDONYM_KEY.
// Without the key nobody can link a stored row to a patient id, not even by trying every medical record number.
import { createHmac, randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { MIN_PSEUDONYM_KEY_LENGTH, type StorageSettings } from './storage-settings';

export type Pseudonymize = (patientId: string) => string;

export const DEVELOPMENT_KEY_FILE = 'pseudonym.key';

export function createPseudonymizer(key: string): Pseudonymize {
  return (patientId) => createHmac('sha256', key).update(patientId, 'utf8').digest('hex');
}

/**
 * The configured key, or (development only; production refuses to start without one) a random key generated once
 * in the data directory. Written to a private file first, then linked into place (atomic, fails if the key exists):
 * workers starting together all read the same complete key.
 */
export function resolvePseudonymKey(settings: StorageSettings): string {
  if (settings.pseudonymKey !== undefined) return settings.pseudonymKey;
  const file = path.join(settings.dataDir, DEVELOPMENT_KEY_FILE);
  mkdirSync(settings.dataDir, { recursive: true, mode: 0o700 });
  const draft = `${file}.${process.pid}.${randomBytes(4).toString('hex')}`;
  writeFileSync(draft, randomBytes(32).toString('hex'), { flag: 'wx', mode: 0o600 });
  try {
    linkSync(draft, file);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'EEXIST') throw e;
  } finally {
    unlinkSync(draft);
  }
  const key = readFileSync(file, 'utf8').trim();
  if (key.length < MIN_PSEUDONYM_KEY_LENGTH) throw new Error(`${file} holds no usable pseudonym key; delete it to generate a new one`);
  return key;
}
