// FHIR client for absent prefetch keys: token handling, paging, redirects, budgets and the server allow-list.
import nock from 'nock';
import type { Bundle, FhirResource } from 'fhir/r4';
import type { HookRequest } from '../src/cds-hooks';
import {
  fetchPrefetchKeys,
  readFhirFetchSettings,
  renderPrefetchTemplate,
  type FetchOutcome,
  type FhirFetchSettings,
} from '../src/fhir/client';

const EHR = 'https://ehr.test';
const BASE = `${EHR}/fhir`;
const TOKEN = 'tok-3f9a.secret';

const settings: FhirFetchSettings = { allowedServers: [BASE], production: false, budgetMs: 2000, maxPages: 20, maxResources: 20000 };

function hookRequest(overrides: Partial<HookRequest> = {}): HookRequest {
  return {
    hook: 'patient-view',
    hookInstance: 'c1d6e1a8-5e2c-4a57-9d2b-6a0b3c1c9f10',
    fhirServer: BASE,
    fhirAuthorization: { access_token: TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'iph-cds' },
    context: { userId: 'Practitioner/doc-1', patientId: 'p1' },
    ...overrides,
  };
}

const patient: FhirResource = { resourceType: 'Patient', id: 'p1' };
const obs = (id: string): FhirResource => ({ resourceType: 'Observation', id, status: 'final', code: { text: id } });
function searchset(resources: FhirResource[], next?: string): Bundle<FhirResource> {
  return {
    resourceType: 'Bundle',
    type: 'searchset',
    entry: resources.map((resource) => ({ fullUrl: `${BASE}/${resource.resourceType}/${resource.id}`, resource, search: { mode: 'match' } })),
    ...(next ? { link: [{ relation: 'next', url: next }] } : {}),
  };
}

/** Requests nock could not match: a refused or stray request shows up here. */
let unmatched: string[] = [];
const onNoMatch = (req: { method?: string; href?: string; path?: string }): void => {
  unmatched.push(`${req.method ?? ''} ${req.href ?? req.path ?? ''}`);
};

beforeAll(() => {
  nock.disableNetConnect();
  nock.emitter.on('no match', onNoMatch);
});
afterAll(() => {
  nock.emitter.removeListener('no match', onNoMatch);
});
beforeEach(() => {
  unmatched = [];
});
afterEach(() => {
  // The never-answering server's delay timer belongs to nock; aborting it lets jest exit promptly.
  nock.abortPendingRequests();
  nock.cleanAll();
});

async function fetchOne(template: string, request = hookRequest(), s = settings): Promise<FetchOutcome> {
  const out = await fetchPrefetchKeys(request, { key: template }, s);
  const outcome = out.key;
  if (!outcome) throw new Error('missing key');
  if (!outcome.ok) expect(outcome.reason).not.toContain(TOKEN);
  return outcome;
}

function reasonOf(outcome: FetchOutcome): string {
  if (outcome.ok) throw new Error(`expected a failure, got ${JSON.stringify(outcome.value)}`);
  return outcome.reason;
}

describe('readFhirFetchSettings', () => {
  it('has defaults', () => {
    expect(readFhirFetchSettings({})).toEqual({ allowedServers: [], production: false, budgetMs: 2500, maxPages: 20, maxResources: 20000 });
  });

  it('reads every variable', () => {
    expect(
      readFhirFetchSettings({
        NODE_ENV: 'production',
        CDS_FHIR_ALLOWED_SERVERS: ' https://a.test/fhir , https://b.test,',
        CDS_FHIR_BUDGET_MS: '900',
        CDS_FHIR_MAX_PAGES: '3',
        CDS_FHIR_MAX_RESOURCES: '100',
      }),
    ).toEqual({ allowedServers: ['https://a.test/fhir', 'https://b.test'], production: true, budgetMs: 900, maxPages: 3, maxResources: 100 });
  });

  it('throws on bad values', () => {
    expect(() => readFhirFetchSettings({ CDS_FHIR_BUDGET_MS: '0' })).toThrow('CDS_FHIR_BUDGET_MS');
    expect(() => readFhirFetchSettings({ CDS_FHIR_BUDGET_MS: '2.5s' })).toThrow('CDS_FHIR_BUDGET_MS');
    expect(() => readFhirFetchSettings({ CDS_FHIR_MAX_PAGES: '-1' })).toThrow('CDS_FHIR_MAX_PAGES');
    expect(() => readFhirFetchSettings({ CDS_FHIR_MAX_RESOURCES: 'lots' })).toThrow('CDS_FHIR_MAX_RESOURCES');
    expect(() => readFhirFetchSettings({ CDS_FHIR_ALLOWED_SERVERS: 'ehr.test/fhir' })).toThrow('CDS_FHIR_ALLOWED_SERVERS');
    expect(() => readFhirFetchSettings({ CDS_FHIR_ALLOWED_SERVERS: 'ftp://ehr.test' })).toThrow('CDS_FHIR_ALLOWED_SERVERS');
    expect(() => readFhirFetchSettings({ CDS_FHIR_ALLOWED_SERVERS: 'https://u:p@ehr.test' })).toThrow('credentials');
    expect(() => readFhirFetchSettings({ NODE_ENV: 'production', CDS_FHIR_ALLOWED_SERVERS: 'http://ehr.test' })).toThrow('https');
  });
});

