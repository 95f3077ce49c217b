// The /ops/ page in a real browser (Debian chromium through playwright-core): the operator logs in with the ops
// token through the browser's Basic prompt, and the page shows each topic's counts and bar with no CSP violation.
// Skipped only when /usr/bin/chromium is absent outside CI; in CI (CI=true) it must run.
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { chromium, type BrowserContext } from 'playwright-core';
import request from 'supertest';
import { readConfig } from '../src/service';
import { createApp } from '../src/http/app';
import { createLogger } from '../src/logger';
import { caseOf, postCase, registry } from './helpers/case-calls';
import { memoryStorage } from './helpers/test-storage';

const CHROMIUM = '/usr/bin/chromium';
const IN_CI = process.env.CI === 'true';
const TOKEN = 'browser-test-ops-token-0123456789abcdef';
const SVC = 'iph-patient-view';
const CASE = 'exclusion-partial-groups';

if (!existsSync(CHROMIUM) && !IN_CI) console.warn(`${CHROMIUM} is absent: the /ops/ browser test is skipped (apt-get install chromium).`);
const describeWithBrowser = existsSync(CHROMIUM) || IN_CI ? describe : describe.skip;

describeWithBrowser('/ops/ in headless Chromium', () => {
  let server: http.Server;
  let base: string;
  let context: BrowserContext;
  let profile: string;

  beforeAll(async () => {
    const app = createApp(registry, readConfig({ NODE_ENV: 'test', CDS_OPS_TOKEN: TOKEN }), { log: createLogger({ level: 'silent' }), ...memoryStorage() });
    // Two calls: the work-up card overridden once with a reason, accepted never; celiac screening untouched.
    const first = await postCase(app, SVC, CASE);
    await postCase(app, SVC, CASE);
    const workup = first.find((c) => c.source.topic.code === 'iph-exclusion-workup')!;
    const res = await request(app)
      .post(`/cds-services/${SVC}/feedback`)
      .send({ feedback: [{ card: workup.uuid, outcome: 'overridden', overrideReason: { reason: { system: 'https://example.org/r', code: 'elsewhere', display: 'Sent elsewhere' } }, outcomeTimestamp: new Date().toISOString() }] });
    expect(res.status).toBe(200);

    server = http.createServer(app);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    profile = mkdtempSync(path.join(tmpdir(), 'cds-chromium-'));
    // A fresh profile; the operator's credentials answer the page's Basic challenge, as the browser's login prompt would.
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
      httpCredentials: { username: 'operator', password: TOKEN },
    });
  }, 120_000);

  afterAll(async () => {
    await context?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (profile) rmSync(profile, { recursive: true, force: true });
  });

  it('logs in with the ops token and shows each topic\'s counts, reasons and bar', async () => {
    const day = new Date(caseOf(SVC, CASE).now).toISOString().slice(0, 10);
    const url = `${base}/ops/?since=${day}&until=${day}`;

    const page = await context.newPage();
    const violations: string[] = [];
    page.on('console', (m) => {
      if (/Content Security Policy/i.test(m.text())) violations.push(m.text());
    });
    const answer = await page.goto(url);
    expect(answer?.status()).toBe(200);
    await expect(page.title()).resolves.toBe('Card outcomes · IPH CDS Hooks');

    const workup = page.locator('section[data-topic="iph-exclusion-workup"]');
    await expect(workup.locator('[data-count="served"]').textContent()).resolves.toBe('2');
    await expect(workup.locator('[data-count="accepted"]').textContent()).resolves.toBe('0 (0 %)');
    await expect(workup.locator('[data-count="overridden"]').textContent()).resolves.toBe('1 (50 %)');
    await expect(workup.locator('[data-count="no-feedback"]').textContent()).resolves.toBe('1');
    await expect(workup.locator('ol.reasons li').textContent()).resolves.toBe('Sent elsewhere (elsewhere): 1');
    // The bar: overridden and no-feedback halves, each drawn with its width.
    const parts = await workup.locator('svg rect').evaluateAll((rects) => rects.map((r) => [r.getAttribute('data-part'), Math.round(Number(r.getAttribute('width')))]));
    expect(parts).toEqual([
      ['overridden', 280],
      ['no-feedback', 280],
    ]);
    const celiac = page.locator('section[data-topic="celiac-screening"]');
    await expect(celiac.locator('[data-count="served"]').textContent()).resolves.toBe('2');
    await expect(celiac.locator('svg').getAttribute('aria-label')).resolves.toContain('2 without feedback');

    // The stylesheet applies (allowed by its hash), so the CSP blocked nothing.
    await expect(page.evaluate("getComputedStyle(document.querySelector('h1')).fontSize")).resolves.toBe('24px');
    expect(violations).toEqual([]);

    // The form keeps the operator on the page: choosing another service reloads it with that filter.
    await page.selectOption('select[name="service"]', 'iph-order-sign');
    await Promise.all([page.waitForURL(/service=iph-order-sign/), page.click('button[type="submit"]')]);
    await expect(page.locator('p.empty').textContent()).resolves.toBe('No cards were served in this period.');
  });
});
