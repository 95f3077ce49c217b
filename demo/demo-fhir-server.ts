// Read-only demo FHIR R4 server over the synthetic fixture patients, so the CDS Hooks sandbox (or a
// developer) can exercise the service's fhirServer path locally. Not for real data: no auth, CORS `*`.
import fs from 'node:fs';
import path from 'node:path';
import express, { type Request, type Response } from 'express';
import type { Bundle, CapabilityStatement, FhirResource } from 'fhir/r4';
import { errorMiddleware, operationOutcome } from '../src/errors';
import { searchParamsOf, searchResources, type SearchParamName, type SearchResult } from './fhir-search';

const FHIR_JSON = 'application/fhir+json; charset=utf-8';
const DEFAULT_PAGE_SIZE = 50;
const MAX_PAGE_SIZE = 1000;

/** A read-only FHIR R4 app over `resources`; mount it anywhere (`app.use('/fhir', createDemoFhirApp(r))`). */
export function createDemoFhirApp(resources: FhirResource[]): express.Express {
  const app = express();
  app.disable('x-powered-by');

  app.use((req, res, next) => {
    res.setHeader('Access-Control-Allow-Origin', '*');
    res.setHeader('Access-Control-Allow-Methods', 'GET, POST, OPTIONS');
    res.setHeader('Access-Control-Allow-Headers', 'Content-Type, Authorization, Accept');
    if (req.method === 'OPTIONS') {
      // Chrome's Private/Local Network Access: the public sandbox page asks before it may call localhost.
      if (req.headers['access-control-request-private-network'] === 'true') res.setHeader('Access-Control-Allow-Private-Network', 'true');
      res.status(204).end();
      return;
    }
    next();
  });

  app.get('/metadata', (_req, res) => {
    sendFhir(res, 200, capabilityStatement(resources));
  });

  app.get('/:type/:id', (req, res) => {
    const { type, id } = req.params as { type: string; id: string };
    sendResult(res, searchResources(resources, `${type}/${encodeURIComponent(id)}${rawQueryOf(req)}`));
  });

  app.get('/:type', (req, res) => {
    const { type } = req.params as { type: string };
    sendResult(res, searchResources(resources, `${type}${rawQueryOf(req)}`, pagingOptions(req)));
  });

  app.post('/:type/_search', express.text({ type: 'application/x-www-form-urlencoded', limit: '64kb' }), (req, res) => {
    const { type } = req.params as { type: string };
    // FHIR: parameters may come in the URL and in the form body; together they are one search.
    const urlQuery = rawQueryOf(req).slice(1);
    const form = typeof req.body === 'string' ? req.body : '';
    const combined = [urlQuery, form].filter((s) => s !== '').join('&');
    sendResult(res, searchResources(resources, `${type}${combined === '' ? '' : `?${combined}`}`, pagingOptions(req)));
  });

  app.use((_req, res) => {
    sendFhir(res, 404, operationOutcome([{ code: 'not-supported', diagnostics: 'Not a supported FHIR interaction on this read-only server' }]));
  });
  app.use(errorMiddleware({ error: (obj, msg) => console.error(msg ?? 'demo FHIR server error', obj) }));
  return app;
}

/** Every resource of every Bundle in `dir` (a file holding one non-Bundle resource counts too). */
export function loadFixturePatients(dir = 'fixtures/patients'): FhirResource[] {
  const files = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .sort();
  const out: FhirResource[] = [];
  for (const file of files) {
    const full = path.join(dir, file);
    let parsed: unknown;
    try {
      parsed = JSON.parse(fs.readFileSync(full, 'utf8'));
    } catch (err) {
      throw new Error(`${full}: not valid JSON (${err instanceof Error ? err.message : String(err)})`);
    }
    const resource = parsed as FhirResource | undefined;
    if (typeof resource !== 'object' || resource === null || typeof resource.resourceType !== 'string') {
      throw new Error(`${full}: not a FHIR resource`);
    }
    if (resource.resourceType === 'Bundle') {
      for (const entry of (resource as Bundle<FhirResource>).entry ?? []) {
        if (entry.resource) out.push(entry.resource);
      }
    } else {
      out.push(resource);
    }
  }
  return out;
}

function rawQueryOf(req: Request): string {
  const q = req.originalUrl.indexOf('?');
  return q < 0 ? '' : req.originalUrl.slice(q);
}

function pagingOptions(req: Request): { baseUrl: string; defaultCount: number; maxCount: number } {
  // Absolute links from the request's own host and mount path, so a client can follow them as given.
  return { baseUrl: `${req.protocol}://${req.get('host') ?? 'localhost'}${req.baseUrl}`, defaultCount: DEFAULT_PAGE_SIZE, maxCount: MAX_PAGE_SIZE };
}

function sendResult(res: Response, result: SearchResult): void {
  sendFhir(res, result.status, result.body);
}

function sendFhir(res: Response, status: number, body: unknown): void {
  res.status(status).type(FHIR_JSON).send(JSON.stringify(body));
}

function capabilityStatement(resources: FhirResource[]): CapabilityStatement {
  const types = [...new Set(resources.map((r) => r.resourceType))].sort();
  return {
    resourceType: 'CapabilityStatement',
    status: 'active',
    date: '2026-01-01',
    kind: 'instance',
    software: { name: 'IPH CDS demo FHIR server' },
    implementation: { description: 'Read-only synthetic fixture patients (not for real data)' },
    fhirVersion: '4.0.1',
    format: ['application/fhir+json', 'json'],
    rest: [
      {
        mode: 'server',
        resource: types.map((type) => ({
          type,
          interaction: [{ code: 'read' }, { code: 'search-type' }],
          searchParam: searchParamsOf(type).map((name) => ({ name, type: PARAM_TYPES[name] })),
        })),
      },
    ],
  };
}

const PARAM_TYPES: Record<SearchParamName, 'token' | 'reference' | 'date'> = {
  _id: 'token',
  patient: 'reference',
  code: 'token',
  category: 'token',
  status: 'token',
  'clinical-status': 'token',
  date: 'date',
};

// `node dist-demo/demo/demo-fhir-server.js [dir]`: only the FHIR server, over the fixtures (dir relative to the working
// directory), at http://127.0.0.1:8081/fhir (loopback only). `npm run demo` starts it together with the service.
if (require.main === module) {
  const port = Number(process.env.DEMO_FHIR_PORT ?? 8081);
  const host = process.env.DEMO_FHIR_HOST ?? '127.0.0.1';
  const resources = loadFixturePatients(process.argv[2] ?? 'fixtures/patients');
  const root = express();
  root.use('/fhir', createDemoFhirApp(resources));
  root.listen(port, host, () => {
    console.log(`demo FHIR server: ${resources.length} resources at http://${host}:${port}/fhir`);
  });
}