describe('renderPrefetchTemplate', () => {
  const req = hookRequest({
    context: { userId: 'PractitionerRole/role-7', patientId: 'p 1/x', encounterId: 'enc-1', count: 3, flag: true, selections: ['MedicationRequest/a'] },
  });

  it('substitutes root-level primitive context fields, URL-encoded', () => {
    expect(renderPrefetchTemplate('Patient/{{context.patientId}}', req)).toBe('Patient/p%201%2Fx');
    expect(renderPrefetchTemplate('Observation?patient={{context.patientId}}&encounter={{ context.encounterId }}', req)).toBe(
      'Observation?patient=p%201%2Fx&encounter=enc-1',
    );
    expect(renderPrefetchTemplate('X?a={{context.count}}&b={{context.flag}}', req)).toBe('X?a=3&b=true');
    expect(renderPrefetchTemplate('Observation?code=http://loinc.org|718-7', req)).toBe('Observation?code=http://loinc.org|718-7');
  });

  it('derives user tokens from context.userId when the type matches', () => {
    expect(renderPrefetchTemplate('PractitionerRole?_id={{userPractitionerRoleId}}', req)).toBe('PractitionerRole?_id=role-7');
    expect(renderPrefetchTemplate('Practitioner/{{userPractitionerId}}', req)).toBeUndefined();
    const doc = hookRequest();
    expect(renderPrefetchTemplate('Practitioner/{{userPractitionerId}}', doc)).toBe('Practitioner/doc-1');
    expect(renderPrefetchTemplate('Patient/{{userPatientId}}', doc)).toBeUndefined();
    const rel = hookRequest({ context: { userId: 'RelatedPerson/rp-2', patientId: 'p1' } });
    expect(renderPrefetchTemplate('RelatedPerson/{{userRelatedPersonId}}', rel)).toBe('RelatedPerson/rp-2');
    const pat = hookRequest({ context: { userId: 'Patient/p1', patientId: 'p1' } });
    expect(renderPrefetchTemplate('Patient/{{userPatientId}}', pat)).toBe('Patient/p1');
  });

  it('is undefined for tokens it cannot resolve', () => {
    expect(renderPrefetchTemplate('X?a={{context.selections}}', req)).toBeUndefined();
    expect(renderPrefetchTemplate('X?a={{context.draftOrders.id}}', req)).toBeUndefined();
    expect(renderPrefetchTemplate('X?a={{context.missing}}', req)).toBeUndefined();
    expect(renderPrefetchTemplate('Patient/{{Patient.id}}', req)).toBeUndefined();
    expect(renderPrefetchTemplate('X?a={{user}}', req)).toBeUndefined();
    expect(renderPrefetchTemplate('X?date=ge{{today() - 90 days}}', req)).toBeUndefined();
    expect(renderPrefetchTemplate('Patient/{{context.patientId', req)).toBeUndefined();
    expect(renderPrefetchTemplate('X?a={{context.patientId}}', hookRequest({ context: { userId: 'Practitioner/1', patientId: '' } }))).toBeUndefined();
  });
});

