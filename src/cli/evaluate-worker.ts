// Worker thread of the bulk CLI: loads the definitions once, then evaluates the patients the main thread sends.
import { parentPort, workerData } from 'node:worker_threads';
import type { FhirResource } from 'fhir/r4';
import { loadRegistry } from '../definitions/load';
import { createRequestValidator } from '../http/hook-request';
import { evaluatePatient } from './patient-call';

export interface WorkerSetup {
  definitionsDir: string;
  serviceId: string;
  now: number;
}

export interface WorkerJob {
  id: number;
  patientId: string;
  resources: FhirResource[];
}

const setup = workerData as WorkerSetup;
const registry = loadRegistry(setup.definitionsDir);
const service = registry.services.get(setup.serviceId);
if (!service) throw new Error(`no service ${setup.serviceId}`);
const deps = { registry, requestValidator: createRequestValidator() };

parentPort?.on('message', (job: WorkerJob) => {
  void evaluatePatient(service, job.patientId, job.resources, setup.now, deps).then((result) => parentPort?.postMessage({ id: job.id, result }));
});
parentPort?.postMessage({ ready: true });
