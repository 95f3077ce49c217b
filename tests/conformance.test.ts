// CDS Hooks 2.0 response rules (cds-hooks.md §4.10): the checker in tests/helpers/conformance.ts catches each
// rule, and the renderer (src/evaluation/cards.ts) never breaks one: every card of every service, rendered with every
// `when` forced true on the golden cases' records, is conformant.
import path from 'node:path';
import { renderCard, renderCards, type Card } from '../src/evaluation/cards';
import { loadRegistry } from '../src/definitions/load';
import { type CardDefinition, type ServiceDefinition } from '../src/definitions/types';
import { evaluateService, type Evaluation } from '../src/evaluation/evaluate';
import { HttpError } from '../src/errors';
import { resolvePrefetch } from '../src/fhir/prefetch';
import { createRequestValidator } from '../src/http/hook-request';
import { compileText } from '../src/evaluation/templates';
import { responseViolations } from './helpers/conformance';
import { buildRequest, listCases } from './helpers/golden';

const { validateHookRequest } = createRequestValidator();

type Json = Record<string, unknown>;

const TOPIC_SYSTEM = 'https://iph-cds.dev/fhir/CodeSystem/card-topic';

function validCard(topic = 'topic-a'): Json {
  return {
    uuid: 'b0f3c1d2-0000-4000-8000-000000000001',
    summary: 'Consider a chest CT',
    detail: 'Because **reasons**.',
    indicator: 'info',
    source: { label: 'Merck Manual', url: 'https://www.merckmanuals.com/', topic: { system: TOPIC_SYSTEM, code: topic, display: 'A topic' } },
    suggestions: [
      {
        label: 'Order CT',
        uuid: 'b0f3c1d2-0000-4000-8000-000000000002',
        isRecommended: true,
        actions: [{ type: 'create', description: 'Order CT chest', resource: { resourceType: 'ServiceRequest', status: 'draft', intent: 'order' } }],
      },
    ],
    selectionBehavior: 'at-most-one',
    overrideReasons: [{ system: 'https://iph-cds.dev/fhir/CodeSystem/override', code: 'done', display: 'Already done' }],
    links: [{ label: 'Guideline', url: 'https://example.org/guideline', type: 'absolute' }],
  };
}

function withCard(edit: (card: Json) => void): Json {
  const card = validCard();
  edit(card);
  return { cards: [card] };
}

function suggestion(card: Json, i = 0): Json {
  return (card.suggestions as Json[])[i] as Json;
}

function action(card: Json, i = 0): Json {
  return (suggestion(card).actions as Json[])[i] as Json;
}

