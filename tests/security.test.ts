// End-to-end security of the real app (createApp + readConfig): client JWTs on discovery, service and feedback,
// audience binding and replay, CORS (configured list and the development default), preflight, helmet headers,
// 415 for non-JSON and 413 over the body limit. Keys are generated here; the sandbox's JWKS is served by nock.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { JWK, KeyLike } from 'jose';
import nock from 'nock';
import request from 'supertest';
import type { Response } from 'supertest';
import { createApp } from '../src/http/app';
import { createClientVerifier } from '../src/auth/verify';
import type { TrustedClient } from '../src/auth/trusted-clients';
import { buildService, readConfig, type Config } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import type { Storage } from '../src/storage/storage';
import { memoryReplayGuard, memoryStorage } from './helpers/test-storage';
import { createLogger } from '../src/logger';
import { buildRequest, listCases } from './helpers/golden';

const PUBLIC_URL = 'https://cds.example.org';
const DISCOVERY = '/cds-services';
const SERVICE_ID = 'iph-patient-view';
const SERVICE = `/cds-services/${SERVICE_ID}`;
const FEEDBACK = `${SERVICE}/feedback`;
const ENDPOINTS = [
  { name: 'discovery', method: 'get', path: DISCOVERY },
  { name: 'service', method: 'post', path: SERVICE },
  { name: 'feedback', method: 'post', path: FEEDBACK },
] as const;

const EHR_ISS = 'https://ehr.example.org/cds-client';
const EHR_ORIGIN = 'https://ehr.example.org';
const OTHER_ORIGIN = 'https://evil.example.net';

// The CDS Hooks sandbox as it signs its requests (cds-hooks.md §9).
const SANDBOX_ISS = 'https://sandbox.cds-hooks.org';
const SANDBOX_ORIGIN = 'https://sandbox.cds-hooks.org';
const SANDBOX_JWKS_PATH = '/.well-known/jwks.json';
const SANDBOX_JWKS_URL = `${SANDBOX_ORIGIN}${SANDBOX_JWKS_PATH}`;
const SANDBOX_KID = '44823f3d-0b01-4a6c-a80e-b9d3e8a7226f';

const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const silent = createLogger({ level: 'silent' });

interface Signer {
  kid: string;
  privateKey: KeyLike;
  publicJwk: JWK;
}

async function makeSigner(kid: string): Promise<Signer> {
  const { privateKey, publicKey } = await generateKeyPair('ES384');
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'ES384', use: 'sig' } };
}

let ehrKey: Signer;
let strangerKey: Signer; // same kid as ehrKey, published nowhere
let sandboxKey: Signer; // stands in for the sandbox's key pair, served under the sandbox's JWKS URL

interface MintOptions {
  signer?: Signer;
  iss?: string;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
}

async function mint(aud: string, opts: MintOptions = {}): Promise<string> {
  const signer = opts.signer ?? ehrKey;
  const iat = Math.floor(Date.now() / 1000);
  return new SignJWT({ iss: opts.iss ?? EHR_ISS, aud, iat, exp: iat + 300, jti: randomUUID(), ...opts.claims })
    .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: signer.kid, ...opts.header })
    .sign(signer.privateKey);
}

const bearer = async (p: string, opts?: MintOptions) => `Bearer ${await mint(`${PUBLIC_URL}${p}`, opts)}`;

function writeTrustedClients(clients: TrustedClient[]): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cds-security-'));
  const file = path.join(dir, 'trusted-clients.json');
  writeFileSync(file, JSON.stringify({ clients }, null, 2));
  return file;
}

interface Harness {
  app: Express;
  config: Config;
  storage: Storage;
}

// Every harness has served this card, so feedback on it is accepted.
const SERVED_CARD = { uuid: randomUUID(), suggestion: randomUUID() };

async function buildHarness(env: NodeJS.ProcessEnv): Promise<Harness> {
  const config = readConfig({ NODE_ENV: 'test', ...env });
  const deps = memoryStorage();
  await deps.storage.recordServedCards([
    { uuid: SERVED_CARD.uuid, service: SERVICE_ID, topic: 'test-topic', suggestionUuids: [SERVED_CARD.suggestion], hookInstance: randomUUID(), patientKey: null, servedAt: Date.now() },
  ]);
  const verifier = config.auth.mode === 'jwt' ? createClientVerifier(config.auth, silent, memoryReplayGuard(deps.storage)) : undefined;
  const app = createApp(registry, config, { log: silent, ...deps, ...(verifier ? { verifier } : {}) });
  return { app, config, storage: deps.storage };
}

