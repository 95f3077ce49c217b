// Client JWT authentication: an attack table (each must be a bare 401), valid tokens on discovery/service/feedback,
// JWKS caching and key rotation, audience behind a proxy, and readAuthSettings.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import type { Express } from 'express';
import { base64url, exportJWK, exportSPKI, generateKeyPair, SignJWT } from 'jose';
import type { JWK, KeyLike } from 'jose';
import nock from 'nock';
import type { DestinationStream } from 'pino';
import request from 'supertest';
import { clientAuthMiddleware } from '../src/http/client-auth';
import { createClientVerifier } from '../src/auth/verify';
import { readAuthSettings } from '../src/auth/trusted-clients';
import type { AuthSettings, TrustedClient } from '../src/auth/trusted-clients';
import { errorMiddleware } from '../src/errors';
import { createLogger } from '../src/logger';

// Only Date is faked: tokens are minted relative to a fixed clock, and jose's JWKS cooldown reads Date.now().
const NOW_MS = Date.UTC(2027, 0, 15, 12, 0, 0);
const nowS = () => Math.floor(Date.now() / 1000);

const HOST = 'cds.test';
const BASE = `http://${HOST}`;
const SERVICE = '/cds-services/svc';
const FEEDBACK = '/cds-services/svc/feedback';
const DISCOVERY = '/cds-services';

const EHR_ORIGIN = 'https://ehr.example.org';
const EHR_ISS = `${EHR_ORIGIN}/cds-client`;
const JWKS_PATH = '/.well-known/jwks.json';
const JWKS_URL = `${EHR_ORIGIN}${JWKS_PATH}`;
const ALT_JKU_ORIGIN = 'https://keys.ehr.example.org';
const ALT_JKU = `${ALT_JKU_ORIGIN}/jwks.json`;
const ATTACKER_ORIGIN = 'https://attacker.example';
const ATTACKER_JKU = `${ATTACKER_ORIGIN}/jwks.json`;
const INLINE_ISS = 'https://inline-ehr.example.org';
const TENANTS = ['org-1', 'org-2'];

interface KeyPair {
  kid: string;
  alg: 'ES384' | 'RS384';
  privateKey: KeyLike;
  publicJwk: JWK;
  publicPem: string;
}

async function makeKey(alg: 'ES384' | 'RS384', kid: string): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair(alg);
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg, use: 'sig' };
  return { kid, alg, privateKey, publicJwk, publicPem: await exportSPKI(publicKey) };
}

let es1: KeyPair; // remote JWKS of EHR_ISS
let es2: KeyPair; // the rotated-in key
let rs1: KeyPair; // inline JWKS of INLINE_ISS
let attacker: KeyPair; // same kid as es1, not published anywhere trusted

interface TokenOptions {
  key?: KeyPair;
  header?: Record<string, unknown>;
  claims?: Record<string, unknown>;
  /** Claims to drop from the defaults. */
  omit?: string[];
}

let jtiCounter = 0;

async function mint(path: string, opts: TokenOptions = {}): Promise<string> {
  const key = opts.key ?? es1;
  const iat = nowS();
  const claims: Record<string, unknown> = {
    iss: key === rs1 ? INLINE_ISS : EHR_ISS,
    aud: `${BASE}${path}`,
    iat,
    exp: iat + 300,
    jti: `jti-${++jtiCounter}`,
    ...(key === rs1 ? { tenant: 'org-1' } : {}),
    ...opts.claims,
  };
  for (const c of opts.omit ?? []) delete claims[c];
  return new SignJWT(claims).setProtectedHeader({ alg: key.alg, typ: 'JWT', kid: key.kid, ...opts.header }).sign(key.privateKey);
}

function unsignedToken(header: object, claims: object): string {
  const enc = (o: object) => base64url.encode(JSON.stringify(o));
  return `${enc(header)}.${enc(claims)}.`;
}