describe('responseViolations: the rules', () => {
  test('a valid response, an empty card list, and a smart link with appContext have no violations', () => {
    expect(responseViolations({ cards: [validCard('a'), validCard('b')] })).toEqual([]);
    expect(responseViolations({ cards: [] })).toEqual([]);
    expect(responseViolations(withCard((c) => (c.links = [{ label: 'App', url: 'https://app.example.org/launch', type: 'smart', appContext: '{"x":1}' }])))).toEqual([]);
    expect(responseViolations(withCard((c) => (action(c).type = 'delete', delete action(c).resource, (action(c).resourceId = 'ServiceRequest/123'))))).toEqual([]);
  });

  const RULES: [string, (card: Json) => void, RegExp][] = [
    ['summary of exactly 140 characters', (c) => (c.summary = 'x'.repeat(140)), /summary/],
    ['summary of 300 characters', (c) => (c.summary = 'x'.repeat(300)), /summary/],
    ['summary missing', (c) => delete c.summary, /summary/],
    ['indicator hard-stop (obsolete)', (c) => (c.indicator = 'hard-stop'), /indicator/],
    ['indicator success (obsolete)', (c) => (c.indicator = 'success'), /indicator/],
    ['indicator missing', (c) => delete c.indicator, /indicator/],
    ['suggestions without selectionBehavior', (c) => delete c.selectionBehavior, /selectionBehavior/],
    ['selectionBehavior not at-most-one/any', (c) => (c.selectionBehavior = 'exactly-one'), /selectionBehavior/],
    ['selectionBehavior without suggestions', (c) => delete c.suggestions, /selectionBehavior/],
    ['at-most-one with two recommended suggestions', (c) => (c.suggestions = [suggestion(c), { ...suggestion(c), uuid: 'other' }]), /at-most-one/],
    ['action without description', (c) => delete action(c).description, /description/],
    ['action with an empty description', (c) => (action(c).description = ''), /description/],
    ['action type not create/update/delete', (c) => (action(c).type = 'remove'), /type/],
    ['create without a resource', (c) => delete action(c).resource, /resource/],
    ['create with a resource lacking resourceType', (c) => (action(c).resource = { status: 'draft' }), /resource/],
    ['delete without resourceId', (c) => (action(c).type = 'delete', delete action(c).resource), /resourceId/],
    ['delete carrying a resource', (c) => ((action(c).type = 'delete'), (action(c).resourceId = 'ServiceRequest/1')), /delete must not carry resource/],
    ['a suggestion with no actions', (c) => (suggestion(c).actions = []), /actions/],
    ['a suggestion without a label', (c) => delete suggestion(c).label, /label/],
    ['override reason without display', (c) => delete (c.overrideReasons as Json[])[0]?.display, /overrideReasons\[0\]/],
    ['appContext on an absolute link', (c) => ((c.links as Json[])[0] = { label: 'Guideline', url: 'https://example.org/g', type: 'absolute', appContext: 'x' }), /appContext/],
    ['link type not absolute/smart', (c) => ((c.links as Json[])[0] = { label: 'G', url: 'https://example.org/g', type: 'relative' }), /links\[0\]/],
    ['link url not absolute', (c) => ((c.links as Json[])[0] = { label: 'G', url: '/guideline', type: 'absolute' }), /links\[0\]/],
    ['source.label missing', (c) => delete (c.source as Json).label, /source\.label/],
    ['source.url not absolute', (c) => ((c.source as Json).url = 'www.merckmanuals.com'), /source\.url/],
    ['source.topic missing', (c) => delete (c.source as Json).topic, /topic/],
    ['uuid missing', (c) => delete c.uuid, /uuid/],
    ['empty detail', (c) => (c.detail = ''), /detail is null or empty/],
    ['null detail', (c) => (c.detail = null), /detail is null or empty/],
    ['empty links', (c) => (c.links = []), /links is null or empty/],
    ['empty overrideReasons', (c) => (c.overrideReasons = []), /overrideReasons is null or empty/],
    ['empty suggestions', (c) => (c.suggestions = []), /suggestions is null or empty/],
    ['an empty member deep inside a suggested resource', (c) => ((action(c).resource as Json).note = []), /resource\.note is null or empty/],
    ['a null member deep inside a suggested resource', (c) => ((action(c).resource as Json).code = { text: null }), /code\.text is null or empty/],
  ];

  test.each(RULES)('%s is a violation', (_name, edit, message) => {
    const violations = responseViolations(withCard(edit));
    expect(violations.length).toBeGreaterThan(0);
    expect(violations.join('\n')).toMatch(message);
  });

  test('a summary of 139 characters is fine', () => {
    expect(responseViolations(withCard((c) => (c.summary = 'x'.repeat(139))))).toEqual([]);
  });

  test('two cards with the same topic', () => {
    expect(responseViolations({ cards: [validCard('same'), validCard('same')] })).toEqual(['more than one card per topic']);
  });

  test('a body that is not {cards: [...]}', () => {
    expect(responseViolations({})).toEqual(['cards is not an array']);
    expect(responseViolations({ cards: {} })).toEqual(['cards is not an array']);
    expect(responseViolations(null)).toEqual(['cards is not an array']);
  });

  test('every violation names where it is', () => {
    const violations = responseViolations({ cards: [validCard('a'), { ...validCard('b'), indicator: 'hard-stop' }] });
    expect(violations).toEqual([expect.stringMatching(/^cards\[1\]\.indicator/)]);
  });
});

// --- the renderer's guarantees ----------------------------------------------------------------------------------

const registry = loadRegistry(path.join(__dirname, '..', 'cds-services'));

/** Every `when` of a service (cards, suggestions, actions) set true on an evaluation, so every branch renders. */
/** Replaces a (lazily computed) name with `true`. */
function force(evaluation: Evaluation, name: string): void {
  Object.defineProperty(evaluation.vars, name, { value: [true], enumerable: true, configurable: true, writable: true });
}

function forceAllWhens(service: ServiceDefinition, evaluation: Evaluation): void {
  for (const card of service.cards) {
    force(evaluation, card.when);
    for (const s of card.suggestions) {
      if (s.when) force(evaluation, s.when);
      for (const a of s.actions) if (a.when) force(evaluation, a.when);
    }
  }
}

interface Rendered {
  name: string;
  service: ServiceDefinition;
  cards: Card[];
  failures: { name: string; message: string }[];
}

async function renderForcedCases(): Promise<Rendered[]> {
  const out: Rendered[] = [];
  for (const c of listCases()) {
    const service = registry.services.get(c.service);
    if (!service || c.data.expect.status !== 200) continue;
    let prefetch;
    let request;
    try {
      request = validateHookRequest(service.hook, buildRequest(service, c.data));
      prefetch = await resolvePrefetch(service, request);
    } catch (e) {
      if (e instanceof HttpError) continue;
      throw e;
    }
    const evaluation = evaluateService(service, request, prefetch, Date.parse(c.data.now), registry.valueSets);
    forceAllWhens(service, evaluation);
    const before = evaluation.failures.length;
    const cards = renderCards(service, evaluation);
    out.push({ name: `${c.service}/${c.name}`, service, cards, failures: evaluation.failures.slice(before) });
  }
  return out;
}

