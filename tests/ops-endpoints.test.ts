// The operator's endpoints of the app: /health/live and /health/ready (no client auth, no data; 503 when draining,
// when a readiness check fails, throws or hangs) and /metrics (Prometheus text, ops token, bounded labels, one
// registry per app).
import path from 'node:path';
import { generateKeyPair, exportJWK } from 'jose';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import request from 'supertest';
import { createApp, type AppDeps } from '../src/http/app';
import { createClientVerifier } from '../src/auth/verify';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import { memoryReplayGuard, memoryStorage, serveCard } from './helpers/test-storage';
import { createMetrics, fallbackOutcomeOf } from '../src/http/metrics';
import { createLogger } from '../src/logger';

const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const log = createLogger({ level: 'silent' });
const OPS_TOKEN = 'ops-token-0123456789abcdef-0123456789';

function buildApp(deps: Partial<AppDeps> = {}, env: NodeJS.ProcessEnv = {}) {
  const config = readConfig({ NODE_ENV: 'test', ...env });
  return createApp(registry, config, {
    log,
    ...memoryStorage(),
    ...(config.auth.mode === 'jwt' ? { verifier: createClientVerifier(config.auth, log, memoryReplayGuard()) } : {}),
    ...deps,
  });
}

async function jwtEnv(): Promise<NodeJS.ProcessEnv> {
  const { publicKey } = await generateKeyPair('ES384');
  const file = path.join(mkdtempSync(path.join(tmpdir(), 'cds-ops-')), 'trusted-clients.json');
  writeFileSync(file, JSON.stringify({ clients: [{ iss: 'https://ehr.example.org', jwks: { keys: [{ ...(await exportJWK(publicKey)), kid: 'k1' }] } }] }));
  return { CDS_AUTH: 'jwt', CDS_TRUSTED_CLIENTS: file };
}

const patientView = {
  hook: 'patient-view',
  hookInstance: 'b5a2d1f0-5f5c-4a57-9a3c-1d9f0e2b7c11',
  context: { userId: 'Practitioner/dr-1', patientId: 'pat-1' },
  prefetch: Object.fromEntries(
    Object.keys(registry.services.get('iph-patient-view')!.prefetch).map((k) => [k, k === 'patient' ? { resourceType: 'Patient', id: 'pat-1', birthDate: '2016-05-01', gender: 'female' } : null]),
  ),
};

describe('/health', () => {
  it('answers live and ready without a client token when JWT auth is on, with no data', async () => {
    const app = buildApp({}, await jwtEnv());
    const live = await request(app).get('/health/live').expect(200);
    expect(live.body).toEqual({ status: 'live' });
    expect(live.headers['cache-control']).toBe('no-store');
    expect((await request(app).get('/health/ready').expect(200)).body).toEqual({ status: 'ready' });
    // Everything else still needs the token.
    await request(app).get('/cds-services').expect(401);
  });

  it('is not ready while draining, or when a readiness check fails, throws or hangs', async () => {
    let draining = false;
    const app = buildApp({ health: { isDraining: () => draining } });
    await request(app).get('/health/ready').expect(200);
    draining = true;
    expect((await request(app).get('/health/ready').expect(503)).body).toEqual({ status: 'not ready' });
    await request(app).get('/health/live').expect(200);

    await request(buildApp({ health: { readinessChecks: [async () => true, async () => false] } })).get('/health/ready').expect(503);
    await request(buildApp({ health: { readinessChecks: [() => Promise.reject(new Error('db down'))] } })).get('/health/ready').expect(503);
  });

  it('counts a check that never settles as not ready: the probe is answered when the check budget runs out', async () => {
    const app = buildApp({ health: { readinessChecks: [() => new Promise<boolean>(() => undefined)], readinessTimeoutMs: 1 } });
    await request(app).get('/health/ready').expect(503);
  });
});

