// Golden cases as data: fixtures/cases/<service>/<case>.json + fixtures/patients/<id>.json. Builds the
// hook request of a case (prefetch by running the service's query templates over the patient's bundle
// with the test-only fhir-query, as a FHIR server would) and compares a response with the expectations.
import fs from 'node:fs';
import path from 'node:path';
import { randomUUID } from 'node:crypto';
import type { Express } from 'express';
import request from 'supertest';
import type { FhirResource } from 'fhir/r4';
import type { ServiceDefinition } from '../../src/definitions/types';
import type { HookRequest } from '../../src/cds-hooks';
import { renderTokens, runQuery } from './fhir-query';

export const FIXTURES = path.join(__dirname, '..', '..', 'fixtures');

/** A suggested ServiceRequest, found by one `system|code` of its code, and the fields it must carry. */
export interface ExpectedOrder {
  code: string;
  priority?: 'stat' | 'urgent' | 'asap' | 'routine';
  /** SNOMED code of the ServiceRequest category. */
  category?: string;
  /** "<Type>/<id>" that must be among the order's reasonReference. */
  reasonReference?: string;
  /** "ServiceRequest/<id>" that must be among the order's basedOn. */
  basedOn?: string;
  /** Substring of note[0].text. */
  note?: string;
}

export interface ExpectedCard {
  topic: string;
  indicator?: string;
  suggestions?: string[];
  summaryIncludes?: string[];
  summaryExcludes?: string[];
  detailIncludes?: string[];
  detailExcludes?: string[];
  orders?: ExpectedOrder[];
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
    prefetch[key] = runQuery(resources, renderTokens(def.query, request.context as unknown as Record<string, unknown>));
  }
  Object.assign(prefetch, c.prefetch ?? {});
  return { ...request, prefetch };
}

/** Posts a case to the app with the clock (Date only) pinned to the case's `now`. */
export async function postCase(app: Express, service: ServiceDefinition, c: LoadedCase): Promise<{ status: number; body: Record<string, unknown> }> {
  const body = buildRequest(service, c.data);
  jest.useFakeTimers({ now: new Date(c.data.now), doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
  try {
    const res = await request(app).post(`/cds-services/${c.service}`).set('Content-Type', 'application/json').send(body);
    return { status: res.status, body: res.body as Record<string, unknown> };
  } finally {
    jest.useRealTimers();
  }
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

/** The ServiceRequests a card's suggestions would create, with one of their codings. */
function suggestedServiceRequests(card: Json, code: string): Json[] {
  return ((card.suggestions as Json[] | undefined) ?? [])
    .flatMap((s) => (s.actions as Json[] | undefined) ?? [])
    .map((a) => a.resource as Json | undefined)
    .filter((r): r is Json => r?.resourceType === 'ServiceRequest')
    .filter((r) => (((r.code as Json | undefined)?.coding as Json[] | undefined) ?? []).some((c) => `${String(c.system)}|${String(c.code)}` === code));
}

function references(list: unknown): string[] {
  return ((list as Json[] | undefined) ?? []).map((r) => String(r.reference));
}

/** Differences between one suggested order and its expectation. */
function compareOrder(topic: string, card: Json, e: ExpectedOrder): string[] {
  const found = suggestedServiceRequests(card, e.code);
  if (found.length === 0) return [`${topic}: no suggested ServiceRequest coded ${e.code}`];
  const problems: string[] = [];
  for (const r of found) {
    const at = `${topic}: order ${e.code}`;
    if (e.priority && r.priority !== e.priority) problems.push(`${at}: priority ${String(r.priority)}, expected ${e.priority}`);
    if (e.category) {
      const cats = ((r.category as Json[] | undefined) ?? []).flatMap((c) => (c.coding as Json[] | undefined) ?? []);
      if (!cats.some((c) => c.system === 'http://snomed.info/sct' && c.code === e.category)) problems.push(`${at}: category ${JSON.stringify(cats.map((c) => `${String(c.system)}|${String(c.code)}`))}, expected SNOMED ${e.category}`);
    }
    if (e.reasonReference && !references(r.reasonReference).includes(e.reasonReference)) problems.push(`${at}: reasonReference ${JSON.stringify(references(r.reasonReference))} lacks ${e.reasonReference}`);
    if (e.basedOn && !references(r.basedOn).includes(e.basedOn)) problems.push(`${at}: basedOn ${JSON.stringify(references(r.basedOn))} lacks ${e.basedOn}`);
    if (e.note !== undefined) {
      const note = String((((r.note as Json[] | undefined) ?? [])[0] as Json | undefined)?.text ?? '');
      if (!note.includes(e.note)) problems.push(`${at}: note[0].text ${JSON.stringify(note)} does not include "${e.note}"`);
    }
  }
  return problems;
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
    const summary = String(card.summary ?? '');
    const detail = String(card.detail ?? '');
    for (const s of e.summaryIncludes ?? []) if (!summary.includes(s)) problems.push(`${e.topic}: summary ${JSON.stringify(summary)} does not include "${s}"`);
    for (const s of e.summaryExcludes ?? []) if (summary.includes(s)) problems.push(`${e.topic}: summary ${JSON.stringify(summary)} includes "${s}", expected it absent`);
    for (const s of e.detailIncludes ?? []) if (!detail.includes(s)) problems.push(`${e.topic}: detail does not include "${s}"`);
    for (const s of e.detailExcludes ?? []) if (detail.includes(s)) problems.push(`${e.topic}: detail includes "${s}", expected it absent`);
    for (const o of e.orders ?? []) problems.push(...compareOrder(e.topic, card, o));
  }
  return problems;
}
