// Prefetch code lists generated from the value sets: a template's `codes` (value-set ids) become its `code=`
// search parameter at load time, so discovery advertises the concrete query and it never drifts from the rules.
import type { ValueSet } from 'fhir/r4';
import { resolveValueSetUrl } from '../evaluation/terminology';
import { escapePointer } from './issues';
import type { LoadIssue, PrefetchCodes, PrefetchKey, RawPrefetchKey } from './types';

/**
 * Longest rendered prefetch query (path and search, without the FHIR base URL) the loader accepts. Common servers
 * and proxies refuse request lines past 8 KB (Apache httpd LimitRequestLine 8190, nginx
 * large_client_header_buffers 8k, Tomcat/HAPI maxHttpHeaderSize 8 KB); 6,000 characters leaves 2 KB for the base
 * URL, the method and the protocol. A list that outgrows it must be split into keys or become a category search.
 */
export const MAX_PREFETCH_QUERY_LENGTH = 6000;

/** A patient id is at most 64 characters (FHIR id): the length check renders every token at that size. */
const TOKEN_WIDTH = 64;

/** Characters a code may hold unescaped in a token search value of a URL (`,` `|` `&` `#` `%` `\` would not). */
const SAFE_CODE = /^[A-Za-z0-9._\-:]+$/;

function selection(entry: PrefetchCodes): { valueSet: string; systems?: readonly string[] } {
  return typeof entry === 'string' ? { valueSet: entry } : entry;
}

/** The system|code list of one key's `codes`, in value-set order without repeats; issues for what cannot be listed. */
function listCodes(key: string, codes: readonly PrefetchCodes[], valueSets: ReadonlyMap<string, ValueSet>, file: string, issues: LoadIssue[]): string[] {
  const out = new Set<string>();
  codes.forEach((entry, i) => {
    const pointer = `/prefetch/${escapePointer(key)}/codes/${i}`;
    const { valueSet, systems } = selection(entry);
    const vs = valueSets.get(resolveValueSetUrl(valueSet));
    if (!vs) {
      issues.push({ file, pointer, message: `unknown value set "${valueSet}"` });
      return;
    }
    const includes = (vs.compose?.include ?? []).filter((inc) => !systems || systems.includes(inc.system ?? ''));
    if (includes.length === 0) issues.push({ file, pointer, message: `value set "${valueSet}" holds no code of ${systems?.join(', ') ?? 'any system'}` });
    for (const inc of includes) {
      // A regex filter (an ICD-10-CM prefix) has no finite list: such data must be fetched unfiltered.
      if (inc.filter?.length) issues.push({ file, pointer, message: `value set "${valueSet}" has a regex filter on ${inc.system}: its codes cannot be listed in a search` });
      for (const c of inc.concept ?? []) {
        if (!SAFE_CODE.test(c.code)) issues.push({ file, pointer, message: `code "${c.code}" of value set "${valueSet}" cannot be written unescaped in a search URL` });
        else out.add(`${inc.system}|${c.code}`);
      }
    }
  });
  return [...out];
}

/** Templates with their `codes` rendered into `&code=` (the rest unchanged), and the system|code list of each such key. */
export function renderPrefetchCodes(
  prefetch: Readonly<Record<string, RawPrefetchKey>>,
  valueSets: ReadonlyMap<string, ValueSet>,
  file: string,
  issues: LoadIssue[],
): { prefetch: Record<string, PrefetchKey>; listed: Map<string, ReadonlySet<string>> } {
  const out: Record<string, PrefetchKey> = {};
  const listed = new Map<string, ReadonlySet<string>>();
  for (const [key, raw] of Object.entries(prefetch)) {
    let query = raw.query;
    if (raw.codes) {
      const pointer = `/prefetch/${escapePointer(key)}`;
      if (/[?&]code=/.test(query)) issues.push({ file, pointer: `${pointer}/query`, message: 'a query with `codes` must not also list code= by hand' });
      const list = listCodes(key, raw.codes, valueSets, file, issues);
      listed.set(key, new Set(list));
      query = `${query}${query.includes('?') ? '&' : '?'}code=${list.join(',')}`;
      const rendered = query.replace(/\{\{[^}]*\}\}/g, 'x'.repeat(TOKEN_WIDTH)).length;
      if (rendered > MAX_PREFETCH_QUERY_LENGTH) {
        issues.push({ file, pointer: `${pointer}/codes`, message: `the query lists ${list.length} codes and renders to about ${rendered} characters, over the ${MAX_PREFETCH_QUERY_LENGTH} accepted: split it into keys or use a category search` });
      }
    }
    out[key] = { query, required: raw.required };
  }
  return { prefetch: out, listed };
}

/**
 * Rules must not read codes their prefetch filters away. For a value set read through from(key, valueSet) on a
 * code-filtered key: some but not all of its codes listed is drift (an issue); none listed is a read another key
 * serves (generic work-up templates read every group from observations, reports and procedures) when another
 * code-filtered key lists all of them, and otherwise an issue: the data would be filtered away everywhere.
 */
export function checkPrefetchReads(
  listed: ReadonlyMap<string, ReadonlySet<string>>,
  reads: ReadonlyMap<string, ReadonlySet<string>>,
  valueSets: ReadonlyMap<string, ValueSet>,
  fileOf: (key: string) => string,
  issues: LoadIssue[],
): void {
  for (const [key, codes] of listed) {
    for (const ref of reads.get(key) ?? []) {
      const vs = valueSets.get(resolveValueSetUrl(ref));
      if (!vs) continue; // an unknown value set is reported where it is named
      const issue = (message: string) => issues.push({ file: fileOf(key), pointer: `/prefetch/${escapePointer(key)}/codes`, message });
      const includes = vs.compose?.include ?? [];
      if (includes.some((inc) => inc.filter?.length)) {
        issue(`rules read value set "${ref}" from ${key}, whose regex filter cannot be listed in its code search`);
        continue;
      }
      const all = includes.flatMap((inc) => (inc.concept ?? []).map((c) => `${inc.system}|${c.code}`));
      const missing = all.filter((c) => !codes.has(c));
      const sample = `${missing.slice(0, 3).join(', ')}${missing.length > 3 ? ', ...' : ''}`;
      if (missing.length === 0) continue;
      if (missing.length < all.length) issue(`rules read value set "${ref}" from ${key}, but ${missing.length} of its codes are not in the ${key} query (${sample})`);
      else if (![...listed].some(([other, list]) => other !== key && all.every((c) => list.has(c)))) {
        issue(`rules read value set "${ref}" from ${key}, but no prefetch search lists its codes (${sample})`);
      }
    }
  }
}
