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
  definitions: typeof import('../src/definitions');
  request: typeof import('../src/request');
  prefetch: typeof import('../src/prefetch');
  evaluation: typeof import('../src/evaluation');
  cards: typeof import('../src/cards');
  expressions: typeof import('../src/expressions');
  recordIndex: typeof import('../src/record-index');
  fhirSearch: typeof import('../src/fhir-search');
  fhirClient: typeof import('../src/fhir-client');
}

export function loadServiceModules(): ServiceModules {
  return {
    definitions: loadBuilt('definitions'),
    request: loadBuilt('request'),
    prefetch: loadBuilt('prefetch'),
    evaluation: loadBuilt('evaluation'),
    cards: loadBuilt('cards'),
    expressions: loadBuilt('expressions'),
    recordIndex: loadBuilt('record-index'),
    fhirSearch: loadBuilt('fhir-search'),
    fhirClient: loadBuilt('fhir-client'),
  };
}
