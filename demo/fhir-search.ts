// In-memory FHIR R4 read and search over a list of resources: the small, exact subset of search the
// prefetch templates may use (clinical-rules §6). Shared by the demo FHIR server and the golden-test
// runner, so both see what a real FHIR server would return for the same query.
import type { Bundle, BundleEntry, BundleLink, CodeableConcept, Coding, FhirResource, OperationOutcome, Period } from 'fhir/r4';
import { operationOutcome, type IssueInput } from '../src/errors';

export type SearchResult =
  | { status: 200; body: FhirResource | Bundle }
  | { status: 400 | 404; body: OperationOutcome };

export interface SearchOptions {
  /**
   * Absolute FHIR base URL (e.g. `http://127.0.0.1:8081/fhir`). When given, entries get absolute
   * `fullUrl`s, the result is paged (`_offset` becomes a known parameter) and carries self/next/previous links.
   */
  baseUrl?: string;
  /** Page size when the query has no `_count` (only with `baseUrl`; default 50). */
  defaultCount?: number;
  /** Largest page size honoured (only with `baseUrl`; default 1000). */
  maxCount?: number;
}

export type SearchParamName = '_id' | 'patient' | 'code' | 'category' | 'status' | 'clinical-status' | 'date';

/** A resource seen through loose eyes: the search code reads elements that not every type declares. */
type LooseResource = FhirResource & Record<string, unknown>;

interface DateRange {
  low: number;
  high: number;
}

const RESOURCE_TYPE = /^[A-Z][A-Za-z]{1,63}$/;
const RESOURCE_ID = /^[A-Za-z0-9\-.]{1,64}$/;

/** Per-type search parameters; other types get `UNKNOWN_TYPE_PARAMS`. */
const TYPE_PARAMS: Record<string, readonly SearchParamName[]> = {
  Patient: ['_id'],
  Observation: ['_id', 'patient', 'code', 'category', 'status', 'date'],
  Condition: ['_id', 'patient', 'code', 'category', 'clinical-status', 'date'],
  DiagnosticReport: ['_id', 'patient', 'code', 'category', 'status', 'date'],
  Procedure: ['_id', 'patient', 'code', 'category', 'status', 'date'],
  ServiceRequest: ['_id', 'patient', 'code', 'category', 'status', 'date'],
  MedicationRequest: ['_id', 'patient', 'code', 'category', 'status'],
  NutritionOrder: ['_id', 'patient', 'code', 'status', 'date'],
  Medication: ['_id', 'code', 'status'],
};
const UNKNOWN_TYPE_PARAMS: readonly SearchParamName[] = ['_id', 'patient', 'status'];

// ---------------------------------------------------------------------------------------------
// Public API

/** The search parameters `type` supports besides `_count` and `_sort` (for a CapabilityStatement). */
export function searchParamsOf(type: string): readonly SearchParamName[] {
  return TYPE_PARAMS[type] ?? UNKNOWN_TYPE_PARAMS;
}

/**
 * Runs `query` (relative: `Type/id` or `Type?params`) against `resources`. Without `options.baseUrl`
 * the whole match set is returned, cut to `_count` when given (what a client that follows every
 * page would see, or the first page when the template asks for `_count`).
 */
export function searchResources(resources: FhirResource[], query: string, options: SearchOptions = {}): SearchResult {
  const parsed = parseQuery(query);
  if ('error' in parsed) return badRequest([parsed.error]);
  const { type, id, params } = parsed;

  if (id !== undefined) {
    if (params.length > 0) {
      return badRequest(params.map(([name]) => ({ code: 'not-supported', diagnostics: `Parameter '${name}' is not supported on a read`, expression: [name] })));
    }
    const found = resources.find((r) => r.resourceType === type && r.id === id);
    if (!found) return notFound(`${type}/${id} is not known`);
    return { status: 200, body: structuredClone(found) };
  }

  const plan = planSearch(type, params, options.baseUrl !== undefined);
  if ('errors' in plan) return badRequest(plan.errors);

  let matches = resources.filter((r) => r.resourceType === type && plan.filters.every((f) => f(r as LooseResource)));
  if (plan.sort) matches = sortByDate(matches, plan.sort);

  const full: Bundle = {
    resourceType: 'Bundle',
    type: 'searchset',
    total: matches.length,
    entry: matches.map((r) => toEntry(r, options.baseUrl)),
  };

  if (options.baseUrl === undefined) {
    if (plan.count !== undefined) full.entry = (full.entry ?? []).slice(0, plan.count);
    return { status: 200, body: full };
  }
  const count = Math.min(plan.count ?? options.defaultCount ?? 50, options.maxCount ?? 1000);
  const searchUrl = `${trimSlash(options.baseUrl)}/${type}${plan.echo.length > 0 ? `?${plan.echo}` : ''}`;
  return { status: 200, body: pageBundle(full, searchUrl, plan.offset, count) };
}