describe('fetching with a token', () => {
  it('sends exactly Accept and Authorization: Bearer <token> to fhirServer', async () => {
    const scope = nock(EHR, { reqheaders: { authorization: `Bearer ${TOKEN}`, accept: 'application/fhir+json' } })
      .get('/fhir/Patient/p1')
      .reply(200, patient);
    const outcome = await fetchOne('Patient/{{context.patientId}}');
    expect(outcome).toEqual({ ok: true, value: patient });
    expect(scope.isDone()).toBe(true);
  });

  it('fetches keys in parallel: one key can wait for another to be requested', async () => {
    let sawSecond!: () => void;
    const second = new Promise<void>((resolve) => (sawSecond = resolve));
    nock(EHR)
      .get('/fhir/Patient/p1')
      .reply((_uri, _body, cb) => {
        void second.then(() => cb(null, [200, patient]));
      })
      .get('/fhir/Condition')
      .query({ patient: 'p1' })
      .reply(() => {
        sawSecond();
        return [200, searchset([])];
      });
    const out = await fetchPrefetchKeys(hookRequest(), { patient: 'Patient/{{context.patientId}}', conditions: 'Condition?patient={{context.patientId}}' }, settings);
    expect(out.patient).toEqual({ ok: true, value: patient });
    expect(out.conditions).toEqual({ ok: true, value: { resourceType: 'Bundle', type: 'searchset', total: 0, entry: [] } });
  });

  it('fetches without a token from a loopback server when the request has no fhirAuthorization (the sandbox)', async () => {
    const scope = nock('http://127.0.0.1:8081', { badheaders: ['authorization'] }).get('/fhir/Patient/p1').reply(200, patient);
    const outcome = await fetchOne('Patient/{{context.patientId}}', hookRequest({ fhirServer: 'http://127.0.0.1:8081/fhir', fhirAuthorization: undefined }));
    expect(outcome).toEqual({ ok: true, value: patient });
    expect(scope.isDone()).toBe(true);
  });

  it('fails every key when the request has no fhirServer', async () => {
    const out = await fetchPrefetchKeys(hookRequest({ fhirServer: undefined, fhirAuthorization: undefined }), { a: 'Patient/1', b: 'Condition' }, settings);
    expect(out).toEqual({ a: { ok: false, reason: 'no fhirServer in the request' }, b: { ok: false, reason: 'no fhirServer in the request' } });
  });

  it('fails a key whose template cannot be rendered, without a request', async () => {
    expect(reasonOf(await fetchOne('Practitioner/{{userPractitionerRoleId}}'))).toBe('prefetch template could not be rendered');
    expect(unmatched).toEqual([]);
  });
});

