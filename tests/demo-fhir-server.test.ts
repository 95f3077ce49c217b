// Demo FHIR server: read, search (GET and POST _search), paging links, errors, CORS and fixture loading.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import express from 'express';
import request from 'supertest';
import type { Bundle, CapabilityStatement, FhirResource, OperationOutcome } from 'fhir/r4';
import { createDemoFhirApp, loadFixturePatients } from '../demo/demo-fhir-server';
import { fetchPrefetchKeys } from '../src/fhir/client';

const LOINC = 'http://loinc.org';

const bundle: Bundle<FhirResource> = {
  resourceType: 'Bundle',
  type: 'collection',
  entry: [
    { fullUrl: 'urn:uuid:0a3c', resource: { resourceType: 'Patient', id: 'pat-1', birthDate: '2016-02-10' } },
    ...[1, 2, 3, 4, 5].map((n) => ({
      fullUrl: `urn:uuid:obs-${n}`,
      resource: {
        resourceType: 'Observation' as const,
        id: `hb-${n}`,
        status: 'final' as const,
        code: { coding: [{ system: LOINC, code: '718-7' }] },
        subject: { reference: 'Patient/pat-1' },
        effectiveDateTime: `2026-0${n}-15`,
        valueQuantity: { value: 10 + n / 10, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' },
      },
    })),
    {
      fullUrl: 'urn:uuid:cond',
      resource: {
        resourceType: 'Condition', id: 'anemia', subject: { reference: 'Patient/pat-1' },
        clinicalStatus: { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/condition-clinical', code: 'active' }] },
        code: { coding: [{ system: 'http://snomed.info/sct', code: '87522002' }] },
      },
    },
  ],
};
const resources = (bundle.entry ?? []).map((e) => e.resource as FhirResource);
const app = createDemoFhirApp(resources);

function ids(body: Bundle): string[] {
  return (body.entry ?? []).map((e) => e.resource?.id ?? '?');
}

describe('metadata', () => {
  it('returns an R4 CapabilityStatement listing the types and their search parameters', async () => {
    const res = await request(app).get('/metadata').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const cs = res.body as CapabilityStatement;
    expect(cs.resourceType).toBe('CapabilityStatement');
    expect(cs.fhirVersion).toBe('4.0.1');
    const obs = cs.rest?.[0]?.resource?.find((r) => r.type === 'Observation');
    expect(obs?.interaction?.map((i) => i.code)).toEqual(['read', 'search-type']);
    expect(obs?.searchParam?.map((p) => p.name)).toEqual(expect.arrayContaining(['patient', 'code', 'date', 'status']));
    expect(cs.rest?.[0]?.resource?.map((r) => r.type)).toEqual(['Condition', 'Observation', 'Patient']);
  });
});

describe('read', () => {
  it('returns the resource as application/fhir+json', async () => {
    const res = await request(app).get('/Patient/pat-1').expect(200);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(res.body).toEqual({ resourceType: 'Patient', id: 'pat-1', birthDate: '2016-02-10' });
    await request(app).get('/Observation/hb-3').expect(200);
  });

  it('returns 404 with an OperationOutcome for unknown ids', async () => {
    const res = await request(app).get('/Patient/nobody').expect(404);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect((res.body as OperationOutcome).resourceType).toBe('OperationOutcome');
    await request(app).get('/Observation/pat-1').expect(404);
  });
});

describe('search', () => {
  it('searches with GET', async () => {
    const res = await request(app).get(`/Observation?patient=pat-1&code=${encodeURIComponent(`${LOINC}|718-7`)}&date=ge2026-03-01`).expect(200);
    const body = res.body as Bundle;
    expect(body.type).toBe('searchset');
    expect(body.total).toBe(3);
    expect(ids(body)).toEqual(['hb-3', 'hb-4', 'hb-5']);
    expect(body.entry?.[0]?.fullUrl).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/Observation\/hb-3$/);
    expect(body.entry?.[0]?.search?.mode).toBe('match');
  });

  it('searches with POST _search, combining URL and form parameters', async () => {
    const res = await request(app)
      .post('/Observation/_search?patient=pat-1')
      .type('form')
      .send(`code=${encodeURIComponent(`${LOINC}|718-7`)}&_sort=-date&_count=2`)
      .expect(200);
    expect(ids(res.body as Bundle)).toEqual(['hb-5', 'hb-4']);
    expect((res.body as Bundle).total).toBe(5);
    const clinical = await request(app).post('/Condition/_search').type('form').send('patient=Patient/pat-1&clinical-status=active').expect(200);
    expect(ids(clinical.body as Bundle)).toEqual(['anemia']);
  });

  it('returns 400 with an OperationOutcome naming unknown parameters', async () => {
    const res = await request(app).get('/Observation?patient=pat-1&foo=bar&code:in=x').expect(400);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    const oo = res.body as OperationOutcome;
    expect(oo.resourceType).toBe('OperationOutcome');
    expect(JSON.stringify(oo)).toContain("'foo'");
    expect(JSON.stringify(oo)).toContain("'code:in'");
    const post = await request(app).post('/Observation/_search').type('form').send('subject=Patient/pat-1').expect(400);
    expect(JSON.stringify(post.body)).toContain("'subject'");
  });
});

describe('paging', () => {
  it('defaults to 50 per page', async () => {
    const many: FhirResource[] = Array.from({ length: 120 }, (_, i) => ({
      resourceType: 'Observation', id: `o${i}`, status: 'final', code: { text: 'x' }, subject: { reference: 'Patient/p' },
    }));
    const res = await request(createDemoFhirApp(many)).get('/Observation?patient=p').expect(200);
    const body = res.body as Bundle;
    expect(body.total).toBe(120);
    expect(body.entry).toHaveLength(50);
    expect(body.link?.find((l) => l.relation === 'next')?.url).toMatch(/_count=50&_offset=50$/);
  });

  it('emits absolute next links built from the request host that walk every page', async () => {
    const seen: string[] = [];
    let res = await request(app).get('/Observation?patient=pat-1&_count=2&_sort=date').set('Host', 'fhir.local:8081').expect(200);
    for (;;) {
      const body = res.body as Bundle;
      seen.push(...ids(body));
      const next = body.link?.find((l) => l.relation === 'next')?.url;
      if (!next) break;
      expect(next.startsWith('http://fhir.local:8081/Observation?')).toBe(true);
      const url = new URL(next);
      res = await request(app).get(`${url.pathname}${url.search}`).set('Host', url.host).expect(200);
    }
    expect(seen).toEqual(['hb-1', 'hb-2', 'hb-3', 'hb-4', 'hb-5']);
  });

  it('includes the mount path in links when mounted under /fhir', async () => {
    const root = express();
    root.use('/fhir', createDemoFhirApp(resources));
    const res = await request(root).get('/fhir/Observation?patient=pat-1&_count=1').set('Host', 'h:1').expect(200);
    const body = res.body as Bundle;
    expect(body.link?.find((l) => l.relation === 'next')?.url).toBe('http://h:1/fhir/Observation?patient=pat-1&_count=1&_offset=1');
    expect(body.entry?.[0]?.fullUrl).toBe('http://h:1/fhir/Observation/hb-1');
    await request(root).get('/fhir/Patient/pat-1').expect(200);
  });
});

describe('CORS and other routes', () => {
  it('allows any origin, including preflight', async () => {
    const res = await request(app).get('/Patient/pat-1').set('Origin', 'https://sandbox.cds-hooks.org').expect(200);
    expect(res.headers['access-control-allow-origin']).toBe('*');
    const pre = await request(app).options('/Observation').set('Origin', 'https://sandbox.cds-hooks.org').set('Access-Control-Request-Method', 'GET').expect(204);
    expect(pre.headers['access-control-allow-origin']).toBe('*');
    expect(pre.headers['access-control-allow-headers']).toMatch(/Authorization/);
    expect(pre.headers['access-control-allow-private-network']).toBeUndefined();
  });

  it('answers a private-network preflight (a public sandbox page calling localhost)', async () => {
    const pre = await request(app)
      .options('/Patient/pat-1')
      .set('Origin', 'https://sandbox.cds-hooks.org')
      .set('Access-Control-Request-Method', 'GET')
      .set('Access-Control-Request-Private-Network', 'true')
      .expect(204);
    expect(pre.headers['access-control-allow-private-network']).toBe('true');
  });

  it('is read-only', async () => {
    await request(app).put('/Patient/pat-1').send({ resourceType: 'Patient', id: 'pat-1' }).expect(404);
    await request(app).delete('/Patient/pat-1').expect(404);
    await request(app).post('/Patient').send({ resourceType: 'Patient' }).expect(404);
  });
});

describe('loadFixturePatients', () => {
  let dir: string;
  beforeAll(() => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fixtures-'));
    fs.writeFileSync(path.join(dir, 'pat-1.json'), JSON.stringify(bundle));
    fs.writeFileSync(
      path.join(dir, 'pat-2.json'),
      JSON.stringify({ resourceType: 'Bundle', type: 'collection', entry: [{ resource: { resourceType: 'Patient', id: 'pat-2' } }] }),
    );
    fs.writeFileSync(path.join(dir, 'README.md'), 'not a fixture');
  });
  afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

  it('returns every resource of every bundle', () => {
    const loaded = loadFixturePatients(dir);
    expect(loaded.map((r) => `${r.resourceType}/${r.id}`)).toEqual([
      'Patient/pat-1', 'Observation/hb-1', 'Observation/hb-2', 'Observation/hb-3', 'Observation/hb-4', 'Observation/hb-5', 'Condition/anemia', 'Patient/pat-2',
    ]);
  });

  it('names the file that is not valid JSON', () => {
    const bad = fs.mkdtempSync(path.join(os.tmpdir(), 'fixtures-bad-'));
    fs.writeFileSync(path.join(bad, 'broken.json'), '{"resourceType":');
    try {
      expect(() => loadFixturePatients(bad)).toThrow('broken.json');
    } finally {
      fs.rmSync(bad, { recursive: true, force: true });
    }
  });
});

