// CDS Hooks 2.0 feedback: validation against cds-services/schema/feedback.schema.json, then recording tied to the
// cards this service served (unknown cards and foreign suggestions are 400s; resends are idempotent).
import { HttpError, type IssueInput } from '../errors';
import { createSchemaAjv, formatSchemaErrors, isJsonObject, loadSchemaFile, SCHEMA_DIR } from '../schema';
import type { FeedbackRecord, Storage } from '../storage/storage';

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


/** Too many unknown cards in one body would make a huge OperationOutcome: the first ones are named. */
const MAX_NAMED_ISSUES = 20;

export interface FeedbackRecorder {
  /** Checks every item against the served cards, then stores them (resends are no-ops); returns how many were new. */
  record(serviceId: string, items: FeedbackItem[]): Promise<number>;
}

function toRecord(item: FeedbackItem, receivedAt: number): FeedbackRecord {
  const reason = item.outcome === 'overridden' ? item.overrideReason?.reason : undefined;
  return {
    cardUuid: item.card,
    outcome: item.outcome,
    // The schema admits only RFC 3339 date-times, so this parses; the same instant written two ways is one key.
    outcomeAt: Date.parse(item.outcomeTimestamp),
    acceptedSuggestions: item.outcome === 'accepted' ? (item.acceptedSuggestions ?? []).map((s) => s.id) : [],
    ...(reason !== undefined ? { reason: { system: reason.system, code: reason.code, ...(reason.display !== undefined ? { display: reason.display } : {}) } } : {}),
    withReason: item.outcome === 'overridden' && item.overrideReason !== undefined,
    receivedAt,
  };
}

/**
 * Feedback tied to served cards: a card this service never served (or one purged after the retention period) and
 * an accepted suggestion that is not on its card are 400s naming them; nothing of such a body is stored.
 */
export function createFeedbackRecorder(storage: Storage, now: () => number = () => Date.now()): FeedbackRecorder {
  return {
    async record(serviceId, items) {
      const served = await storage.findServedCards(items.map((i) => i.card));
      const issues: IssueInput[] = [];
      items.forEach((item, i) => {
        const card = served.get(item.card);
        if (card === undefined || card.service !== serviceId) {
          issues.push({
            code: 'not-found',
            diagnostics: `feedback[${i}].card: "${item.card}" is not a card this service served (unknown, or older than the retention period)`,
            expression: [`feedback[${i}].card`],
          });
          return;
        }
        if (item.outcome !== 'accepted') return;
        const suggestions = new Set(card.suggestionUuids);
        (item.acceptedSuggestions ?? []).forEach((s, j) => {
          if (!suggestions.has(s.id)) {
            issues.push({
              code: 'invalid',
              diagnostics: `feedback[${i}].acceptedSuggestions[${j}].id: "${s.id}" is not a suggestion of card "${item.card}"`,
              expression: [`feedback[${i}].acceptedSuggestions[${j}].id`],
            });
          }
        });
      });
      if (issues.length > MAX_NAMED_ISSUES) {
        const more = issues.length - MAX_NAMED_ISSUES;
        issues.splice(MAX_NAMED_ISSUES, more, { code: 'invalid', diagnostics: `and ${more} more problem(s) of the same kind` });
      }
      if (issues.length > 0) throw new HttpError(400, issues);
      const receivedAt = now();
      return storage.recordFeedback(items.map((item) => toRecord(item, receivedAt)));
    },
  };
}
