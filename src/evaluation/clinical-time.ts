// Dates as the clinical contract reads them (clinical-rules §2): partial dates are their first instant,
// dates without an offset are UTC, and each resource type has one "clinical date".
import { MAX_DATE_LENGTH } from '../limits';

type Json = Record<string, unknown>;

/** The digits of `s` from `at` to `at + n` as a number, or -1 when any of them is not 0-9. */
function digits(s: string, at: number, n: number): number {
  if (at + n > s.length) return -1;
  let v = 0;
  for (let i = at; i < at + n; i++) {
    const c = s.charCodeAt(i) - 48;
    if (c < 0 || c > 9) return -1;
    v = v * 10 + c;
  }
  return v;
}

/**
 * Epoch milliseconds of a FHIR date/dateTime/instant string, or undefined when it is not one: YYYY[-MM[-DD[Thh:mm
 * [:ss[.fff]][Z|±hh:mm]]]] (digits unchecked for range, as Date.UTC rolls them over). Hand-written rather than a
 * regular expression: every dated resource of a request is parsed once, and the match arrays were a visible share
 * of the request's allocations.
 */
export function parseFhirDate(text: unknown): number | undefined {
  if (typeof text !== 'string' || text.length > MAX_DATE_LENGTH) return undefined;
  const s = text.trim();
  const n = s.length;
  const y = n >= 4 ? digits(s, 0, 4) : -1;
  if (y < 0) return undefined;
  let mo = 1, d = 1, h = 0, mi = 0, sec = 0, ms = 0, offsetMin = 0;
  let at = 4;
  if (at < n) {
    if (s[at] !== '-' || (mo = digits(s, at + 1, 2)) < 0) return undefined;
    at += 3;
    if (at < n) {
      if (s[at] !== '-' || (d = digits(s, at + 1, 2)) < 0) return undefined;
      at += 3;
      if (at < n) {
        if (s[at] !== 'T' || (h = digits(s, at + 1, 2)) < 0 || s[at + 3] !== ':' || (mi = digits(s, at + 4, 2)) < 0) return undefined;
        at += 6;
        if (s[at] === ':') {
          if ((sec = digits(s, at + 1, 2)) < 0) return undefined;
          at += 3;
          if (s[at] === '.') {
            const from = at + 1;
            at = from;
            while (at < n && s.charCodeAt(at) >= 48 && s.charCodeAt(at) <= 57) at++;
            if (at === from) return undefined;
            ms = Math.round(Number(`0.${s.slice(from, at)}`) * 1000);
          }
        }
        if (s[at] === 'Z') at += 1;
        else if (s[at] === '+' || s[at] === '-') {
          const sign = s[at] === '-' ? -1 : 1;
          const oh = digits(s, at + 1, 2);
          const om = oh < 0 || s[at + 3] !== ':' ? -1 : digits(s, at + 4, 2);
          if (om < 0) return undefined;
          offsetMin = sign * (oh * 60 + om);
          at += 6;
        }
        if (at !== n) return undefined;
      }
    }
  }
  const t = Date.UTC(y, mo - 1, d, h, mi, sec, ms) - offsetMin * 60_000;
  return Number.isFinite(t) ? t : undefined;
}

function periodDate(p: unknown, preferEnd: boolean): unknown {
  if (!p || typeof p !== 'object') return undefined;
  const { start, end } = p as { start?: unknown; end?: unknown };
  return preferEnd ? (end ?? start) : (start ?? end);
}

// Resources are request data, read many times per request: remember each one's date while the object lives.
const dateCache = new WeakMap<object, number | null>();

/** The clinical date of a resource (clinical-rules §2), as epoch ms; undefined when undated. */
export function clinicalDateOf(resource: Json): number | undefined {
  const hit = dateCache.get(resource);
  if (hit !== undefined) return hit ?? undefined;
  const t = computeClinicalDate(resource);
  dateCache.set(resource, t ?? null);
  return t;
}

function computeClinicalDate(resource: Json): number | undefined {
  let raw: unknown;
  switch (resource.resourceType) {
    case 'Condition':
      raw = resource.onsetDateTime ?? (resource.onsetPeriod as Json | undefined)?.start ?? resource.recordedDate;
      break;
    case 'Observation':
    case 'DiagnosticReport':
      raw = resource.effectiveDateTime ?? resource.effectiveInstant ?? periodDate(resource.effectivePeriod, true) ?? resource.issued;
      break;
    case 'Procedure':
      raw = resource.performedDateTime ?? periodDate(resource.performedPeriod, true);
      break;
    case 'ServiceRequest':
    case 'MedicationRequest':
      raw = resource.authoredOn;
      break;
    case 'NutritionOrder':
      raw = resource.dateTime;
      break;
    default:
      raw = undefined;
  }
  return parseFhirDate(raw);
}

/** Completed calendar months between a birth date and an instant (UTC). */
export function completedMonths(birth: number, at: number): number {
  const b = new Date(birth);
  const a = new Date(at);
  let months = (a.getUTCFullYear() - b.getUTCFullYear()) * 12 + (a.getUTCMonth() - b.getUTCMonth());
  const bRest = ((b.getUTCDate() * 24 + b.getUTCHours()) * 60 + b.getUTCMinutes()) * 60_000 + b.getUTCSeconds() * 1000 + b.getUTCMilliseconds();
  const aRest = ((a.getUTCDate() * 24 + a.getUTCHours()) * 60 + a.getUTCMinutes()) * 60_000 + a.getUTCSeconds() * 1000 + a.getUTCMilliseconds();
  if (aRest < bRest) months -= 1;
  return months;
}

export function isoDay(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10);
}
