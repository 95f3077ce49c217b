// Hook request validation (src/http/hook-request.ts + cds-services/schema/hook-request.schema.json): what clients may
// send, the 400 issues for what they may not, and the selections/draftOrders helpers.
import type { FhirResource } from 'fhir/r4';
import { HttpError } from '../src/errors';
import type { HookName, HookRequest } from '../src/cds-hooks';
import { createRequestValidator, draftOrderResources } from '../src/http/hook-request';
import { createSchemaAjv, loadSchemaFile, formatJsonPath } from '../src/schema';

const { validateHookRequest } = createRequestValidator();

type Json = Record<string, unknown>;

/** The CDS Hooks sandbox's Rx View request (shared/examples/sandbox-order-select-request.json): no Bundle.type,
 *  no encounterId, reasonCode and category as single objects instead of arrays. */
const SANDBOX_ORDER_SELECT: Json = {
  hookInstance: '5d711573-78ef-416a-8d67-8a566dc77c1c',
  hook: 'order-select',
  fhirServer: 'http://127.0.0.1:8081/fhir',
  context: {
    patientId: 'pat-1',
    userId: 'Practitioner/COREPRACTITIONER1',
    selections: ['MedicationRequest/request-123'],
    draftOrders: {
      resourceType: 'Bundle',
      entry: [
        {
          resource: {
            resourceType: 'MedicationRequest',
            id: 'request-123',
            status: 'draft',
            subject: { reference: 'Patient/pat-1' },
            authoredOn: '2026-11-27',
            dosageInstruction: [
              {
                timing: { repeat: { frequency: 1, period: 1, periodUnit: 'd' } },
                doseAndRate: [{ doseQuantity: { value: 1, system: 'http://unitsofmeasure.org', code: '{pill}' } }],
              },
            ],
            dispenseRequest: {
              expectedSupplyDuration: { value: 30, unit: 'days', system: 'http://unitsofmeasure.org', code: 'd' },
            },
            intent: 'order',
            category: {
              coding: [{ system: 'http://terminology.hl7.org/CodeSystem/medicationrequest-category', code: 'community' }],
            },
            medicationCodeableConcept: {
              text: 'Acetaminophen 80 MG Chewable Tablet [Tylenol]',
              coding: [
                {
                  display: 'Acetaminophen 80 MG Chewable Tablet [Tylenol]',
                  system: 'http://www.nlm.nih.gov/research/umls/rxnorm',
                  code: '731370',
                },
              ],
            },
            reasonCode: {
              coding: [{ system: 'http://snomed.info/sct', code: '1201005', display: 'Benign essential hypertension' }],
              text: 'Benign essential hypertension',
            },
          },
        },
      ],
    },
  },
  prefetch: {
    patient: {
      resourceType: 'Patient',
      id: 'pat-1',
      name: [{ use: 'official', family: 'Testpatient', given: ['Ada', 'E2E'] }],
      gender: 'female',
      birthDate: '1970-04-01',
    },
  },
};

function patientView(): Json {
  return {
    hook: 'patient-view',
    hookInstance: 'd1577c69-dfbe-44ad-ba6d-3e05e953b2ea',
    context: { userId: 'Practitioner/example', patientId: 'pat-1' },
  };
}

function orderSelect(): Json {
  return structuredClone(SANDBOX_ORDER_SELECT);
}

function orderSign(): Json {
  return {
    hook: 'order-sign',
    hookInstance: '7a3c9f2e-1b4d-4c8e-9f0a-2d6e8b1c3a5f',
    fhirServer: 'https://fhir.example.org/r4',
    fhirAuthorization: {
      access_token: 'opaque-token',
      token_type: 'Bearer',
      expires_in: 300,
      scope: 'patient/*.read user/*.read',
      subject: 'iph-cds',
      patient: 'pat-1',
    },
    context: {
      userId: 'PractitionerRole/pr-7',
      patientId: 'pat-1',
      encounterId: 'enc-1',
      draftOrders: {
        resourceType: 'Bundle',
        type: 'collection',
        entry: [
          { resource: { resourceType: 'MedicationRequest', id: 'mr-1', status: 'draft', intent: 'order', subject: { reference: 'Patient/pat-1' } } },
          { resource: { resourceType: 'ServiceRequest', id: 'sr-1', status: 'active', intent: 'order', subject: { reference: 'Patient/pat-1' } } },
          { resource: { resourceType: 'NutritionOrder', id: 'no-1', status: 'on-hold', intent: 'order', patient: { reference: 'Patient/pat-1' } } },
        ],
      },
    },
  };
}

