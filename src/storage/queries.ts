// SQL shared by both back ends, written with `?` placeholders (PostgreSQL numbers them): served cards, feedback,
// card outcomes, snooze look-ups and purging. Only what differs between the dialects lives in the back-end files.
import type { FeedbackRecord } from './storage';

export const INSERT_FEEDBACK = `INSERT INTO card_feedback
  (card_uuid, outcome, outcome_at, accepted_suggestions, reason_system, reason_code, reason_display, with_reason, received_at)
  VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`;

/** The parameters of INSERT_FEEDBACK for one record, in column order. */
export function feedbackParams(f: FeedbackRecord): (string | number | null)[] {
  return [f.cardUuid, f.outcome, f.outcomeAt, JSON.stringify(f.acceptedSuggestions), f.reason?.system ?? null, f.reason?.code ?? null, f.reason?.display ?? null, f.withReason ? 1 : 0, f.receivedAt];
}

/** Cards served in the window; each card's latest feedback (by the client's outcome time) is its outcome. */
function outcomeWindow(withService: boolean): string {
  return `WITH window_cards AS (
    SELECT card_uuid, service, topic FROM served_cards
    WHERE served_at >= ? AND served_at < ?${withService ? ' AND service = ?' : ''}
  ), latest AS (
    SELECT f.card_uuid, f.outcome, f.reason_system, f.reason_code, f.reason_display,
      ROW_NUMBER() OVER (PARTITION BY f.card_uuid ORDER BY f.outcome_at DESC, f.received_at DESC, f.outcome) AS rn
    FROM card_feedback f JOIN window_cards w ON w.card_uuid = f.card_uuid
  )`;
}

export function topicCountsSql(withService: boolean): string {
  return `${outcomeWindow(withService)}
  SELECT w.service AS service, w.topic AS topic, COUNT(*) AS served,
    SUM(CASE WHEN l.outcome = 'accepted' THEN 1 ELSE 0 END) AS accepted,
    SUM(CASE WHEN l.outcome = 'overridden' THEN 1 ELSE 0 END) AS overridden
  FROM window_cards w LEFT JOIN latest l ON l.card_uuid = w.card_uuid AND l.rn = 1
  GROUP BY w.service, w.topic
  ORDER BY w.service, w.topic`;
}

export function overrideReasonsSql(withService: boolean): string {
  return `${outcomeWindow(withService)}
  SELECT w.service AS service, w.topic AS topic, l.reason_system AS system, l.reason_code AS code,
    MAX(l.reason_display) AS display, COUNT(*) AS count
  FROM window_cards w JOIN latest l ON l.card_uuid = w.card_uuid AND l.rn = 1
  WHERE l.outcome = 'overridden' AND l.reason_code IS NOT NULL
  GROUP BY w.service, w.topic, l.reason_system, l.reason_code
  ORDER BY w.service, w.topic, COUNT(*) DESC, l.reason_code`;
}

export const SNOOZED_TOPICS = `SELECT DISTINCT c.topic AS topic
  FROM served_cards c JOIN card_feedback f ON f.card_uuid = c.card_uuid
  WHERE c.patient_key = ? AND c.service = ? AND f.outcome = 'overridden' AND f.with_reason = 1 AND f.received_at >= ?`;

export const PURGE_REPLAY_KEYS = 'DELETE FROM replay_keys WHERE expires_at <= ?';

/** One bounded batch; feedback and suggestions go with their card (ON DELETE CASCADE). */
export const PURGE_SERVED_CARDS = `DELETE FROM served_cards WHERE card_uuid IN (
  SELECT card_uuid FROM served_cards WHERE served_at < ? ORDER BY served_at LIMIT ?)`;
