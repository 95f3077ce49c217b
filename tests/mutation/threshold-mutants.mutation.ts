// Mutation testing of the rule library's clinical thresholds (npm run mutation:thresholds; not in npm test): every named
// threshold and every cut-off or default limit of a table in cds-services/libraries is moved 10 % up and 10 % down in a
// copy of the definitions, and at least one golden case must then give other cards (a cut-off no case pins is a survivor).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadRegistry } from '../../src/definitions/load';
import { answerHookCall } from '../../src/hook-call';
import { HttpError } from '../../src/errors';
import { createRequestValidator } from '../../src/http/hook-request';
import { buildRequest, compareWithExpected, listCases, type LoadedCase } from '../helpers/golden';

type Json = Record<string, unknown>;
const DEFINITIONS = path.join(__dirname, '..', '..', 'cds-services');
const NUMBER = /-?\d+(?:\.\d+)?/;
const LIMIT_FIELDS = new Set(['cutoff', 'limit']);

interface Mutant {
  id: string;
  library: string;
  /** Returns the library with this one number changed. */
  apply(library: Json): Json;
}

/** The number in a threshold value ("15 'ug/L'", "1.0 / 88.4", 0.5) scaled by `factor`, unit and rest kept. */
function scaled(value: unknown, factor: number): unknown {
  if (typeof value === 'number') return Number((value * factor).toPrecision(6));
  if (typeof value !== 'string') return value;
  return value.replace(NUMBER, (n) => String(Number((Number(n) * factor).toPrecision(6))));
}

function numberedPaths(node: unknown, at: (string | number)[], out: (string | number)[][]): void {
  if (Array.isArray(node)) node.forEach((v, i) => numberedPaths(v, [...at, i], out));
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node as Json)) {
      if (LIMIT_FIELDS.has(k) && (typeof v === 'number' || (typeof v === 'string' && NUMBER.test(v)))) out.push([...at, k]);
      else numberedPaths(v, [...at, k], out);
    }
  }
}

function withValue(library: Json, at: (string | number)[], change: (v: unknown) => unknown): Json {
  const copy = structuredClone(library);
  let node = copy as unknown as Record<string | number, unknown>;
  for (const key of at.slice(0, -1)) node = node[key] as Record<string | number, unknown>;
  const last = at[at.length - 1] as string | number;
  node[last] = change(node[last]);
  return copy;
}

function mutantsOf(file: string, library: Json): Mutant[] {
  const paths: (string | number)[][] = [];
  for (const name of Object.keys((library.thresholds as Json | undefined) ?? {})) paths.push(['thresholds', name]);
  numberedPaths(library.tables, ['tables'], paths);
  return paths.flatMap((at) =>
    [1.1, 0.9].map((factor) => ({
      id: `${file}#/${at.join('/')} x${factor}`,
      library: file,
      apply: (lib: Json) => withValue(lib, at, (v) => scaled(v, factor)),
    })),
  );
}

function copyDefinitions(libraryFile: string, library: Json): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'threshold-mutant-'));
  fs.cpSync(DEFINITIONS, dir, { recursive: true });
  fs.writeFileSync(path.join(dir, 'libraries', libraryFile), JSON.stringify(library));
  return dir;
}

/** The first case (pinning pairs first) whose answer no longer matches its expectations, if any. */
async function firstKillingCase(dir: string, cases: LoadedCase[]): Promise<string | undefined> {
  const registry = loadRegistry(dir);
  const requestValidator = createRequestValidator();
  for (const c of cases) {
    const service = registry.services.get(c.service);
    if (!service) continue;
    let status = 200;
    let body: Json = {};
    try {
      const { cards } = await answerHookCall(service, buildRequest(service, c.data), Date.parse(c.data.now), { registry, requestValidator });
      body = JSON.parse(JSON.stringify({ cards })) as Json;
    } catch (e) {
      if (!(e instanceof HttpError)) throw e;
      status = e.status;
      body = { resourceType: "OperationOutcome", issue: e.issues };
    }
    if (compareWithExpected(c.data, status, body).length > 0) return `${c.service}/${c.name}`;
  }
  return undefined;
}

const libraries = fs.readdirSync(path.join(DEFINITIONS, 'libraries')).filter((f) => f.endsWith('.json')).sort();
const mutants = libraries.flatMap((f) => mutantsOf(f, JSON.parse(fs.readFileSync(path.join(DEFINITIONS, 'libraries', f), 'utf8')) as Json));
const cases = listCases().sort((a, b) => Number(b.name.startsWith('threshold-')) - Number(a.name.startsWith('threshold-')));

test('the library has thresholds to mutate', () => {
  expect(mutants.length).toBeGreaterThan(20);
});

test.each(mutants.map((m) => [m.id, m] as const))('a golden case catches %s', async (_id, mutant) => {
  const original = JSON.parse(fs.readFileSync(path.join(DEFINITIONS, 'libraries', mutant.library), 'utf8')) as Json;
  const dir = copyDefinitions(mutant.library, mutant.apply(original));
  try {
    expect(await firstKillingCase(dir, cases)).toBeDefined();
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}, 120_000);