function trustedClients(): TrustedClient[] {
  return [
    { iss: EHR_ISS, jwksUrl: JWKS_URL, allowedJku: [JWKS_URL, ALT_JKU] },
    { iss: INLINE_ISS, jwks: { keys: [rs1.publicJwk] }, tenants: TENANTS },
  ];
}

function memoryStream(): DestinationStream & { lines: string[] } {
  const lines: string[] = [];
  return {
    lines,
    write(msg: string) {
      lines.push(msg);
    },
  };
}

interface Harness {
  app: Express;
  logLines: string[];
  handled: string[];
}

function buildHarness(settings: AuthSettings): Harness {
  const out = memoryStream();
  const log = createLogger({ level: 'warn', destination: out });
  const verifier = createClientVerifier(settings, log);
  const handled: string[] = [];
  const app = express();
  app.use(clientAuthMiddleware(verifier, settings));
  const reply: express.RequestHandler = (req, res) => {
    handled.push(`${req.method} ${req.path}`);
    res.json({ client: res.locals.client ?? null });
  };
  app.get(DISCOVERY, reply);
  app.post(SERVICE, reply);
  app.post(FEEDBACK, reply);
  app.use(errorMiddleware(log));
  return { app, logLines: out.lines, handled };
}

const jwtSettings = (): AuthSettings => ({ mode: 'jwt', clients: trustedClients() });

let jwksFetches = 0;
let publishedKeys: JWK[] = [];

function serveJwks(): void {
  nock(EHR_ORIGIN)
    .persist()
    .get(JWKS_PATH)
    .reply(200, () => {
      jwksFetches += 1;
      return { keys: publishedKeys };
    });
}

beforeAll(async () => {
  [es1, es2, rs1, attacker] = await Promise.all([
    makeKey('ES384', 'es-1'),
    makeKey('ES384', 'es-2'),
    makeKey('RS384', 'rs-1'),
    makeKey('ES384', 'es-1'),
  ]);
  jest.useFakeTimers({
    doNotFake: [
      'hrtime',
      'nextTick',
      'performance',
      'queueMicrotask',
      'requestAnimationFrame',
      'cancelAnimationFrame',
      'requestIdleCallback',
      'cancelIdleCallback',
      'setImmediate',
      'clearImmediate',
      'setInterval',
      'clearInterval',
      'setTimeout',
      'clearTimeout',
    ],
  });
});

afterAll(() => {
  jest.useRealTimers();
});

beforeEach(() => {
  jest.setSystemTime(NOW_MS);
  nock.cleanAll();
  nock.disableNetConnect();
  nock.enableNetConnect(/^(127\.0\.0\.1|localhost|\[::1\])(:\d+)?$/);
  jwksFetches = 0;
  publishedKeys = [es1.publicJwk];
  serveJwks();
});

const UNAUTHORIZED_BODY = {
  resourceType: 'OperationOutcome',
  issue: [{ severity: 'error', code: 'login', diagnostics: 'unauthorized' }],
};

type Endpoint = { method: 'get' | 'post'; path: string };
const ENDPOINTS: Endpoint[] = [
  { method: 'get', path: DISCOVERY },
  { method: 'post', path: SERVICE },
  { method: 'post', path: FEEDBACK },
];

function call(app: Express, endpoint: Endpoint, authorization?: string) {
  const req = (endpoint.method === 'get' ? request(app).get(endpoint.path) : request(app).post(endpoint.path).send({})).set('Host', HOST);
  return authorization === undefined ? req : req.set('Authorization', authorization);
}

interface AttackCase {
  name: string;
  endpoint?: Endpoint;
  /** Builds the Authorization header; may use the harness (e.g. to spend a jti first). */
  authorization: (h: Harness) => Promise<string | undefined>;
  /** Log reason the verifier must give (checks the rejection happened for the intended reason). */
  reason: RegExp;
}