describe('the renderer never breaks a rule', () => {
  let rendered: Rendered[] = [];

  beforeAll(async () => {
    rendered = await renderForcedCases();
  }, 120_000);

  test('the golden cases cover all three services', () => {
    expect(new Set(rendered.map((r) => r.service.id))).toEqual(new Set(['iph-patient-view', 'iph-order-select', 'iph-order-sign']));
    expect(rendered.length).toBeGreaterThan(50);
  });

  test('with every `when` forced true, every card of the service renders', () => {
    for (const r of rendered) expect({ name: r.name, topics: r.cards.map((c) => c.source.topic.code) }).toEqual({ name: r.name, topics: r.service.cards.map((c) => c.topic.code) });
  });

  test('every forced rendering is a conformant CDS Hooks response', () => {
    const problems = rendered.flatMap((r) => responseViolations({ cards: r.cards }).map((v) => `${r.name}: ${v}`));
    expect(problems).toEqual([]);
  });

  test('summaries are always under 140 characters, and cards and suggestions carry fresh uuids', () => {
    const uuids = new Set<string>();
    let count = 0;
    for (const r of rendered) {
      for (const card of r.cards) {
        expect(card.summary.length).toBeLessThan(140);
        expect(card.summary.length).toBeGreaterThan(0);
        for (const id of [card.uuid, ...(card.suggestions ?? []).map((s) => s.uuid)]) {
          expect(id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
          uuids.add(id);
          count += 1;
        }
      }
    }
    expect(uuids.size).toBe(count);
  });

  test('no template expression fails while rendering', () => {
    const failures = rendered.flatMap((r) => r.failures.map((f) => `${r.name}: ${f.name}: ${f.message}`));
    expect(failures).toEqual([]);
  });

  test('indicators and suggested resources come out as the definitions say', () => {
    for (const r of rendered) {
      for (const card of r.cards) {
        const def = r.service.cards.find((d) => d.topic.code === card.source.topic.code) as CardDefinition;
        if (typeof def.indicator === 'string') expect(card.indicator).toBe(def.indicator);
        expect(card.source.topic.system).toBe(TOPIC_SYSTEM);
        for (const s of card.suggestions ?? []) {
          for (const a of s.actions) {
            if (a.type !== 'delete') expect(typeof a.resource?.resourceType).toBe('string');
            // Suggested resources are about this patient.
            const subject = (a.resource?.subject ?? a.resource?.patient) as { reference?: string } | undefined;
            if (subject?.reference) expect(subject.reference).toMatch(/^Patient\/[A-Za-z0-9.-]+$/);
          }
        }
      }
    }
  });
});

describe('renderCard on synthetic definitions', () => {
  const runtime = registry.runtime;

  function definition(overrides: Partial<CardDefinition> = {}): CardDefinition {
    return {
      topic: { code: 'synthetic', display: 'Synthetic' },
      bind: {},
      when: 'show',
      indicator: 'info',
      summary: compileText('Short summary', runtime, '/summary'),
      source: { label: 'Test', url: 'https://example.org/' },
      selectionBehavior: 'any',
      suggestions: [],
      overrideReasons: [],
      links: [],
      ...overrides,
    };
  }

  function evaluation(vars: Record<string, unknown> = {}): Evaluation {
    return { context: { patientId: 'p' }, vars: { show: [true], ...vars }, failures: [] };
  }

  test('a long summary is cut below 140 characters with an ellipsis', () => {
    const card = renderCard(definition({ summary: compileText(`${'word '.repeat(60)}end`, runtime, '/summary') }), evaluation());
    expect(card.summary.length).toBeLessThan(140);
    expect(card.summary.endsWith('…')).toBe(true);
    expect(responseViolations({ cards: [card] })).toEqual([]);
  });

  test('a long interpolated summary is cut too', () => {
    const card = renderCard(definition({ summary: compileText('Findings: {{%many}}', runtime, '/summary') }), evaluation({ many: Array.from({ length: 40 }, (_, i) => `finding number ${i}`) }));
    expect(card.summary.length).toBeLessThan(140);
  });

  test('an empty detail, no suggestions, no reasons and no links are omitted (never empty)', () => {
    const card = renderCard(definition({ detail: compileText(['- {{%none}}'], runtime, '/detail') }), evaluation({ none: [] })) as unknown as Json;
    for (const k of ['detail', 'suggestions', 'selectionBehavior', 'overrideReasons', 'links']) expect(card).not.toHaveProperty(k);
    expect(responseViolations({ cards: [card] })).toEqual([]);
  });

  test('a suggestion whose actions all drop out is omitted, and selectionBehavior with it', () => {
    const def = definition({
      suggestions: [
        {
          label: compileText('Order it', runtime, '/l'),
          actions: [{ type: 'create', description: compileText('Order', runtime, '/d'), when: 'never', with: {}, resource: undefined }],
        },
      ],
    });
    const card = renderCard(def, evaluation({ never: [false] })) as unknown as Json;
    expect(card).not.toHaveProperty('suggestions');
    expect(card).not.toHaveProperty('selectionBehavior');
  });

  test('an indicator expression with an unexpected value falls back to info', () => {
    const card = renderCard(definition({ indicator: { expression: 'level' } }), evaluation({ level: ['hard-stop'] }));
    expect(card.indicator).toBe('info');
    expect(renderCard(definition({ indicator: { expression: 'level' } }), evaluation({ level: ['critical'] })).indicator).toBe('critical');
  });
});
