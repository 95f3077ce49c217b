// Logs of the real app: one 'cds call' line per call (service, hookInstance, status, durationMs, topics, the
// client's iss/jti), and no bearer JWT, fhirAuthorization.access_token or patient data anywhere in the output,
// on 200, 401, 400, 500 and expression-failure paths, at info and at trace level.
import { randomUUID } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Express } from 'express';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import type { JWK, KeyLike } from 'jose';
import type { DestinationStream } from 'pino';
import request from 'supertest';
import { createApp } from '../src/http/app';
import { createClientVerifier } from '../src/auth/verify';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import type { Registry } from '../src/definitions/types';
import { memoryReplayGuard, memoryStorage, serveCard } from './helpers/test-storage';
import type { Storage } from '../src/storage/storage';
import { createLogger } from '../src/logger';
import type { PrefetchFetcher } from '../src/fhir/prefetch';
import { buildRequest, listCases } from './helpers/golden';

const PUBLIC_URL = 'https://cds.example.org';
const SERVICE_ID = 'iph-patient-view';
const DISCOVERY = '/cds-services';
const SERVICE = `/cds-services/${SERVICE_ID}`;
const FEEDBACK = `${SERVICE}/feedback`;
const ISS = 'https://ehr.example.org/cds-client';
const DEFINITIONS = path.join(__dirname, '..', 'cds-services');

// Distinctive patient data and secrets: none of these may reach the log.
const FIXTURE_PATIENT_ID = 'pv-criteria-met';
const PATIENT_ID = 'Zq-patient-4471-ident';
const FAMILY = 'Featherstonehaugh-Quixote';
const GIVEN = 'Zebulon';
const OBS_VALUE = 'Marmalade-Xylophone-88431';
const ACCESS_TOKEN = 'fhir-access-token-SECRET-9b1f2e77c0';
const FHIR_SERVER = 'https://fhir.example.org/r4';

interface MemoryStream extends DestinationStream {
  lines: string[];
  text(): string;
  entries(): Record<string, unknown>[];
}

function memoryStream(): MemoryStream {
  const lines: string[] = [];
  return {
    lines,
    write(msg: string) {
      lines.push(msg);
    },
    text: () => lines.join(''),
    entries: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>),
  };
}

const registry = loadRegistry(DEFINITIONS);
const patientCase = listCases().find((c) => c.service === SERVICE_ID && c.name === 'criteria-met');
if (!patientCase) throw new Error('fixture case iph-patient-view/criteria-met is missing');
const caseNow = new Date(patientCase.data.now);
const serviceDefinition = registry.services.get(SERVICE_ID);
if (!serviceDefinition) throw new Error(`${SERVICE_ID} is not defined`);

const fixtureBody = buildRequest(serviceDefinition, patientCase.data);
const BIRTH_DATE = (fixtureBody.prefetch as { patient: { birthDate: string } }).patient.birthDate;

type Json = Record<string, unknown>;

/** The fixture request carrying a fhirAuthorization token and distinctive PHI in prefetch and context. */
function phiRequest(extraObservation?: Json): Json {
  const body = JSON.parse(JSON.stringify(fixtureBody).split(FIXTURE_PATIENT_ID).join(PATIENT_ID)) as Json & {
    prefetch: { patient: Json; observations: { entry: Json[] } };
    context: Json;
  };
  body.hookInstance = randomUUID();
  body.fhirServer = FHIR_SERVER;
  body.fhirAuthorization = { access_token: ACCESS_TOKEN, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'iph-cds' };
  body.prefetch.patient.name = [{ use: 'official', family: FAMILY, given: [GIVEN] }];
  body.prefetch.observations.entry.push({
    resource: extraObservation ?? {
      resourceType: 'Observation',
      id: 'free-text-note',
      status: 'final',
      code: { coding: [{ system: 'https://ehr.example.org/local-codes', code: 'nurse-note' }] },
      subject: { reference: `Patient/${PATIENT_ID}` },
      effectiveDateTime: '2026-05-09T10:00:00Z',
      valueString: OBS_VALUE,
    },
  });
  return body;
}

