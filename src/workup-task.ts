// The SMART app's work-up as a self-contained task, like a hook call (hook-task.ts): the checked request in, the
// report (or the error's OperationOutcome issues) out, as structured-clone data. It reads the patient's record from
// the EHR's FHIR server with the app's token and evaluates the patient-view definitions, so it runs in an evaluation
// thread under the same deadline as hook calls (eval-worker.ts), or inline in tests.
import { randomUUID } from 'node:crypto';
import type { HookRequest } from './cds-hooks';
import type { Registry, ServiceDefinition } from './definitions/types';
import { HttpError } from './errors';
import { evaluateService } from './evaluation/evaluate';
import { compileWorkupDefinitions, type WorkupDefinitions } from './evaluation/workup-definitions';
import { buildWorkupReport, type WorkupReport } from './evaluation/workup-report';
import { recordingCauses, resolvePrefetch, type PrefetchFetcher } from './fhir/prefetch';
import { settleTask, type HookTaskLog, type TaskFailure } from './hook-task';

/** The service whose definitions the app evaluates. */
export const APP_SERVICE_ID = 'iph-patient-view';

export interface WorkupTask {
  patientId: string;
  fhirServer: string;
  accessToken?: string;
  /** The server clock when the request arrived. */
  now: number;
}

/** What the caller logs besides the status: the FHIR keys that could not be read, with the precise cause. */
type WorkupTaskLog = Pick<HookTaskLog, 'fhir' | 'error'>;

export type WorkupTaskResult = ({ status: 200; report: WorkupReport } & WorkupTaskLog) | (TaskFailure & WorkupTaskLog);

export interface WorkupTaskDeps {
  registry: Registry;
  /** Reads the record from the app's FHIR server; without it every key is unavailable. */
  fetcher?: PrefetchFetcher;
}

/** The request the definitions are evaluated for: a patient-view for this patient, every key fetched from fhirServer. */
function hookRequestFor(task: WorkupTask): HookRequest {
  return {
    hook: 'patient-view',
    hookInstance: randomUUID(),
    fhirServer: task.fhirServer,
    ...(task.accessToken ? { fhirAuthorization: { access_token: task.accessToken, token_type: 'Bearer', expires_in: 300, scope: 'patient/*.read', subject: 'iph-workup-app' } } : {}),
    context: { patientId: task.patientId, userId: 'Practitioner/unknown' },
  } as HookRequest;
}

/** The app's service and its compiled work-up definitions; throws when the definitions lack them (a start-up error). */
export function appService(registry: Registry): { service: ServiceDefinition; definitions: WorkupDefinitions } {
  const service = registry.services.get(APP_SERVICE_ID);
  if (!service) throw new Error(`the app needs the ${APP_SERVICE_ID} service definitions`);
  return { service, definitions: compileWorkupDefinitions(service, registry.runtime) };
}

/** A runner for work-up tasks over `deps`; the work-up definitions are compiled on its first task. */
export function createWorkupRunner(deps: WorkupTaskDeps): (task: WorkupTask) => Promise<WorkupTaskResult> {
  let app: ReturnType<typeof appService> | undefined;
  return (task) => {
    const log: WorkupTaskLog = {};
    return settleTask(log, async () => {
      app ??= appService(deps.registry);
      const causes: Record<string, string> = {};
      const request = hookRequestFor(task);
      const prefetch = await resolvePrefetch(app.service, request, deps.fetcher && recordingCauses(deps.fetcher, causes)).finally(() => {
        if (Object.keys(causes).length) log.fhir = causes;
      });
      // A hook call may go on without demographics; the app was launched for a patient that must exist.
      if (prefetch.values.patient === null || prefetch.values.patient === undefined) {
        throw new HttpError(404, { code: 'not-found', diagnostics: 'The FHIR server has no such Patient', expression: ['patientId'] });
      }
      const evaluation = evaluateService(app.service, request, prefetch, task.now, deps.registry.valueSets);
      return { status: 200 as const, report: buildWorkupReport(app.definitions, evaluation, task.patientId, task.now) };
    });
  };
}