const BASES: Record<HookName, () => Json> = {
  'patient-view': patientView,
  'order-select': orderSelect,
  'order-sign': orderSign,
};

/** A nested object `depth` levels deep, built without recursion. */
function nest(depth: number, leaf: unknown = 'leaf'): Json {
  let value: Json = { leaf };
  for (let i = 0; i < depth; i += 1) value = { a: value };
  return value;
}

function ctx(body: Json): Json {
  return body.context as Json;
}

function drafts(body: Json): Json {
  return ctx(body).draftOrders as Json;
}

function entries(body: Json): Json[] {
  return drafts(body).entry as Json[];
}

function auth(body: Json): Json {
  return body.fhirAuthorization as Json;
}

function captureError(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error('expected an HttpError, but the request was accepted');
}

const HUGE = 'x'.repeat(1_000_000);

interface BadCase {
  name: string;
  hook: HookName;
  /** Body to send: a function of the valid base body for `hook`, or a fixed value. */
  body: ((base: Json) => unknown) | { fixed: unknown };
  /** JSON path an issue must name; null = the body itself (no expression). */
  path: string | null;
  /** What that issue's diagnostics must say, when not simply the path. */
  says?: RegExp;
}

const BAD: BadCase[] = [
  // the body itself
  { name: 'array body', hook: 'patient-view', body: { fixed: [patientView()] }, path: null },
  { name: 'null body', hook: 'patient-view', body: { fixed: null }, path: null },
  { name: 'number body', hook: 'patient-view', body: { fixed: 42 }, path: null },
  { name: 'string body', hook: 'order-select', body: { fixed: JSON.stringify(orderSelect()) }, path: null },
  { name: 'undefined body (no parser matched)', hook: 'order-sign', body: { fixed: undefined }, path: null },
  // hook
  { name: 'missing hook', hook: 'patient-view', body: (b) => { delete b.hook; return b; }, path: 'hook' },
  { name: 'hook is a number', hook: 'patient-view', body: (b) => ({ ...b, hook: 7 }), path: 'hook' },
  { name: 'hook of another service', hook: 'patient-view', body: (b) => ({ ...b, hook: 'order-sign' }), path: 'hook', says: /^this service handles patient-view, not order-sign$/ },
  { name: 'order-select body sent to order-sign', hook: 'order-sign', body: () => orderSelect(), path: 'hook', says: /^this service handles order-sign, not order-select$/ },
  // hookInstance
  { name: 'missing hookInstance', hook: 'patient-view', body: (b) => { delete b.hookInstance; return b; }, path: 'hookInstance' },
  { name: 'hookInstance not a UUID', hook: 'patient-view', body: (b) => ({ ...b, hookInstance: 'abc-123' }), path: 'hookInstance' },
  { name: 'hookInstance is a number', hook: 'order-sign', body: (b) => ({ ...b, hookInstance: 12345 }), path: 'hookInstance' },
  { name: 'hookInstance with non-hex digits', hook: 'patient-view', body: (b) => ({ ...b, hookInstance: 'g1577c69-dfbe-44ad-ba6d-3e05e953b2ea' }), path: 'hookInstance' },
  { name: 'hookInstance of 1,000,000 characters', hook: 'patient-view', body: (b) => ({ ...b, hookInstance: HUGE }), path: 'hookInstance' },
  // context
  { name: 'missing context', hook: 'patient-view', body: (b) => { delete b.context; return b; }, path: 'context' },
  { name: 'context is an array', hook: 'patient-view', body: (b) => ({ ...b, context: [ctx(b)] }), path: 'context' },
  { name: 'context is a string', hook: 'order-select', body: (b) => ({ ...b, context: 'pat-1' }), path: 'context' },
  { name: 'context is null', hook: 'order-sign', body: (b) => ({ ...b, context: null }), path: 'context' },
  { name: 'missing patientId', hook: 'patient-view', body: (b) => { delete ctx(b).patientId; return b; }, path: 'context.patientId' },
  { name: 'missing userId', hook: 'patient-view', body: (b) => { delete ctx(b).userId; return b; }, path: 'context.userId' },
  { name: 'missing userId (order-sign)', hook: 'order-sign', body: (b) => { delete ctx(b).userId; return b; }, path: 'context.userId' },
  { name: 'userId without a type', hook: 'patient-view', body: (b) => { ctx(b).userId = 'example'; return b; }, path: 'context.userId' },
  { name: 'userId of a type patient-view does not allow', hook: 'patient-view', body: (b) => { ctx(b).userId = 'Organization/1'; return b; }, path: 'context.userId' },
  { name: 'userId Patient/.. for order-select', hook: 'order-select', body: (b) => { ctx(b).userId = 'Patient/pat-1'; return b; }, path: 'context.userId' },
  { name: 'userId RelatedPerson for order-sign', hook: 'order-sign', body: (b) => { ctx(b).userId = 'RelatedPerson/rp-1'; return b; }, path: 'context.userId' },
  { name: 'userId is a number', hook: 'order-select', body: (b) => { ctx(b).userId = 12; return b; }, path: 'context.userId' },
  { name: 'patientId is a reference (has a /)', hook: 'patient-view', body: (b) => { ctx(b).patientId = 'Patient/pat-1'; return b; }, path: 'context.patientId' },
  { name: 'patientId is a number', hook: 'order-sign', body: (b) => { ctx(b).patientId = 1288992; return b; }, path: 'context.patientId' },
  { name: 'patientId is empty', hook: 'patient-view', body: (b) => { ctx(b).patientId = ''; return b; }, path: 'context.patientId' },
  { name: 'patientId of 65 characters', hook: 'patient-view', body: (b) => { ctx(b).patientId = 'p'.repeat(65); return b; }, path: 'context.patientId' },
  { name: 'patientId of 1,000,000 characters', hook: 'order-select', body: (b) => { ctx(b).patientId = HUGE; return b; }, path: 'context.patientId' },
  { name: 'patientId ".." (path traversal in prefetch URLs)', hook: 'patient-view', body: (b) => { ctx(b).patientId = '..'; return b; }, path: 'context.patientId' },
  { name: 'patientId with a query string', hook: 'patient-view', body: (b) => { ctx(b).patientId = 'pat-1?_format=xml'; return b; }, path: 'context.patientId' },
  { name: 'encounterId is a reference', hook: 'patient-view', body: (b) => { ctx(b).encounterId = 'Encounter/enc-1'; return b; }, path: 'context.encounterId' },
  { name: 'userId id part of 1,000,000 characters', hook: 'patient-view', body: (b) => { ctx(b).userId = `Practitioner/${HUGE}`; return b; }, path: 'context.userId' },
  // fhirServer / fhirAuthorization
  { name: 'fhirServer not a URL', hook: 'patient-view', body: (b) => ({ ...b, fhirServer: 'not a url' }), path: 'fhirServer' },
  { name: 'fhirServer with a non-http scheme', hook: 'patient-view', body: (b) => ({ ...b, fhirServer: 'file:///etc/passwd' }), path: 'fhirServer' },
  { name: 'fhirServer is an object', hook: 'order-sign', body: (b) => ({ ...b, fhirServer: { url: 'https://x' } }), path: 'fhirServer' },
  { name: 'fhirAuthorization without fhirServer', hook: 'order-sign', body: (b) => { delete b.fhirServer; return b; }, path: 'fhirServer' },
  { name: 'fhirAuthorization is a string', hook: 'order-sign', body: (b) => ({ ...b, fhirAuthorization: 'Bearer abc' }), path: 'fhirAuthorization' },
  { name: 'fhirAuthorization without access_token', hook: 'order-sign', body: (b) => { delete auth(b).access_token; return b; }, path: 'fhirAuthorization.access_token' },
  { name: 'fhirAuthorization without token_type', hook: 'order-sign', body: (b) => { delete auth(b).token_type; return b; }, path: 'fhirAuthorization.token_type' },
  { name: 'fhirAuthorization without expires_in', hook: 'order-sign', body: (b) => { delete auth(b).expires_in; return b; }, path: 'fhirAuthorization.expires_in' },
  { name: 'fhirAuthorization without scope', hook: 'order-sign', body: (b) => { delete auth(b).scope; return b; }, path: 'fhirAuthorization.scope' },
  { name: 'fhirAuthorization without subject', hook: 'order-sign', body: (b) => { delete auth(b).subject; return b; }, path: 'fhirAuthorization.subject' },
  { name: 'token_type is not Bearer', hook: 'order-sign', body: (b) => { auth(b).token_type = 'MAC'; return b; }, path: 'fhirAuthorization.token_type' },
  { name: 'expires_in is a string', hook: 'order-sign', body: (b) => { auth(b).expires_in = '300'; return b; }, path: 'fhirAuthorization.expires_in' },
  { name: 'expires_in is not an integer', hook: 'order-sign', body: (b) => { auth(b).expires_in = 1.5; return b; }, path: 'fhirAuthorization.expires_in' },
  { name: 'access_token is empty', hook: 'order-sign', body: (b) => { auth(b).access_token = ''; return b; }, path: 'fhirAuthorization.access_token' },
  // prefetch / extension
  { name: 'prefetch is an array', hook: 'order-select', body: (b) => ({ ...b, prefetch: [b.prefetch] }), path: 'prefetch' },
  { name: 'prefetch is a string', hook: 'patient-view', body: (b) => ({ ...b, prefetch: 'Patient/pat-1' }), path: 'prefetch' },
  { name: 'prefetch value is a string', hook: 'order-select', body: (b) => ({ ...b, prefetch: { patient: 'Patient/pat-1' } }), path: 'prefetch.patient' },
  { name: 'prefetch value is an array', hook: 'patient-view', body: (b) => ({ ...b, prefetch: { patient: [{ resourceType: 'Patient' }] } }), path: 'prefetch.patient' },
  { name: 'prefetch value without resourceType', hook: 'patient-view', body: (b) => ({ ...b, prefetch: { patient: { id: 'pat-1' } } }), path: 'prefetch.patient.resourceType' },
  { name: 'prefetch value with a numeric resourceType', hook: 'patient-view', body: (b) => ({ ...b, prefetch: { patient: { resourceType: 3 } } }), path: 'prefetch.patient.resourceType' },
  { name: 'prefetch key that is not an identifier', hook: 'patient-view', body: (b) => ({ ...b, prefetch: { 'recent-hb': 12 } }), path: 'prefetch["recent-hb"]' },
  { name: 'extension is an array', hook: 'patient-view', body: (b) => ({ ...b, extension: [1] }), path: 'extension' },
  {
    name: '10,000-deep prefetch value without resourceType',
    hook: 'patient-view',
    body: (b) => ({ ...b, prefetch: { deep: nest(10_000) } }),
    path: 'prefetch.deep.resourceType',
  },
  {
    name: '10,000-deep extension next to a missing patientId',
    hook: 'patient-view',
    body: (b) => { delete ctx(b).patientId; return { ...b, extension: { 'org.example.deep': nest(10_000) } }; },
    path: 'context.patientId',
  },
  // selections / draftOrders
  { name: 'missing selections', hook: 'order-select', body: (b) => { delete ctx(b).selections; return b; }, path: 'context.selections' },
  { name: 'selections empty', hook: 'order-select', body: (b) => { ctx(b).selections = []; return b; }, path: 'context.selections' },
  { name: 'selections is a string', hook: 'order-select', body: (b) => { ctx(b).selections = 'MedicationRequest/request-123'; return b; }, path: 'context.selections' },
  { name: 'selection is not Type/id', hook: 'order-select', body: (b) => { ctx(b).selections = ['request-123']; return b; }, path: 'context.selections[0]' },
  { name: 'selection is a number', hook: 'order-select', body: (b) => { ctx(b).selections = ['MedicationRequest/request-123', 5]; return b; }, path: 'context.selections[1]' },
  {
    name: 'more than 200 selections',
    hook: 'order-select',
    body: (b) => { ctx(b).selections = Array.from({ length: 201 }, () => 'MedicationRequest/request-123'); return b; },
    path: 'context.selections',
  },
  { name: 'selection names no draft order', hook: 'order-select', body: (b) => { ctx(b).selections = ['MedicationRequest/other']; return b; }, path: 'context.selections[0]' },
  {
    name: 'second selection names no draft order (type differs)',
    hook: 'order-select',
    body: (b) => { ctx(b).selections = ['MedicationRequest/request-123', 'ServiceRequest/request-123']; return b; },
    path: 'context.selections[1]',
  },
  {
    name: 'selection when draftOrders has no entry',
    hook: 'order-select',
    body: (b) => { delete drafts(b).entry; return b; },
    path: 'context.selections[0]',
  },
  { name: 'missing draftOrders (order-select)', hook: 'order-select', body: (b) => { delete ctx(b).draftOrders; return b; }, path: 'context.draftOrders' },
  { name: 'missing draftOrders (order-sign)', hook: 'order-sign', body: (b) => { delete ctx(b).draftOrders; return b; }, path: 'context.draftOrders' },
  { name: 'draftOrders is not a Bundle', hook: 'order-select', body: (b) => { drafts(b).resourceType = 'Parameters'; return b; }, path: 'context.draftOrders.resourceType' },
  { name: 'draftOrders without resourceType', hook: 'order-sign', body: (b) => { delete drafts(b).resourceType; return b; }, path: 'context.draftOrders.resourceType' },
  { name: 'draftOrders is an array of resources', hook: 'order-sign', body: (b) => { ctx(b).draftOrders = entries(b).map((e) => e.resource); return b; }, path: 'context.draftOrders' },
  { name: 'draftOrders.entry is an object', hook: 'order-sign', body: (b) => { drafts(b).entry = entries(b)[0]; return b; }, path: 'context.draftOrders.entry' },
  { name: 'entry without resource', hook: 'order-select', body: (b) => { entries(b).push({ fullUrl: 'urn:uuid:1' }); return b; }, path: 'context.draftOrders.entry[1].resource' },
  { name: 'entry resource without resourceType', hook: 'order-sign', body: (b) => { delete (entries(b)[2]?.resource as Json).resourceType; return b; }, path: 'context.draftOrders.entry[2].resource.resourceType' },
  { name: 'entry resource is a string', hook: 'order-sign', body: (b) => { (entries(b)[1] as Json).resource = 'ServiceRequest/sr-1'; return b; }, path: 'context.draftOrders.entry[1].resource' },
  { name: 'entry resource id is a number', hook: 'order-sign', body: (b) => { (entries(b)[0]?.resource as Json).id = 1; return b; }, path: 'context.draftOrders.entry[0].resource.id' },
];