const bearer = (t: string) => `Bearer ${t}`;

const ATTACKS: AttackCase[] = [
  { name: 'no Authorization header', authorization: async () => undefined, reason: /no Authorization header/ },
  { name: 'Basic credentials', authorization: async () => 'Basic dXNlcjpwYXNz', reason: /not a Bearer/ },
  { name: 'valid JWT with a non-Bearer scheme', authorization: async () => `Token ${await mint(SERVICE)}`, reason: /not a Bearer/ },
  { name: 'garbage token', authorization: async () => 'Bearer not.a.jwt', reason: /malformed/ },
  { name: 'single-segment garbage', authorization: async () => 'Bearer abcdef', reason: /malformed/ },
  {
    name: 'alg none',
    authorization: async () =>
      bearer(
        unsignedToken(
          { alg: 'none', typ: 'JWT', kid: 'es-1' },
          { iss: EHR_ISS, aud: `${BASE}${SERVICE}`, iat: nowS(), exp: nowS() + 300, jti: 'none-1' },
        ),
      ),
    reason: /alg "none" not allowed/,
  },
  {
    name: 'HS256 signed with the public key bytes',
    authorization: async () =>
      bearer(
        await new SignJWT({ iss: EHR_ISS, aud: `${BASE}${SERVICE}`, iat: nowS(), exp: nowS() + 300, jti: 'hs-1' })
          .setProtectedHeader({ alg: 'HS256', typ: 'JWT', kid: 'es-1' })
          .sign(new TextEncoder().encode(es1.publicPem)),
      ),
    reason: /alg "HS256" not allowed/,
  },
  {
    name: 'PS384 (asymmetric but not in the allow-list)',
    authorization: async () =>
      bearer(
        await new SignJWT({ iss: INLINE_ISS, aud: `${BASE}${SERVICE}`, iat: nowS(), exp: nowS() + 300, jti: 'ps-1', tenant: 'org-1' })
          .setProtectedHeader({ alg: 'PS384', typ: 'JWT', kid: 'rs-1' })
          .sign(rs1.privateKey),
      ),
    reason: /alg "PS384" not allowed/,
  },
  { name: 'unknown kid', authorization: async () => bearer(await mint(SERVICE, { header: { kid: 'nope' } })), reason: /no key/ },
  { name: 'missing kid', authorization: async () => bearer(await mint(SERVICE, { header: { kid: undefined } })), reason: /kid missing/ },
  { name: 'typ is not JWT', authorization: async () => bearer(await mint(SERVICE, { header: { typ: 'at+jwt' } })), reason: /typ/ },
  { name: 'forged signature under a trusted kid', authorization: async () => bearer(await mint(SERVICE, { key: attacker })), reason: /signature invalid/ },
  {
    name: 'untrusted iss',
    authorization: async () => bearer(await mint(SERVICE, { claims: { iss: 'https://unknown.example' } })),
    reason: /iss not trusted/,
  },
  {
    name: 'trusted iss presented with another client key',
    authorization: async () => bearer(await mint(SERVICE, { key: rs1, claims: { iss: EHR_ISS } })),
    reason: /no key/,
  },
  {
    name: 'jku not in the allow-list',
    authorization: async () => bearer(await mint(SERVICE, { key: attacker, header: { jku: ATTACKER_JKU } })),
    reason: /jku not allowed/,
  },
  { name: 'wrong aud', authorization: async () => bearer(await mint(SERVICE, { claims: { aud: 'https://evil.example/cds-services/svc' } })), reason: /aud/ },
  { name: 'aud of another service', authorization: async () => bearer(await mint('/cds-services/other')), reason: /aud/ },
  { name: 'aud of the service used on its feedback endpoint', endpoint: { method: 'post', path: FEEDBACK }, authorization: async () => bearer(await mint(SERVICE)), reason: /aud/ },
  { name: 'missing aud', authorization: async () => bearer(await mint(SERVICE, { omit: ['aud'] })), reason: /aud/ },
  {
    name: 'expired (beyond the 60 s tolerance)',
    authorization: async () => bearer(await mint(SERVICE, { claims: { iat: nowS() - 600, exp: nowS() - 61 } })),
    reason: /expired/,
  },
  {
    name: 'not yet valid (nbf in the future)',
    authorization: async () => bearer(await mint(SERVICE, { claims: { nbf: nowS() + 120, exp: nowS() + 600 } })),
    reason: /nbf/,
  },
  {
    name: 'iat in the future',
    authorization: async () => bearer(await mint(SERVICE, { claims: { iat: nowS() + 120, exp: nowS() + 600 } })),
    reason: /iat/,
  },
  {
    name: 'lifetime over 1 h',
    authorization: async () => bearer(await mint(SERVICE, { claims: { exp: nowS() + 3601 } })),
    reason: /lifetime over 3600/,
  },
  { name: 'missing exp', authorization: async () => bearer(await mint(SERVICE, { omit: ['exp'] })), reason: /exp/ },
  { name: 'missing iat', authorization: async () => bearer(await mint(SERVICE, { omit: ['iat'] })), reason: /iat/ },
  { name: 'missing jti', authorization: async () => bearer(await mint(SERVICE, { omit: ['jti'] })), reason: /jti/ },
  {
    name: 'replayed jti',
    authorization: async ({ app }) => {
      const token = await mint(SERVICE, { claims: { jti: 'once-only' } });
      await call(app, { method: 'post', path: SERVICE }, bearer(token)).expect(200);
      return bearer(token);
    },
    reason: /replayed/,
  },
  {
    name: 'replayed jti in a fresh token of the same issuer',
    authorization: async ({ app }) => {
      await call(app, { method: 'post', path: SERVICE }, bearer(await mint(SERVICE, { claims: { jti: 'dup' } }))).expect(200);
      return bearer(await mint(SERVICE, { claims: { jti: 'dup', iat: nowS() - 1 } }));
    },
    reason: /replayed/,
  },
  { name: 'wrong tenant', authorization: async () => bearer(await mint(SERVICE, { key: rs1, claims: { tenant: 'org-evil' } })), reason: /tenant not allowed/ },
  { name: 'missing tenant', authorization: async () => bearer(await mint(SERVICE, { key: rs1, omit: ['tenant'] })), reason: /tenant missing/ },
];

