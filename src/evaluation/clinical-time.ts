// Dates as the clinical contract reads them (clinical-rules §2): partial dates are their first instant,
// dates without an offset are UTC, and each resource type has one "clinical date".
type Json = Record<string, unknown>;

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d+))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** Epoch milliseconds of a FHIR date/dateTime/instant string, or undefined when it is not one. */
export function parseFhirDate(text: unknown): number | undefined {
  if (typeof text !== 'string') return undefined;
  const m = DATE_RE.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo = '01', d = '01', h = '00', mi = '00', s = '00', frac = '0', tz] = m;
  const ms = Math.round(Number(`0.${frac}`) * 1000);
  let t = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (tz && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    t -= sign * (Number(tz.slice(1, 3)) * 60 + Number(tz.slice(4, 6))) * 60_000;
  }
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
