// The project's value sets and a FHIRPath runtime over them, for tests that evaluate expressions directly.
import fs from 'node:fs';
import path from 'node:path';
import type { ValueSet } from 'fhir/r4';
import { createExpressionRuntime } from '../../src/fhirpath/runtime';
import { buildValueSetIndex } from '../../src/evaluation/terminology';

const VALUESET_DIR = path.join(__dirname, '..', '..', 'cds-services', 'valuesets');

export const valueSets = buildValueSetIndex(
  fs
    .readdirSync(VALUESET_DIR)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(fs.readFileSync(path.join(VALUESET_DIR, f), 'utf8')) as ValueSet),
);

export const runtime = createExpressionRuntime(valueSets);
