// Resolves each prefetch key of a service for one request (cds-hooks.md §3.4): present -> used; null ->
// empty; an OperationOutcome (or a Bundle carrying error outcomes) -> unavailable; absent -> fetched from
// the client's FHIR server when a fetcher is configured, else unavailable. Required and unavailable -> 412.
import type { ServiceDefinition } from '../definitions/types';
import { HttpError } from '../errors';
import type { HookRequest } from '../cds-hooks';

/** `reason` may reach the caller (a 412 names it); `cause` is the precise failure, for the log only. */
export type KeyFetchOutcome = { ok: true; value: unknown } | { ok: false; reason: string; cause?: string };

/** The FHIR fallback seam: fetch the given keys (query templates) for this request. */
export type PrefetchFetcher = (request: HookRequest, templates: Record<string, string>) => Promise<Record<string, KeyFetchOutcome>>;

/** `fetcher`, also writing the log-only cause of each key it could not read into `causes`. */
export function recordingCauses(fetcher: PrefetchFetcher, causes: Record<string, string>, fetched?: Record<string, KeyFetchOutcome>): PrefetchFetcher {
  return async (request, templates) => {
    const outcomes = await fetcher(request, templates);
    for (const [key, o] of Object.entries(outcomes)) {
      if (!o.ok && o.cause) causes[key] = o.cause;
      // What the metrics count per key, without the data itself.
      if (fetched) fetched[key] = o.ok ? { ok: true, value: null } : o;
    }
    return outcomes;
  };
}

export interface ResolvedPrefetch {
  /** Readable data per key (null when the client said there is none). */
  values: Record<string, unknown>;
  /** Keys whose data could not be read, with the reason. */
  unavailable: Record<string, string>;
}

function isErrorOutcome(resource: unknown): boolean {
  if (!resource || typeof resource !== 'object') return false;
  const r = resource as { resourceType?: unknown; issue?: unknown };
  if (r.resourceType !== 'OperationOutcome') return false;
  const issues = Array.isArray(r.issue) ? (r.issue as { severity?: unknown }[]) : [];
  // An outcome with no issues is treated as an error: the client still said something went wrong.
  return issues.length === 0 || issues.some((i) => i?.severity === 'error' || i?.severity === 'fatal');
}

/** Why a prefetched value cannot be used, or undefined when it can. */
export function prefetchProblem(value: unknown): string | undefined {
  if (value === null) return undefined;
  if (typeof value !== 'object' || Array.isArray(value)) return 'not a FHIR resource';
  const v = value as { resourceType?: unknown; entry?: unknown };
  if (v.resourceType === 'OperationOutcome') return 'the client reported an error (OperationOutcome)';
  if (v.resourceType === 'Bundle') {
    const entries = Array.isArray(v.entry) ? v.entry : [];
    if (entries.some((e) => isErrorOutcome((e as { resource?: unknown } | null)?.resource))) return 'the client reported an error for part of the data';
  }
  if (typeof v.resourceType !== 'string') return 'not a FHIR resource';
  return undefined;
}

export async function resolvePrefetch(service: ServiceDefinition, request: HookRequest, fetcher?: PrefetchFetcher): Promise<ResolvedPrefetch> {
  const values: Record<string, unknown> = {};
  const unavailable: Record<string, string> = {};
  const toFetch: Record<string, string> = {};
  const given = request.prefetch ?? {};
  for (const [key, def] of Object.entries(service.prefetch)) {
    if (Object.prototype.hasOwnProperty.call(given, key)) {
      const value = given[key];
      const problem = prefetchProblem(value);
      if (problem) unavailable[key] = problem;
      else values[key] = value;
    } else {
      toFetch[key] = def.query;
    }
  }
  if (Object.keys(toFetch).length > 0) {
    if (fetcher) {
      const outcomes = await fetcher(request, toFetch);
      for (const key of Object.keys(toFetch)) {
        const o = outcomes[key];
        if (!o) unavailable[key] = 'not fetched';
        else if (!o.ok) unavailable[key] = o.reason;
        else {
          const problem = prefetchProblem(o.value);
          if (problem) unavailable[key] = problem;
          else values[key] = o.value;
        }
      }
    } else {
      for (const key of Object.keys(toFetch)) unavailable[key] = 'not prefetched and no FHIR access configured';
    }
  }
  const missingRequired = Object.keys(unavailable).filter((k) => service.prefetch[k]?.required);
  if (missingRequired.length > 0) {
    throw new HttpError(
      412,
      missingRequired.map((k) => ({
        code: 'required' as const,
        diagnostics: `Required prefetch "${k}" could not be obtained: ${unavailable[k]}`,
        expression: [`prefetch.${k}`],
      })),
    );
  }
  return { values, unavailable };
}