describe('client authentication: attacks are a bare 401', () => {
  it('the table covers the required attacks', () => {
    expect(ATTACKS.length).toBeGreaterThanOrEqual(16);
  });

  it.each(ATTACKS)('$name', async (attack) => {
    const h = buildHarness(jwtSettings());
    const endpoint = attack.endpoint ?? { method: 'post', path: SERVICE };
    const authorization = await attack.authorization(h);
    const handledBefore = h.handled.length;
    const linesBefore = h.logLines.length;
    const attackerJwks = nock(ATTACKER_ORIGIN).get('/jwks.json').reply(200, { keys: [attacker.publicJwk] });

    const res = await call(h.app, endpoint, authorization);

    expect(res.status).toBe(401);
    expect(res.body).toEqual(UNAUTHORIZED_BODY);
    expect(res.headers['content-type']).toMatch(/^application\/fhir\+json/);
    expect(res.headers['www-authenticate']).toBe('Bearer');
    expect(h.handled).toHaveLength(handledBefore);
    // Never fetched, whatever the token says.
    expect(attackerJwks.isDone()).toBe(false);

    const newLines = h.logLines.slice(linesBefore);
    expect(newLines).toHaveLength(1);
    const entry = JSON.parse(newLines[0] ?? '{}') as { level: number; msg: string; auth: { reason: string } };
    expect(entry.level).toBe(40);
    expect(entry.msg).toBe('client authentication failed');
    expect(entry.auth.reason).toMatch(attack.reason);
    const token = authorization?.split(' ')[1];
    if (token) {
      expect(newLines[0]).not.toContain(token);
      const signature = token.split('.')[2];
      if (signature) expect(newLines[0]).not.toContain(signature);
    }
  });

  it('rejects a jku that is not allowed without fetching it (explicit check)', async () => {
    const h = buildHarness(jwtSettings());
    const evil = nock(ATTACKER_ORIGIN).get('/jwks.json').reply(200, { keys: [attacker.publicJwk] });
    const token = await mint(SERVICE, { key: attacker, header: { jku: ATTACKER_JKU } });
    await call(h.app, { method: 'post', path: SERVICE }, bearer(token)).expect(401);
    expect(evil.isDone()).toBe(false);
    expect(nock.pendingMocks()).toContain(`GET ${ATTACKER_ORIGIN}:443/jwks.json`);
    expect(jwksFetches).toBe(0);
  });

  it('rejects when the client JWKS cannot be fetched', async () => {
    nock.cleanAll();
    nock(EHR_ORIGIN).get(JWKS_PATH).reply(500, 'down');
    const h = buildHarness(jwtSettings());
    await call(h.app, { method: 'post', path: SERVICE }, bearer(await mint(SERVICE))).expect(401);
    expect(h.logLines.join('')).toMatch(/Expected 200 OK from the JSON Web Key Set/);
  });

  it('rejects when the client JWKS host is unreachable', async () => {
    nock.cleanAll();
    // A refused connection (an interceptor error rather than nock's net-connect guard, which can surface as an
    // unhandled socket error when other test files ran first in the same worker).
    nock(EHR_ORIGIN).get(JWKS_PATH).replyWithError({ code: 'ECONNREFUSED', message: 'connect ECONNREFUSED' });
    const h = buildHarness(jwtSettings());
    await call(h.app, { method: 'post', path: SERVICE }, bearer(await mint(SERVICE))).expect(401);
    expect(h.logLines.join('')).toMatch(/JWKS (unavailable|fetch timed out)/);
  });
});