describe('validateHookRequest: malformed requests are 400 with issues naming the bad path', () => {
  it('has a table of at least 35 cases', () => {
    expect(BAD.length).toBeGreaterThanOrEqual(35);
  });

  it.each(BAD.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    const body = 'fixed' in c.body ? c.body.fixed : c.body(BASES[c.hook]());
    const err = captureError(() => validateHookRequest(c.hook, body));
    expect(err.status).toBe(400);
    expect(err.issues.length).toBeGreaterThan(0);
    for (const issue of err.issues) {
      expect(['invalid', 'required', 'structure']).toContain(issue.code);
      expect(issue.diagnostics.length).toBeGreaterThan(10);
      // Diagnostics never echo a huge client value back.
      expect(issue.diagnostics.length).toBeLessThan(500);
    }
    if (c.path === null) {
      expect(err.issues).toHaveLength(1);
      expect(err.issues[0]?.expression).toBeUndefined();
      expect(err.issues[0]?.diagnostics).toMatch(/JSON object/);
    } else {
      const paths = err.issues.flatMap((i) => i.expression ?? []);
      expect(paths).toContain(c.path);
      const named = err.issues.find((i) => i.expression?.includes(c.path as string));
      if (c.says) expect(named?.diagnostics).toMatch(c.says);
      else expect(named?.diagnostics).toContain(c.path);
    }
  });
});