describe('paging', () => {
  it('follows next links over 3 pages (absolute and relative) and merges them into one searchset', async () => {
    const scope = nock(EHR, { reqheaders: { authorization: `Bearer ${TOKEN}` } })
      .get('/fhir/Observation')
      .query({ patient: 'p1', code: 'http://loinc.org|718-7' })
      .reply(200, searchset([obs('o1'), obs('o2')], `${BASE}/Observation?page=2`))
      .get('/fhir/Observation')
      .query({ page: '2' })
      .reply(200, searchset([obs('o3')], 'Observation?page=3'))
      .get('/fhir/Observation')
      .query({ page: '3' })
      .reply(200, searchset([obs('o4')]));
    const outcome = await fetchOne('Observation?patient={{context.patientId}}&code=http://loinc.org|718-7');
    expect(scope.isDone()).toBe(true);
    if (!outcome.ok) throw new Error(outcome.reason);
    const bundle = outcome.value as Bundle;
    expect(bundle.resourceType).toBe('Bundle');
    expect(bundle.type).toBe('searchset');
    expect(bundle.total).toBe(4);
    expect(bundle.link).toBeUndefined();
    expect(bundle.entry?.map((e) => e.resource?.id)).toEqual(['o1', 'o2', 'o3', 'o4']);
  });

  it('refuses a next link to another origin and never sends the token there', async () => {
    nock(EHR).get('/fhir/Observation').query(true).reply(200, searchset([obs('o1')], 'https://evil.test/fhir/Observation?page=2'));
    const evil = nock('https://evil.test').get(/.*/).reply(200, searchset([obs('stolen')]));
    const outcome = await fetchOne('Observation?patient={{context.patientId}}');
    expect(reasonOf(outcome)).toBe('next link to another origin');
    expect(evil.isDone()).toBe(false);
    expect(unmatched).toEqual([]);
  });

  it('treats another port or scheme as another origin', async () => {
    nock(EHR).get('/fhir/Observation').query(true).reply(200, searchset([obs('o1')], 'https://ehr.test:8443/fhir/Observation?page=2'));
    expect(reasonOf(await fetchOne('Observation?patient=p1'))).toBe('next link to another origin');
    nock(EHR).get('/fhir/Observation').query(true).reply(200, searchset([obs('o1')], 'http://ehr.test/fhir/Observation?page=2'));
    expect(reasonOf(await fetchOne('Observation?patient=p1'))).toBe('next link to another origin');
  });

  it('stops at maxPages', async () => {
    const scope = nock(EHR)
      .get('/fhir/Observation').query({ patient: 'p1' }).reply(200, searchset([obs('o1')], `${BASE}/Observation?page=2`))
      .get('/fhir/Observation').query({ page: '2' }).reply(200, searchset([obs('o2')], `${BASE}/Observation?page=3`));
    const page3 = nock(EHR).get('/fhir/Observation').query({ page: '3' }).reply(200, searchset([obs('o3')]));
    const outcome = await fetchOne('Observation?patient=p1', hookRequest(), { ...settings, maxPages: 2 });
    expect(reasonOf(outcome)).toBe('more than 2 pages');
    expect(scope.isDone()).toBe(true);
    expect(page3.isDone()).toBe(false);
  });

  it('allows exactly maxPages pages', async () => {
    nock(EHR)
      .get('/fhir/Observation').query({ patient: 'p1' }).reply(200, searchset([obs('o1')], `${BASE}/Observation?page=2`))
      .get('/fhir/Observation').query({ page: '2' }).reply(200, searchset([obs('o2')]));
    const outcome = await fetchOne('Observation?patient=p1', hookRequest(), { ...settings, maxPages: 2 });
    expect(outcome.ok).toBe(true);
  });

  it('stops at maxResources across pages', async () => {
    nock(EHR)
      .get('/fhir/Observation').query({ patient: 'p1' }).reply(200, searchset([obs('o1'), obs('o2')], `${BASE}/Observation?page=2`))
      .get('/fhir/Observation').query({ page: '2' }).reply(200, searchset([obs('o3'), obs('o4')]));
    expect(reasonOf(await fetchOne('Observation?patient=p1', hookRequest(), { ...settings, maxResources: 3 }))).toBe('more than 3 resources');

    nock(EHR)
      .get('/fhir/Observation').query({ patient: 'p1' }).reply(200, searchset([obs('o1'), obs('o2')], `${BASE}/Observation?page=2`))
      .get('/fhir/Observation').query({ page: '2' }).reply(200, searchset([obs('o3'), obs('o4')]));
    expect((await fetchOne('Observation?patient=p1', hookRequest(), { ...settings, maxResources: 4 })).ok).toBe(true);
  });
});

describe('redirects', () => {
  it('does not follow a redirect to another origin', async () => {
    nock(EHR).get('/fhir/Patient/p1').reply(302, '', { Location: 'https://evil.test/collect' });
    const evil = nock('https://evil.test').get(/.*/).reply(200, patient);
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe('redirect to another origin');
    expect(evil.isDone()).toBe(false);
    expect(unmatched).toEqual([]);
  });

  it('follows one same-origin redirect, with the token', async () => {
    const scope = nock(EHR, { reqheaders: { authorization: `Bearer ${TOKEN}` } })
      .get('/fhir/Patient/p1')
      .reply(301, '', { Location: '/fhir/Patient/p1-merged' })
      .get('/fhir/Patient/p1-merged')
      .reply(200, patient);
    expect(await fetchOne('Patient/p1')).toEqual({ ok: true, value: patient });
    expect(scope.isDone()).toBe(true);
  });

  it('does not follow a second redirect', async () => {
    nock(EHR)
      .get('/fhir/Patient/p1').reply(307, '', { Location: `${BASE}/Patient/a` })
      .get('/fhir/Patient/a').reply(307, '', { Location: `${BASE}/Patient/b` });
    const b = nock(EHR).get('/fhir/Patient/b').reply(200, patient);
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe('too many redirects');
    expect(b.isDone()).toBe(false);
  });
});

