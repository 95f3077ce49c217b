// The compiled FHIRPath engine against fhirpath.js (the reference): every named expression, template placeholder
// and rendered card of every shipped definition, on every golden case's request and on generated edge cases
// derived from them (missing elements, partial dates with offsets, convertible and inconvertible units, codings
// without system, extensions, multi-item and empty collections), must give the same plain-JSON results.
import { buildRequest, listCases } from './helpers/golden';
import { copy, loadBothEngines, runEngine, type EngineRun } from './helpers/fhirpath-engines';

// Both engines run every case: generous per-test timeouts, since a busy 2-core machine may be several times slower.
const engines = loadBothEngines();
const cases = listCases().filter((c) => c.data.expect.status === 200 && engines.compiled.services.has(c.service));

type Json = Record<string, unknown>;

/** Every resource of a request: context draft orders and prefetch (single resources and Bundle entries). */
function resourcesOf(body: Json): Json[] {
  const out: Json[] = [];
  const add = (v: unknown) => {
    const r = v as Json | null | undefined;
    if (!r || typeof r !== 'object') return;
    if (r.resourceType === 'Bundle') for (const e of (r.entry as { resource?: Json }[] | undefined) ?? []) add(e.resource);
    else if (typeof r.resourceType === 'string') out.push(r);
  };
  for (const v of Object.values((body.prefetch as Json | undefined) ?? {})) add(v);
  add((body.context as Json | undefined)?.draftOrders);
  return out;
}

/** Visits every object inside a value (depth first) with its key. */
function eachObject(v: unknown, visit: (o: Json, key: string) => void, key = ''): void {
  if (Array.isArray(v)) for (const x of v) eachObject(x, visit, key);
  else if (v && typeof v === 'object') {
    visit(v as Json, key);
    for (const [k, x] of Object.entries(v as Json)) eachObject(x, visit, k);
  }
}

const DATE_KEYS = /^(effectiveDateTime|issued|onsetDateTime|abatementDateTime|recordedDate|authoredOn|performedDateTime|occurrenceDateTime|birthDate|date|start|end)$/;
const PARTIAL = [(d: string) => d.slice(0, 4), (d: string) => d.slice(0, 7), (d: string) => d.slice(0, 10), (d: string) => `${d.slice(0, 10)}T23:30:00+05:30`, (d: string) => `${d.slice(0, 10)}T00:15:00.250-08:00`, (d: string) => `${d.slice(0, 10)}T12:00:00Z`];
const CONVERTIBLE: Record<string, [string, number]> = { 'g/dL': ['g/L', 10], 'g/L': ['mg/dL', 100], 'mg/dL': ['g/L', 0.01], 'ug/L': ['ng/mL', 1], 'mg/L': ['ug/mL', 1], '10*3/uL': ['10*9/L', 1], 'U/mL': ['kU/L', 1], '%': ['1', 0.01] };

