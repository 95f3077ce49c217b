// Test-only FHIR query evaluator for golden prefetch: renders CDS Hooks prefetch tokens and answers the
// instance reads and searches clinical-rules §6 allows over a patient's resources. Written apart from the
// product's fhir-client/fhir-search so a bug there cannot silently change every golden case's input.
import type { Bundle, FhirResource } from 'fhir/r4';

type Json = Record<string, unknown>;

/** Replaces {{context.x}} and the CDS Hooks user tokens; a token it cannot fill throws. */
export function renderTokens(template: string, context: Record<string, unknown>): string {
  return template.replace(/\{\{\s*([^}]*?)\s*\}\}/g, (_m, token: string) => {
    const userId = typeof context.userId === 'string' ? context.userId : undefined;
    const userTokens: Record<string, string> = { userPractitionerId: 'Practitioner', userPractitionerRoleId: 'PractitionerRole', userPatientId: 'Patient', userRelatedPersonId: 'RelatedPerson' };
    if (token.startsWith('context.')) {
      const value = context[token.slice('context.'.length)];
      if (typeof value === 'string') return value;
    } else if (token in userTokens && userId?.startsWith(`${userTokens[token]}/`)) {
      return userId.slice(userId.indexOf('/') + 1);
    }
    throw new Error(`prefetch token {{${token}}} cannot be rendered from the context`);
  });
}

/** The CodeableConcept a `code` search reads, by resource type. */
const CODE_ELEMENT: Record<string, string> = {
  Observation: 'code',
  Condition: 'code',
  Procedure: 'code',
  ServiceRequest: 'code',
  DiagnosticReport: 'code',
  MedicationRequest: 'medicationCodeableConcept',
};

/** The element a `date` search reads (R4 search parameter `date`), by resource type. */
const DATE_ELEMENTS: Record<string, string[]> = {
  Observation: ['effectiveDateTime', 'effectivePeriod', 'effectiveInstant', 'issued'],
  DiagnosticReport: ['effectiveDateTime', 'effectivePeriod'],
  Procedure: ['performedDateTime', 'performedPeriod'],
};

function codings(concept: unknown): Json[] {
  if (Array.isArray(concept)) return concept.flatMap(codings);
  if (!concept || typeof concept !== 'object') return [];
  return ((concept as Json).coding as Json[] | undefined) ?? [];
}

/** Whether a token list value (`system|code`, `|code` or `code`, comma-separated) matches a coding. */
function tokenMatches(tokens: string[], concept: unknown): boolean {
  return codings(concept).some((c) =>
    tokens.some((t) => {
      const bar = t.indexOf('|');
      if (bar < 0) return c.code === t;
      const system = t.slice(0, bar);
      return c.code === t.slice(bar + 1) && (system === '' ? c.system === undefined : c.system === system);
    }),
  );
}

/** Latest instant a FHIR date/dateTime/instant can denote (a partial date covers its whole span). */
function upperBound(value: string): number {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(value);
  if (!m) return Date.parse(value);
  const [y, mo, d] = [Number(m[1]), m[2] ? Number(m[2]) : undefined, m[3] ? Number(m[3]) : undefined];
  if (mo === undefined) return Date.UTC(y + 1, 0, 1) - 1;
  if (d === undefined) return Date.UTC(y, mo, 1) - 1;
  return Date.UTC(y, mo - 1, d + 1) - 1;
}

function lowerBound(value: string): number {
  const m = /^(\d{4})(?:-(\d{2})(?:-(\d{2}))?)?$/.exec(value);
  if (!m) return Date.parse(value);
  return Date.UTC(Number(m[1]), m[2] ? Number(m[2]) - 1 : 0, m[3] ? Number(m[3]) : 1);
}

/** `date=geX`: some date element of the resource reaches on or after X. */
function dateMatches(resource: Json, type: string, value: string): boolean {
  const bound = /^ge(.+)$/.exec(value)?.[1];
  if (bound === undefined) throw new Error(`date search "${value}" is not a ge comparison`);
  const from = lowerBound(bound);
  if (Number.isNaN(from)) throw new Error(`date search "${value}" has no readable date`);
  for (const element of DATE_ELEMENTS[type] ?? []) {
    const v = resource[element];
    if (typeof v === 'string') return upperBound(v) >= from;
    if (v && typeof v === 'object') {
      const p = v as { start?: string; end?: string };
      if (p.end === undefined) return p.start !== undefined;
      return upperBound(p.end) >= from;
    }
  }
  return false;
}

function referenceMatches(resource: Json, value: string): boolean {
  const want = value.includes('/') ? value : `Patient/${value}`;
  return ['subject', 'patient'].some((k) => ((resource[k] as Json | undefined)?.reference as string | undefined) === want);
}

type Filter = (resource: Json) => boolean;

function filterFor(type: string, name: string, value: string): Filter | undefined {
  const list = value.split(',');
  switch (name) {
    case 'patient':
    case 'subject':
      return (r) => referenceMatches(r, value);
    case 'code': {
      const element = CODE_ELEMENT[type];
      if (!element) throw new Error(`code search is not supported on ${type}`);
      return (r) => tokenMatches(list, r[element]);
    }
    case 'category':
      return (r) => tokenMatches(list, r.category);
    case 'status':
      return (r) => typeof r.status === 'string' && list.includes(r.status);
    case 'clinical-status':
      if (type !== 'Condition') throw new Error(`clinical-status search is not supported on ${type}`);
      return (r) => tokenMatches(list, r.clinicalStatus);
    case 'date':
      if (!DATE_ELEMENTS[type]) throw new Error(`date search is not supported on ${type}`);
      return (r) => dateMatches(r, type, value);
    case '_count':
    case '_sort':
      return undefined; // paging and order do not change which resources a prefetch holds
    default:
      throw new Error(`search parameter "${name}" is not one clinical-rules §6 allows`);
  }
}

/** Answers a rendered prefetch query: `Type/id` (null when absent) or `Type?params` (a searchset Bundle). */
export function runQuery(resources: readonly FhirResource[], query: string): Bundle | FhirResource | null {
  const read = /^([A-Z][A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(query);
  if (read) return resources.find((r) => r.resourceType === read[1] && r.id === read[2]) ?? null;
  const search = /^([A-Z][A-Za-z]+)(?:\?(.*))?$/.exec(query);
  if (!search) throw new Error(`prefetch query "${query}" is neither a read nor a search`);
  const type = search[1] as string;
  const filters: Filter[] = [];
  for (const part of (search[2] ?? '').split('&').filter(Boolean)) {
    const eq = part.indexOf('=');
    if (eq <= 0) throw new Error(`search parameter "${part}" has no value`);
    const name = decodeURIComponent(part.slice(0, eq));
    const value = decodeURIComponent(part.slice(eq + 1));
    const f = filterFor(type, name, value);
    if (f) filters.push(f);
  }
  const matches = resources.filter((r) => r.resourceType === type && filters.every((f) => f(r as unknown as Json)));
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matches.length,
    entry: matches.map((resource) => ({ fullUrl: `${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } })),
  };
}