describe('/metrics', () => {
  it('needs the ops token when CDS_OPS_TOKEN is set, not a client JWT', async () => {
    const app = buildApp({}, { ...(await jwtEnv()), CDS_OPS_TOKEN: OPS_TOKEN });
    await request(app).get('/metrics').expect(401);
    await request(app).get('/metrics').set('Authorization', 'Bearer wrong-token-0123456789').expect(401);
    const res = await request(app).get('/metrics').set('Authorization', `Bearer ${OPS_TOKEN}`).expect(200);
    expect(res.headers['content-type']).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(res.text).toContain('process_cpu_user_seconds_total');
    expect(res.text).toContain('nodejs_eventloop_lag_seconds');
  });

  it('counts requests, latency, evaluation time, cards by topic and indicator, and feedback by topic', async () => {
    const metrics = createMetrics(registry);
    const mem = memoryStorage();
    const app = buildApp({ metrics, ...mem });
    const call = await request(app).post('/cds-services/iph-patient-view').send(patientView).expect(200);
    await request(app).post('/cds-services/no-such-service').send(patientView).expect(404);
    const served = (call.body as { cards: { uuid: string; source: { topic: { code: string } } }[] }).cards;
    // A card served through the storage to feed back on, when this request fired none (feedback needs a served card).
    const stored = await serveCard(mem.storage, 'iph-patient-view');
    const card = served[0] ?? { uuid: stored.card, indicator: 'info', source: { topic: { code: 'celiac-screening' } } };
    if (served.length === 0) metrics.observeCards('iph-patient-view', [card as never]);
    await request(app)
      .post('/cds-services/iph-patient-view/feedback')
      .send({ feedback: [{ card: card.uuid, outcome: 'accepted', acceptedSuggestions: served.length === 0 ? [{ id: stored.suggestions[0] }] : [], outcomeTimestamp: '2026-01-01T00:00:00Z' }] })
      .expect(200);
    const text = await (await request(app).get('/metrics').expect(200)).text;
    expect(text).toContain('cds_http_requests_total{service="iph-patient-view",status="200"} 2');
    // The hook call and its feedback; an unknown service id never becomes a label value.
    expect(text).toContain('cds_http_requests_total{service="none",status="404"} 1');
    expect(text).not.toContain('no-such-service');
    expect(text).toMatch(/cds_http_request_duration_seconds_count\{service="iph-patient-view"\} 2/);
    expect(text).toMatch(/cds_evaluation_duration_seconds_count\{service="iph-patient-view"\} 1/);
    expect(text).toContain(`cds_feedback_total{service="iph-patient-view",topic="${card.source.topic.code}",outcome="accepted"} 1`);
    for (const c of served) expect(text).toContain(`topic="${c.source.topic.code}"`);
    // No patient data.
    expect(text).not.toContain('pat-1');
  });

  it('keeps one registry per app, so two apps in one process do not share counts', async () => {
    const a = buildApp();
    const b = buildApp();
    await request(a).get('/cds-services').expect(200);
    expect((await request(a).get('/metrics')).text).toContain('cds_http_requests_total{service="none",status="200"} 1');
    expect((await request(b).get('/metrics')).text).not.toContain('cds_http_requests_total{service="none",status="200"}');
  });

  it('labels FHIR fallback outcomes from a fixed list and unknown topics as "other"', async () => {
    expect(fallbackOutcomeOf({ ok: true, value: null })).toBe('ok');
    expect(fallbackOutcomeOf({ ok: false, reason: 'timed out' })).toBe('timeout');
    expect(fallbackOutcomeOf({ ok: false, reason: 'fhirServer not allowed' })).toBe('refused');
    expect(fallbackOutcomeOf({ ok: false, reason: 'FHIR server refused access (HTTP 403)' })).toBe('refused');
    expect(fallbackOutcomeOf({ ok: false, reason: 'FHIR server unavailable', cause: 'timed out' })).toBe('timeout');
    expect(fallbackOutcomeOf({ ok: false, reason: 'FHIR server unavailable', cause: 'FHIR server refused access (HTTP 401)' })).toBe('refused');
    expect(fallbackOutcomeOf({ ok: false, reason: 'FHIR server unavailable', cause: 'response too large' })).toBe('too_large');
    expect(fallbackOutcomeOf({ ok: false, reason: 'FHIR server unavailable', cause: 'network error (ECONNREFUSED)' })).toBe('error');
    expect(fallbackOutcomeOf({ ok: false, reason: 'more than 20 pages' })).toBe('too_large');
    expect(fallbackOutcomeOf({ ok: false, reason: 'network error' })).toBe('error');
    const metrics = createMetrics(registry);
    metrics.observeFallback({ a: { ok: true, value: null }, b: { ok: false, reason: 'timed out' } });
    metrics.observeCards('iph-patient-view', [{ uuid: 'u1', indicator: 'info', source: { topic: { code: 'made-up-topic' } } }]);
    metrics.observeEvaluationTimeout('iph-patient-view');
    const text = await metrics.registry.metrics();
    expect(text).toContain('cds_fhir_fallback_requests_total{outcome="ok"} 1');
    expect(text).toContain('cds_fhir_fallback_requests_total{outcome="timeout"} 1');
    expect(text).toContain('cds_cards_total{service="iph-patient-view",topic="other",indicator="info"} 1');
    expect(text).toContain('cds_evaluation_timeouts_total{service="iph-patient-view"} 1');
    expect(text).not.toContain('made-up-topic');
  });
});
