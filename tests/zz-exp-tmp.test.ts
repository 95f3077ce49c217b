import request from 'supertest';
import { createApp } from '../src/app';
import { readConfig } from '../src/config';
import { loadRegistry } from '../src/definitions';
import { createFeedbackStore } from '../src/feedback';
import { createLogger } from '../src/logger';
import { buildRequest, listCases } from './helpers/golden';
test('x', async () => {
  const lines: string[] = [];
  const registry = loadRegistry('/tmp/exp/defs');
  const app = createApp(registry, readConfig({ NODE_ENV: 'test' }), { log: createLogger({ level: 'info', destination: { write: (s: string) => { lines.push(s); } } }), feedback: createFeedbackStore() });
  const c = listCases().find((x) => x.name === 'criteria-met')!;
  const body: any = structuredClone(buildRequest(registry.services.get('iph-patient-view')!, c.data));
  body.prefetch.patient.name[0].given = ['Zebulon', 'Quixotica'];
  const res = await request(app).post('/cds-services/iph-patient-view').send(body);
  console.log(res.status, lines);
});
