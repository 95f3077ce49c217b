// The operator routes: disabled (404) without CDS_OPS_TOKEN, also with client JWTs on; the token checked as Bearer
// or Basic password, never a client JWT; GET /ops/card-outcomes counting real served cards and their feedback;
// the query window; the /ops/ page's HTML and CSP. The page in a real browser: tests/ops-page.browser.test.ts.
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import request from 'supertest';
import { readConfig } from '../src/service';
import { createApp } from '../src/http/app';
import { readOpsSettings } from '../src/http/ops-routes';
import { createClientVerifier } from '../src/auth/verify';
import { createLogger } from '../src/logger';
import { memoryReplayGuard, memoryStorage } from './helpers/test-storage';
import { caseOf, postCase, registry } from './helpers/case-calls';

const TOKEN = 'ops-token-0123456789abcdefghijklmnopqrstuvwxyz';
const log = createLogger({ level: 'silent' });
const SVC = 'iph-patient-view';

function build(env: NodeJS.ProcessEnv = {}) {
  const config = readConfig({ NODE_ENV: 'test', ...env });
  const deps = memoryStorage();
  const verifier = config.auth.mode === 'jwt' ? createClientVerifier(config.auth, log, memoryReplayGuard(deps.storage)) : undefined;
  return { app: createApp(registry, config, { log, ...deps, ...(verifier ? { verifier } : {}) }), storage: deps.storage };
}

const bearer = (t: string) => `Bearer ${t}`;
const basic = (t: string) => `Basic ${Buffer.from(`operator:${t}`).toString('base64')}`;

function trustedClientsFile(): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'cds-ops-'));
  const file = path.join(dir, 'clients.json');
  writeFileSync(file, JSON.stringify({ clients: [{ iss: 'https://ehr.example.org', jwks: { keys: [{ kty: 'EC', crv: 'P-384', kid: 'k1', x: 'x', y: 'y' }] } }] }));
  return file;
}

describe('without CDS_OPS_TOKEN the operator routes do not exist', () => {
  it.each([{}, { CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: trustedClientsFile(), CDS_PUBLIC_URL: 'https://cds.example.org' }])('404 with %j', async (env) => {
    const { app } = build(env);
    for (const p of ['/ops/', '/ops', '/ops/card-outcomes']) {
      const res = await request(app).get(p).set('Authorization', bearer(TOKEN));
      expect(res.status).toBe(404);
      expect(res.body.resourceType).toBe('OperationOutcome');
    }
  });
});

describe('operator authentication', () => {
  const { app } = build({ CDS_OPS_TOKEN: TOKEN });

  it.each([
    ['no Authorization', undefined],
    ['a wrong token', bearer(`${TOKEN}x`)],
    ['a prefix of the token', bearer(TOKEN.slice(0, 20))],
    ['a wrong Basic password', basic('nope')],
    ['Basic without a colon', `Basic ${Buffer.from(TOKEN).toString('base64')}`],
    ['another scheme', `Token ${TOKEN}`],
  ])('%s -> 401 with Bearer and Basic challenges', async (_name, authorization) => {
    for (const p of ['/ops/', '/ops/card-outcomes']) {
      const req = request(app).get(p);
      if (authorization !== undefined) req.set('Authorization', authorization);
      const res = await req;
      expect(res.status).toBe(401);
      expect(res.body.issue[0].diagnostics).toBe('unauthorized');
      expect(res.headers['www-authenticate']).toMatch(/Bearer realm="iph-cds-ops"/);
      expect(res.headers['www-authenticate']).toMatch(/Basic realm="iph-cds-ops"/);
    }
  });

  it('the token as Bearer or as Basic password -> 200, never cached', async () => {
    const viaBearer = await request(app).get('/ops/card-outcomes').set('Authorization', bearer(TOKEN));
    expect(viaBearer.status).toBe(200);
    expect(viaBearer.headers['cache-control']).toBe('no-store');
    expect((await request(app).get('/ops/').set('Authorization', basic(TOKEN))).status).toBe(200);
  });

  it('only GET: other methods are 405 with Allow', async () => {
    const res = await request(app).post('/ops/card-outcomes').set('Authorization', bearer(TOKEN)).send({});
    expect(res.status).toBe(405);
    expect(res.headers.allow).toBe('GET');
  });

  it('with client JWTs on, the ops token works without a client JWT', async () => {
    const jwt = build({ CDS_OPS_TOKEN: TOKEN, CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: trustedClientsFile(), CDS_PUBLIC_URL: 'https://cds.example.org' });
    expect((await request(jwt.app).get('/ops/card-outcomes').set('Authorization', bearer(TOKEN))).status).toBe(200);
    expect((await request(jwt.app).get('/cds-services').set('Authorization', bearer(TOKEN))).status).toBe(401);
  });

  it('CDS_OPS_TOKEN must be long enough and printable', () => {
    expect(() => readOpsSettings({ CDS_OPS_TOKEN: 'short' })).toThrow(/CDS_OPS_TOKEN must be 32/);
    expect(() => readOpsSettings({ CDS_OPS_TOKEN: `${TOKEN} with spaces` })).toThrow(/CDS_OPS_TOKEN/);
    expect(readOpsSettings({})).toEqual({});
    expect(readOpsSettings({ CDS_OPS_TOKEN: TOKEN })).toEqual({ token: TOKEN });
  });
});

