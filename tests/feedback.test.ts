// Feedback validation (src/http/feedback.ts + cds-services/schema/feedback.schema.json) and recording tied to the
// cards this service served (unknown cards and foreign suggestions are 400s, resends idempotent).
import { HttpError } from '../src/errors';
import { createFeedbackRecorder, createFeedbackValidator, type FeedbackItem, type FeedbackRecorder } from '../src/http/feedback';
import type { Storage } from '../src/storage/storage';
import { memoryStorage, serveCard } from './helpers/test-storage';

const { validateFeedback } = createFeedbackValidator();

type Json = Record<string, unknown>;

function accepted(): Json {
  return {
    card: '4e0a3a1e-3283-4575-ab82-028d55fe2719',
    outcome: 'accepted',
    acceptedSuggestions: [{ id: 'e56e1945-20b3-4393-8503-a1a20fd73152' }],
    outcomeTimestamp: '2021-12-11T10:05:31Z',
  };
}

function overridden(): Json {
  return {
    card: '9368d37b-283f-44a0-93ea-547cebab93ed',
    outcome: 'overridden',
    overrideReason: {
      reason: { code: 'work-up-sent', system: 'https://iph-cds.example/override-reason', display: 'Work-up already sent elsewhere' },
      userComment: 'Sent at the referring hospital',
    },
    outcomeTimestamp: '2021-12-11T10:06:00.123+01:00',
  };
}

function captureError(fn: () => unknown): HttpError {
  try {
    fn();
  } catch (err) {
    if (err instanceof HttpError) return err;
    throw err;
  }
  throw new Error('expected an HttpError, but the feedback was accepted');
}

function item(overrides: Json, base: () => Json = accepted): FeedbackItem {
  return { ...base(), ...overrides } as unknown as FeedbackItem;
}

describe('validateFeedback: valid bodies', () => {
  it('accepts accepted and overridden feedback and returns the items', () => {
    const items = validateFeedback({ feedback: [accepted(), overridden()] });
    expect(items).toEqual([accepted(), overridden()]);
  });

  it('accepts what the sandbox sends on Dismiss: a reason with only code and system, or no reason at all', () => {
    const sandboxReason = { ...overridden(), overrideReason: { reason: { code: 'c', system: 's' } } };
    const commentOnly = { ...overridden(), overrideReason: { userComment: 'not relevant' } };
    const noReason = { ...overridden() };
    delete noReason.overrideReason;
    expect(validateFeedback({ feedback: [sandboxReason, commentOnly, noReason] })).toHaveLength(3);
  });

  it('drops unknown fields from the returned items (they are ignored, not rejected)', () => {
    const [first] = validateFeedback({ feedback: [{ ...accepted(), extension: { deep: { a: 1 } } }], extra: true });
    expect(first).toEqual(accepted());
  });

  it('accepts 1000 items', () => {
    const feedback = Array.from({ length: 1000 }, (_, i) => ({ ...accepted(), card: `card-${i}` }));
    expect(validateFeedback({ feedback })).toHaveLength(1000);
  });

  it('a separately created validator behaves the same', () => {
    expect(createFeedbackValidator().validateFeedback({ feedback: [overridden()] })).toEqual([overridden()]);
  });
});

interface BadFeedback {
  name: string;
  body: unknown;
  /** JSON path an issue must name; null = the body itself. */
  path: string | null;
}

