// A demo that never ages: each fixture patient's dates are shifted by whole days so that the `now` of that patient's
// golden case falls on the demo's day (today, or DEMO_NOW). The fixtures on disk are never changed.
import fs from 'node:fs';
import path from 'node:path';
import type { FhirResource } from 'fhir/r4';

export interface DemoCase {
  service: string;
  name: string;
  now: string;
  expected: { topic: string; indicator?: string }[];
}

const DAY_MS = 86_400_000;
// FHIR date, dateTime and instant: YYYY, YYYY-MM, YYYY-MM-DD, then an optional time and zone kept as written.
const FHIR_DATE = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?(T[0-9:.]+(?:Z|[+-]\d{2}:\d{2})?)?$/;
// Elements that hold a date in the resources the fixtures use (R4 names): birthDate, issued, recordedDate, authoredOn,
// Period.start/end, meta.lastUpdated, and every *DateTime / *Date / *Instant choice (effectiveDateTime, onsetDateTime...).
const DATE_KEY = /^(?:birthDate|issued|recordedDate|authoredOn|date|dateTime|start|end|lastUpdated|[a-z]+DateTime|[a-z]+Date|[a-z]+Instant)$/;

/** Case data that the sandbox reproduces: the patient's own data, no request overrides. */
function reproducible(data: Record<string, unknown>): boolean {
  return typeof data.patient === 'string' && typeof data.now === 'string' && !data.request && !data.prefetch && !data.omitPrefetch && !data.context;
}

/**
 * The golden case that stands for each patient: a reproducible patient-view case first (what the sandbox opens),
 * then any other case; the first by file name.
 */
export function demoCases(casesDir: string): Map<string, DemoCase> {
  const candidates: (DemoCase & { patient: string; rank: number })[] = [];
  for (const service of fs.readdirSync(casesDir).sort()) {
    const dir = path.join(casesDir, service);
    if (!fs.statSync(dir).isDirectory()) continue;
    for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.json')).sort()) {
      const data = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Record<string, unknown>;
      if (typeof data.patient !== 'string' || typeof data.now !== 'string') continue;
      const expect = data.expect as { cards?: { topic: string; indicator?: string }[] } | undefined;
      const rank = (reproducible(data) ? 0 : 2) + (service === 'iph-patient-view' ? 0 : 1);
      candidates.push({ patient: data.patient, service, name: file.replace(/\.json$/, ''), now: data.now, expected: expect?.cards ?? [], rank });
    }
  }
  candidates.sort((a, b) => a.rank - b.rank);
  const out = new Map<string, DemoCase>();
  for (const { patient, rank: _rank, ...c } of candidates) if (!out.has(patient)) out.set(patient, c);
  return out;
}

/** Whole days from the case's `now` to the demo's day (both taken as UTC calendar days). */
export function shiftDays(caseNow: string, demoNow: number): number {
  const from = Date.parse(caseNow.slice(0, 10));
  const to = Date.parse(new Date(demoNow).toISOString().slice(0, 10));
  return Math.round((to - from) / DAY_MS);
}

function shiftDate(value: string, days: number): string {
  const m = FHIR_DATE.exec(value);
  if (!m) return value;
  const [, y, mo, d, time = ''] = m;
  if (d !== undefined) {
    const shifted = new Date(Date.UTC(Number(y), Number(mo) - 1, Number(d)) + days * DAY_MS).toISOString().slice(0, 10);
    return `${shifted}${time}`;
  }
  // Partial dates move by the nearest whole month or year.
  if (mo !== undefined) {
    const months = Number(y) * 12 + Number(mo) - 1 + Math.round(days / 30.44);
    return `${String(Math.floor(months / 12)).padStart(4, '0')}-${String((months % 12) + 1).padStart(2, '0')}`;
  }
  return String(Number(y) + Math.round(days / 365.25)).padStart(4, '0');
}

function shiftValue(value: unknown, days: number, key: string | undefined): unknown {
  if (typeof value === 'string') return key !== undefined && DATE_KEY.test(key) ? shiftDate(value, days) : value;
  if (Array.isArray(value)) return value.map((v) => shiftValue(v, days, key));
  if (typeof value === 'object' && value !== null) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, shiftValue(v, days, k)]));
  }
  return value;
}

/** A copy of `resource` with every date moved by `days`. */
export function shiftResourceDates<T extends FhirResource>(resource: T, days: number): T {
  return days === 0 ? resource : (shiftValue(resource, days, undefined) as T);
}
