import path from 'node:path';
import request from 'supertest';
import { createApp } from '../src/app';
import { readConfig } from '../src/config';
import { loadRegistry } from '../src/definitions';
import { createFeedbackStore } from '../src/feedback';
import { createLogger } from '../src/logger';
import { buildRequest, listCases } from './helpers/golden';
test('x', async () => {
  const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
  const app = createApp(registry, readConfig({ NODE_ENV: 'test' }), { log: createLogger({ level: 'info' }), feedback: createFeedbackStore() });
  const c = listCases().find((x) => x.name === 'criteria-met')!;
  const body = buildRequest(registry.services.get('iph-patient-view')!, c.data);
  console.log(Object.keys(body.prefetch as object), JSON.stringify(body.context));
  const res = await request(app).post('/cds-services/iph-patient-view').send(body);
  console.log(res.status, res.body.cards?.map((x: any) => x.source.topic.code));
});