/** Feedback items stored so far (each item here is on its own outcome timestamp). */
async function storedFeedback(h: Harness): Promise<number> {
  const { topics } = await h.storage.outcomeRows({ since: 0, until: Date.now() + 60_000 });
  return topics.reduce((n, t) => n + t.accepted + t.overridden, 0);
}

const patientCase = listCases().find((c) => c.service === SERVICE_ID && c.name === 'criteria-met');
if (!patientCase) throw new Error('fixture case iph-patient-view/criteria-met is missing');
const serviceDefinition = registry.services.get(SERVICE_ID);
if (!serviceDefinition) throw new Error(`${SERVICE_ID} is not defined`);

function hookBody(): Record<string, unknown> {
  return buildRequest(serviceDefinition!, patientCase!.data);
}

function feedbackBody(): Record<string, unknown> {
  return { feedback: [{ card: SERVED_CARD.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: SERVED_CARD.suggestion }], outcomeTimestamp: new Date().toISOString() }] };
}

function bodyFor(p: string): Record<string, unknown> | undefined {
  if (p === SERVICE) return hookBody();
  if (p === FEEDBACK) return feedbackBody();
  return undefined;
}

function call(app: Express, method: 'get' | 'post', p: string, authorization?: string): Promise<Response> {
  let req = method === 'get' ? request(app).get(p) : request(app).post(p).set('Content-Type', 'application/json');
  if (authorization !== undefined) req = req.set('Authorization', authorization);
  const body = bodyFor(p);
  return body ? req.send(body) : req;
}

function expectUnauthorized(res: Response): void {
  expect(res.status).toBe(401);
  expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
  expect(res.headers['www-authenticate']).toBe('Bearer');
  expect(res.body).toEqual({
    resourceType: 'OperationOutcome',
    issue: [{ severity: 'error', code: 'login', diagnostics: 'unauthorized' }],
  });
}

let trustedClientsFile: string;
let jwt: Harness;

beforeAll(async () => {
  [ehrKey, strangerKey, sandboxKey] = await Promise.all([makeSigner('ehr-es384'), makeSigner('ehr-es384'), makeSigner(SANDBOX_KID)]);
  trustedClientsFile = writeTrustedClients([
    { iss: EHR_ISS, jwks: { keys: [ehrKey.publicJwk] } },
    // The README's development entry for the sandbox.
    { iss: SANDBOX_ISS, jwksUrl: SANDBOX_JWKS_URL, allowedJku: [SANDBOX_JWKS_URL] },
  ]);
  jwt = await buildHarness({
    CDS_AUTH: 'jwt',
    CDS_TRUSTED_CLIENTS: trustedClientsFile,
    CDS_PUBLIC_URL: PUBLIC_URL,
    CDS_CORS_ORIGINS: EHR_ORIGIN,
  });
});

afterEach(() => {
  nock.cleanAll();
});