/** Generated edge cases: each rewrites a copy of a golden request. */
const VARIANTS: Record<string, (body: Json) => void> = {
  'missing elements': (b) => resourcesOf(b).forEach((r, i) => {
    for (const k of Object.keys(r)) if (/^(effective|onset|issued|value|interpretation|category|status|clinicalStatus|verificationStatus)/.test(k) && (i + k.length) % 3 === 0) delete r[k];
  }),
  'partial dates with offsets': (b) => {
    let n = 0;
    eachObject(b.prefetch, (o) => {
      for (const [k, v] of Object.entries(o)) if (DATE_KEYS.test(k) && typeof v === 'string' && v.length >= 10) o[k] = (PARTIAL[n++ % PARTIAL.length] as (d: string) => string)(v);
    });
  },
  'convertible units': (b) => eachObject(b.prefetch, (o) => {
    const to = typeof o.code === 'string' && o.system === 'http://unitsofmeasure.org' && typeof o.value === 'number' ? CONVERTIBLE[o.code] : undefined;
    if (to) Object.assign(o, { code: to[0], unit: to[0], value: Number(((o.value as number) * to[1]).toPrecision(10)) });
  }),
  'inconvertible units': (b) => {
    let n = 0;
    eachObject(b.prefetch, (o, key) => {
      if (key !== 'valueQuantity' && key !== 'low' && key !== 'high') return;
      const m = n++ % 4;
      if (m === 0) Object.assign(o, { code: 'mmol/L', unit: 'mmol/L' });
      else if (m === 1) Object.assign(o, { code: 'kg', unit: 'kg' });
      else if (m === 2) delete o.system;
      else Object.assign(o, { code: undefined, unit: 'g/dL' });
    });
  },
  'codings without system': (b) => eachObject(b.prefetch, (o, key) => {
    if (key === 'coding') delete o.system;
  }),
  extensions: (b) => resourcesOf(b).forEach((r) => {
    r.extension = [{ url: 'http://example.org/fhir/StructureDefinition/note', valueString: 'x' }, { url: 'http://example.org/fhir/StructureDefinition/flag', valueBoolean: true }];
    if (typeof r.status === 'string') r._status = { extension: [{ url: 'http://example.org/fhir/StructureDefinition/why', valueCode: 'entered' }] };
    const code = r.code as Json | undefined;
    if (code && typeof code === 'object') code.extension = [{ url: 'http://example.org/fhir/StructureDefinition/origin', valueCoding: { system: 'http://loinc.org', code: '718-7' } }];
  }),
  'multi-item collections': (b) => {
    eachObject(b.prefetch, (o) => {
      if (o.resourceType === 'Bundle' && Array.isArray(o.entry)) {
        o.entry = (o.entry as Json[]).flatMap((e) => [e, { ...copy(e), resource: { ...copy(e.resource as Json), id: `${String((e.resource as Json | undefined)?.id)}-copy` } }]);
      }
      if (Array.isArray(o.coding)) o.coding = [...(o.coding as Json[]), { system: 'http://example.org/local', code: 'local-1', display: 'Local code' }];
    });
  },
  'empty collections': (b) => eachObject(b.prefetch, (o) => {
    if (o.resourceType === 'Bundle') o.entry = [];
  }),
};

function differences(a: EngineRun, b: EngineRun): string[] {
  const out: string[] = [];
  const eq = (x: unknown, y: unknown) => JSON.stringify(x) === JSON.stringify(y);
  for (const name of Object.keys(b.named)) if (!eq(a.named[name], b.named[name])) out.push(`%${name}: compiled ${JSON.stringify(a.named[name]).slice(0, 300)} reference ${JSON.stringify(b.named[name]).slice(0, 300)}`);
  b.templates.forEach((t, i) => {
    if (!eq(a.templates[i], t)) out.push(`{{${t.source}}}: compiled ${JSON.stringify(a.templates[i]?.result).slice(0, 300)} reference ${JSON.stringify(t.result).slice(0, 300)}`);
  });
  if (!eq(a.failures, b.failures)) out.push(`failures: compiled ${JSON.stringify(a.failures)} reference ${JSON.stringify(b.failures)}`);
  if (!eq(a.cards, b.cards)) out.push('rendered cards differ');
  return out;
}

async function compare(service: string, body: Json, now: number): Promise<{ differences: string[]; evaluated: number }> {
  const compiled = await runEngine(engines.compiled, service, body, now);
  const reference = await runEngine(engines.reference, service, body, now);
  return { differences: differences(compiled, reference), evaluated: Object.keys(reference.named).length + reference.templates.length };
}

test('the compiled engine compiles every shipped expression (none left on fhirpath.js)', () => {
  expect(engines.compiled.runtime.referenceOnly).toEqual([]);
  expect(cases.length).toBeGreaterThan(20);
});

describe.each([...new Set(cases.map((c) => c.service))])('%s: compiled = reference', (service) => {
  const own = cases.filter((c) => c.service === service);
  const definition = engines.compiled.services.get(service);
  if (!definition) throw new Error(`no service ${service}`);

  test.each(own.map((c) => [c.name, c] as const))('golden case %s', async (_name, c) => {
    const result = await compare(service, buildRequest(definition, c.data), Date.parse(c.data.now));
    expect(result.differences).toEqual([]);
    expect(result.evaluated).toBeGreaterThan(100);
  }, 120_000);

  // Each variant on every third case (a different third per variant): every case is rewritten by some variants and
  // the suite stays within a minute on a busy machine.
  test.each(Object.keys(VARIANTS).map((v, i) => [v, i] as const))('generated edge cases: %s', async (variant, offset) => {
    const found: string[] = [];
    for (const c of own.filter((_c, i) => (i + offset) % 3 === 0)) {
      const body = copy(buildRequest(definition, c.data));
      (VARIANTS[variant] as (b: Json) => void)(body);
      const result = await compare(service, body, Date.parse(c.data.now));
      found.push(...result.differences.map((d) => `${c.name}: ${d}`));
    }
    expect(found).toEqual([]);
  }, 600_000);
});