describe('client authentication: valid tokens', () => {
  it.each(ENDPOINTS)('accepts ES384 via the remote JWKS on $method $path', async (endpoint) => {
    const h = buildHarness(jwtSettings());
    const res = await call(h.app, endpoint, bearer(await mint(endpoint.path, { claims: { jti: 'ok-es' } })));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ client: { iss: EHR_ISS, jti: 'ok-es' } });
    expect(h.logLines).toHaveLength(0);
  });

  it.each(ENDPOINTS)('accepts RS384 via the inline JWKS on $method $path', async (endpoint) => {
    const h = buildHarness(jwtSettings());
    const res = await call(h.app, endpoint, bearer(await mint(endpoint.path, { key: rs1, claims: { jti: 'ok-rs' } })));
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ client: { iss: INLINE_ISS, jti: 'ok-rs', tenant: 'org-1' } });
    expect(jwksFetches).toBe(0);
  });

  it('fetches the remote JWKS once for many requests (getter cached per URL)', async () => {
    const h = buildHarness(jwtSettings());
    for (const endpoint of ENDPOINTS) await call(h.app, endpoint, bearer(await mint(endpoint.path))).expect(200);
    expect(jwksFetches).toBe(1);
  });

  it('accepts an aud array containing the endpoint URL, and an allowed jku, fetched from that jku', async () => {
    const h = buildHarness(jwtSettings());
    const alt = nock(ALT_JKU_ORIGIN).get('/jwks.json').reply(200, { keys: [es2.publicJwk] });
    const token = await mint(SERVICE, { key: es2, header: { jku: ALT_JKU }, claims: { aud: ['https://other.example', `${BASE}${SERVICE}`] } });
    await call(h.app, { method: 'post', path: SERVICE }, bearer(token)).expect(200);
    expect(alt.isDone()).toBe(true);
    expect(jwksFetches).toBe(0);
  });

  it('honours the 60 s clock tolerance on exp and nbf', async () => {
    const h = buildHarness(jwtSettings());
    const justExpired = await mint(SERVICE, { claims: { iat: nowS() - 300, exp: nowS() - 30 } });
    await call(h.app, { method: 'post', path: SERVICE }, bearer(justExpired)).expect(200);
    const nearlyValid = await mint(SERVICE, { claims: { nbf: nowS() + 30 } });
    await call(h.app, { method: 'post', path: SERVICE }, bearer(nearlyValid)).expect(200);
  });

  it('accepts a lifetime of exactly 1 h and a listed tenant', async () => {
    const h = buildHarness(jwtSettings());
    const token = await mint(SERVICE, { key: rs1, claims: { exp: nowS() + 3600, tenant: 'org-2' } });
    const res = await call(h.app, { method: 'post', path: SERVICE }, bearer(token)).expect(200);
    expect(res.body.client.tenant).toBe('org-2');
  });

  it('lets a jti be reused by another issuer (replay is per iss+jti)', async () => {
    const h = buildHarness(jwtSettings());
    await call(h.app, { method: 'post', path: SERVICE }, bearer(await mint(SERVICE, { claims: { jti: 'shared' } }))).expect(200);
    await call(h.app, { method: 'post', path: SERVICE }, bearer(await mint(SERVICE, { key: rs1, claims: { jti: 'shared' } }))).expect(200);
  });

  it('forgets a jti once its token has expired', async () => {
    const out = memoryStream();
    let clock = NOW_MS;
    const verifier = createClientVerifier(jwtSettings(), createLogger({ destination: out }), () => clock);
    const aud = `${BASE}${SERVICE}`;
    const first = await mint(SERVICE, { key: rs1, claims: { jti: 'again', exp: nowS() + 60 } });
    await expect(verifier.verify(bearer(first), aud)).resolves.toEqual({ iss: INLINE_ISS, jti: 'again', tenant: 'org-1' });
    await expect(verifier.verify(bearer(first), aud)).rejects.toMatchObject({ status: 401 });
    // 60 s lifetime + 60 s tolerance later, the same jti in a new token is no longer a replay.
    clock = NOW_MS + 121_000;
    jest.setSystemTime(clock);
    const later = await mint(SERVICE, { key: rs1, claims: { jti: 'again' } });
    await expect(verifier.verify(bearer(later), aud)).resolves.toMatchObject({ jti: 'again' });
  });

  it('uses the injected clock', async () => {
    const out = memoryStream();
    const token = await mint(SERVICE, { key: rs1 });
    const aud = `${BASE}${SERVICE}`;
    const late = createClientVerifier(jwtSettings(), createLogger({ destination: out }), () => NOW_MS + 3_600_000);
    await expect(late.verify(bearer(token), aud)).rejects.toMatchObject({ status: 401 });
    expect(out.lines.join('')).toMatch(/token expired/);
    const onTime = createClientVerifier(jwtSettings(), createLogger({ destination: out }), () => NOW_MS);
    await expect(onTime.verify(bearer(token), aud)).resolves.toMatchObject({ iss: INLINE_ISS });
  });
});

