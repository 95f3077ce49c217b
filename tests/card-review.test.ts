// Rendered-card review: every golden case that answers 200 with cards is posted as the golden runner posts
// it, and each card must read cleanly (no empty section, repeated name, "(s)", placeholder URL, long
// summary or unrendered template).
import path from 'node:path';
import { createApp } from '../src/http/app';
import { readConfig } from '../src/service';
import { loadRegistry } from '../src/definitions/load';
import { memoryStorage } from './helpers/test-storage';
import { createLogger } from '../src/logger';
import { cardReadingProblems, duplicatedNames, emptySections } from './helpers/card-text';
import { listCases, postCase } from './helpers/golden';

const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));
const app = createApp(registry, readConfig({ NODE_ENV: 'test', CDS_PUBLIC_URL: 'https://iph-cds.dev' }), { log: createLogger({ level: 'silent' }), ...memoryStorage() });
const cases = listCases().filter((c) => registry.services.has(c.service) && c.data.expect.status === 200 && (c.data.expect.cards?.length ?? 0) > 0);

describe('the review checks themselves', () => {
  test('a label followed by nothing, by a blank line or by another label is an empty section', () => {
    expect(emptySections('**Pending:**\n- ANA: ordered 2026-06-01')).toEqual([]);
    expect(emptySections('Why this patient:\n\n- Hemoptysis')).toHaveLength(1);
    expect(emptySections('**Missing:**\n**Pending:**\n- ANA')).toHaveLength(1);
    expect(emptySections('Done:')).toHaveLength(1);
    expect(emptySections('### Evidence\n### Source\ntext')).toHaveLength(1);
  });
  test('a name repeated in a list is reported', () => {
    expect(duplicatedNames('Drug: Prednisone, prednisone')).toHaveLength(1);
    expect(duplicatedNames('- ANA\n- ana')).toHaveLength(1);
    expect(duplicatedNames('MPO-ANCA, PR3-ANCA and anti-GBM')).toEqual([]);
  });
  test('placeholders, "(s)", long summaries and templates are reported', () => {
    const card = { summary: 'x'.repeat(140), detail: 'See test(s) at https://example.org/{{x}}', source: { label: 'S', url: 'http://localhost/a' } };
    expect(cardReadingProblems(card, 'c')).toHaveLength(5);
  });
});

describe.each([...new Set(cases.map((c) => c.service))])('%s cards read cleanly', (service) => {
  const definition = registry.services.get(service);
  test.each(cases.filter((c) => c.service === service).map((c) => [c.name, c] as const))('%s', async (_name, c) => {
    const res = await postCase(app, definition!, c);
    expect(res.status).toBe(200);
    const cards = (res.body.cards as Record<string, unknown>[] | undefined) ?? [];
    const problems = cards.flatMap((card) => cardReadingProblems(card, String(((card.source as Record<string, unknown>).topic as Record<string, unknown> | undefined)?.code)));
    expect(problems).toEqual([]);
  });
});