describe('failures', () => {
  it('a read that returns 404 is ok with null; a search that returns 404 fails', async () => {
    nock(EHR).get('/fhir/Patient/p1').reply(404, { resourceType: 'OperationOutcome', issue: [] });
    expect(await fetchOne('Patient/p1')).toEqual({ ok: true, value: null });
    nock(EHR).get('/fhir/Condition').query(true).reply(404, 'nope');
    expect(reasonOf(await fetchOne('Condition?patient=p1'))).toBe('FHIR server answered HTTP 404');
  });

  it.each([
    [401, 'FHIR server refused access (HTTP 401)'],
    [403, 'FHIR server refused access (HTTP 403)'],
    [500, 'FHIR server answered HTTP 500'],
    [400, 'FHIR server answered HTTP 400'],
  ])('HTTP %i fails with a short reason', async (status, reason) => {
    nock(EHR).get('/fhir/Patient/p1').reply(status, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'security', diagnostics: `bad token ${TOKEN}` }] });
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe(reason);
  });

  it('fails on a body that is not JSON or not a FHIR resource, or of the wrong type', async () => {
    nock(EHR).get('/fhir/Patient/p1').reply(200, '<html>login</html>', { 'Content-Type': 'text/html' });
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe('response is not JSON');
    nock(EHR).get('/fhir/Patient/p1').reply(200, { id: 'p1' });
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe('response is not a FHIR resource');
    nock(EHR).get('/fhir/Patient/p1').reply(200, [patient]);
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe('response is not a FHIR resource');
    nock(EHR).get('/fhir/Patient/p1').reply(200, obs('o1'));
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe('unexpected resource type');
    nock(EHR).get('/fhir/Condition').query(true).reply(200, patient);
    expect(reasonOf(await fetchOne('Condition?patient=p1'))).toBe('unexpected resource type');
  });

  it('fails when the server answers with an OperationOutcome or a searchset holding error outcomes', async () => {
    nock(EHR).get('/fhir/Patient/p1').reply(200, { resourceType: 'OperationOutcome', issue: [{ severity: 'error', code: 'processing' }] });
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe('server reported an error');

    const withOutcome = (severity: 'error' | 'warning', mode: 'outcome' | 'match'): Bundle<FhirResource> => {
      const b = searchset([obs('o1')]);
      b.entry?.push({ resource: { resourceType: 'OperationOutcome', issue: [{ severity, code: 'processing' }] }, search: { mode } });
      return b;
    };
    nock(EHR).get('/fhir/Observation').query(true).reply(200, withOutcome('error', 'outcome'));
    expect(reasonOf(await fetchOne('Observation?patient=p1'))).toBe('server reported an error');
    nock(EHR).get('/fhir/Observation').query(true).reply(200, withOutcome('warning', 'match'));
    expect(reasonOf(await fetchOne('Observation?patient=p1'))).toBe('server reported an error');
  });

  it('drops information/warning outcome entries and keeps the data', async () => {
    const b = searchset([obs('o1')]);
    b.entry?.push({ resource: { resourceType: 'OperationOutcome', issue: [{ severity: 'warning', code: 'informational' }] }, search: { mode: 'outcome' } });
    nock(EHR).get('/fhir/Observation').query(true).reply(200, b);
    const outcome = await fetchOne('Observation?patient=p1');
    if (!outcome.ok) throw new Error(outcome.reason);
    expect((outcome.value as Bundle).entry?.map((e) => e.resource?.resourceType)).toEqual(['Observation']);
  });

  it('fails on a network error', async () => {
    nock(EHR).get('/fhir/Patient/p1').replyWithError(`connect ECONNREFUSED with ${TOKEN}`);
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe('network error');
  });
});

describe('retry', () => {
  it('retries once on 503', async () => {
    const scope = nock(EHR).get('/fhir/Patient/p1').reply(503).get('/fhir/Patient/p1').reply(200, patient);
    expect(await fetchOne('Patient/p1')).toEqual({ ok: true, value: patient });
    expect(scope.isDone()).toBe(true);
  });

  it('retries only once', async () => {
    nock(EHR).get('/fhir/Patient/p1').times(2).reply(502);
    const third = nock(EHR).get('/fhir/Patient/p1').reply(200, patient);
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe('FHIR server answered HTTP 502');
    expect(third.isDone()).toBe(false);
  });

  it('does not retry other errors', async () => {
    nock(EHR).get('/fhir/Patient/p1').reply(500);
    const second = nock(EHR).get('/fhir/Patient/p1').reply(200, patient);
    expect(reasonOf(await fetchOne('Patient/p1'))).toBe('FHIR server answered HTTP 500');
    expect(second.isDone()).toBe(false);
  });
});

