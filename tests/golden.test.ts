// Golden cases: every fixture case posted to the real app with the clock pinned to the case's `now`;
// the response must match the case and be valid CDS Hooks 2.0.
import path from 'node:path';
import request from 'supertest';
import { createApp } from '../src/http/app';
import { readConfig } from '../src/config';
import { loadRegistry } from '../src/definitions/load';
import { createFeedbackStore } from '../src/http/feedback';
import { createLogger } from '../src/logger';
import { responseViolations } from './helpers/conformance';
import { buildRequest, compareWithExpected, listCases } from './helpers/golden';

const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const app = createApp(registry, readConfig({ NODE_ENV: 'test' }), { log: createLogger({ level: 'silent' }), feedback: createFeedbackStore() });
const cases = listCases().filter((c) => registry.services.has(c.service));

afterEach(() => jest.useRealTimers());

describe.each([...new Set(cases.map((c) => c.service))])('%s golden cases', (service) => {
  const definition = registry.services.get(service);
  test.each(cases.filter((c) => c.service === service).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const body = buildRequest(definition!, c.data);
    jest.useFakeTimers({ now: new Date(c.data.now), doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
    const res = await request(app).post(`/cds-services/${service}`).set('Content-Type', 'application/json').send(body);
    jest.useRealTimers();
    const problems = compareWithExpected(c.data, res.status, res.body as Record<string, unknown>);
    if (res.status === 200) problems.push(...responseViolations(res.body));
    expect({ case: c.data.description, problems }).toEqual({ case: c.data.description, problems: [] });
  });
});