const BAD: BadFeedback[] = [
  { name: 'array body', body: [accepted()], path: null },
  { name: 'null body', body: null, path: null },
  { name: 'string body', body: 'feedback', path: null },
  { name: 'missing feedback', body: { items: [accepted()] }, path: 'feedback' },
  { name: 'feedback is an object', body: { feedback: accepted() }, path: 'feedback' },
  { name: 'empty feedback array', body: { feedback: [] }, path: 'feedback' },
  { name: 'more than 1000 items', body: { feedback: Array.from({ length: 1001 }, accepted) }, path: 'feedback' },
  { name: 'item is a string', body: { feedback: ['card-1'] }, path: 'feedback[0]' },
  { name: 'missing card', body: { feedback: [item({ card: undefined })] }, path: 'feedback[0].card' },
  { name: 'card is a number', body: { feedback: [item({ card: 5 })] }, path: 'feedback[0].card' },
  { name: 'card is empty', body: { feedback: [item({ card: '' })] }, path: 'feedback[0].card' },
  { name: 'missing outcome', body: { feedback: [item({ outcome: undefined })] }, path: 'feedback[0].outcome' },
  { name: 'outcome not in the enum', body: { feedback: [accepted(), item({ outcome: 'dismissed' }, overridden)] }, path: 'feedback[1].outcome' },
  { name: 'accepted without acceptedSuggestions', body: { feedback: [item({ acceptedSuggestions: undefined })] }, path: 'feedback[0].acceptedSuggestions' },
  { name: 'accepted with empty acceptedSuggestions', body: { feedback: [item({ acceptedSuggestions: [] })] }, path: 'feedback[0].acceptedSuggestions' },
  { name: 'acceptedSuggestions item without id', body: { feedback: [item({ acceptedSuggestions: [{ uuid: 'x' }] })] }, path: 'feedback[0].acceptedSuggestions[0].id' },
  { name: 'acceptedSuggestions id is a number', body: { feedback: [item({ acceptedSuggestions: [{ id: 3 }] })] }, path: 'feedback[0].acceptedSuggestions[0].id' },
  { name: 'overrideReason empty', body: { feedback: [item({ overrideReason: {} }, overridden)] }, path: 'feedback[0].overrideReason' },
  { name: 'overrideReason with only unknown fields', body: { feedback: [item({ overrideReason: { note: 'x' } }, overridden)] }, path: 'feedback[0].overrideReason' },
  { name: 'overrideReason is a string', body: { feedback: [item({ overrideReason: 'no' }, overridden)] }, path: 'feedback[0].overrideReason' },
  { name: 'reason without system', body: { feedback: [item({ overrideReason: { reason: { code: 'c' } } }, overridden)] }, path: 'feedback[0].overrideReason.reason.system' },
  { name: 'reason without code', body: { feedback: [item({ overrideReason: { reason: { system: 's', display: 'd' } } }, overridden)] }, path: 'feedback[0].overrideReason.reason.code' },
  { name: 'userComment is empty', body: { feedback: [item({ overrideReason: { userComment: '' } }, overridden)] }, path: 'feedback[0].overrideReason.userComment' },
  { name: 'missing outcomeTimestamp', body: { feedback: [item({ outcomeTimestamp: undefined })] }, path: 'feedback[0].outcomeTimestamp' },
  { name: 'outcomeTimestamp not a date-time', body: { feedback: [item({ outcomeTimestamp: 'yesterday' })] }, path: 'feedback[0].outcomeTimestamp' },
  { name: 'outcomeTimestamp without a time zone', body: { feedback: [item({ outcomeTimestamp: '2021-12-11T10:05:31' })] }, path: 'feedback[0].outcomeTimestamp' },
  { name: 'outcomeTimestamp is a date only', body: { feedback: [item({ outcomeTimestamp: '2021-12-11' })] }, path: 'feedback[0].outcomeTimestamp' },
  { name: 'outcomeTimestamp is a number', body: { feedback: [item({ outcomeTimestamp: 1639217131000 })] }, path: 'feedback[0].outcomeTimestamp' },
  { name: 'outcomeTimestamp with an impossible date', body: { feedback: [item({ outcomeTimestamp: '2021-02-30T10:05:31Z' })] }, path: 'feedback[0].outcomeTimestamp' },
];

describe('validateFeedback: malformed bodies are 400 with issues naming the bad path', () => {
  it.each(BAD.map((c) => [c.name, c] as const))('%s', (_name, c) => {
    // JSON has no undefined: drop keys the cases set to undefined, as a parsed body would.
    const body: unknown = c.body === undefined ? undefined : JSON.parse(JSON.stringify(c.body));
    const err = captureError(() => validateFeedback(body));
    expect(err.status).toBe(400);
    for (const issue of err.issues) {
      expect(['invalid', 'required', 'structure']).toContain(issue.code);
      expect(issue.diagnostics.length).toBeGreaterThan(10);
    }
    if (c.path === null) {
      expect(err.issues).toEqual([{ code: 'structure', diagnostics: 'The feedback body must be a JSON object' }]);
    } else {
      const named = err.issues.find((i) => i.expression?.includes(c.path as string));
      expect(named).toBeDefined();
      expect(named?.diagnostics).toContain(c.path);
    }
  });

  it('says one thing about an empty overrideReason, not one thing per alternative', () => {
    const err = captureError(() => validateFeedback({ feedback: [{ ...overridden(), overrideReason: {} }] }));
    expect(err.issues).toEqual([
      {
        code: 'invalid',
        diagnostics: 'feedback[0].overrideReason must be an object with a reason Coding, a userComment, or both',
        expression: ['feedback[0].overrideReason'],
      },
    ]);
  });

  it('reports accepted-without-suggestions as a required field', () => {
    const body = accepted();
    delete body.acceptedSuggestions;
    const err = captureError(() => validateFeedback({ feedback: [body] }));
    expect(err.issues).toEqual([
      { code: 'required', diagnostics: 'feedback[0].acceptedSuggestions is required', expression: ['feedback[0].acceptedSuggestions'] },
    ]);
  });

  it('does not require acceptedSuggestions for overridden feedback', () => {
    expect(() => validateFeedback({ feedback: [overridden()] })).not.toThrow();
  });
});