describe('validateHookRequest: issue wording and codes', () => {
  it('names both hooks when the hook is not the service hook', () => {
    const err = captureError(() => validateHookRequest('patient-view', { ...patientView(), hook: 'order-sign' }));
    expect(err.issues).toEqual([
      { code: 'invalid', diagnostics: 'this service handles patient-view, not order-sign', expression: ['hook'] },
    ]);
  });

  it('clips a huge wrong hook name instead of echoing it', () => {
    const err = captureError(() => validateHookRequest('patient-view', { ...patientView(), hook: HUGE }));
    expect(err.issues[0]?.diagnostics.length).toBeLessThan(200);
  });

  it('reports every problem at once, with required/structure/invalid codes', () => {
    const body = patientView();
    delete body.hookInstance;
    body.context = { userId: 'Device/1', patientId: 'a/b' };
    body.prefetch = [];
    const err = captureError(() => validateHookRequest('patient-view', body));
    expect(err.issues).toEqual(
      expect.arrayContaining([
        { code: 'required', diagnostics: 'hookInstance is required', expression: ['hookInstance'] },
        { code: 'structure', diagnostics: expect.stringMatching(/^prefetch must be an object/), expression: ['prefetch'] },
        { code: 'invalid', diagnostics: expect.stringMatching(/^context\.userId must be a reference Practitioner\/\{id\}/), expression: ['context.userId'] },
        { code: 'invalid', diagnostics: expect.stringMatching(/^context\.patientId must be a plain FHIR id/), expression: ['context.patientId'] },
      ]),
    );
    expect(err.issues).toHaveLength(4);
  });

  it('explains the fhirAuthorization => fhirServer rule', () => {
    const body = orderSign();
    delete body.fhirServer;
    const err = captureError(() => validateHookRequest('order-sign', body));
    expect(err.issues).toEqual([
      { code: 'required', diagnostics: 'fhirServer is required when fhirAuthorization is present', expression: ['fhirServer'] },
    ]);
  });

  it('says which selection names no draft order', () => {
    const body = orderSelect();
    ctx(body).selections = ['MedicationRequest/request-123', 'MedicationRequest/missing-1'];
    const err = captureError(() => validateHookRequest('order-select', body));
    expect(err.issues).toEqual([
      {
        code: 'invalid',
        diagnostics: 'context.selections[1] (MedicationRequest/missing-1) names no entry of context.draftOrders',
        expression: ['context.selections[1]'],
      },
    ]);
  });

  it('caps the number of issues for a body with thousands of errors', () => {
    const body = orderSign();
    drafts(body).entry = Array.from({ length: 5000 }, () => ({}));
    const err = captureError(() => validateHookRequest('order-sign', body));
    expect(err.status).toBe(400);
    expect(err.issues.length).toBeLessThanOrEqual(51);
    expect(err.issues.at(-1)?.diagnostics).toBe('4950 further problems were not listed');
  });

  it('builds JSON paths: dots for names, brackets for indexes and odd keys', () => {
    expect(formatJsonPath([])).toBe('');
    expect(formatJsonPath(['context', 'selections', '0'])).toBe('context.selections[0]');
    expect(formatJsonPath(['prefetch', 'com.example/x', 'resourceType'])).toBe('prefetch["com.example/x"].resourceType');
  });
});

