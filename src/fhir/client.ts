// Bounded FHIR reads and searches against the client's fhirServer for prefetch keys it did not send
// (cds-hooks.md §3.4): server allow-list checked before any socket opens, bearer token only to the
// fhirServer origin, same-origin paging, one time budget per request, page/resource caps.
import type { Bundle, BundleEntry, FhirResource, OperationOutcome } from 'fhir/r4';
import type { HookRequest } from '../cds-hooks';

export interface FhirFetchSettings {
  /** URL prefixes of FHIR servers the service may query (`https://ehr.example.org/fhir`). */
  allowedServers: string[];
  /** Production: https and listed servers only (no loopback). */
  production: boolean;
  /** Time for all the fetches of one hook request. */
  budgetMs: number;
  /** Pages per prefetch key (the first page counts). */
  maxPages: number;
  /** Resources per prefetch key, all pages together. */
  maxResources: number;
}

export type FetchOutcome = { ok: true; value: FhirResource | null } | { ok: false; reason: string };

type Env = Record<string, string | undefined>;

const DEFAULTS = { budgetMs: 2500, maxPages: 20, maxResources: 20000 } as const;

/** Reads the settings from the environment; throws on values that would silently weaken the limits. */
export function readFhirFetchSettings(env: Env = process.env): FhirFetchSettings {
  const production = env.NODE_ENV === 'production';
  const allowedServers = (env.CDS_FHIR_ALLOWED_SERVERS ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  for (const entry of allowedServers) {
    const url = parseUrl(entry);
    if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) {
      throw new Error(`CDS_FHIR_ALLOWED_SERVERS: '${entry}' is not an http(s) URL`);
    }
    if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
      throw new Error(`CDS_FHIR_ALLOWED_SERVERS: '${entry}' must be a plain base URL (no credentials, query or fragment)`);
    }
    if (production && url.protocol !== 'https:') {
      throw new Error(`CDS_FHIR_ALLOWED_SERVERS: '${entry}' must be https in production`);
    }
  }
  return {
    allowedServers,
    production,
    budgetMs: readPositiveInt(env, 'CDS_FHIR_BUDGET_MS', DEFAULTS.budgetMs),
    maxPages: readPositiveInt(env, 'CDS_FHIR_MAX_PAGES', DEFAULTS.maxPages),
    maxResources: readPositiveInt(env, 'CDS_FHIR_MAX_RESOURCES', DEFAULTS.maxResources),
  };
}

function readPositiveInt(env: Env, name: string, fallback: number): number {
  const raw = env[name]?.trim();
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < 1) throw new Error(`${name} must be a positive integer, got '${raw}'`);
  return Number(raw);
}

// ---------------------------------------------------------------------------------------------
// Prefetch templates

const USER_TOKENS: Record<string, string> = {
  userPractitionerId: 'Practitioner',
  userPractitionerRoleId: 'PractitionerRole',
  userPatientId: 'Patient',
  userRelatedPersonId: 'RelatedPerson',
};

/**
 * Substitutes `{{context.x}}` (root-level primitive context fields) and the `{{userXxxId}}` tokens,
 * URL-encoded. Undefined when a token cannot be resolved (the key then cannot be fetched).
 */
export function renderPrefetchTemplate(template: string, request: HookRequest): string | undefined {
  let unresolved = false;
  const rendered = template.replace(/\{\{([^{}]*)\}\}/g, (_m, inner: string) => {
    const value = resolveToken(inner.trim(), request);
    if (value === undefined) {
      unresolved = true;
      return '';
    }
    return encodeURIComponent(value);
  });
  // A stray `{{` or `}}` is a malformed token, not text to send to a FHIR server.
  if (unresolved || rendered.includes('{{') || rendered.includes('}}')) return undefined;
  return rendered;
}

function resolveToken(token: string, request: HookRequest): string | undefined {
  const context = request.context as Record<string, unknown> | undefined;
  const ctx = /^context\.([A-Za-z0-9_-]+)$/.exec(token);
  if (ctx) {
    const value = context?.[ctx[1] ?? ''];
    if (typeof value === 'string') return value === '' ? undefined : value;
    if (typeof value === 'number' && Number.isFinite(value)) return String(value);
    if (typeof value === 'boolean') return String(value);
    return undefined;
  }
  const wantedType = USER_TOKENS[token];
  if (wantedType === undefined) return undefined;
  const userId = context?.userId;
  if (typeof userId !== 'string') return undefined;
  // userId is `Type/id` (possibly absolute); the token is the id when the type matches.
  const m = /(?:^|\/)([A-Za-z]+)\/([A-Za-z0-9\-.]{1,64})$/.exec(userId);
  return m && m[1] === wantedType ? m[2] : undefined;
}