describe('client authentication: key rotation', () => {
  it('refetches the JWKS for a new kid, rate-limited by the cooldown', async () => {
    const h = buildHarness(jwtSettings());
    const svc: Endpoint = { method: 'post', path: SERVICE };
    await call(h.app, svc, bearer(await mint(SERVICE))).expect(200);
    expect(jwksFetches).toBe(1);

    // The client rotates in es-2. Right after a fetch, an unknown kid does not trigger another one.
    publishedKeys = [es1.publicJwk, es2.publicJwk];
    await call(h.app, svc, bearer(await mint(SERVICE, { key: es2 }))).expect(401);
    expect(jwksFetches).toBe(1);

    // After the 30 s cooldown, the unknown kid causes exactly one refetch and is then accepted.
    jest.setSystemTime(NOW_MS + 31_000);
    await call(h.app, svc, bearer(await mint(SERVICE, { key: es2 }))).expect(200);
    expect(jwksFetches).toBe(2);
    await call(h.app, svc, bearer(await mint(SERVICE, { key: es1 }))).expect(200);
    await call(h.app, svc, bearer(await mint(SERVICE, { key: es2 }))).expect(200);
    expect(jwksFetches).toBe(2);
  });
});

describe('clientAuthMiddleware', () => {
  it('uses CDS_PUBLIC_URL for the audience behind a proxy', async () => {
    const publicUrl = 'https://cds.example.org/iph';
    const h = buildHarness({ ...jwtSettings(), publicUrl });
    const svc: Endpoint = { method: 'post', path: SERVICE };
    const internal = await mint(SERVICE);
    await call(h.app, svc, bearer(internal)).expect(401);
    const external = await mint(SERVICE, { claims: { aud: `${publicUrl}${SERVICE}` } });
    await call(h.app, svc, bearer(external)).expect(200);
  });

  it('ignores the query string when computing the audience', async () => {
    const h = buildHarness(jwtSettings());
    const token = await mint(SERVICE);
    await request(h.app).post(`${SERVICE}?debug=1`).set('Host', HOST).set('Authorization', bearer(token)).send({}).expect(200);
  });

  it('does not authenticate OPTIONS preflights', async () => {
    const h = buildHarness(jwtSettings());
    const res = await request(h.app).options(SERVICE).set('Host', HOST).set('Origin', 'https://sandbox.cds-hooks.org');
    expect(res.status).not.toBe(401);
    expect(h.logLines).toHaveLength(0);
  });

  it('lets everything through when mode is off', async () => {
    const h = buildHarness({ mode: 'off', clients: [] });
    const res = await call(h.app, { method: 'post', path: SERVICE }).expect(200);
    expect(res.body).toEqual({ client: null });
  });
});

