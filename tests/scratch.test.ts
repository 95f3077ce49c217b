import path from 'node:path';
import request from 'supertest';
import { createApp } from '../src/app';
import { readConfig } from '../src/config';
import { loadRegistry } from '../src/definitions';
import { createFeedbackStore } from '../src/feedback';
import { createLogger } from '../src/logger';
import { buildRequest } from './helpers/golden';
import fs from 'node:fs';
const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const app = createApp(registry, readConfig({ NODE_ENV: 'test' }), { log: createLogger({ level: 'warn' }), feedback: createFeedbackStore() });
test.each(fs.readdirSync('fixtures/patients').map((f) => f.replace('.json','')))('%s', async (p) => {
  const body = buildRequest(registry.services.get('iph-patient-view')!, { description: '', now: '2026-06-15T12:00:00Z', patient: p, expect: { status: 200 } });
  jest.useFakeTimers({ now: new Date('2026-06-15T12:00:00Z'), doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
  const res = await request(app).post('/cds-services/iph-patient-view').set('Content-Type', 'application/json').send(body);
  jest.useRealTimers();
  console.log(p, res.status, JSON.stringify(res.body.cards?.map((c: any) => [c.source.topic.code, c.indicator, c.summary, (c.suggestions ?? []).map((s: any) => s.actions.map((a: any) => a.resource?.code?.coding?.[0]?.code))])), res.body.cards?.[0]?.detail);
});