describe('validateHookRequest: valid requests are accepted', () => {
  it('accepts a minimal patient-view request (no fhirServer, no prefetch) and returns it typed', () => {
    const body = patientView();
    const request: HookRequest = validateHookRequest('patient-view', body);
    expect(request).toBe(body);
    expect(request.context.patientId).toBe('pat-1');
  });

  it('accepts patient-view variations real clients send', () => {
    const body: Json = {
      ...patientView(),
      hookInstance: 'D1577C69-DFBE-44AD-BA6D-3E05E953B2EA',
      fhirServer: 'https://launch.smarthealthit.org/v/r4/fhir',
      fhirAuthorization: { access_token: 't', token_type: 'bearer', expires_in: 0, scope: 'user/*.read', subject: 'c' },
      context: { userId: 'RelatedPerson/rp.1', patientId: 'smart-1288992', encounterId: 'enc-9', somethingNew: { x: 1 } },
      prefetch: { patient: { resourceType: 'Patient', id: 'smart-1288992' }, conditions: null, labs: { resourceType: 'Bundle', entry: [] } },
      extension: { 'com.example.flag': true },
      unknownTopLevel: [1, 2, 3],
    };
    expect(() => validateHookRequest('patient-view', body)).not.toThrow();
    for (const userId of ['Practitioner/p', 'PractitionerRole/pr', 'Patient/pat-1']) {
      const b = patientView();
      ctx(b).userId = userId;
      expect(() => validateHookRequest('patient-view', b)).not.toThrow();
    }
  });

  it('accepts the sandbox order-select request (no Bundle.type, reasonCode and category as objects)', () => {
    const request = validateHookRequest('order-select', orderSelect());
    expect(draftOrderResources(request)).toEqual([expect.objectContaining({ resourceType: 'MedicationRequest', id: 'request-123' })]);
  });

  it('accepts an order-sign request with mixed statuses and lists every draft order in Bundle order', () => {
    const request = validateHookRequest('order-sign', orderSign());
    const resources = draftOrderResources(request);
    expect(resources.map((r) => `${r.resourceType}/${r.id}/${(r as { status?: string }).status}`)).toEqual([
      'MedicationRequest/mr-1/draft',
      'ServiceRequest/sr-1/active',
      'NutritionOrder/no-1/on-hold',
    ]);
  });

  it('accepts order-sign with an empty draftOrders Bundle', () => {
    const body = orderSign();
    ctx(body).draftOrders = { resourceType: 'Bundle' };
    const request = validateHookRequest('order-sign', body);
    expect(draftOrderResources(request)).toEqual([]);
  });

  it('accepts a large order-select: 5,000 draft orders and 200 selections', () => {
    const body = orderSelect();
    drafts(body).entry = Array.from({ length: 5000 }, (_, i) => ({
      resource: { resourceType: 'ServiceRequest', id: `sr-${i}`, status: 'draft', code: { text: 'x'.repeat(100) } },
    }));
    ctx(body).selections = Array.from({ length: 200 }, (_, i) => `ServiceRequest/sr-${4999 - i}`);
    const request = validateHookRequest('order-select', body);
    expect(draftOrderResources(request)).toHaveLength(5000);
  });
});

