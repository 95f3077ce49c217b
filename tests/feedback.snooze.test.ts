// Feedback-aware snoozing (CDS_SNOOZE_DAYS): a card overridden with a reason for a patient is not shown again for
// that patient and service while the snooze lasts; never critical or data-unavailable cards; off by default;
// a failing look-up shows every card. Served cards carry only the keyed pseudonym, never the patient id.
import request from 'supertest';
import { readConfig } from '../src/service';
import { createApp } from '../src/http/app';
import { createCardLedger, isSnoozable } from '../src/http/card-ledger';
import type { Card } from '../src/evaluation/cards';
import type { HookRequest } from '../src/cds-hooks';
import { createLogger } from '../src/logger';
import type { Storage } from '../src/storage/storage';
import { atTime, caseOf, postCase, registry, type ServedCardView } from './helpers/case-calls';
import { memoryStorage } from './helpers/test-storage';

const SVC = 'iph-patient-view';
const log = createLogger({ level: 'silent' });
const REASON = { reason: { system: 'https://example.org/reasons', code: 'not-relevant' } };

function build(snoozeDays: string | undefined) {
  const deps = memoryStorage();
  const config = readConfig({ NODE_ENV: 'test', ...(snoozeDays !== undefined ? { CDS_SNOOZE_DAYS: snoozeDays } : {}) });
  return { app: createApp(registry, config, { log, ...deps }), ...deps };
}

const topics = (cards: ServedCardView[]) => cards.map((c) => c.source.topic.code).sort();
const byTopic = (cards: ServedCardView[], topic: string) => cards.find((c) => c.source.topic.code === topic)!;

async function override(app: Parameters<typeof postCase>[0], card: ServedCardView, overrideReason: object | undefined, at: number) {
  const res = await request(app)
    .post(`/cds-services/${SVC}/feedback`)
    .send({ feedback: [{ card: card.uuid, outcome: 'overridden', ...(overrideReason ? { overrideReason } : {}), outcomeTimestamp: new Date(at).toISOString() }] });
  expect(res.status).toBe(200);
}

describe('snoozing over real hook calls', () => {
  const CASE = 'exclusion-partial-groups';
  const { now } = caseOf(SVC, CASE);

  it('CDS_SNOOZE_DAYS=7: an override with a reason hides that topic for that patient only', async () => {
    const { app } = build('7');
    const first = await postCase(app, SVC, CASE);
    expect(topics(first)).toEqual(['celiac-screening', 'iph-exclusion-workup']);
    // Feedback at the case's time too: the snooze counts from when the service received it.
    await atTime(now, async () => {
      await override(app, byTopic(first, 'iph-exclusion-workup'), REASON, now);
    });
    expect(topics(await postCase(app, SVC, CASE))).toEqual(['celiac-screening']);
    expect(topics(await postCase(app, SVC, CASE, 'another-patient'))).toEqual(['celiac-screening', 'iph-exclusion-workup']);
  });

  it('an override without a reason, or an acceptance, snoozes nothing', async () => {
    const { app } = build('7');
    const first = await postCase(app, SVC, CASE);
    await atTime(now, async () => {
      await override(app, byTopic(first, 'iph-exclusion-workup'), undefined, now);
      const celiac = byTopic(first, 'celiac-screening');
      const accepted = await request(app)
        .post(`/cds-services/${SVC}/feedback`)
        .send({ feedback: [{ card: celiac.uuid, outcome: 'accepted', acceptedSuggestions: [{ id: celiac.suggestions![0]!.uuid }], outcomeTimestamp: new Date(now).toISOString() }] });
      expect(accepted.status).toBe(200);
    });
    expect(topics(await postCase(app, SVC, CASE))).toEqual(['celiac-screening', 'iph-exclusion-workup']);
  });

  it('off by default: the same override snoozes nothing', async () => {
    const { app } = build(undefined);
    const first = await postCase(app, SVC, CASE);
    await atTime(now, async () => {
      await override(app, byTopic(first, 'iph-exclusion-workup'), REASON, now);
    });
    expect(topics(await postCase(app, SVC, CASE))).toEqual(['celiac-screening', 'iph-exclusion-workup']);
  });

  it('a critical card is never snoozed', async () => {
    const CRITICAL = 'dah-severe-hb-drop-critical';
    const { app } = build('30');
    const at = caseOf(SVC, CRITICAL).now;
    const first = await postCase(app, SVC, CRITICAL);
    const evaluation = byTopic(first, 'iph-evaluation');
    expect(evaluation.indicator).toBe('critical');
    await atTime(at, async () => {
      await override(app, evaluation, REASON, at);
      await override(app, byTopic(first, 'iph-exclusion-workup'), REASON, at);
    });
    expect(topics(await postCase(app, SVC, CRITICAL))).toEqual(['iph-evaluation']);
  });
});

describe('createCardLedger', () => {
  const card = (topic: string, indicator: Card['indicator'] = 'info'): Card => ({
    uuid: `uuid-${topic}`,
    summary: 's',
    indicator,
    source: { label: 'l', topic: { system: 's', code: topic } },
  });
  const hook = { hook: 'patient-view', hookInstance: 'hi-1', context: { userId: 'Practitioner/1', patientId: 'MRN-0042' } } as HookRequest;

  it('never snoozes data-unavailable or critical cards', () => {
    expect(isSnoozable(card('data-unavailable'))).toBe(false);
    expect(isSnoozable(card('iph-evaluation', 'critical'))).toBe(false);
    expect(isSnoozable(card('iph-evaluation', 'warning'))).toBe(true);
  });

  it('records only the keyed pseudonym of the patient, never the id', async () => {
    const { storage, pseudonymize } = memoryStorage();
    const recorded: unknown[] = [];
    const spy: Storage = { ...storage, recordServedCards: async (cards) => void recorded.push(...cards) };
    await createCardLedger({ storage: spy, pseudonymize, snoozeDays: 0, log }).serve(SVC, hook, [card('a')]);
    expect(recorded).toEqual([{ uuid: 'uuid-a', service: SVC, topic: 'a', suggestionUuids: [], hookInstance: 'hi-1', patientKey: pseudonymize('MRN-0042'), servedAt: expect.any(Number) }]);
    expect(JSON.stringify(recorded)).not.toContain('MRN-0042');
  });

  it('shows every card when the look-up fails, and still answers when recording fails', async () => {
    const { storage, pseudonymize } = memoryStorage();
    const broken: Storage = {
      ...storage,
      snoozedTopics: async () => Promise.reject(new Error('database is locked')),
      recordServedCards: async () => Promise.reject(new Error('disk full')),
    };
    const cards = [card('a'), card('b')];
    expect(await createCardLedger({ storage: broken, pseudonymize, snoozeDays: 7, log }).serve(SVC, hook, cards)).toEqual(cards);
  });
});
