// The offline value-set index: which codes each loaded FHIR R4 ValueSet holds (listed concepts and
// `regex` filters on `code`), and a cached membership test used by the FHIRPath runtime.
import type { Coding, ValueSet } from 'fhir/r4';

/** Canonical base of the project's own value sets: a bare name in an expression resolves against it. */
export const VALUE_SET_BASE = 'https://iph-cds.dev/fhir/ValueSet/';

interface CompiledInclude {
  system: string;
  codes: Set<string>;
  patterns: RegExp[];
}

export interface ValueSetIndex {
  has(url: string): boolean;
  urls(): string[];
  /** True when the system|code pair is in the value set. Codings without a system never match (clinical-rules §2). */
  contains(url: string, system: string | undefined, code: string | undefined): boolean;
  /** True when any coding is in the value set. */
  containsAny(url: string, codings: readonly Coding[] | undefined): boolean;
}

/** Expands a bare value-set name (`hemoglobin`) to its canonical url; full urls pass through. */
export function resolveValueSetUrl(ref: string): string {
  return ref.includes('://') ? ref : VALUE_SET_BASE + ref;
}

function compileValueSet(vs: ValueSet): CompiledInclude[] {
  return (vs.compose?.include ?? []).map((inc) => ({
    system: inc.system ?? '',
    codes: new Set((inc.concept ?? []).map((c) => c.code)),
    // FHIR's regex filter matches the whole code: anchor it here so authors cannot forget.
    patterns: (inc.filter ?? []).filter((f) => f.op === 'regex' && f.property === 'code').map((f) => new RegExp(`^(?:${f.value})$`)),
  }));
}

export function buildValueSetIndex(valueSets: readonly ValueSet[]): ValueSetIndex {
  const compiled = new Map<string, CompiledInclude[]>();
  for (const vs of valueSets) if (vs.url) compiled.set(vs.url, compileValueSet(vs));
  // Membership never changes after load, so answers are cached for the life of the process.
  const cache = new Map<string, boolean>();

  const contains = (url: string, system: string | undefined, code: string | undefined): boolean => {
    if (!system || !code) return false;
    const key = `${url}\u0000${system}\u0000${code}`;
    const hit = cache.get(key);
    if (hit !== undefined) return hit;
    const includes = compiled.get(url) ?? [];
    const answer = includes.some((inc) => inc.system === system && (inc.codes.has(code) || inc.patterns.some((p) => p.test(code))));
    if (cache.size < 100_000) cache.set(key, answer);
    return answer;
  };

  return {
    has: (url) => compiled.has(url),
    urls: () => [...compiled.keys()],
    contains,
    containsAny: (url, codings) => (codings ?? []).some((c) => contains(url, c.system, c.code)),
  };
}
