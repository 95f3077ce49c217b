import path from 'node:path';
import { createApp } from '../src/http/app';
import { readConfig } from '../src/config';
import { loadRegistry } from '../src/definitions/load';
import { createFeedbackStore } from '../src/http/feedback';
import { createLogger } from '../src/logger';
import { listCases, postCase } from './helpers/golden';
const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const app = createApp(registry, readConfig({ NODE_ENV: 'test' }), { log: createLogger({ level: 'silent' }), feedback: createFeedbackStore() });
test('show', async () => {
  const names = (process.env.SHOW ?? '').split(',');
  for (const c of listCases().filter((c) => names.includes(c.name))) {
    const res = await postCase(app, registry.services.get(c.service)!, c);
    process.stdout.write(`\n##### ${c.name} ${res.status}\n` + JSON.stringify(res.body, null, 1) + '\n');
  }
});
