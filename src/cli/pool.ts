// Evaluates many patients on every core: one worker thread per core (each with its own definitions), a shared queue.
import os from 'node:os';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import type { PatientResources } from './input';
import type { PatientResult } from './patient-call';
import type { WorkerSetup } from './evaluate-worker';

export async function evaluateOnAllCores(
  patients: PatientResources[],
  setup: WorkerSetup,
  onResult: (result: PatientResult) => void,
): Promise<PatientResult[]> {
  const results: PatientResult[] = new Array(patients.length);
  const size = Math.max(1, Math.min(os.availableParallelism?.() ?? os.cpus().length, patients.length));
  let next = 0;
  const run = () =>
    new Promise<void>((resolve, reject) => {
      const worker = new Worker(path.join(__dirname, 'evaluate-worker.js'), { workerData: setup });
      const send = () => {
        if (next >= patients.length) {
          void worker.terminate().then(() => resolve());
          return;
        }
        const id = next++;
        const p = patients[id] as PatientResources;
        worker.postMessage({ id, patientId: p.patientId, resources: p.resources });
      };
      worker.on('message', (m: { ready?: true; id?: number; result?: PatientResult }) => {
        if (m.id !== undefined && m.result) {
          results[m.id] = m.result;
          onResult(m.result);
        }
        send();
      });
      worker.once('error', reject);
      worker.once('exit', (code) => {
        if (code !== 0 && code !== 1) reject(new Error(`evaluation worker exited with code ${code}`));
      });
    });
  await Promise.all(Array.from({ length: size }, run));
  return results;
}