const SECRETS_WITHOUT_TOKENS = [ACCESS_TOKEN, FAMILY, GIVEN, BIRTH_DATE, OBS_VALUE, PATIENT_ID];

/** Runs fn with Date pinned to the case's clock (only Date is faked), as the golden runner does. */
async function atCaseTime<T>(fn: () => Promise<T>): Promise<T> {
  jest.useFakeTimers({
    now: caseNow,
    doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'],
  });
  try {
    return await fn();
  } finally {
    jest.useRealTimers();
  }
}

let privateKey: KeyLike;
let publicJwk: JWK;
let trustedClientsFile: string;

beforeAll(async () => {
  const pair = await generateKeyPair('ES384');
  privateKey = pair.privateKey;
  publicJwk = { ...(await exportJWK(pair.publicKey)), kid: 'log-test', alg: 'ES384', use: 'sig' };
  const dir = mkdtempSync(path.join(tmpdir(), 'cds-logging-'));
  trustedClientsFile = path.join(dir, 'trusted-clients.json');
  writeFileSync(trustedClientsFile, JSON.stringify({ clients: [{ iss: ISS, jwks: { keys: [publicJwk] } }] }));
});

afterEach(() => jest.useRealTimers());

interface Minted {
  token: string;
  jti: string;
}

async function mint(p: string): Promise<Minted> {
  const jti = randomUUID();
  const iat = Math.floor(Date.now() / 1000);
  const token = await new SignJWT({ iss: ISS, aud: `${PUBLIC_URL}${p}`, iat, exp: iat + 300, jti })
    .setProtectedHeader({ alg: 'ES384', typ: 'JWT', kid: 'log-test' })
    .sign(privateKey);
  return { token, jti };
}

interface Harness {
  app: Express;
  out: MemoryStream;
  fetcher: jest.Mock;
  storage: Storage;
}

function buildHarness(level: string, auth: 'jwt' | 'off', defs: Registry = registry): Harness {
  const out = memoryStream();
  const log = createLogger({ level, destination: out });
  const config = readConfig({
    NODE_ENV: 'test',
    CDS_AUTH: auth,
    CDS_PUBLIC_URL: PUBLIC_URL,
    ...(auth === 'jwt' ? { CDS_TRUSTED_CLIENTS: trustedClientsFile } : {}),
  });
  // A bug in the FHIR fallback: the only way this test reaches the 500 path without touching src/.
  const fetcher = jest.fn<ReturnType<PrefetchFetcher>, Parameters<PrefetchFetcher>>(async () => {
    throw new Error('simulated fault in the FHIR fallback');
  });
  const deps = memoryStorage();
  const verifier = auth === 'jwt' ? createClientVerifier(config.auth, log, memoryReplayGuard(deps.storage)) : undefined;
  const app = createApp(defs, config, { log, ...deps, fetcher, ...(verifier ? { verifier } : {}) });
  return { app, out, fetcher, storage: deps.storage };
}

function callLines(out: MemoryStream): Json[] {
  return out.entries().filter((e) => e.msg === 'cds call');
}

function expectNoSecrets(out: MemoryStream, tokens: string[]): void {
  const text = out.text();
  expect(text.length).toBeGreaterThan(0);
  for (const s of [...tokens, ...SECRETS_WITHOUT_TOKENS]) {
    // Reported by name so a failure does not print the whole log.
    expect({ secret: s, found: text.includes(s) }).toEqual({ secret: s, found: false });
  }
  // Not even a piece of a JWT (its signature is the part that must never be replayable from logs).
  for (const t of tokens) for (const part of t.split('.')) expect(text.includes(part)).toBe(false);
}