/**
 * One page of a complete searchset: entries [offset, offset+count) and `self`/`next`/`previous`
 * links. `searchUrl` is the absolute search URL without `_count`/`_offset` (it may already have a query).
 */
export function pageBundle(bundle: Bundle, searchUrl: string, offset: number, count: number): Bundle {
  const entries = bundle.entry ?? [];
  const start = Math.max(0, Math.min(offset, entries.length));
  const size = Math.max(0, count);
  const pageUrl = (at: number): string => `${searchUrl}${searchUrl.includes('?') ? '&' : '?'}_count=${size}&_offset=${at}`;
  const link: BundleLink[] = [{ relation: 'self', url: pageUrl(start) }];
  if (size > 0 && start + size < entries.length) link.push({ relation: 'next', url: pageUrl(start + size) });
  if (size > 0 && start > 0) link.push({ relation: 'previous', url: pageUrl(Math.max(0, start - size)) });
  return {
    ...bundle,
    total: bundle.total ?? entries.length,
    link,
    entry: entries.slice(start, start + size),
  };
}

// ---------------------------------------------------------------------------------------------
// Query parsing

interface ParsedQuery {
  type: string;
  id?: string;
  params: [string, string][];
}

function parseQuery(query: string): ParsedQuery | { error: IssueInput } {
  const q = query.trim().replace(/^\/+/, '');
  const qMark = q.indexOf('?');
  const path = qMark < 0 ? q : q.slice(0, qMark);
  const search = qMark < 0 ? '' : q.slice(qMark + 1);
  if (path.includes('#') || search.includes('#')) return { error: { code: 'invalid', diagnostics: 'A query cannot contain a fragment' } };

  const segments = path.split('/');
  const type = segments[0] ?? '';
  if (!RESOURCE_TYPE.test(type)) {
    return { error: { code: 'invalid', diagnostics: `'${path}' is not a FHIR read or type-level search` } };
  }
  if (segments.length > 2) return { error: { code: 'not-supported', diagnostics: `Only reads and type-level searches are supported ('${path}')` } };

  const params: [string, string][] = [];
  try {
    for (const [name, value] of new URLSearchParams(search)) params.push([name, value]);
  } catch {
    return { error: { code: 'invalid', diagnostics: 'The query string is not valid' } };
  }

  if (segments.length === 2) {
    const id = decodeSafely(segments[1] ?? '');
    if (id === undefined || !RESOURCE_ID.test(id)) return { error: { code: 'invalid', diagnostics: `'${segments[1] ?? ''}' is not a valid resource id` } };
    return { type, id, params };
  }
  return { type, params };
}