describe('validateHookRequest: deep nesting is refused without crashing', () => {
  function paths(err: HttpError): string[] {
    return err.issues.flatMap((i) => i.expression ?? []);
  }

  it('refuses 10,000-deep nesting inside extension, prefetch, context and a draft order, naming each place', () => {
    const body = orderSelect();
    body.extension = { 'org.example.deep': nest(10_000) };
    body.prefetch = { patient: { resourceType: 'Patient', id: 'pat-1', deep: nest(10_000) }, conditions: null };
    ctx(body).unknownDeep = nest(10_000);
    (entries(body)[0]?.resource as Json).extension = [nest(10_000)];
    const err = captureError(() => validateHookRequest('order-select', body));
    expect(err.status).toBe(400);
    expect(paths(err).sort()).toEqual(['context.draftOrders', 'context.unknownDeep', 'extension["org.example.deep"]', 'prefetch.patient']);
    expect(err.issues[0]).toMatchObject({ code: 'structure', diagnostics: expect.stringMatching(/is nested more than 100 levels deep$/) });
  });

  it('refuses a 10,000-deep body parsed from JSON text', () => {
    const depth = 10_000;
    const text = JSON.stringify(patientView()).replace(/}$/, `,"extension":{"x":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}}`);
    const body: unknown = JSON.parse(text);
    const err = captureError(() => validateHookRequest('patient-view', body));
    expect(paths(err)).toEqual(['extension.x']);
  });

  it('reports schema problems and nesting together', () => {
    const body = patientView();
    delete ctx(body).userId;
    body.prefetch = { deep: [nest(500)] };
    const err = captureError(() => validateHookRequest('patient-view', body));
    expect(paths(err).sort()).toEqual(['context.userId', 'prefetch.deep', 'prefetch.deep']);
  });

  it('accepts nesting up to the limit, counting the body as level 0', () => {
    // extension (1) -> "k" (2) -> 98 wrappers -> { leaf } at level 100
    const atLimit = { ...patientView(), extension: { k: nest(98) } };
    expect(() => validateHookRequest('patient-view', atLimit)).not.toThrow();
    const overLimit = { ...patientView(), extension: { k: nest(99) } };
    expect(paths(captureError(() => validateHookRequest('patient-view', overLimit)))).toEqual(['extension.k']);
  });

  it('takes the limit from createRequestValidator options', () => {
    const validator = createRequestValidator({ maxDepth: 4 });
    const body = { ...patientView(), extension: { x: { a: { a: { a: 1 } } } } };
    expect(() => validator.validateHookRequest('patient-view', body)).not.toThrow();
    const strict = createRequestValidator({ maxDepth: 3 });
    expect(paths(captureError(() => strict.validateHookRequest('patient-view', body)))).toEqual(['extension.x']);
    expect(() => createRequestValidator({ maxDepth: 1 })).toThrow(RangeError);
  });
});

