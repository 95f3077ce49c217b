// Feedback survives a restart of the real server: a card served, feedback posted, the server stopped and started
// again on the same data directory, and GET /ops/card-outcomes still counts it; feedback for a card uuid the
// service never served is a 400 naming the card.
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildServer, call, freePort, killAll, startServer } from './helpers/spawned-server';
import { caseOf } from './helpers/case-calls';

const SVC = 'iph-patient-view';
const OPS_TOKEN = 'restart-test-ops-token-0123456789abcdef';
let build: { main: string; remove(): void };
let dir: string;

beforeAll(() => {
  build = buildServer('feedback-restart-dist');
  dir = mkdtempSync(path.join(tmpdir(), 'cds-feedback-restart-'));
}, 240_000);

afterAll(() => {
  killAll();
  build?.remove();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

interface CardView {
  uuid: string;
  source: { topic: { code: string } };
  suggestions?: { uuid: string }[];
}

it('counts feedback posted before a restart, and refuses feedback on an unknown card', async () => {
  const env = { CDS_DATA_DIR: path.join(dir, 'data'), CDS_OPS_TOKEN: OPS_TOKEN, LOG_LEVEL: 'info' };
  const json = { 'content-type': 'application/json' };
  let server = startServer(build.main, await freePort(), env);
  await server.ready(1);

  // The work-up card of this case fires whatever today is: the IPH diagnosis stays, missing tests stay missing.
  const hook = await call(server.port, 'POST', `/cds-services/${SVC}`, json, JSON.stringify(caseOf(SVC, 'exclusion-partial-groups').body));
  expect(hook.status).toBe(200);
  const workup = (JSON.parse(hook.body) as { cards: CardView[] }).cards.find((c) => c.source.topic.code === 'iph-exclusion-workup');
  expect(workup?.suggestions?.length).toBeGreaterThan(0);
  const feedback = { feedback: [{ card: workup!.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: workup!.suggestions![0]!.uuid }], outcomeTimestamp: new Date().toISOString() }] };
  expect((await call(server.port, 'POST', `/cds-services/${SVC}/feedback`, json, JSON.stringify(feedback))).status).toBe(200);
  await server.stop();

  server = startServer(build.main, await freePort(), env);
  await server.ready(1);
  const outcomes = await call(server.port, 'GET', `/ops/card-outcomes?service=${SVC}`, { authorization: `Bearer ${OPS_TOKEN}` });
  expect(outcomes.status).toBe(200);
  const topic = (JSON.parse(outcomes.body) as { topics: { topic: string; served: number; accepted: number }[] }).topics.find((t) => t.topic === 'iph-exclusion-workup');
  expect(topic).toMatchObject({ served: 1, accepted: 1 });

  // The resend after the restart is still the same feedback (idempotent); an unknown card is a 400 naming it.
  expect((await call(server.port, 'POST', `/cds-services/${SVC}/feedback`, json, JSON.stringify(feedback))).status).toBe(200);
  const unknown = randomUUID();
  const refused = await call(server.port, 'POST', `/cds-services/${SVC}/feedback`, json, JSON.stringify({ feedback: [{ ...feedback.feedback[0], card: unknown }] }));
  expect(refused.status).toBe(400);
  const outcome = JSON.parse(refused.body) as { resourceType: string; issue: { diagnostics: string; expression: string[] }[] };
  expect(outcome.resourceType).toBe('OperationOutcome');
  expect(outcome.issue[0]).toMatchObject({ diagnostics: expect.stringContaining(unknown), expression: ['feedback[0].card'] });
  const again = await call(server.port, 'GET', `/ops/card-outcomes?service=${SVC}`, { authorization: `Bearer ${OPS_TOKEN}` });
  expect((JSON.parse(again.body) as { topics: { topic: string; accepted: number }[] }).topics.find((t) => t.topic === 'iph-exclusion-workup')?.accepted).toBe(1);
  await server.stop();
  // Two start-ups of the real server (definitions compiled each time) on a possibly busy machine.
}, 120_000);