function decodeSafely(s: string): string | undefined {
  try {
    return decodeURIComponent(s);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Search planning: validate every parameter first, then build one predicate per parameter (AND).

type Filter = (r: LooseResource) => boolean;

interface SearchPlan {
  filters: Filter[];
  count?: number;
  offset: number;
  sort?: 'asc' | 'desc';
  /** The non-paging parameters, re-encoded, for paging links. */
  echo: string;
}

function planSearch(type: string, params: [string, string][], paging: boolean): SearchPlan | { errors: IssueInput[] } {
  const allowed = searchParamsOf(type);
  const errors: IssueInput[] = [];
  const filters: Filter[] = [];
  const echo = new URLSearchParams();
  let count: number | undefined;
  let offset = 0;
  let sort: 'asc' | 'desc' | undefined;
  const seen = new Set<string>();

  for (const [name, value] of params) {
    const isRepeat = seen.has(name);
    seen.add(name);

    if (name === '_count' || name === '_sort' || (paging && name === '_offset')) {
      if (isRepeat) {
        errors.push({ code: 'invalid', diagnostics: `Parameter '${name}' may appear only once`, expression: [name] });
        continue;
      }
      if (name === '_sort') {
        if ((value === 'date' || value === '-date') && allowed.includes('date')) {
          sort = value === 'date' ? 'asc' : 'desc';
          echo.append(name, value);
        } else {
          errors.push({ code: 'not-supported', diagnostics: `_sort '${value}' is not supported for ${type} (only 'date' or '-date' where ${type} has a date)`, expression: ['_sort'] });
        }
        continue;
      }
      const n = /^\d{1,9}$/.test(value) ? Number(value) : NaN;
      if (Number.isNaN(n)) {
        errors.push({ code: 'invalid', diagnostics: `Parameter '${name}' must be a non-negative integer, got '${value}'`, expression: [name] });
      } else if (name === '_count') {
        count = n;
      } else {
        offset = n;
      }
      continue;
    }

    if (!(allowed as readonly string[]).includes(name)) {
      errors.push({ code: 'not-supported', diagnostics: `Unknown or unsupported search parameter '${name}' for ${type}`, expression: [name] });
      continue;
    }
    if (value === '') {
      // Treating an empty value as "no filter" would hand out every patient's data.
      errors.push({ code: 'invalid', diagnostics: `Parameter '${name}' has an empty value`, expression: [name] });
      continue;
    }
    echo.append(name, value);
    const built = buildFilter(type, name as SearchParamName, value);
    if ('error' in built) errors.push(built.error);
    else filters.push(built.filter);
  }

  if (errors.length > 0) return { errors };
  return { filters, count, offset, sort, echo: echo.toString() };
}

function buildFilter(type: string, name: SearchParamName, value: string): { filter: Filter } | { error: IssueInput } {
  switch (name) {
    case '_id': {
      const ids = new Set(splitList(value).map(unescape));
      return { filter: (r) => r.id !== undefined && ids.has(r.id) };
    }
    case 'patient': {
      const ids = new Set(splitList(value).map((v) => patientIdOf(unescape(v))).filter((v): v is string => v !== undefined));
      return {
        filter: (r) => {
          const refs = [referenceOf(r.subject), referenceOf(r.patient)];
          return refs.some((ref) => {
            const id = ref === undefined ? undefined : patientIdOf(ref, true);
            return id !== undefined && ids.has(id);
          });
        },
      };
    }
    case 'code': {
      const tokens = parseTokens(value);
      return { filter: (r) => mainCodes(type, r).some((cc) => tokens.some((t) => tokenMatchesConcept(t, cc))) };
    }
    case 'category': {
      const tokens = parseTokens(value);
      return { filter: (r) => asArray(r.category).some((cc) => tokens.some((t) => tokenMatchesConcept(t, cc as CodeableConcept))) };
    }
    case 'status': {
      // `status` is a FHIR `code`: its system is implied, so only the code part of a token counts.
      const codes = new Set(parseTokens(value).map((t) => t.code));
      return { filter: (r) => typeof r.status === 'string' && codes.has(r.status) };
    }
    case 'clinical-status': {
      const tokens = parseTokens(value);
      return { filter: (r) => tokens.some((t) => tokenMatchesConcept(t, r.clinicalStatus as CodeableConcept | undefined)) };
    }
    case 'date': {
      const m = /^(eq|ne|gt|lt|ge|le|sa|eb|ap)?(.*)$/.exec(value);
      const prefix = m?.[1] ?? 'eq';
      if (!['eq', 'gt', 'lt', 'ge', 'le'].includes(prefix)) {
        return { error: { code: 'not-supported', diagnostics: `Date prefix '${prefix}' is not supported (eq, gt, lt, ge, le)`, expression: ['date'] } };
      }
      const param = parseDateRange(m?.[2] ?? '');
      if (!param) return { error: { code: 'invalid', diagnostics: `'${value}' is not a valid date search value`, expression: ['date'] } };
      return {
        filter: (r) => {
          const target = clinicalDateOf(type, r);
          return target !== undefined && compareDates(prefix as DatePrefix, param, target);
        },
      };
    }
    default:
      return { error: { code: 'not-supported', diagnostics: `Unsupported search parameter '${String(name)}'`, expression: [String(name)] } };
  }
}

// ---------------------------------------------------------------------------------------------
// Tokens and references

interface Token {
  /** undefined = any system; '' = no system (`|code`). */
  system?: string;
  /** undefined = any code (`system|`). */
  code?: string;
}

/** Splits on unescaped `,` and unescapes `\,` `\|` `\$` `\\` (FHIR search escaping). */
function splitList(value: string): string[] {
  const out: string[] = [];
  let cur = '';
  for (let i = 0; i < value.length; i++) {
    const c = value[i];
    if (c === '\\' && i + 1 < value.length) {
      cur += `\\${value[i + 1]}`;
      i++;
    } else if (c === ',') {
      out.push(cur);
      cur = '';
    } else {
      cur += c;
    }
  }
  out.push(cur);
  return out.filter((s) => s !== '');
}

function unescape(s: string): string {
  return s.replace(/\\(.)/g, '$1');
}

function parseTokens(value: string): Token[] {
  return splitList(value).map((item) => {
    const bar = findUnescapedBar(item);
    if (bar < 0) return { code: unescape(item) };
    const system = unescape(item.slice(0, bar));
    const code = unescape(item.slice(bar + 1));
    return { system, code: code === '' ? undefined : code };
  });
}

function findUnescapedBar(s: string): number {
  for (let i = 0; i < s.length; i++) {
    if (s[i] === '\\') i++;
    else if (s[i] === '|') return i;
  }
  return -1;
}

function tokenMatchesCoding(t: Token, c: Coding): boolean {
  if (t.code !== undefined && c.code !== t.code) return false;
  if (t.system === undefined) return t.code !== undefined;
  if (t.system === '') return c.system === undefined || c.system === '';
  return c.system === t.system;
}

function tokenMatchesConcept(t: Token, cc: CodeableConcept | undefined): boolean {
  return (cc?.coding ?? []).some((c) => tokenMatchesCoding(t, c));
}

function referenceOf(value: unknown): string | undefined {
  if (typeof value !== 'object' || value === null) return undefined;
  const ref = (value as { reference?: unknown }).reference;
  return typeof ref === 'string' ? ref : undefined;
}

/** `123`, `Patient/123`, `https://x/fhir/Patient/123(/_history/n)` -> `123`. A bare id counts only as a search value. */
function patientIdOf(ref: string, mustBeTyped = false): string | undefined {
  const typed = /(?:^|\/)Patient\/([A-Za-z0-9\-.]{1,64})(?:\/_history\/[^/]+)?$/.exec(ref);
  if (typed) return typed[1];
  if (!mustBeTyped && RESOURCE_ID.test(ref)) return ref;
  return undefined;
}

function asArray(value: unknown): unknown[] {
  if (value === undefined || value === null) return [];
  return Array.isArray(value) ? value : [value];
}

/** The resource's main code (what `code` searches). */
function mainCodes(type: string, r: LooseResource): CodeableConcept[] {
  switch (type) {
    case 'MedicationRequest':
      return asArray(r.medicationCodeableConcept) as CodeableConcept[];
    case 'NutritionOrder': {
      const oralDiet = r.oralDiet as { type?: CodeableConcept[] } | undefined;
      return oralDiet?.type ?? [];
    }
    default:
      return asArray(r.code) as CodeableConcept[];
  }
}

// ---------------------------------------------------------------------------------------------
// Dates: FHIR search compares ranges (a value's precision is a range: `2026-03` is the whole month).

type DatePrefix = 'eq' | 'gt' | 'lt' | 'ge' | 'le';

const DATE_RE = /^(\d{4})(?:-(\d{2})(?:-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?(Z|[+-]\d{2}:\d{2})?)?)?)?$/;

/** Parses a FHIR date/dateTime/instant; no offset means UTC (clinical-rules §2). */
function parseDateRange(value: string): DateRange | undefined {
  const m = DATE_RE.exec(value);
  if (!m) return undefined;
  const [, ys, mos, ds, hs, mis, ss, fs, tz] = m;
  const y = Number(ys);
  const mo = mos === undefined ? 1 : Number(mos);
  const d = ds === undefined ? 1 : Number(ds);
  const h = hs === undefined ? 0 : Number(hs);
  const mi = mis === undefined ? 0 : Number(mis);
  const s = ss === undefined ? 0 : Number(ss);
  const ms = fs === undefined ? 0 : Number(fs.slice(0, 3).padEnd(3, '0'));
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 59) return undefined;
  const check = new Date(Date.UTC(y, mo - 1, d));
  if (check.getUTCMonth() !== mo - 1 || check.getUTCDate() !== d) return undefined;

  let offsetMs = 0;
  if (tz !== undefined && tz !== 'Z') {
    const sign = tz.startsWith('-') ? -1 : 1;
    const [th, tm] = tz.slice(1).split(':').map(Number);
    if ((th ?? 0) > 14 || (tm ?? 0) > 59) return undefined;
    offsetMs = sign * ((th ?? 0) * 60 + (tm ?? 0)) * 60_000;
  }
  const low = Date.UTC(y, mo - 1, d, h, mi, s, ms) - offsetMs;
  let high: number;
  if (mos === undefined) high = Date.UTC(y + 1, 0, 1) - 1;
  else if (ds === undefined) high = Date.UTC(y, mo, 1) - 1;
  else if (hs === undefined) high = Date.UTC(y, mo - 1, d + 1) - 1;
  else if (ss === undefined) high = low + 60_000 - 1;
  else if (fs === undefined) high = low + 999;
  else high = low;
  return { low, high };
}