describe('with the FHIR client', () => {
  it('serves every page of a search to fetchPrefetchKeys over a real loopback socket', async () => {
    const root = express();
    root.use('/fhir', createDemoFhirApp(resources));
    const server = root.listen(0, '127.0.0.1');
    await new Promise<void>((resolve) => server.once('listening', () => resolve()));
    try {
      const { port } = server.address() as { port: number };
      const out = await fetchPrefetchKeys(
        {
          hook: 'patient-view',
          hookInstance: 'b3f1c0de-0000-4000-8000-000000000001',
          fhirServer: `http://127.0.0.1:${port}/fhir`,
          context: { userId: 'Practitioner/doc', patientId: 'pat-1' },
        },
        { patient: 'Patient/{{context.patientId}}', observations: 'Observation?patient={{context.patientId}}&_count=2', missing: 'Patient/nobody' },
        { allowedServers: [], production: false, budgetMs: 2000, maxPages: 5, maxResources: 100 },
      );
      expect(out.patient).toEqual({ ok: true, value: resources[0] });
      expect(out.missing).toEqual({ ok: true, value: null });
      const observations = out.observations;
      if (!observations?.ok) throw new Error(JSON.stringify(observations));
      expect(ids(observations.value as Bundle)).toEqual(['hb-1', 'hb-2', 'hb-3', 'hb-4', 'hb-5']);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