// ---------------------------------------------------------------------------------------------
// Which servers

/** Why `fhirServer` may not be used, or undefined when it may. Checked before any socket opens. */
export function checkFhirServer(fhirServer: string, settings: FhirFetchSettings): string | undefined {
  const url = parseUrl(fhirServer);
  if (!url || (url.protocol !== 'https:' && url.protocol !== 'http:')) return 'fhirServer not allowed';
  if (url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') return 'fhirServer not allowed';
  if (settings.production && url.protocol !== 'https:') return 'fhirServer not allowed';
  if (settings.allowedServers.some((entry) => isUnderPrefix(url, entry))) return undefined;
  if (!settings.production && isLoopback(url)) return undefined;
  return 'fhirServer not allowed';
}

/** Prefix match on URL structure, so `https://ehr.org` does not admit `https://ehr.org.evil.com`. */
function isUnderPrefix(url: URL, entry: string): boolean {
  const prefix = parseUrl(entry);
  if (!prefix || prefix.origin !== url.origin) return false;
  const base = prefix.pathname.replace(/\/+$/, '');
  const path = url.pathname.replace(/\/+$/, '');
  return base === '' || path === base || path.startsWith(`${base}/`);
}

function isLoopback(url: URL): boolean {
  const host = url.hostname;
  // WHATWG URL already normalises `127.1`, `0x7f.0.0.1` and friends to dotted decimal.
  return host === 'localhost' || host === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}

function resolveUrl(s: string, base: URL): URL | undefined {
  try {
    return new URL(s, base);
  } catch {
    return undefined;
  }
}

function parseUrl(s: string): URL | undefined {
  try {
    return new URL(s);
  } catch {
    return undefined;
  }
}

// ---------------------------------------------------------------------------------------------
// Fetching

class FetchFailure extends Error {}

interface KeyJob {
  base: URL;
  token: string | undefined;
  signal: AbortSignal;
  settings: FhirFetchSettings;
}

/**
 * Fetches every key of `templates` from `request.fhirServer`, in parallel, within one time budget.
 * Never throws; each key gets its own outcome.
 */
export async function fetchPrefetchKeys(
  request: HookRequest,
  templates: Record<string, string>,
  settings: FhirFetchSettings,
): Promise<Record<string, FetchOutcome>> {
  const keys = Object.keys(templates);
  const result: Record<string, FetchOutcome> = {};
  const failAll = (reason: string): Record<string, FetchOutcome> => {
    for (const key of keys) result[key] = { ok: false, reason };
    return result;
  };

  const fhirServer = typeof request.fhirServer === 'string' ? request.fhirServer.trim() : '';
  if (fhirServer === '') return failAll('no fhirServer in the request');
  const refused = checkFhirServer(fhirServer, settings);
  if (refused) return failAll(refused);
  if (keys.length === 0) return result;

  const base = new URL(fhirServer.endsWith('/') ? fhirServer : `${fhirServer}/`);
  const rawToken = request.fhirAuthorization?.access_token;
  const token = typeof rawToken === 'string' && rawToken !== '' ? rawToken : undefined;

  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  // Resolves at the deadline even if some fetch ignores the abort signal.
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => {
      controller.abort();
      resolve('timeout');
    }, settings.budgetMs);
  });
  const job: KeyJob = { base, token, signal: controller.signal, settings };

  try {
    await Promise.all(
      keys.map(async (key) => {
        const query = renderPrefetchTemplate(templates[key] ?? '', request);
        if (query === undefined) {
          result[key] = { ok: false, reason: 'prefetch template could not be rendered' };
          return;
        }
        const outcome = await Promise.race([fetchKey(query, job), deadline]);
        result[key] = outcome === 'timeout' ? { ok: false, reason: 'timed out' } : outcome;
      }),
    );
  } finally {
    clearTimeout(timer);
    controller.abort();
  }
  return result;
}

async function fetchKey(query: string, job: KeyJob): Promise<FetchOutcome> {
  try {
    const relative = query.replace(/^\/+/, '');
    const url = new URL(relative, job.base);
    if (url.origin !== job.base.origin) throw new FetchFailure('query leaves the fhirServer origin');
    const path = relative.split('?')[0] ?? '';
    const isRead = /^[A-Z][A-Za-z]+\/[^/]+$/.test(path);
    const type = path.split('/')[0] ?? '';

    if (isRead) {
      const page = await fetchPage(url, job, true);
      if (page === null) return { ok: true, value: null };
      if (page.resourceType === 'OperationOutcome') throw new FetchFailure('server reported an error');
      if (page.resourceType !== type) throw new FetchFailure('unexpected resource type');
      return { ok: true, value: page };
    }
    return { ok: true, value: await fetchAllPages(url, job) };
  } catch (err) {
    return { ok: false, reason: reasonOf(err, job.signal) };
  }
}