function periodRange(p: Period | undefined): DateRange | undefined {
  if (!p || (p.start === undefined && p.end === undefined)) return undefined;
  const start = p.start === undefined ? undefined : parseDateRange(p.start);
  const end = p.end === undefined ? undefined : parseDateRange(p.end);
  if ((p.start !== undefined && !start) || (p.end !== undefined && !end)) return undefined;
  return { low: start?.low ?? -Infinity, high: end?.high ?? Infinity };
}

function dateField(value: unknown): DateRange | undefined {
  return typeof value === 'string' ? parseDateRange(value) : undefined;
}

/** The clinical date `date` searches and sorts on, per type (see the brief / clinical-rules §2). */
function clinicalDateOf(type: string, r: LooseResource): DateRange | undefined {
  switch (type) {
    case 'Observation':
    case 'DiagnosticReport':
      return dateField(r.effectiveDateTime) ?? periodRange(r.effectivePeriod as Period | undefined) ?? dateField(r.effectiveInstant) ?? dateField(r.issued);
    case 'Condition':
      return dateField(r.onsetDateTime) ?? periodRange(r.onsetPeriod as Period | undefined) ?? dateField(r.recordedDate);
    case 'Procedure':
      return dateField(r.performedDateTime) ?? periodRange(r.performedPeriod as Period | undefined);
    case 'ServiceRequest':
      return dateField(r.authoredOn);
    case 'NutritionOrder':
      return dateField(r.dateTime);
    default:
      return undefined;
  }
}

