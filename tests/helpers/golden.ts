// Golden cases as data: fixtures/cases/<service>/<case>.json + fixtures/patients/<id>.json. Builds the
// hook request of a case (prefetch by running the service's query templates over the patient's bundle,
// as a FHIR server would) and compares a response with the case's expectations.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { FhirResource } from 'fhir/r4';
import type { ServiceDefinition } from '../../src/definitions/types';
import { renderPrefetchTemplate } from '../../src/fhir/client';
import { searchResources } from '../../demo/fhir-search';
import type { HookRequest } from '../../src/cds-hooks';

export const FIXTURES = path.join(__dirname, '..', '..', 'fixtures');

export interface ExpectedCard {
  topic: string;
  indicator?: string;
  suggestions?: string[];
  detailIncludes?: string[];
}

export interface GoldenCase {
  description: string;
  now: string;
  patient?: string;
  context?: Record<string, unknown>;
  prefetch?: Record<string, unknown>;
  omitPrefetch?: string[];
  request?: Record<string, unknown>;
  expect: { status: number; cards?: ExpectedCard[]; issueIncludes?: string[] };
}

export interface LoadedCase {
  service: string;
  name: string;
  file: string;
  data: GoldenCase;
}

export function listCases(): LoadedCase[] {
  const root = path.join(FIXTURES, 'cases');
  return fs
    .readdirSync(root)
    .sort()
    .flatMap((service) =>
      fs
        .readdirSync(path.join(root, service))
        .filter((f) => f.endsWith('.json'))
        .sort()
        .map((f) => ({ service, name: f.replace(/\.json$/, ''), file: path.join(root, service, f), data: JSON.parse(fs.readFileSync(path.join(root, service, f), 'utf8')) as GoldenCase })),
    );
}

export function loadPatientResources(patientId: string): FhirResource[] {
  const bundle = JSON.parse(fs.readFileSync(path.join(FIXTURES, 'patients', `${patientId}.json`), 'utf8')) as { entry?: { resource: FhirResource }[] };
  return (bundle.entry ?? []).map((e) => e.resource);
}

/** The request of a case without prefetch: hook, hookInstance, context. */
export function baseRequest(service: ServiceDefinition, c: GoldenCase): HookRequest {
  return {
    hook: service.hook,
    hookInstance: randomUUID(),
    context: { userId: 'Practitioner/golden-clinician', patientId: c.patient as string, ...(c.context ?? {}) },
  } as HookRequest;
}

/** The full request of a case, with prefetch built from the patient's bundle. */
export function buildRequest(service: ServiceDefinition, c: GoldenCase): Record<string, unknown> {
  if (c.request) return c.request;
  const request = baseRequest(service, c);
  const resources = loadPatientResources(c.patient as string);
  const prefetch: Record<string, unknown> = {};
  for (const [key, def] of Object.entries(service.prefetch)) {
    if (c.omitPrefetch?.includes(key)) continue;
    const query = renderPrefetchTemplate(def.query, request);
    if (!query) throw new Error(`template of ${key} does not render`);
    const result = searchResources(resources, query);
    if (result.status === 200) prefetch[key] = result.body;
    else if (result.status === 404) prefetch[key] = null;
    else throw new Error(`prefetch ${key} query ${query} fails on the fixture: ${JSON.stringify(result.body)}`);
  }
  Object.assign(prefetch, c.prefetch ?? {});
  return { ...request, prefetch };
}

type Json = Record<string, unknown>;

/** system|code of every coding of the resources a card's suggestions would create or update. */
export function suggestionCodes(card: Json): string[] {
  const out: string[] = [];
  for (const s of (card.suggestions as Json[] | undefined) ?? []) {
    for (const a of (s.actions as Json[] | undefined) ?? []) {
      const r = a.resource as Json | undefined;
      if (!r) continue;
      let concepts: Json[] = [];
      if (r.resourceType === 'NutritionOrder') {
        const types = ((r.oralDiet as Json | undefined)?.type as Json[] | undefined) ?? [];
        // The codings of the gluten-free type it adds (the last entry for an update).
        concepts = types.length ? [types[types.length - 1] as Json] : [];
      } else if (r.code) concepts = [r.code as Json];
      for (const c of concepts) for (const coding of (c.coding as Json[] | undefined) ?? []) out.push(`${String(coding.system)}|${String(coding.code)}`);
    }
  }
  return out.sort();
}

/** Differences between a response and a case's expectations (empty when it matches). */
export function compareWithExpected(c: GoldenCase, status: number, body: Json): string[] {
  const problems: string[] = [];
  if (status !== c.expect.status) problems.push(`status ${status}, expected ${c.expect.status}: ${JSON.stringify(body).slice(0, 400)}`);
  if (c.expect.issueIncludes) {
    const text = JSON.stringify(body);
    for (const s of c.expect.issueIncludes) if (!text.includes(s)) problems.push(`OperationOutcome does not mention "${s}"`);
  }
  if (!c.expect.cards || status !== 200) return problems;
  const cards = (body.cards as Json[]) ?? [];
  const byTopic = new Map(cards.map((card) => [((card.source as Json).topic as Json).code as string, card]));
  const got = [...byTopic.keys()].sort();
  const want = c.expect.cards.map((e) => e.topic).sort();
  if (JSON.stringify(got) !== JSON.stringify(want)) problems.push(`topics ${JSON.stringify(got)}, expected ${JSON.stringify(want)}`);
  for (const e of c.expect.cards) {
    const card = byTopic.get(e.topic);
    if (!card) continue;
    if (e.indicator && card.indicator !== e.indicator) problems.push(`${e.topic}: indicator ${String(card.indicator)}, expected ${e.indicator}`);
    if (e.suggestions) {
      const codes = suggestionCodes(card);
      const wantCodes = [...e.suggestions].sort();
      if (JSON.stringify(codes) !== JSON.stringify(wantCodes)) problems.push(`${e.topic}: suggestion codes ${JSON.stringify(codes)}, expected ${JSON.stringify(wantCodes)}`);
    }
    for (const s of e.detailIncludes ?? []) {
      if (!String(card.detail ?? '').includes(s)) problems.push(`${e.topic}: detail does not include "${s}"`);
    }
  }
  return problems;
}
