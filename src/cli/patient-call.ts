// One offline hook call for one patient: the hook request a CDS client would send, with every prefetch key answered
// by running the service's prefetch template over the patient's resources (the same search the demo FHIR server
// runs), answered through answerHookCall like the server.
import { randomUUID } from 'node:crypto';
import type { FhirResource } from 'fhir/r4';
import type { Registry, ServiceDefinition } from '../definitions/types';
import type { Card } from '../evaluation/cards';
import { HttpError } from '../errors';
import { renderPrefetchTemplate } from '../fhir/client';
import { searchResources } from '../fhir/search';
import { answerHookCall } from '../hook-call';
import type { RequestValidator } from '../http/hook-request';
import type { HookRequest } from '../cds-hooks';

export const CLI_USER = 'Practitioner/iph-cds-cli';

export type PatientResult = { patient: string; cards: Card[] } | { patient: string; error: string };

/** The hook request for `patientId`; order hooks get the patient's draft orders as context. */
export function patientRequest(service: ServiceDefinition, patientId: string, resources: FhirResource[]): HookRequest {
  const request: HookRequest = { hook: service.hook, hookInstance: randomUUID(), context: { userId: CLI_USER, patientId } };
  if (service.hook !== 'patient-view') {
    const drafts = resources.filter((r) => (r as { status?: unknown }).status === 'draft');
    request.context.draftOrders = { resourceType: 'Bundle', type: 'collection', entry: drafts.map((resource) => ({ resource })) };
    if (service.hook === 'order-select') request.context.selections = drafts.map((r) => `${r.resourceType}/${r.id ?? ''}`);
  }
  const prefetch: Record<string, FhirResource | null> = {};
  for (const [key, def] of Object.entries(service.prefetch)) {
    const query = renderPrefetchTemplate(def.query, request);
    if (query === undefined) continue;
    const result = searchResources(resources, query);
    // A read of a missing resource is "no data", as a FHIR server's 404 would be.
    prefetch[key] = result.status === 200 ? result.body : result.status === 404 ? null : result.body;
  }
  request.prefetch = prefetch;
  return request;
}

export async function evaluatePatient(
  service: ServiceDefinition,
  patientId: string,
  resources: FhirResource[],
  now: number,
  deps: { registry: Registry; requestValidator: RequestValidator },
): Promise<PatientResult> {
  try {
    const { cards } = await answerHookCall(service, patientRequest(service, patientId, resources), now, deps);
    return { patient: patientId, cards };
  } catch (e) {
    if (e instanceof HttpError) return { patient: patientId, error: `HTTP ${e.status}: ${e.issues.map((i) => i.diagnostics).join('; ')}` };
    return { patient: patientId, error: e instanceof Error ? e.message : String(e) };
  }
}