describe('draftOrderResources', () => {
  function request(selections: unknown, resources: FhirResource[]): HookRequest {
    return {
      hook: 'order-select',
      hookInstance: '5d711573-78ef-416a-8d67-8a566dc77c1c',
      context: {
        userId: 'Practitioner/p',
        patientId: 'pat-1',
        selections: selections as string[],
        draftOrders: { resourceType: 'Bundle', type: 'collection', entry: resources.map((resource) => ({ resource })) },
      },
    };
  }
  const mr1: FhirResource = { resourceType: 'MedicationRequest', id: '1', status: 'draft', intent: 'order', subject: {} };
  const sr1: FhirResource = { resourceType: 'ServiceRequest', id: '1', status: 'draft', intent: 'order', subject: {} };

  it('lists all draft resources, skipping entries without a resource', () => {
    const r = request([], [mr1, sr1]);
    (r.context.draftOrders?.entry as unknown[]).splice(1, 0, { fullUrl: 'urn:uuid:x' });
    expect(draftOrderResources(r)).toEqual([mr1, sr1]);
    expect(draftOrderResources({ ...r, context: { userId: 'Practitioner/p', patientId: 'p' } })).toEqual([]);
  });
});

describe('createRequestValidator', () => {
  it('compiles an independent validator that behaves like validateHookRequest', () => {
    const validator = createRequestValidator();
    expect(validator.validateHookRequest('order-select', orderSelect()).hook).toBe('order-select');
    const err = captureError(() => validator.validateHookRequest('order-select', patientView()));
    expect(err.issues[0]?.expression).toEqual(['hook']);
  });

  it('fails at construction when the schema directory is missing', () => {
    expect(() => createRequestValidator({ schemaDir: '/nonexistent/schema-dir' })).toThrow();
  });
});

describe('hook-request.schema.json root (for editors and generic use)', () => {
  const validate = createSchemaAjv().compile(loadSchemaFile('hook-request.schema.json'));

  it('applies the context rules of the hook named in the body', () => {
    expect(validate(orderSelect())).toBe(true);
    expect(validate(orderSign())).toBe(true);
    expect(validate(patientView())).toBe(true);
    const bad = orderSelect();
    ctx(bad).selections = [];
    expect(validate(bad)).toBe(false);
    expect(validate.errors?.map((e) => e.instancePath)).toContain('/context/selections');
  });

  it('checks only the common fields for other hooks', () => {
    expect(validate({ hook: 'encounter-start', hookInstance: '5d711573-78ef-416a-8d67-8a566dc77c1c', context: {} })).toBe(true);
    expect(validate({ hook: 'encounter-start', hookInstance: 'nope', context: {} })).toBe(false);
  });
});