describe('readAuthSettings', () => {
  const dir = mkdtempSync(join(tmpdir(), 'auth-settings-'));
  let fileCounter = 0;
  function writeClients(content: unknown): string {
    const path = join(dir, `clients-${++fileCounter}.json`);
    writeFileSync(path, typeof content === 'string' ? content : JSON.stringify(content));
    return path;
  }
  const ecJwk = { kty: 'EC', crv: 'P-384', kid: 'k1', x: 'AAAA', y: 'BBBB' };
  const goodFile = () =>
    writeClients({
      clients: [
        { iss: 'https://sandbox.cds-hooks.org', jwksUrl: 'https://sandbox.cds-hooks.org/.well-known/jwks.json', allowedJku: ['https://sandbox.cds-hooks.org/.well-known/jwks.json'] },
        { iss: 'https://ehr.example.org', jwks: { keys: [ecJwk] }, tenants: ['t1'] },
      ],
    });

  it('defaults to off outside production, with no clients', () => {
    expect(readAuthSettings({})).toEqual({ mode: 'off', clients: [] });
    expect(readAuthSettings({ NODE_ENV: 'development' }).mode).toBe('off');
  });

  it('defaults to jwt in production and then requires the trusted-clients file', () => {
    expect(() => readAuthSettings({ NODE_ENV: 'production' })).toThrow(/CDS_TRUSTED_CLIENTS/);
    const settings = readAuthSettings({ NODE_ENV: 'production', CDS_TRUSTED_CLIENTS: goodFile() });
    expect(settings.mode).toBe('jwt');
    expect(settings.clients).toHaveLength(2);
    expect(settings.clients[1]).toEqual({ iss: 'https://ehr.example.org', jwks: { keys: [ecJwk] }, tenants: ['t1'] });
  });

  it('lets CDS_AUTH override the default either way', () => {
    expect(readAuthSettings({ NODE_ENV: 'production', CDS_AUTH: 'off' }).mode).toBe('off');
    expect(readAuthSettings({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: goodFile() }).mode).toBe('jwt');
    expect(() => readAuthSettings({ CDS_AUTH: 'jwt' })).toThrow(/CDS_TRUSTED_CLIENTS/);
    expect(() => readAuthSettings({ CDS_AUTH: 'yes' })).toThrow(/CDS_AUTH must be "jwt" or "off"/);
  });

  it('rejects an unreadable or non-JSON file', () => {
    expect(() => readAuthSettings({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: join(dir, 'missing.json') })).toThrow(/cannot read/);
    expect(() => readAuthSettings({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: writeClients('{"clients": [') })).toThrow(/not valid JSON/);
  });

  it('rejects a client with both jwks and jwksUrl, or neither', () => {
    const both = writeClients({ clients: [{ iss: 'a', jwksUrl: 'https://a.example/jwks', jwks: { keys: [ecJwk] } }] });
    expect(() => readAuthSettings({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: both })).toThrow(/\/clients\/0: must have exactly one of "jwksUrl" or "jwks"/);
    const neither = writeClients({ clients: [{ iss: 'a' }] });
    expect(() => readAuthSettings({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: neither })).toThrow(/exactly one of "jwksUrl" or "jwks"/);
  });

  it('reports all problems of a bad file at once', () => {
    const bad = writeClients({
      clients: [
        { iss: '', jwksUrl: 'ftp://keys.example/jwks' },
        { iss: 'b', jwks: { keys: [{ ...ecJwk, d: 'private!' }] }, tenants: [] },
        { iss: 'c', jwksUrl: 'https://c.example/jwks', allowedJku: ['not a url'], colour: 'red' },
      ],
    });
    let message = '';
    try {
      readAuthSettings({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: bad });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('/clients/0/iss');
    expect(message).toContain('/clients/0/jwksUrl');
    expect(message).toContain('/clients/1/jwks/keys/0: must be a public key');
    expect(message).toContain('/clients/1/tenants');
    expect(message).toContain('/clients/2/allowedJku/0');
    expect(message).toContain('/clients/2: has an unknown member "colour"');
  });

  it('rejects an empty client list and duplicate issuers', () => {
    expect(() => readAuthSettings({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: writeClients({ clients: [] }) })).toThrow(/\/clients/);
    const dup = writeClients({ clients: [{ iss: 'a', jwksUrl: 'https://a.example/1' }, { iss: 'a', jwksUrl: 'https://a.example/2' }] });
    expect(() => readAuthSettings({ CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: dup })).toThrow(/duplicate issuer "a"/);
  });

  it('validates the file even when auth is off', () => {
    expect(() => readAuthSettings({ CDS_AUTH: 'off', CDS_TRUSTED_CLIENTS: writeClients({ clients: [{ iss: 'a' }] }) })).toThrow(/CDS_TRUSTED_CLIENTS/);
  });

  it('reads CDS_PUBLIC_URL without a trailing slash and rejects bad values', () => {
    expect(readAuthSettings({ CDS_PUBLIC_URL: 'https://cds.example.org/iph/' }).publicUrl).toBe('https://cds.example.org/iph');
    expect(readAuthSettings({ CDS_PUBLIC_URL: 'https://cds.example.org' }).publicUrl).toBe('https://cds.example.org');
    expect(() => readAuthSettings({ CDS_PUBLIC_URL: '/iph' })).toThrow(/absolute URL/);
    expect(() => readAuthSettings({ CDS_PUBLIC_URL: 'ftp://cds.example.org' })).toThrow(/http/);
    expect(() => readAuthSettings({ CDS_PUBLIC_URL: 'https://cds.example.org/?x=1' })).toThrow(/query/);
  });
});
