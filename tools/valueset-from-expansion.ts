// `npm run valueset:import`: merges the codes of a downloaded FHIR ValueSet (its `expansion.contains`, else its
// `compose.include[].concept`) into one of the project's ValueSets, keeping id, url and description and recording
// the source (OID, name, version, where it was read) in the project's value-set-source extension.
import fs from 'node:fs';
import type { Extension, ValueSet, ValueSetComposeInclude, ValueSetExpansionContains } from 'fhir/r4';

export { SOURCE_EXTENSION } from '../src/definitions/coverage';
import { SOURCE_EXTENSION } from '../src/definitions/coverage';

/** Expansion files are downloaded JSON: a bound keeps a wrong file from exhausting memory. */
const MAX_EXPANSION_BYTES = 20 * 1024 * 1024;

export interface ImportedCode {
  system: string;
  code: string;
  display?: string;
}

export interface ImportOptions {
  /** Only codes of these systems (all systems when empty). */
  systems?: readonly string[];
  /** Keep only codes whose display matches (case-insensitive regex source). */
  includeDisplay?: string;
  /** Drop codes whose display matches (case-insensitive regex source). */
  excludeDisplay?: string;
  /** Codes left out on purpose (`code` or `system|code`), with the reason recorded in `note`. */
  excludeCodes?: readonly string[];
  /** Why codes were left out or the subset chosen: recorded with the source. */
  note?: string;
  /** Where the file was read from (repository, path, commit or URL), recorded with the source. */
  location?: string;
}

export interface ImportResult {
  valueSet: ValueSet;
  added: ImportedCode[];
  excluded: ImportedCode[];
}

/** Every code a FHIR ValueSet lists: the expansion when present (nested `contains` included), else compose. */
export function codesOf(source: ValueSet): ImportedCode[] {
  const out: ImportedCode[] = [];
  const walk = (items: readonly ValueSetExpansionContains[] | undefined): void => {
    for (const c of items ?? []) {
      if (c.system && c.code && c.abstract !== true && c.inactive !== true) out.push({ system: c.system, code: c.code, ...(c.display ? { display: c.display } : {}) });
      walk(c.contains);
    }
  };
  if (source.expansion?.contains?.length) walk(source.expansion.contains);
  else
    for (const inc of source.compose?.include ?? [])
      for (const c of inc.concept ?? []) if (inc.system) out.push({ system: inc.system, code: c.code, ...(c.display ? { display: c.display } : {}) });
  return out;
}

/** The OID of a VSAC-style value set: `urn:oid:` identifier, else the last path segment of a cts.nlm.nih.gov url. */
export function oidOf(source: ValueSet): string | undefined {
  const fromId = (source.identifier ?? []).map((i) => i.value ?? '').find((v) => v.startsWith('urn:oid:'));
  if (fromId) return fromId.slice('urn:oid:'.length);
  const m = /\/ValueSet\/([0-9]+(?:\.[0-9]+)+)$/.exec(source.url ?? '');
  return m?.[1];
}

function selected(codes: readonly ImportedCode[], options: ImportOptions): { keep: ImportedCode[]; excluded: ImportedCode[] } {
  const include = options.includeDisplay ? new RegExp(options.includeDisplay, 'i') : undefined;
  const exclude = options.excludeDisplay ? new RegExp(options.excludeDisplay, 'i') : undefined;
  const dropped = new Set(options.excludeCodes ?? []);
  const keep: ImportedCode[] = [];
  const excluded: ImportedCode[] = [];
  for (const c of codes) {
    if (options.systems?.length && !options.systems.includes(c.system)) continue;
    if (include && !include.test(c.display ?? '')) continue;
    if ((exclude && exclude.test(c.display ?? '')) || dropped.has(c.code) || dropped.has(`${c.system}|${c.code}`)) excluded.push(c);
    else keep.push(c);
  }
  return { keep, excluded };
}

function sourceExtension(source: ValueSet, options: ImportOptions, excluded: readonly ImportedCode[]): Extension {
  const part = (url: string, value: string | undefined): Extension[] => (value ? [{ url, valueString: value }] : []);
  const oid = oidOf(source);
  return {
    url: SOURCE_EXTENSION,
    extension: [
      ...(oid ? [{ url: 'oid', valueOid: `urn:oid:${oid}` }] : []),
      ...part('name', source.title ?? source.name),
      ...part('version', source.version ?? source.expansion?.timestamp),
      ...part('url', source.url),
      ...part('location', options.location),
      ...part('excluded', excluded.length ? excluded.map((c) => c.code).join(', ') : undefined),
      ...part('note', options.note),
    ],
  };
}

/** Same source and version (by OID, else url, else name): replaced, so re-importing one expansion does not duplicate its citation. */
function sameSource(a: Extension, b: Extension): boolean {
  const key = (e: Extension): string | undefined => {
    const parts = e.extension ?? [];
    const id = parts.find((p) => p.url === 'oid')?.valueOid ?? parts.find((p) => p.url === 'url')?.valueString ?? parts.find((p) => p.url === 'name')?.valueString;
    return id === undefined ? undefined : `${id}|${parts.find((p) => p.url === 'version')?.valueString ?? ''}`;
  };
  return a.url === SOURCE_EXTENSION && b.url === SOURCE_EXTENSION && key(a) !== undefined && key(a) === key(b);
}