async function fetchAllPages(first: URL, job: KeyJob): Promise<Bundle> {
  const entries: BundleEntry[] = [];
  let next: URL | undefined = first;
  let pages = 0;
  while (next) {
    if (pages >= job.settings.maxPages) throw new FetchFailure(`more than ${job.settings.maxPages} pages`);
    pages++;
    const current: URL = next;
    const page = await fetchPage(current, job, false);
    if (page === null) throw new FetchFailure('FHIR server answered HTTP 404');
    if (page.resourceType === 'OperationOutcome') throw new FetchFailure('server reported an error');
    if (page.resourceType !== 'Bundle' || page.type !== 'searchset') throw new FetchFailure('unexpected resource type');

    for (const entry of page.entry ?? []) {
      const resource = entry.resource;
      if (resource?.resourceType === 'OperationOutcome') {
        if (entry.search?.mode === 'outcome' && isOnlyAdvisory(resource as OperationOutcome)) continue;
        throw new FetchFailure('server reported an error');
      }
      entries.push(entry);
      if (entries.length > job.settings.maxResources) throw new FetchFailure(`more than ${job.settings.maxResources} resources`);
    }

    const nextLink = page.link?.find((l) => l.relation === 'next')?.url;
    next = undefined;
    if (nextLink) {
      const resolved = resolveUrl(nextLink, current);
      if (!resolved || resolved.origin !== job.base.origin) throw new FetchFailure('next link to another origin');
      next = resolved;
    }
  }
  return { resourceType: 'Bundle', type: 'searchset', total: entries.length, entry: entries };
}

function isOnlyAdvisory(oo: OperationOutcome): boolean {
  return (oo.issue ?? []).every((i) => i.severity === 'information' || i.severity === 'warning');
}

const RETRYABLE = new Set([502, 503, 504]);
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** One page, with at most one same-origin redirect and one retry on 502/503/504. `null` = 404/410 on a read. */
async function fetchPage(url: URL, job: KeyJob, isRead: boolean): Promise<FhirResource | null> {
  let target = url;
  let redirected = false;
  let retried = false;
  for (;;) {
    const res = await fetch(target, {
      method: 'GET',
      headers: {
        Accept: 'application/fhir+json',
        ...(job.token !== undefined ? { Authorization: `Bearer ${job.token}` } : {}),
      },
      redirect: 'manual',
      signal: job.signal,
    });

    if (REDIRECTS.has(res.status)) {
      await discard(res);
      const location = res.headers.get('location');
      const dest = location ? resolveUrl(location, target) : undefined;
      if (!dest || dest.origin !== job.base.origin) throw new FetchFailure('redirect to another origin');
      if (redirected) throw new FetchFailure('too many redirects');
      redirected = true;
      target = dest;
      continue;
    }
    if (RETRYABLE.has(res.status) && !retried && !job.signal.aborted) {
      await discard(res);
      retried = true;
      continue;
    }
    if (isRead && (res.status === 404 || res.status === 410)) {
      await discard(res);
      return null;
    }
    if (res.status === 401 || res.status === 403) {
      await discard(res);
      throw new FetchFailure(`FHIR server refused access (HTTP ${res.status})`);
    }
    if (res.status < 200 || res.status > 299) {
      await discard(res);
      throw new FetchFailure(`FHIR server answered HTTP ${res.status}`);
    }

    const text = await res.text();
    let body: unknown;
    try {
      body = JSON.parse(text);
    } catch {
      throw new FetchFailure('response is not JSON');
    }
    if (typeof body !== 'object' || body === null || Array.isArray(body) || typeof (body as { resourceType?: unknown }).resourceType !== 'string') {
      throw new FetchFailure('response is not a FHIR resource');
    }
    return body as FhirResource;
  }
}

async function discard(res: Response): Promise<void> {
  try {
    await res.body?.cancel();
  } catch {
    // nothing to release
  }
}

/** Short, fixed reasons: never echo server text or the request (which could carry the token). */
function reasonOf(err: unknown, signal: AbortSignal): string {
  if (err instanceof FetchFailure) return err.message;
  if (signal.aborted) return 'timed out';
  return 'network error';
}
