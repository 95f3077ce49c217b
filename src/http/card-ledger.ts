// What happens to a hook response's cards around storage: cards the clinician overrode with a reason for this
// patient are snoozed for CDS_SNOOZE_DAYS (never data-unavailable or critical ones), and every card returned is
// recorded as served (uuid, service, topic, suggestion uuids, hookInstance, time, pseudonymous patient key).
import type { Logger } from 'pino';
import type { Card } from '../evaluation/cards';
import { DAY_MS } from '../storage/open-storage';
import type { Pseudonymize } from '../storage/patient-pseudonym';
import type { Storage } from '../storage/storage';

/** Data-unavailable cards say the answer is incomplete: hiding them would hide that. */
export const NEVER_SNOOZED_TOPICS: ReadonlySet<string> = new Set(['data-unavailable']);

/** The call a response answers, as far as the ledger reads it. */
export interface ServedCall {
  hookInstance: string;
  context: { patientId?: string };
}

export interface CardLedger {
  /** The cards to return (snoozed ones left out), recorded as served. Storage failures are logged, never thrown. */
  serve(serviceId: string, request: ServedCall, cards: Card[]): Promise<Card[]>;
}

export interface CardLedgerOptions {
  storage: Storage;
  pseudonymize: Pseudonymize;
  /** 0 = snoozing off. */
  snoozeDays: number;
  log: Logger;
  now?: () => number;
}

export function isSnoozable(card: Card): boolean {
  return card.indicator !== 'critical' && !NEVER_SNOOZED_TOPICS.has(card.source.topic.code);
}

export function createCardLedger({ storage, pseudonymize, snoozeDays, log, now = () => Date.now() }: CardLedgerOptions): CardLedger {
  async function withoutSnoozed(serviceId: string, hookInstance: string, patientKey: string, cards: Card[], at: number): Promise<Card[]> {
    if (snoozeDays === 0 || !cards.some(isSnoozable)) return cards;
    try {
      const snoozed = await storage.snoozedTopics(serviceId, patientKey, at - snoozeDays * DAY_MS);
      return snoozed.size === 0 ? cards : cards.filter((c) => !(isSnoozable(c) && snoozed.has(c.source.topic.code)));
    } catch (e) {
      // Showing a card again is safer than hiding one because the history is unreadable.
      log.error({ err: e, service: serviceId, hookInstance }, 'snooze look-up failed; no card snoozed');
      return cards;
    }
  }

  return {
    async serve(serviceId, request, cards) {
      if (cards.length === 0) return cards;
      const at = now();
      const patientKey = request.context.patientId ? pseudonymize(request.context.patientId) : null;
      const shown = patientKey === null ? cards : await withoutSnoozed(serviceId, request.hookInstance, patientKey, cards, at);
      try {
        await storage.recordServedCards(
          shown.map((c) => ({
            uuid: c.uuid,
            service: serviceId,
            topic: c.source.topic.code,
            suggestionUuids: (c.suggestions ?? []).map((s) => s.uuid),
            hookInstance: request.hookInstance,
            patientKey,
            servedAt: at,
          })),
        );
      } catch (e) {
        // The cards still go out; feedback on them will be refused as unknown.
        log.error({ err: e, service: serviceId, hookInstance: request.hookInstance }, 'recording served cards failed');
      }
      return shown;
    },
  };
}
