// The terminology coverage report of `npm run check`: per value set, how many codes of each system (and regex
// filters) it holds, whether a rule names it, and the published sources its valueset-source extensions cite.
import type { Extension, ValueSet } from 'fhir/r4';

export const SOURCE_EXTENSION = 'https://iph-cds.dev/fhir/StructureDefinition/valueset-source';

const SYSTEM_NAMES: Record<string, string> = {
  'http://loinc.org': 'LOINC',
  'http://snomed.info/sct': 'SNOMED CT',
  'http://hl7.org/fhir/sid/icd-10-cm': 'ICD-10-CM',
  'http://www.nlm.nih.gov/research/umls/rxnorm': 'RxNorm',
  'http://terminology.hl7.org/CodeSystem/diet': 'HL7 diet',
  'http://dicom.nema.org/resources/ontology/DCM': 'DICOM',
  'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation': 'v3 interpretation',
  'https://iph-cds.dev/fhir/CodeSystem/local-lab': 'local-lab',
};

export interface ValueSetSource {
  name: string;
  oid?: string;
  version?: string;
  location?: string;
}

export interface CoverageRow {
  id: string;
  url: string;
  /** Named by a rule (memberOf or from). */
  used: boolean;
  /** Listed codes per system (short names). */
  codes: Record<string, number>;
  /** Regex filters per system (short names). */
  filters: Record<string, number>;
  sources: ValueSetSource[];
}

function part(e: Extension, url: string): string | undefined {
  const p = (e.extension ?? []).find((x) => x.url === url);
  return p?.valueString ?? p?.valueOid?.replace(/^urn:oid:/, '');
}

/** The sources a value set cites; one without a name and a location does not count as a citation. */
export function sourcesOf(vs: ValueSet): ValueSetSource[] {
  return (vs.extension ?? [])
    .filter((e) => e.url === SOURCE_EXTENSION)
    .flatMap((e) => {
      const name = part(e, 'name');
      const location = part(e, 'location');
      if (!name || !location) return [];
      const oid = part(e, 'oid');
      const version = part(e, 'version');
      return [{ name, location, ...(oid ? { oid } : {}), ...(version ? { version } : {}) }];
    });
}

export function coverageOf(valueSets: readonly ValueSet[], used: ReadonlySet<string>): CoverageRow[] {
  return valueSets
    .map((vs) => {
      const codes: Record<string, number> = {};
      const filters: Record<string, number> = {};
      for (const inc of vs.compose?.include ?? []) {
        const system = SYSTEM_NAMES[inc.system ?? ''] ?? inc.system ?? '(no system)';
        if (inc.concept?.length) codes[system] = (codes[system] ?? 0) + inc.concept.length;
        if (inc.filter?.length) filters[system] = (filters[system] ?? 0) + inc.filter.length;
      }
      return { id: vs.id ?? '', url: vs.url ?? '', used: used.has(vs.url ?? ''), codes, filters, sources: sourcesOf(vs) };
    })
    .sort((a, b) => a.id.localeCompare(b.id));
}

const counts = (r: Record<string, number>): string =>
  Object.entries(r)
    .map(([s, n]) => `${s} ${n}`)
    .join(', ');

/** One line per value set: `*` marks one a rule names; a used one without a citation says so. */
export function formatCoverage(rows: readonly CoverageRow[]): string {
  const width = Math.max(...rows.map((r) => r.id.length), 8);
  const lines = rows.map((r) => {
    const held = [counts(r.codes), Object.keys(r.filters).length ? `regex filters: ${counts(r.filters)}` : ''].filter(Boolean).join('; ');
    const cited = r.sources.length ? r.sources.map((s) => (s.oid ? `${s.name} (OID ${s.oid}${s.version ? `, ${s.version}` : ''})` : s.name)).join('; ') : r.used ? 'NO SOURCE CITED' : 'none';
    return `${r.used ? '*' : ' '} ${r.id.padEnd(width)}  ${held || 'no codes'}  | sources: ${cited}`;
  });
  const used = rows.filter((r) => r.used).length;
  return [`Terminology coverage: ${rows.length} value sets, ${used} named by rules (*):`, ...lines].join('\n');
}
