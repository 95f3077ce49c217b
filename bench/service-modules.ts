// The built service (dist/, what `node dist/main.js` runs) loaded for in-process timing, typed from src/,
// so the bench measures the same compiled code as the HTTP runs and never a second copy of it.
import path from 'node:path';

export const ROOT = path.resolve(__dirname, '..', '..');
export const DIST = path.join(ROOT, 'dist');

function loadBuilt<T>(name: string): T {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  return require(path.join(DIST, `${name}.js`)) as T;
}

export interface ServiceModules {
  definitions: typeof import('../src/definitions/load');
  request: typeof import('../src/http/hook-request');
  prefetch: typeof import('../src/fhir/prefetch');
  evaluation: typeof import('../src/evaluation/evaluate');
  cards: typeof import('../src/evaluation/cards');
  expressions: typeof import('../src/fhirpath/scope');
  recordIndex: typeof import('../src/evaluation/record-index');
  fhirClient: typeof import('../src/fhir/client');
}

export function loadServiceModules(): ServiceModules {
  return {
    definitions: loadBuilt('definitions/load'),
    request: loadBuilt('http/hook-request'),
    prefetch: loadBuilt('fhir/prefetch'),
    evaluation: loadBuilt('evaluation/evaluate'),
    cards: loadBuilt('evaluation/cards'),
    expressions: loadBuilt('fhirpath/scope'),
    recordIndex: loadBuilt('evaluation/record-index'),
    fhirClient: loadBuilt('fhir/client'),
  };
}