describe('GET /ops/card-outcomes over real hook calls and feedback', () => {
  const { app } = build({ CDS_OPS_TOKEN: TOKEN });
  const { now } = caseOf(SVC, 'exclusion-partial-groups');
  const window = { since: new Date(now - 1000).toISOString(), until: new Date(now + 1000).toISOString() };
  const outcomes = async (query: Record<string, string> = window) =>
    request(app).get('/ops/card-outcomes').query(query).set('Authorization', bearer(TOKEN));

  beforeAll(async () => {
    // Three calls: the exclusion card is accepted once and overridden once with a reason; celiac left alone.
    const first = await postCase(app, SVC, 'exclusion-partial-groups');
    const second = await postCase(app, SVC, 'exclusion-partial-groups');
    await postCase(app, SVC, 'exclusion-partial-groups');
    const workup = (cards: typeof first) => cards.find((c) => c.source.topic.code === 'iph-exclusion-workup')!;
    const feedback = [
      { card: workup(first).uuid, outcome: 'accepted', acceptedSuggestions: [{ id: workup(first).suggestions![0]!.uuid }], outcomeTimestamp: new Date(now).toISOString() },
      { card: workup(second).uuid, outcome: 'overridden', overrideReason: { reason: { system: 'https://example.org/reasons', code: 'done-elsewhere', display: 'Done <elsewhere>' } }, outcomeTimestamp: new Date(now).toISOString() },
    ];
    const res = await request(app).post(`/cds-services/${SVC}/feedback`).send({ feedback });
    expect(res.status).toBe(200);
  });

  it('counts per topic: served, accepted, overridden, no feedback, rates, top override reasons', async () => {
    const res = await outcomes();
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      since: window.since,
      until: window.until,
      topics: [
        { service: SVC, topic: 'celiac-screening', served: 3, accepted: 0, overridden: 0, noFeedback: 3, acceptanceRate: 0, overrideRate: 0, topOverrideReasons: [] },
        {
          service: SVC,
          topic: 'iph-exclusion-workup',
          served: 3,
          accepted: 1,
          overridden: 1,
          noFeedback: 1,
          acceptanceRate: 0.333,
          overrideRate: 0.333,
          topOverrideReasons: [{ system: 'https://example.org/reasons', code: 'done-elsewhere', display: 'Done <elsewhere>', count: 1 }],
        },
      ],
    });
  });

  it('filters by service; a window without cards is empty; date-only until includes that day', async () => {
    expect((await outcomes({ ...window, service: 'iph-order-sign' })).body.topics).toEqual([]);
    expect((await outcomes({ ...window, service: SVC })).body.topics).toHaveLength(2);
    expect((await outcomes({ since: '2020-01-01', until: '2020-01-02' })).body.topics).toEqual([]);
    const day = new Date(now).toISOString().slice(0, 10);
    const whole = await outcomes({ since: day, until: day });
    expect(whole.body.topics).toHaveLength(2);
    expect(whole.body.until).toBe(new Date(Date.parse(`${day}T00:00:00Z`) + 86_400_000).toISOString());
  });

  it.each([
    [{ service: 'no-such-service' }, /no CDS service with id "no-such-service"/],
    [{ since: 'yesterday' }, /since must be a date/],
    [{ since: '2026-02-30' }, /since must be a date/],
    [{ until: '2026-06-15T12:00:00' }, /until must be a date/],
    [{ since: '2026-06-16', until: '2026-06-15' }, /since must be before until/],
    [{ since: 'x'.repeat(100) }, /at most 64 characters/],
  ])('400 for %j', async (query, message) => {
    const res = await outcomes(query as Record<string, string>);
    expect(res.status).toBe(400);
    expect(res.body.issue[0].diagnostics).toMatch(message);
  });

  it('400 for a repeated parameter', async () => {
    const res = await request(app).get('/ops/card-outcomes?since=2026-01-01&since=2026-01-02').set('Authorization', bearer(TOKEN));
    expect(res.status).toBe(400);
  });

  it('GET /ops/ renders the same numbers as HTML with a strict CSP and escaped text', async () => {
    const res = await request(app).get('/ops/').query(window).set('Authorization', bearer(TOKEN));
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toMatch(/^text\/html/);
    const csp = res.headers['content-security-policy'] as string;
    expect(csp).toMatch(/default-src 'none'/);
    expect(csp).toMatch(/style-src 'sha256-[A-Za-z0-9+/=]+'/);
    expect(csp).not.toMatch(/unsafe-inline/);
    expect(res.text).not.toMatch(/<script/i);
    expect(res.text).toContain('data-topic="iph-exclusion-workup"');
    expect(res.text).toContain('Done &#60;elsewhere&#62;');
    expect(res.text).not.toContain('Done <elsewhere>');
    expect(res.text.match(/<svg /g)).toHaveLength(2);
  });
});