describe('client JWTs through the real app', () => {
  it('the config really turned JWT authentication on', () => {
    expect(jwt.config.auth.mode).toBe('jwt');
    expect(jwt.config.auth.clients.map((c) => c.iss)).toEqual([EHR_ISS, SANDBOX_ISS]);
  });

  it('accepts a valid token on discovery', async () => {
    const res = await call(jwt.app, 'get', DISCOVERY, await bearer(DISCOVERY));
    expect(res.status).toBe(200);
    const ids = (res.body as { services: { id: string }[] }).services.map((s) => s.id);
    expect(ids).toContain(SERVICE_ID);
  });

  it('accepts a valid token on a service call with a fixture patient', async () => {
    const res = await call(jwt.app, 'post', SERVICE, await bearer(SERVICE));
    expect(res.status).toBe(200);
    expect(Array.isArray((res.body as { cards?: unknown }).cards)).toBe(true);
  });

  it('accepts a valid token on feedback, and the feedback is stored', async () => {
    const before = await storedFeedback(jwt);
    const res = await call(jwt.app, 'post', FEEDBACK, await bearer(FEEDBACK));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({});
    expect(await storedFeedback(jwt)).toBe(before + 1);
  });

  it.each(ENDPOINTS)('answers a bare 401 OperationOutcome without a token on $name', async ({ method, path: p }) => {
    const before = await storedFeedback(jwt);
    const res = await call(jwt.app, method, p);
    expectUnauthorized(res);
    expect(await storedFeedback(jwt)).toBe(before);
  });

  it.each(ENDPOINTS)('rejects a non-Bearer Authorization, a stranger key and an expired token on $name', async ({ method, path: p }) => {
    expectUnauthorized(await call(jwt.app, method, p, 'Basic dXNlcjpwYXNz'));
    expectUnauthorized(await call(jwt.app, method, p, await bearer(p, { signer: strangerKey })));
    const old = Math.floor(Date.now() / 1000) - 1000;
    expectUnauthorized(await call(jwt.app, method, p, await bearer(p, { claims: { iat: old, exp: old + 300 } })));
  });

  it('rejects a discovery token replayed to the service URL and to the feedback URL', async () => {
    const discoveryToken = await bearer(DISCOVERY);
    expectUnauthorized(await call(jwt.app, 'post', SERVICE, discoveryToken));
    expectUnauthorized(await call(jwt.app, 'post', FEEDBACK, discoveryToken));
    // The token is still good where it was meant to go: the 401s above came from the audience.
    expect((await call(jwt.app, 'get', DISCOVERY, discoveryToken)).status).toBe(200);
  });

  it('rejects a service token on the feedback URL and a token used twice (jti replay)', async () => {
    const serviceToken = await bearer(SERVICE);
    expectUnauthorized(await call(jwt.app, 'post', FEEDBACK, serviceToken));
    expect((await call(jwt.app, 'post', SERVICE, serviceToken)).status).toBe(200);
    expectUnauthorized(await call(jwt.app, 'post', SERVICE, serviceToken));
  });

  it('binds the audience to CDS_PUBLIC_URL, not to a Host header the caller chose', async () => {
    const spoofed = `Bearer ${await mint(`http://other-cds.example${DISCOVERY}`)}`;
    const res = await request(jwt.app).get(DISCOVERY).set('Host', 'other-cds.example').set('Authorization', spoofed);
    expectUnauthorized(res);
  });

  it('without CDS_PUBLIC_URL, the audience is the URL called (Host + path)', async () => {
    const hostBased = await buildHarness({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: trustedClientsFile });
    const ok = await request(hostBased.app)
      .get(DISCOVERY)
      .set('Host', 'cds.test:3000')
      .set('Authorization', `Bearer ${await mint(`http://cds.test:3000${DISCOVERY}`)}`);
    expect(ok.status).toBe(200);
    const wrongPort = await request(hostBased.app)
      .get(DISCOVERY)
      .set('Host', 'cds.test:3000')
      .set('Authorization', `Bearer ${await mint(`http://cds.test:4000${DISCOVERY}`)}`);
    expectUnauthorized(wrongPort);
  });

  it('authenticates before reading the body: no token gives 401, not 413 or 415', async () => {
    // A small limit keeps the body inside socket buffers, so the early 401 cannot race the upload (EPIPE).
    const small = await buildHarness({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: trustedClientsFile, CDS_PUBLIC_URL: PUBLIC_URL, CDS_BODY_LIMIT: '1kb' });
    const tooLarge = await request(small.app).post(SERVICE).set('Content-Type', 'application/json').send(JSON.stringify({ padding: 'x'.repeat(4096) }));
    expectUnauthorized(tooLarge);
    const wrongType = await request(small.app).post(SERVICE).set('Content-Type', 'text/plain').send('hello');
    expectUnauthorized(wrongType);
    // With a token the same requests reach the body checks.
    const sized = await request(small.app)
      .post(SERVICE)
      .set('Authorization', await bearer(SERVICE))
      .set('Content-Type', 'application/json')
      .send(JSON.stringify({ padding: 'x'.repeat(4096) }));
    expect(sized.status).toBe(413);
  });

  it('buildService wires the verifier when CDS_AUTH=jwt (no token -> 401, valid token -> 200)', async () => {
    const dataDir = mkdtempSync(path.join(tmpdir(), 'cds-security-data-'));
    const config = readConfig({ NODE_ENV: 'test', CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: trustedClientsFile, CDS_PUBLIC_URL: PUBLIC_URL, CDS_DATA_DIR: dataDir });
    const service = await buildService(config, silent);
    try {
      expectUnauthorized(await request(service.app).get(DISCOVERY));
      expect((await request(service.app).get(DISCOVERY).set('Authorization', await bearer(DISCOVERY))).status).toBe(200);
    } finally {
      await service.close();
    }
  });

  it('createApp refuses CDS_AUTH=jwt without a verifier', () => {
    expect(() => createApp(registry, jwt.config, { log: silent, ...memoryStorage() })).toThrow(/verifier/);
  });
});

describe('the CDS Hooks sandbox, trusted as the README shows (development only)', () => {
  function serveSandboxJwks(): nock.Scope {
    return nock(SANDBOX_ORIGIN).get(SANDBOX_JWKS_PATH).reply(200, { keys: [sandboxKey.publicJwk] });
  }

  const sandboxHeader = { kid: SANDBOX_KID, jku: SANDBOX_JWKS_URL };

  it('accepts a sandbox-shaped token (ES384, kid, jku) on discovery, service and feedback', async () => {
    const scope = serveSandboxJwks();
    for (const { method, path: p } of ENDPOINTS) {
      const res = await call(jwt.app, method, p, await bearer(p, { signer: sandboxKey, iss: SANDBOX_ISS, header: sandboxHeader }));
      expect({ path: p, status: res.status }).toEqual({ path: p, status: 200 });
    }
    expect(scope.isDone()).toBe(true);
  });

  it('never fetches a jku that is not allowed for the sandbox issuer', async () => {
    const evil = nock('https://keys.evil.example.net').get('/jwks.json').reply(200, { keys: [strangerKey.publicJwk] });
    const token = await bearer(DISCOVERY, { signer: strangerKey, iss: SANDBOX_ISS, header: { kid: strangerKey.kid, jku: 'https://keys.evil.example.net/jwks.json' } });
    expectUnauthorized(await call(jwt.app, 'get', DISCOVERY, token));
    expect(evil.isDone()).toBe(false);
  });
});

describe('CORS', () => {
  it('preflight works without a token and allows Authorization and Content-Type', async () => {
    const res = await request(jwt.app)
      .options(SERVICE)
      .set('Origin', EHR_ORIGIN)
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    expect(res.status).toBe(204);
    expect(res.headers['access-control-allow-origin']).toBe(EHR_ORIGIN);
    expect(res.headers['access-control-allow-methods']).toMatch(/POST/);
    const allowed = String(res.headers['access-control-allow-headers']).toLowerCase();
    expect(allowed).toContain('authorization');
    expect(allowed).toContain('content-type');
    expect(res.headers['access-control-allow-credentials']).toBeUndefined();
  });

  it('echoes an allowed origin (with Vary: Origin) and gives another origin no Allow-Origin', async () => {
    const allowed = await request(jwt.app).get(DISCOVERY).set('Origin', EHR_ORIGIN).set('Authorization', await bearer(DISCOVERY));
    expect(allowed.status).toBe(200);
    expect(allowed.headers['access-control-allow-origin']).toBe(EHR_ORIGIN);
    expect(String(allowed.headers.vary)).toMatch(/Origin/i);

    const other = await request(jwt.app).get(DISCOVERY).set('Origin', OTHER_ORIGIN).set('Authorization', await bearer(DISCOVERY));
    expect(other.headers['access-control-allow-origin']).toBeUndefined();

    const otherPreflight = await request(jwt.app).options(SERVICE).set('Origin', OTHER_ORIGIN).set('Access-Control-Request-Method', 'POST');
    expect(otherPreflight.headers['access-control-allow-origin']).toBeUndefined();
  });

  it('puts CORS headers on a 401 too, so a browser client can read the error', async () => {
    const res = await request(jwt.app).get(DISCOVERY).set('Origin', EHR_ORIGIN);
    expectUnauthorized(res);
    expect(res.headers['access-control-allow-origin']).toBe(EHR_ORIGIN);
  });

  it('the development default answers * and never Access-Control-Allow-Credentials: true', async () => {
    const dev = await buildHarness({});
    expect(dev.config.corsOrigins).toBe('*');
    const preflight = await request(dev.app)
      .options(SERVICE)
      .set('Origin', 'http://localhost:8080')
      .set('Access-Control-Request-Method', 'POST')
      .set('Access-Control-Request-Headers', 'authorization,content-type');
    const simple = await request(dev.app).get(DISCOVERY).set('Origin', 'http://localhost:8080');
    for (const res of [preflight, simple]) {
      expect(res.status).toBeLessThan(300);
      expect(res.headers['access-control-allow-origin']).toBe('*');
      expect(res.headers['access-control-allow-credentials']).not.toBe('true');
    }
  });
});

describe('security headers (helmet)', () => {
  const cases: [string, () => Promise<Response>][] = [
    ['a 200', async () => request(jwt.app).get(DISCOVERY).set('Authorization', await bearer(DISCOVERY))],
    ['a 401', async () => request(jwt.app).get(DISCOVERY)],
    ['a 404', async () => request((await buildHarness({})).app).get('/nothing-here')],
  ];

  it.each(cases)('are on %s', async (_name, send) => {
    const res = await send();
    expect(res.headers['x-content-type-options']).toBe('nosniff');
    expect(res.headers['x-powered-by']).toBeUndefined();
    expect(res.headers['x-frame-options']).toBeDefined();
    expect(res.headers['referrer-policy']).toBe('no-referrer');
    expect(res.headers['strict-transport-security']).toMatch(/max-age=\d+/);
    expect(res.headers['content-security-policy']).toMatch(/default-src 'none'/);
    expect(res.headers['content-security-policy']).toMatch(/frame-ancestors 'none'/);
    // Browser clients on another origin must be able to read the responses.
    expect(res.headers['cross-origin-resource-policy']).toBe('cross-origin');
  });
});

describe('request bodies', () => {
  it('415 OperationOutcome for text/plain on a service call and on feedback (authenticated)', async () => {
    for (const p of [SERVICE, FEEDBACK]) {
      const res = await request(jwt.app)
        .post(p)
        .set('Authorization', await bearer(p))
        .set('Content-Type', 'text/plain')
        .send(JSON.stringify(bodyFor(p)));
      expect({ path: p, status: res.status }).toEqual({ path: p, status: 415 });
      expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
      expect((res.body as { resourceType?: string }).resourceType).toBe('OperationOutcome');
    }
  });

  it('accepts application/fhir+json as JSON', async () => {
    const res = await request(jwt.app)
      .post(SERVICE)
      .set('Authorization', await bearer(SERVICE))
      .set('Content-Type', 'application/fhir+json')
      .send(JSON.stringify(hookBody()));
    expect(res.status).toBe(200);
  });

  it('413 OperationOutcome over the default 5 MB limit (authenticated)', async () => {
    expect(jwt.config.bodyLimitBytes).toBe(5 * 1024 * 1024);
    const oversized = { ...hookBody(), extension: { padding: 'x'.repeat(jwt.config.bodyLimitBytes) } };
    const res = await request(jwt.app).post(SERVICE).set('Authorization', await bearer(SERVICE)).set('Content-Type', 'application/json').send(JSON.stringify(oversized));
    expect(res.status).toBe(413);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect((res.body as { issue: { code: string }[] }).issue[0]?.code).toBe('too-long');
  });

  it('413 follows CDS_BODY_LIMIT, also on feedback', async () => {
    const small = await buildHarness({ CDS_BODY_LIMIT: '2kb' });
    const padded = { ...feedbackBody(), padding: 'x'.repeat(3000) };
    const res = await request(small.app).post(FEEDBACK).set('Content-Type', 'application/json').send(JSON.stringify(padded));
    expect(res.status).toBe(413);
    const fits = await request(small.app).post(FEEDBACK).set('Content-Type', 'application/json').send(JSON.stringify(feedbackBody()));
    expect(fits.status).toBe(200);
  });
});
