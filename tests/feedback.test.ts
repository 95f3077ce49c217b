// Feedback validation (src/http/feedback.ts + cds-services/schema/feedback.schema.json) and the in-memory store.
import { HttpError } from '../src/errors';
import { createFeedbackStore, createFeedbackValidator, type FeedbackItem } from '../src/http/feedback';

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

describe('createFeedbackStore', () => {
  const a = accepted() as unknown as FeedbackItem;
  const o = overridden() as unknown as FeedbackItem;

  it('stores items per service with serviceId and receivedAt, and lists them oldest first', () => {
    const store = createFeedbackStore();
    store.add('iph-order-select', [a]);
    store.add('iph-patient-view', [o]);
    expect(store.list()).toEqual([
      { ...a, serviceId: 'iph-order-select', receivedAt: expect.stringMatching(/^\d{4}-\d\d-\d\dT/) },
      { ...o, serviceId: 'iph-patient-view', receivedAt: expect.any(String) },
    ]);
    expect(store.list('iph-patient-view')).toEqual([expect.objectContaining({ card: o.card, serviceId: 'iph-patient-view' })]);
    expect(store.list('unknown-service')).toEqual([]);
  });

  it('is idempotent: the same card + outcome + timestamp is stored once', () => {
    const store = createFeedbackStore();
    store.add('svc', [a, a]);
    store.add('svc', [{ ...a, acceptedSuggestions: [{ id: 'other' }] }]);
    store.add('svc', [{ ...a, outcomeTimestamp: '2021-12-11T10:05:31.000Z' }]);
    store.add('svc', [{ ...a, outcomeTimestamp: '2021-12-11T11:05:31+01:00' }]);
    expect(store.list('svc')).toHaveLength(1);
    expect(store.list('svc')[0]?.acceptedSuggestions).toEqual([{ id: 'e56e1945-20b3-4393-8503-a1a20fd73152' }]);
  });

  it('keeps feedback that differs in card, outcome, timestamp or service', () => {
    const store = createFeedbackStore();
    store.add('svc', [a, { ...a, card: 'other-card' }, { ...a, outcomeTimestamp: '2021-12-11T10:05:32Z' }]);
    store.add('svc', [{ card: a.card, outcome: 'overridden', outcomeTimestamp: a.outcomeTimestamp }]);
    store.add('svc-2', [a]);
    expect(store.list('svc')).toHaveLength(4);
    expect(store.list()).toHaveLength(5);
  });

  it('evicts the oldest beyond maxItems', () => {
    const store = createFeedbackStore(3);
    for (let i = 0; i < 5; i += 1) store.add('svc', [{ ...a, card: `card-${i}` }]);
    expect(store.list().map((f) => f.card)).toEqual(['card-2', 'card-3', 'card-4']);
  });

  it('a resend of an already stored item does not make it newer', () => {
    const store = createFeedbackStore(2);
    store.add('svc', [{ ...a, card: 'card-0' }, { ...a, card: 'card-1' }]);
    store.add('svc', [{ ...a, card: 'card-0' }]);
    store.add('svc', [{ ...a, card: 'card-2' }]);
    expect(store.list().map((f) => f.card)).toEqual(['card-1', 'card-2']);
  });

  it('keeps its own frozen copies: later changes by the caller do not leak in or out', () => {
    const store = createFeedbackStore();
    const mine = { ...a, acceptedSuggestions: [{ id: 's-1' }] };
    store.add('svc', [mine]);
    mine.acceptedSuggestions[0] = { id: 'changed' };
    const [stored] = store.list();
    expect(stored?.acceptedSuggestions).toEqual([{ id: 's-1' }]);
    expect(Object.isFrozen(stored)).toBe(true);
    expect(() => {
      (stored as { card: string }).card = 'x';
    }).toThrow(TypeError);
    store.list().pop();
    expect(store.list()).toHaveLength(1);
  });

  it('rejects a maxItems that is not a positive integer', () => {
    expect(() => createFeedbackStore(0)).toThrow(RangeError);
    expect(() => createFeedbackStore(1.5)).toThrow(RangeError);
  });
});
