// CDS Hooks 2.0 feedback: validation against cds-services/schema/feedback.schema.json and a bounded,
// idempotent in-memory store (clients resend the same feedback; the spec asks nothing more durable).
import { HttpError } from '../errors';
import { createSchemaAjv, formatSchemaErrors, isJsonObject, loadSchemaFile, SCHEMA_DIR } from '../schema';

export type FeedbackOutcome = 'accepted' | 'overridden';

export interface FeedbackCoding {
  code: string;
  system: string;
  display?: string;
}

export interface FeedbackItem {
  card: string;
  outcome: FeedbackOutcome;
  acceptedSuggestions?: { id: string }[];
  overrideReason?: { reason?: FeedbackCoding; userComment?: string };
  outcomeTimestamp: string;
}

export interface StoredFeedback extends FeedbackItem {
  serviceId: string;
  /** When this service stored it (ISO 8601), as opposed to the client's outcomeTimestamp. */
  receivedAt: string;
}

export interface FeedbackStore {
  add(serviceId: string, items: FeedbackItem[]): void;
  list(serviceId?: string): StoredFeedback[];
}

export interface FeedbackValidator {
  validateFeedback(body: unknown): FeedbackItem[];
}

/** Copies only the fields the spec defines, so unknown (possibly huge) client fields are never kept. */
function copyFeedbackItem(item: FeedbackItem): FeedbackItem {
  const copy: FeedbackItem = { card: item.card, outcome: item.outcome, outcomeTimestamp: item.outcomeTimestamp };
  if (item.acceptedSuggestions !== undefined) copy.acceptedSuggestions = item.acceptedSuggestions.map((s) => ({ id: s.id }));
  if (item.overrideReason !== undefined) {
    const { reason, userComment } = item.overrideReason;
    copy.overrideReason = {
      ...(reason !== undefined
        ? { reason: { code: reason.code, system: reason.system, ...(reason.display !== undefined ? { display: reason.display } : {}) } }
        : {}),
      ...(userComment !== undefined ? { userComment } : {}),
    };
  }
  return copy;
}

/** Compiles the feedback schema once; the returned validator is stateless. */
export function createFeedbackValidator(schemaDir: string = SCHEMA_DIR): FeedbackValidator {
  const validate = createSchemaAjv().compile(loadSchemaFile('feedback.schema.json', schemaDir));
  return {
    validateFeedback(body: unknown): FeedbackItem[] {
      if (!isJsonObject(body)) {
        throw new HttpError(400, { code: 'structure', diagnostics: 'The feedback body must be a JSON object' });
      }
      if (!validate(body)) throw new HttpError(400, formatSchemaErrors(validate.errors, 'The feedback body'));
      return (body.feedback as FeedbackItem[]).map(copyFeedbackItem);
    },
  };
}


function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}

/** The same instant written two ways (`…31Z`, `…31.000Z`, `…31+00:00`) is the same feedback. */
function normalizeTimestamp(ts: string): string {
  const ms = Date.parse(ts);
  return Number.isFinite(ms) ? String(ms) : ts;
}

/**
 * In-memory feedback store: one entry per service + card + outcome + outcomeTimestamp (resends are
 * ignored), oldest first out beyond `maxItems`.
 */
export function createFeedbackStore(maxItems = 10000): FeedbackStore {
  if (!Number.isInteger(maxItems) || maxItems < 1) throw new RangeError('maxItems must be a positive integer');
  // Map keeps insertion order, which is the eviction order.
  const entries = new Map<string, StoredFeedback>();
  return {
    add(serviceId: string, items: FeedbackItem[]): void {
      const receivedAt = new Date().toISOString();
      for (const item of items) {
        const key = JSON.stringify([serviceId, item.card, item.outcome, normalizeTimestamp(item.outcomeTimestamp)]);
        if (entries.has(key)) continue;
        entries.set(key, deepFreeze({ ...copyFeedbackItem(item), serviceId, receivedAt }));
        while (entries.size > maxItems) {
          const oldest = entries.keys().next();
          if (oldest.done === true) break;
          entries.delete(oldest.value);
        }
      }
    },
    list(serviceId?: string): StoredFeedback[] {
      const all = [...entries.values()];
      return serviceId === undefined ? all : all.filter((f) => f.serviceId === serviceId);
    },
  };
}