describe('createFeedbackRecorder: feedback tied to served cards', () => {
  const SVC = 'iph-patient-view';
  let storage: Storage;
  let recorder: FeedbackRecorder;
  beforeEach(() => {
    storage = memoryStorage().storage;
    recorder = createFeedbackRecorder(storage, () => Date.UTC(2026, 11, 1));
  });
  const counts = async () => (await storage.outcomeRows({ since: 0, until: Date.now() + 60_000 })).topics;

  it('stores feedback on served cards; a resend (the same instant written another way) stores nothing new', async () => {
    const a = await serveCard(storage, SVC, 2);
    const o = await serveCard(storage, SVC, 0);
    const items = validateFeedback({
      feedback: [
        { ...accepted(), card: a.card, acceptedSuggestions: [{ id: a.suggestions[1] }] },
        { ...overridden(), card: o.card },
      ],
    });
    expect(await recorder.record(SVC, items)).toBe(2);
    const resend = items.map((i) => ({ ...i, outcomeTimestamp: new Date(Date.parse(i.outcomeTimestamp)).toISOString() }));
    expect(await recorder.record(SVC, resend)).toBe(0);
    expect(await counts()).toEqual([{ service: SVC, topic: 'test-topic', served: 2, accepted: 1, overridden: 1 }]);
  });

  it('keeps the coded override reason but never the free-text comment', async () => {
    const o = await serveCard(storage, SVC, 0);
    await recorder.record(SVC, validateFeedback({ feedback: [{ ...overridden(), card: o.card }] }));
    const { reasons } = await storage.outcomeRows({ since: 0, until: Date.now() + 60_000 });
    expect(reasons).toEqual([
      { service: SVC, topic: 'test-topic', system: 'https://iph-cds.example/override-reason', code: 'work-up-sent', display: 'Work-up already sent elsewhere', count: 1 },
    ]);
    expect(JSON.stringify(await storage.outcomeRows({ since: 0, until: Date.now() + 60_000 }))).not.toContain('referring hospital');
  });

  it('an unknown card, a card of another service and a foreign suggestion are 400s naming them; nothing is stored', async () => {
    const mine = await serveCard(storage, SVC, 1);
    const theirs = await serveCard(storage, 'iph-order-sign', 1);
    const unknown = '0b7e5a3c-1111-4222-8333-944455556666';
    const err = await recorder
      .record(
        SVC,
        validateFeedback({
          feedback: [
            { ...accepted(), card: mine.card, acceptedSuggestions: [{ id: mine.suggestions[0] }] },
            { ...overridden(), card: unknown },
            { ...accepted(), card: theirs.card, acceptedSuggestions: [{ id: theirs.suggestions[0] }] },
            { ...accepted(), card: mine.card, acceptedSuggestions: [{ id: theirs.suggestions[0] }], outcomeTimestamp: '2021-12-11T10:09:00Z' },
          ],
        }),
      )
      .then(
        () => undefined,
        (e: unknown) => e,
      );
    expect(err).toBeInstanceOf(HttpError);
    const issues = (err as HttpError).issues;
    expect((err as HttpError).status).toBe(400);
    expect(issues).toEqual([
      { code: 'not-found', diagnostics: expect.stringContaining(`feedback[1].card: "${unknown}" is not a card this service served`), expression: ['feedback[1].card'] },
      { code: 'not-found', diagnostics: expect.stringContaining(`feedback[2].card: "${theirs.card}"`), expression: ['feedback[2].card'] },
      {
        code: 'invalid',
        diagnostics: `feedback[3].acceptedSuggestions[0].id: "${theirs.suggestions[0]}" is not a suggestion of card "${mine.card}"`,
        expression: ['feedback[3].acceptedSuggestions[0].id'],
      },
    ]);
    expect((await counts()).every((t) => t.accepted + t.overridden === 0)).toBe(true);
  });

  it('names at most 20 problems in one answer', async () => {
    const feedback = Array.from({ length: 50 }, (_, i) => ({ ...overridden(), card: `unknown-${i}` }));
    const err = (await recorder.record(SVC, validateFeedback({ feedback })).catch((e: unknown) => e)) as HttpError;
    expect(err.issues).toHaveLength(21);
    expect(err.issues[20]).toEqual({ code: 'invalid', diagnostics: 'and 30 more problem(s) of the same kind' });
  });
});
