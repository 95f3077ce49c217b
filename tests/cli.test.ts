// The built offline CLI (dist/cli.js): the same cards as the service for a fixture patient and date, a folder of
// NDJSON (a Bulk Data export) with a progress bar, CSV and per-topic summary, and clear errors with exit code 2.
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { FhirResource } from 'fhir/r4';
import request from 'supertest';
import { createApp } from '../src/http/app';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import { memoryStorage } from './helpers/test-storage';
import { createLogger } from '../src/logger';
import { CLI_USER } from '../src/cli/patient-call';
import { buildRequest, FIXTURES, listCases, loadPatientResources } from './helpers/golden';
import { ROOT, startNode, stopAll } from './helpers/main-process';

jest.setTimeout(240_000);

const CLI = path.join(ROOT, 'dist', 'cli.js');
const registry = loadRegistry(path.join(ROOT, 'cds-services'));

afterEach(stopAll);

async function cli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const run = startNode({}, { script: CLI, args });
  const code = await run.exited;
  return { code, stdout: run.stdout(), stderr: run.stderr() };
}

type Json = Record<string, unknown>;
/** Cards without their per-call uuids. */
/** Cards without their uuids, and without SMART links: offline there is no service URL for the app to launch from. */
function comparable(cards: Json[]): unknown {
  return JSON.parse(JSON.stringify(cards, (k, v: unknown) => (k === 'uuid' || k === 'links' ? undefined : v)));
}

describe('iph-cds evaluate', () => {
  it('gives the same cards as the service for a fixture patient and date', async () => {
    // Golden cases whose request is exactly the patient's data (no overrides), with cards expected.
    const plain = listCases().filter(
      (c) => c.service === 'iph-patient-view' && c.data.patient && !c.data.context && !c.data.prefetch && !c.data.omitPrefetch && !c.data.request && (c.data.expect.cards?.length ?? 0) >= 2,
    );
    expect(plain.length).toBeGreaterThan(0);
    const c = plain[0]!;
    const service = registry.services.get('iph-patient-view')!;
    const app = createApp(registry, readConfig({ NODE_ENV: 'test' }), { log: createLogger({ level: 'silent' }), ...memoryStorage() });
    const body = buildRequest(service, c.data) as { context: Json };
    body.context.userId = CLI_USER;
    // Only Date is faked: the service reads the evaluation date from the clock.
    jest.useFakeTimers({ now: new Date(c.data.now), doNotFake: ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] });
    let served: Json[];
    try {
      served = ((await request(app).post('/cds-services/iph-patient-view').send(body).expect(200)).body as { cards: Json[] }).cards;
    } finally {
      jest.useRealTimers();
    }
    expect(served.length).toBe(c.data.expect.cards!.length);

    const out = await cli(['evaluate', path.join(FIXTURES, 'patients', `${c.data.patient}.json`), '--now', c.data.now, '--json']);
    expect(out.stderr).toBe('');
    expect(out.code).toBe(0);
    const { results } = JSON.parse(out.stdout) as { results: { patient: string; cards: Json[] }[] };
    expect(results.map((r) => r.patient)).toEqual([c.data.patient]);
    expect(comparable(results[0]!.cards)).toEqual(comparable(served));
  });

  it('evaluates a folder of NDJSON on all cores with a progress bar, a CSV and a per-topic summary', async () => {
    const ids = [...new Set(listCases().filter((c) => c.service === 'iph-patient-view' && c.data.patient).map((c) => c.data.patient as string))].slice(0, 6);
    const byType = new Map<string, FhirResource[]>();
    for (const id of ids) for (const r of loadPatientResources(id)) byType.set(r.resourceType, [...(byType.get(r.resourceType) ?? []), r]);
    const dir = mkdtempSync(path.join(tmpdir(), 'cds-bulk-'));
    for (const [type, list] of byType) writeFileSync(path.join(dir, `${type}.ndjson`), `${list.map((r) => JSON.stringify(r)).join('\n')}\n`);
    const csv = path.join(dir, 'results.csv');

    const out = await cli(['evaluate', dir, '--now', '2026-06-15T12:00:00Z', '--out', csv]);
    expect(out.code).toBe(0);
    expect(out.stderr).toContain(`${ids.length}/${ids.length} patients`);
    expect(out.stderr).toContain(`Summary: ${ids.length} patient(s)`);
    expect(out.stderr).toMatch(/^ {2}[a-z-]+: \d+ patient\(s\)$/m);
    for (const id of ids) expect(out.stdout).toContain(`${id}: `);
    const rows = readFileSync(csv, 'utf8').trim().split('\n');
    expect(rows[0]).toBe('patient,topic,indicator,summary,error');
    expect(new Set(rows.slice(1).map((r) => r.split(',')[0]))).toEqual(new Set(ids));
  });

  it.each([
    ['a file that is not FHIR', ['evaluate', path.join(ROOT, 'package.json')], /not a FHIR resource/],
    ['a bad date', ['evaluate', path.join(FIXTURES, 'patients', 'pv-adult-ida-hemoptysis.json'), '--now', '2026-13-45'], /ISO date/],
    ['an unknown service', ['evaluate', path.join(FIXTURES, 'patients', 'pv-adult-ida-hemoptysis.json'), '--service', 'nope'], /unknown service "nope"/],
    ['a missing file', ['evaluate', path.join(ROOT, 'no-such-file.json')], /no such file/],
  ])('exits 2 with a clear message for %s', async (_name, args, message) => {
    const out = await cli(args);
    expect(out.code).toBe(2);
    expect(out.stderr).toMatch(message);
    expect(out.stderr).not.toMatch(/\n\s+at /);
  });
});