describe.each(['info', 'trace'])('with LOG_LEVEL=%s and client JWTs on', (level) => {
  let h: Harness;
  const tokens: string[] = [];

  beforeAll(() => {
    h = buildHarness(level, 'jwt');
  });

  it('logs one cds call line for a service call with service, hookInstance, status, durationMs, topics, iss, jti', async () => {
    const body = phiRequest();
    const before = callLines(h.out).length;
    const { res, minted } = await atCaseTime(async () => {
      const m = await mint(SERVICE);
      const r = await request(h.app).post(SERVICE).set('Authorization', `Bearer ${m.token}`).send(body);
      return { res: r, minted: m };
    });
    tokens.push(minted.token);
    expect(res.status).toBe(200);
    const topics = (res.body as { cards: { source: { topic: { code: string } } }[] }).cards.map((c) => c.source.topic.code);
    expect(topics).toContain('iph-criteria-met');

    const lines = callLines(h.out).slice(before);
    expect(lines).toHaveLength(1);
    const line = lines[0]!;
    expect(line).toMatchObject({
      level: 30,
      method: 'POST',
      path: SERVICE,
      service: SERVICE_ID,
      hookInstance: body.hookInstance,
      status: 200,
      topics,
      iss: ISS,
      jti: minted.jti,
    });
    expect(typeof line.durationMs).toBe('number');
    expect(line.durationMs as number).toBeGreaterThanOrEqual(0);
    expect(h.fetcher).not.toHaveBeenCalled();
  });

  it('logs discovery and feedback calls with iss and jti', async () => {
    const before = callLines(h.out).length;
    const d = await mint(DISCOVERY);
    const f = await mint(FEEDBACK);
    tokens.push(d.token, f.token);
    const discovery = await request(h.app).get(DISCOVERY).set('Authorization', `Bearer ${d.token}`);
    const served = await serveCard(h.storage, SERVICE_ID, 0);
    const feedback = await request(h.app)
      .post(FEEDBACK)
      .set('Authorization', `Bearer ${f.token}`)
      .send({ feedback: [{ card: served.card, outcome: 'overridden', overrideReason: { userComment: `${GIVEN} ${FAMILY} declined` }, outcomeTimestamp: new Date().toISOString() }] });
    expect([discovery.status, feedback.status]).toEqual([200, 200]);
    const lines = callLines(h.out).slice(before);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({ method: 'GET', path: DISCOVERY, status: 200, iss: ISS, jti: d.jti });
    expect(lines[0]).not.toHaveProperty('service');
    expect(lines[1]).toMatchObject({ method: 'POST', path: FEEDBACK, service: SERVICE_ID, status: 200, iss: ISS, jti: f.jti });
  });

  it('logs a rejected token as a 401 call without iss/jti, and never the token', async () => {
    const before = callLines(h.out).length;
    const discoveryToken = await mint(DISCOVERY);
    tokens.push(discoveryToken.token);
    // Replayed to the service URL: wrong audience.
    const res = await request(h.app).post(SERVICE).set('Authorization', `Bearer ${discoveryToken.token}`).send(phiRequest());
    expect(res.status).toBe(401);
    const lines = callLines(h.out).slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ path: SERVICE, status: 401 });
    expect(lines[0]!.iss).toBeUndefined();
    expect(lines[0]!.jti).toBeUndefined();
    // The reason is logged (for operators), the token is not.
    expect(h.out.entries().some((e) => e.msg === 'client authentication failed')).toBe(true);
  });

  it('logs a 400 (hook request invalid) with its hookInstance and no patient data', async () => {
    const before = callLines(h.out).length;
    const body: Json = { ...phiRequest(), hook: 'order-sign' };
    const m = await mint(SERVICE);
    tokens.push(m.token);
    const res = await request(h.app).post(SERVICE).set('Authorization', `Bearer ${m.token}`).send(body);
    expect(res.status).toBe(400);
    const lines = callLines(h.out).slice(before);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ service: SERVICE_ID, hookInstance: body.hookInstance, status: 400, iss: ISS, jti: m.jti });
  });

  it('logs a 400 for a body that is not JSON without echoing the body', async () => {
    const before = callLines(h.out).length;
    const m = await mint(SERVICE);
    tokens.push(m.token);
    const broken = JSON.stringify(phiRequest()).slice(0, -20);
    const res = await request(h.app).post(SERVICE).set('Authorization', `Bearer ${m.token}`).set('Content-Type', 'application/json').send(broken);
    expect(res.status).toBe(400);
    expect(callLines(h.out).slice(before)).toEqual([expect.objectContaining({ status: 400, service: SERVICE_ID })]);
  });

  it('logs a 500 with the error but without the request data', async () => {
    const before = h.out.lines.length;
    const body = phiRequest() as Json & { prefetch: Json };
    delete body.prefetch.procedures; // absent key -> the (faulty) FHIR fallback is asked for it
    const m = await mint(SERVICE);
    tokens.push(m.token);
    const res = await request(h.app).post(SERVICE).set('Authorization', `Bearer ${m.token}`).send(body);
    expect(res.status).toBe(500);
    expect(h.fetcher).toHaveBeenCalledTimes(1);
    const entries = h.out.lines.slice(before).map((l) => JSON.parse(l) as Json);
    expect(entries.filter((e) => e.msg === 'cds call')).toEqual([
      expect.objectContaining({ status: 500, service: SERVICE_ID, hookInstance: body.hookInstance, iss: ISS, jti: m.jti }),
    ]);
    const failure = entries.find((e) => e.msg === 'request failed');
    expect(failure).toBeDefined();
    expect(JSON.stringify(failure)).toContain('simulated fault in the FHIR fallback');
  });

  it('never wrote a token, the access_token, or the patient name, birth date, id or observation text', () => {
    expect(tokens.length).toBeGreaterThanOrEqual(6);
    expectNoSecrets(h.out, tokens);
  });
});

