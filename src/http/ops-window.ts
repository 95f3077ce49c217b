// The reporting window of the operator routes: `since` and `until` as RFC 3339 date-times or UTC dates. A date
// `until` includes that whole day; the default is the last 30 days.
import { HttpError } from '../errors';
import { DAY_MS } from '../storage/open-storage';

export const DEFAULT_WINDOW_DAYS = 30;
const MAX_PARAM_LENGTH = 64;
const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DATE_TIME = /^(\d{4})-(\d{2})-(\d{2})T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:\d{2})$/i;

export interface OpsWindow {
  service?: string;
  since: number;
  until: number;
}

function single(query: Record<string, unknown>, name: string): string | undefined {
  const value = query[name];
  if (value === undefined || value === '') return undefined;
  if (typeof value !== 'string' || value.length > MAX_PARAM_LENGTH) {
    throw new HttpError(400, { code: 'invalid', diagnostics: `${name} must be given once, at most ${MAX_PARAM_LENGTH} characters`, expression: [name] });
  }
  return value;
}

/** Date.parse rolls 2021-02-30 over to March 2; a real calendar date survives the round trip. */
function isCalendarDate(year: number, month: number, day: number): boolean {
  const d = new Date(Date.UTC(year, month - 1, day));
  return d.getUTCMonth() === month - 1 && d.getUTCDate() === day;
}

function instant(name: string, raw: string, endOfDay: boolean): number {
  const dateOnly = DATE_ONLY.exec(raw);
  const m = dateOnly ?? DATE_TIME.exec(raw);
  const ms = m === null ? NaN : Date.parse(dateOnly ? `${raw}T00:00:00Z` : raw);
  if (m === null || !Number.isFinite(ms) || !isCalendarDate(Number(m[1]), Number(m[2]), Number(m[3]))) {
    throw new HttpError(400, { code: 'invalid', diagnostics: `${name} must be a date (2026-11-30) or an RFC 3339 date-time with a time zone`, expression: [name] });
  }
  return dateOnly && endOfDay ? ms + DAY_MS : ms;
}

/** Reads service/since/until from a query; the service must be one of `services`. */
export function readOpsWindow(query: Record<string, unknown>, services: ReadonlySet<string>, now: number): OpsWindow {
  const service = single(query, 'service');
  if (service !== undefined && !services.has(service)) {
    throw new HttpError(400, { code: 'invalid', diagnostics: `service: no CDS service with id "${service}"`, expression: ['service'] });
  }
  const rawUntil = single(query, 'until');
  const rawSince = single(query, 'since');
  const until = rawUntil === undefined ? now : instant('until', rawUntil, true);
  const since = rawSince === undefined ? until - DEFAULT_WINDOW_DAYS * DAY_MS : instant('since', rawSince, false);
  if (since >= until) throw new HttpError(400, { code: 'invalid', diagnostics: 'since must be before until', expression: ['since', 'until'] });
  return { ...(service !== undefined ? { service } : {}), since, until };
}
