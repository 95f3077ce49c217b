// The offline value-set index: which codes each loaded FHIR R4 ValueSet holds (listed concepts and
// `regex` filters on `code`), indexed per value set by system, so a membership test is two map lookups (plus the
// system's few anchored patterns) and needs no cache that request data could grow. Over-long codes and systems
// are never members (limits.ts).
import type { Coding, ValueSet } from 'fhir/r4';
import { MAX_CODE_LENGTH, MAX_SYSTEM_LENGTH } from '../limits';

/** Canonical base of the project's own value sets: a bare name in an expression resolves against it. */
export const VALUE_SET_BASE = 'https://iph-cds.dev/fhir/ValueSet/';

/** One system's part of a value set: its listed codes and its code patterns. */
interface SystemMembers {
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

function compileValueSet(vs: ValueSet): Map<string, SystemMembers> {
  const bySystem = new Map<string, SystemMembers>();
  for (const inc of vs.compose?.include ?? []) {
    const system = inc.system ?? '';
    const members = bySystem.get(system) ?? { codes: new Set<string>(), patterns: [] };
    for (const c of inc.concept ?? []) members.codes.add(c.code);
    // FHIR's regex filter matches the whole code: anchor it here so authors cannot forget.
    for (const f of inc.filter ?? []) if (f.op === 'regex' && f.property === 'code') members.patterns.push(new RegExp(`^(?:${f.value})$`));
    bySystem.set(system, members);
  }
  return bySystem;
}

export function buildValueSetIndex(valueSets: readonly ValueSet[]): ValueSetIndex {
  const compiled = new Map<string, Map<string, SystemMembers>>();
  for (const vs of valueSets) if (vs.url) compiled.set(vs.url, compileValueSet(vs));

  const contains = (url: string, system: string | undefined, code: string | undefined): boolean => {
    if (typeof system !== 'string' || typeof code !== 'string' || !system || !code) return false;
    if (system.length > MAX_SYSTEM_LENGTH || code.length > MAX_CODE_LENGTH) return false;
    const members = compiled.get(url)?.get(system);
    return members !== undefined && (members.codes.has(code) || members.patterns.some((p) => p.test(code)));
  };

  return {
    has: (url) => compiled.has(url),
    urls: () => [...compiled.keys()],
    contains,
    containsAny: (url, codings) => (codings ?? []).some((c) => contains(url, c.system, c.code)),
  };
}