function compareDates(prefix: DatePrefix, param: DateRange, target: DateRange): boolean {
  switch (prefix) {
    case 'eq':
      return target.low >= param.low && target.high <= param.high;
    case 'gt':
      return target.high > param.high;
    case 'lt':
      return target.low < param.low;
    case 'ge':
      return target.high >= param.low;
    case 'le':
      return target.low <= param.high;
  }
}

function sortByDate(resources: FhirResource[], order: 'asc' | 'desc'): FhirResource[] {
  const keyed = resources.map((r, i) => ({ r, i, d: clinicalDateOf(r.resourceType, r as LooseResource) }));
  keyed.sort((a, b) => {
    // Undated resources go last either way; ties keep the input order.
    if (a.d === undefined || b.d === undefined) return a.d === b.d ? a.i - b.i : a.d === undefined ? 1 : -1;
    const ka = order === 'asc' ? a.d.low : a.d.high;
    const kb = order === 'asc' ? b.d.low : b.d.high;
    if (ka === kb) return a.i - b.i;
    return order === 'asc' ? ka - kb : kb - ka;
  });
  return keyed.map((k) => k.r);
}

// ---------------------------------------------------------------------------------------------
// Results

function toEntry(resource: FhirResource, baseUrl: string | undefined): BundleEntry {
  const path = resource.id === undefined ? undefined : `${resource.resourceType}/${resource.id}`;
  return {
    ...(path !== undefined ? { fullUrl: baseUrl === undefined ? path : `${trimSlash(baseUrl)}/${path}` } : {}),
    // A copy: callers (the service) may normalise resources, and fixtures are shared across cases.
    resource: structuredClone(resource),
    search: { mode: 'match' },
  };
}

function trimSlash(url: string): string {
  return url.replace(/\/+$/, '');
}

function badRequest(issues: IssueInput[]): SearchResult {
  return { status: 400, body: operationOutcome(issues) };
}

function notFound(diagnostics: string): SearchResult {
  return { status: 404, body: operationOutcome([{ code: 'not-found', diagnostics }]) };
}