describe('with CDS_AUTH=off', () => {
  const UNVERIFIED = 'unverifiedHeaderPart.unverifiedPayloadPart.unverifiedSignaturePart';

  it('still logs one cds call line per call, without iss/jti, and no secrets', async () => {
    const h = buildHarness('info', 'off');
    const body = phiRequest();
    const res = await atCaseTime(() => request(h.app).post(SERVICE).set('Authorization', `Bearer ${UNVERIFIED}`).send(body));
    expect(res.status).toBe(200);
    const lines = callLines(h.out);
    expect(lines).toHaveLength(1);
    expect(lines[0]).toMatchObject({ service: SERVICE_ID, hookInstance: body.hookInstance, status: 200 });
    expect(lines[0]!.iss).toBeUndefined();
    expectNoSecrets(h.out, [UNVERIFIED]);
  });
});

describe('an expression that fails on the record', () => {
  // A definitions copy with one expression an author could plausibly write: it assumes a single hemoglobin value.
  // fhirpath.js puts the offending collection (patient data) into its error message.
  let probeRegistry: Registry;

  beforeAll(() => {
    const dir = mkdtempSync(path.join(tmpdir(), 'cds-logging-defs-'));
    cpSync(DEFINITIONS, dir, { recursive: true });
    const file = path.join(dir, `${SERVICE_ID}.json`);
    const def = JSON.parse(readFileSync(file, 'utf8')) as { expressions: Record<string, string>; cards: { when: string }[] };
    def.expressions.singleHemoglobinHigh = "%observations.where(code.coding.code = '718-7').value > 20 'g/dL'";
    // Names are evaluated when read: make a card's `when` read it.
    def.cards[0]!.when = 'singleHemoglobinHigh';
    writeFileSync(file, JSON.stringify(def, null, 2));
    probeRegistry = loadRegistry(dir);
  });

  it('is logged by name, without the values that made it fail', async () => {
    const h = buildHarness('info', 'off', probeRegistry);
    const secondHemoglobin = {
      resourceType: 'Observation',
      id: 'hb-text',
      status: 'final',
      code: { coding: [{ system: 'http://loinc.org', code: '718-7' }] },
      subject: { reference: `Patient/${PATIENT_ID}` },
      effectiveDateTime: '2026-05-09T10:00:00Z',
      valueString: OBS_VALUE,
    };
    const res = await atCaseTime(() => request(h.app).post(SERVICE).send(phiRequest(secondHemoglobin)));
    expect(res.status).toBe(200);
    const warning = h.out.entries().find((e) => e.msg === 'expressions failed on this record');
    expect(warning).toBeDefined();
    expect(JSON.stringify(warning)).toContain('singleHemoglobinHigh');
    expectNoSecrets(h.out, []);
    // The fixture's hemoglobin value (9.8 g/dL) is patient data too.
    expect(h.out.text()).not.toMatch(/value\\*":9\.8\b/);
  });
});
