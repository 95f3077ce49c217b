// The storage interface: the state every worker and instance shares (JWT replay keys, served cards, feedback,
// card outcomes, snooze look-ups). Two implementations (SQLite, PostgreSQL) run the same schema and migrations.

export type StorageBackend = 'sqlite' | 'postgres';

/** stored: first use of this (iss, jti); replay: already live; quota-full: the issuer holds too many live jtis. */
export type ReplayResult = 'stored' | 'replay' | 'quota-full';

export interface ServedCard {
  uuid: string;
  service: string;
  topic: string;
  suggestionUuids: string[];
  hookInstance: string;
  /** Keyed HMAC of the patient id (never the id itself); null when the request named no patient. */
  patientKey: string | null;
  /** Epoch ms. */
  servedAt: number;
}

/** What feedback validation needs to know about a card this service served. */
export interface ServedCardRef {
  uuid: string;
  service: string;
  suggestionUuids: string[];
}

export interface FeedbackRecord {
  cardUuid: string;
  outcome: 'accepted' | 'overridden';
  /** The client's outcomeTimestamp, epoch ms: with cardUuid and outcome, the idempotency key. */
  outcomeAt: number;
  acceptedSuggestions: string[];
  /** The coded override reason; free-text comments are never stored (they may name the patient). */
  reason?: { system: string; code: string; display?: string };
  /** An override with a reason Coding or a comment: a deliberate dismissal, the trigger of snoozing. */
  withReason: boolean;
  /** Epoch ms, server clock. */
  receivedAt: number;
}

export interface OutcomeQuery {
  service?: string;
  /** Cards served in [since, until), epoch ms. */
  since: number;
  until: number;
}

/** Per service and topic; a card's latest feedback decides whether it counts as accepted or overridden. */
export interface TopicCounts {
  service: string;
  topic: string;
  served: number;
  accepted: number;
  overridden: number;
}

export interface OverrideReasonCount {
  service: string;
  topic: string;
  system: string;
  code: string;
  display: string | null;
  count: number;
}

export interface OutcomeRows {
  topics: TopicCounts[];
  reasons: OverrideReasonCount[];
}

export interface PurgeResult {
  replayKeys: number;
  servedCards: number;
}

export interface Storage {
  readonly backend: StorageBackend;
  /** Atomically records (iss, jti) until expiresAt unless it is live already or the issuer is at its quota. */
  rememberJti(iss: string, jti: string, expiresAt: number, now: number, quotaPerIssuer: number): Promise<ReplayResult>;
  recordServedCards(cards: readonly ServedCard[]): Promise<void>;
  /** The served cards among these uuids (unknown and purged ones are absent). */
  findServedCards(uuids: readonly string[]): Promise<Map<string, ServedCardRef>>;
  /** Stores each item once (resends are ignored); returns how many were new. */
  recordFeedback(items: readonly FeedbackRecord[]): Promise<number>;
  outcomeRows(query: OutcomeQuery): Promise<OutcomeRows>;
  /** Topics of this service overridden with a reason for this patient, with feedback received at or after `since`. */
  snoozedTopics(service: string, patientKey: string, since: number): Promise<Set<string>>;
  /** Deletes expired replay keys and served cards (with their feedback) served before `servedBefore`. */
  purge(now: number, servedBefore: number): Promise<PurgeResult>;
  /** Resolves when the database answers a trivial query. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Served-card purge batch: bounded so one purge never holds the SQLite write lock for long. */
export const PURGE_BATCH = 5000;