/** Merges the selected codes of `source` into `target` (a new object; `target` is not modified). */
export function mergeExpansion(target: ValueSet, source: ValueSet, options: ImportOptions = {}): ImportResult {
  const { keep, excluded } = selected(codesOf(source), options);
  const include: ValueSetComposeInclude[] = (target.compose?.include ?? []).map((inc) => ({ ...inc, ...(inc.concept ? { concept: [...inc.concept] } : {}) }));
  const known = new Set(include.flatMap((inc) => (inc.concept ?? []).map((c) => `${inc.system}|${c.code}`)));
  // A code an anchored regex filter of the same system already holds (an ICD-10-CM prefix) is not listed again.
  const patterns = include.flatMap((inc) => (inc.filter ?? []).filter((f) => f.op === 'regex').map((f) => ({ system: inc.system, re: new RegExp(`^(?:${f.value})$`) })));
  const added: ImportedCode[] = [];
  for (const c of keep) {
    const key = `${c.system}|${c.code}`;
    if (known.has(key) || patterns.some((p) => p.system === c.system && p.re.test(c.code))) continue;
    known.add(key);
    // Concepts go into the system's listed-concept include (a filter include must stay filter-only).
    let inc = include.find((i) => i.system === c.system && i.concept !== undefined);
    if (!inc) {
      inc = { system: c.system, concept: [] };
      include.push(inc);
    }
    inc.concept?.push({ code: c.code, ...(c.display ? { display: c.display } : {}) });
    added.push(c);
  }
  const ext = sourceExtension(source, options, excluded);
  const extensions = [...(target.extension ?? []).filter((e) => !sameSource(e, ext)), ext];
  return { valueSet: { ...target, extension: extensions, compose: { ...target.compose, include } }, added, excluded };
}

function readJson(file: string): ValueSet {
  const size = fs.statSync(file).size;
  if (size > MAX_EXPANSION_BYTES) throw new Error(`${file}: ${size} bytes, more than the ${MAX_EXPANSION_BYTES} accepted`);
  const data = JSON.parse(fs.readFileSync(file, 'utf8')) as ValueSet;
  if (data.resourceType !== 'ValueSet') throw new Error(`${file}: not a FHIR ValueSet`);
  return data;
}

const USAGE =
  'usage: npm run valueset:import -- --expansion <downloaded ValueSet.json> --target <cds-services/valuesets/ValueSet-x.json>\n' +
  '  [--system <uri>]... [--include-display <regex>] [--exclude-display <regex>] [--exclude-code <code>]...\n' +
  '  [--note <why codes were left out>] [--location <repository/path@commit or URL>] [--dry-run]';

export function parseArgs(argv: readonly string[]): { expansion: string; target: string; dryRun: boolean; options: ImportOptions } {
  const values = new Map<string, string[]>();
  let dryRun = false;
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i] as string;
    if (flag === '--dry-run') {
      dryRun = true;
      continue;
    }
    const value = argv[i + 1];
    if (!flag.startsWith('--') || value === undefined) throw new Error(USAGE);
    values.set(flag, [...(values.get(flag) ?? []), value]);
    i++;
  }
  const one = (flag: string): string | undefined => values.get(flag)?.at(-1);
  const expansion = one('--expansion');
  const target = one('--target');
  if (!expansion || !target) throw new Error(USAGE);
  return {
    expansion,
    target,
    dryRun,
    options: {
      systems: values.get('--system') ?? [],
      includeDisplay: one('--include-display'),
      excludeDisplay: one('--exclude-display'),
      excludeCodes: (values.get('--exclude-code') ?? []).flatMap((v) => v.split(',')).filter(Boolean),
      note: one('--note'),
      location: one('--location'),
    },
  };
}

export function main(argv: readonly string[]): void {
  const { expansion, target, dryRun, options } = parseArgs(argv);
  const result = mergeExpansion(readJson(target), readJson(expansion), options);
  if (!dryRun) fs.writeFileSync(target, `${JSON.stringify(result.valueSet, null, 2)}\n`);
  process.stdout.write(`${target}: ${result.added.length} code(s) added, ${result.excluded.length} left out${dryRun ? ' (dry run, nothing written)' : ''}\n`);
  for (const c of result.added) process.stdout.write(`  + ${c.system}|${c.code} ${c.display ?? ''}\n`);
  for (const c of result.excluded) process.stdout.write(`  - ${c.system}|${c.code} ${c.display ?? ''}\n`);
}

if (require.main === module) {
  try {
    main(process.argv.slice(2));
  } catch (err) {
    process.stderr.write(`${(err as Error).message}\n`);
    process.exit(1);
  }
}