describe('budget', () => {
  it('returns within budget + 100 ms when the server never answers, keeping keys that did finish', async () => {
    nock(EHR).get('/fhir/Condition').query(true).delay(10000).reply(200, searchset([]));
    nock(EHR).get('/fhir/Patient/p1').reply(200, patient);
    const budgetMs = 300;
    const started = Date.now();
    const out = await fetchPrefetchKeys(
      hookRequest(),
      { patient: 'Patient/{{context.patientId}}', conditions: 'Condition?patient={{context.patientId}}' },
      { ...settings, budgetMs },
    );
    const elapsed = Date.now() - started;
    expect(out.conditions).toEqual({ ok: false, reason: 'timed out' });
    expect(out.patient).toEqual({ ok: true, value: patient });
    expect(elapsed).toBeLessThan(budgetMs + 100);
  });
});

describe('which servers', () => {
  async function expectRefused(fhirServer: string, s: FhirFetchSettings, withToken = true): Promise<void> {
    const origin = new URL(fhirServer).origin;
    const scope = nock(origin).get(/.*/).reply(200, patient);
    const request = hookRequest({ fhirServer, ...(withToken ? {} : { fhirAuthorization: undefined }) });
    const out = await fetchPrefetchKeys(request, { patient: 'Patient/{{context.patientId}}' }, s);
    expect(out.patient).toEqual({ ok: false, reason: 'fhirServer not allowed' });
    expect(scope.isDone()).toBe(false);
    expect(unmatched).toEqual([]);
  }

  async function expectAllowed(fhirServer: string, s: FhirFetchSettings, withToken = true): Promise<void> {
    const url = new URL(fhirServer);
    const scope = nock(url.origin).get(`${url.pathname.replace(/\/$/, '')}/Patient/p1`).reply(200, patient);
    const request = hookRequest({ fhirServer, ...(withToken ? {} : { fhirAuthorization: undefined }) });
    const out = await fetchPrefetchKeys(request, { patient: 'Patient/{{context.patientId}}' }, s);
    expect(out.patient).toEqual({ ok: true, value: patient });
    expect(scope.isDone()).toBe(true);
  }

  const prod: FhirFetchSettings = { ...settings, production: true, allowedServers: ['https://ehr.test/fhir', 'http://plain.test/fhir'] };

  it('production: only listed https servers', async () => {
    await expectAllowed('https://ehr.test/fhir', prod);
    await expectAllowed('https://ehr.test/fhir/', prod);
    await expectAllowed('https://ehr.test/fhir/r4', prod);
    await expectRefused('http://plain.test/fhir', prod);
    await expectRefused('http://ehr.test/fhir', prod);
    await expectRefused('https://other.test/fhir', prod);
    await expectRefused('http://127.0.0.1:8081/fhir', prod);
    await expectRefused('https://localhost/fhir', prod, false);
  });

  it('a prefix matches on URL structure, not characters', async () => {
    await expectRefused('https://ehr.test.evil.test/fhir', prod);
    await expectRefused('https://ehr.test/fhirx', prod);
    await expectRefused('https://ehr.test:444/fhir', prod);
    await expectRefused('https://user:pw@ehr.test/fhir', prod);
  });

  it('development: listed servers and http(s) loopback, with or without a token', async () => {
    const dev: FhirFetchSettings = { ...settings, allowedServers: ['http://plain.test/fhir'] };
    await expectAllowed('http://plain.test/fhir', dev, false);
    await expectAllowed('http://127.0.0.1:8081/fhir', dev, false);
    await expectAllowed('http://127.9.0.1/fhir', dev);
    await expectAllowed('https://localhost:9443/fhir', dev);
    await expectAllowed('http://[::1]:8080/fhir', dev, false);
    await expectRefused('https://ehr.test/fhir', dev);
    await expectRefused('http://10.0.0.5/fhir', dev, false);
    await expectRefused('http://169.254.169.254/latest', dev, false);
    await expectRefused('http://128.0.0.1/fhir', dev, false);
  });

  it('refuses non-http(s) and malformed fhirServer values', async () => {
    for (const fhirServer of ['file:///etc/passwd', 'ftp://127.0.0.1/fhir', 'not a url', 'http://127.0.0.1/fhir?x=1']) {
      const out = await fetchPrefetchKeys(hookRequest({ fhirServer }), { patient: 'Patient/p1' }, settings);
      expect(out.patient).toEqual({ ok: false, reason: 'fhirServer not allowed' });
    }
    expect(unmatched).toEqual([]);
  });
});
