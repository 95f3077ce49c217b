// One hook call without HTTP: validate the request, resolve its prefetch (FHIR fallback for missing keys), evaluate the
// service's rules and render its cards. The server, the offline CLI and the benchmark all answer through this function.
import type { ServiceDefinition, Registry } from './definitions/types';
import { renderCards, type Card } from './evaluation/cards';
import { evaluateService } from './evaluation/evaluate';
import { resolvePrefetch, type PrefetchFetcher } from './fhir/prefetch';
import type { RequestValidator } from './http/hook-request';

export interface HookCallDeps {
  registry: Registry;
  requestValidator: RequestValidator;
  /** FHIR fallback for prefetch keys the client did not send. */
  fetcher?: PrefetchFetcher;
}

export interface HookCallResult {
  cards: Card[];
  /** Named expressions that failed on this record (evaluated as empty); messages may quote data: strip before logging. */
  failures: { name: string; message: string }[];
}

/** Answers one hook call for `service`; throws HttpError (400, 412) for a bad request or unobtainable required data. */
export async function answerHookCall(service: ServiceDefinition, body: unknown, now: number, deps: HookCallDeps): Promise<HookCallResult> {
  const request = deps.requestValidator.validateHookRequest(service.hook, body);
  const prefetch = await resolvePrefetch(service, request, deps.fetcher);
  const evaluation = evaluateService(service, request, prefetch, now, deps.registry.valueSets);
  return { cards: renderCards(service, evaluation), failures: evaluation.failures };
}
