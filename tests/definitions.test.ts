// Load-time checks of cds-services/ (src/definitions/): a copy of the real definitions with ONE injected defect
// must be refused with an issue naming the right file and JSON pointer; the real tree loads clean; loadRegistry
// throws a DefinitionsError listing every issue; the compiled `npm run check` prints file#pointer lines and exits 1.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { checkDefinitions, loadRegistry } from '../src/definitions/load';
import { DefinitionsError, formatIssue } from '../src/definitions/issues';
import { type LoadIssue } from '../src/definitions/types';

const ROOT = path.join(__dirname, '..');
const DEFINITIONS = path.join(ROOT, 'cds-services');

const PATIENT_VIEW = 'iph-patient-view.json';
const IPH_LIBRARY = 'libraries/iph.json';
const ORDERS_LIBRARY = 'libraries/iph-orders.json';
const COUGH_VALUE_SET = 'valuesets/ValueSet-cough.json';

type Json = Record<string, unknown>;

// --- JSON pointer helpers: defects are injected by pointer, so each case reads like the issue it expects ------

function segmentsOf(pointer: string): string[] {
  return pointer === '' ? [] : pointer.slice(1).split('/').map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'));
}

function getAt(doc: unknown, pointer: string): unknown {
  let node: unknown = doc;
  for (const seg of segmentsOf(pointer)) {
    if (!node || typeof node !== 'object') throw new Error(`no ${pointer} in the document`);
    node = (node as Json)[seg];
  }
  if (node === undefined) throw new Error(`no ${pointer} in the document`);
  return node;
}

function parentOf(doc: unknown, pointer: string): { parent: Json; key: string } {
  const segs = segmentsOf(pointer);
  const key = segs.pop() as string;
  const parentPointer = segs.map((s) => `/${s.replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
  const parent = parentPointer === '' ? doc : getAt(doc, parentPointer);
  if (!parent || typeof parent !== 'object') throw new Error(`no parent for ${pointer}`);
  return { parent: parent as Json, key };
}

function setAt(doc: unknown, pointer: string, value: unknown): void {
  const { parent, key } = parentOf(doc, pointer);
  parent[key] = value;
}

function removeAt(doc: unknown, pointer: string): void {
  const { parent, key } = parentOf(doc, pointer);
  if (!(key in parent)) throw new Error(`no ${pointer} to remove`);
  delete parent[key];
}

function readDoc(dir: string, file: string): Json {
  return JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as Json;
}

function writeDoc(dir: string, file: string, doc: unknown): void {
  fs.writeFileSync(path.join(dir, file), JSON.stringify(doc, null, 2));
}

function editDoc(dir: string, file: string, edit: (doc: Json) => void): void {
  const doc = readDoc(dir, file);
  edit(doc);
  writeDoc(dir, file, doc);
}

/** Index of the card with this topic code in a service or library file (so cases survive reordering). */
function cardIndex(doc: Json, topic: string): number {
  const cards = getAt(doc, '/cards') as { topic: { code: string } }[];
  const i = cards.findIndex((c) => c.topic.code === topic);
  if (i < 0) throw new Error(`no card with topic ${topic}`);
  return i;
}

/** Index of the first suggestion of a card that has a `when`, and of its first action using a template. */
function suggestionWithWhen(doc: Json, card: number): number {
  const suggestions = getAt(doc, `/cards/${card}/suggestions`) as { when?: string }[];
  const i = suggestions.findIndex((s) => s.when !== undefined);
  if (i < 0) throw new Error(`card ${card} has no suggestion with a when`);
  return i;
}

// --- per-case copies of the real tree ------------------------------------------------------------------------

const tempDirs: string[] = [];

function copyDefinitions(): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-defs-'));
  tempDirs.push(dir);
  fs.cpSync(DEFINITIONS, dir, { recursive: true });
  return dir;
}

afterAll(() => {
  for (const dir of tempDirs) fs.rmSync(dir, { recursive: true, force: true });
});

interface ExpectedIssue {
  file: string | RegExp;
  pointer: string | RegExp;
  message: RegExp;
}

function same(actual: string, expected: string | RegExp): boolean {
  return typeof expected === 'string' ? actual === expected : expected.test(actual);
}

/** Copies the tree, injects the defect (which returns the issues it should cause) and runs the checker. */
function checkWithDefect(inject: (dir: string) => ExpectedIssue[]): { issues: LoadIssue[]; expected: ExpectedIssue[]; registry: unknown } {
  const dir = copyDefinitions();
  const expected = inject(dir);
  const { issues, registry } = checkDefinitions(dir);
  return { issues, expected, registry };
}

function matches(issue: LoadIssue, e: ExpectedIssue): boolean {
  return same(issue.file, e.file) && same(issue.pointer, e.pointer) && e.message.test(issue.message);
}

function expectReported(issues: LoadIssue[], expected: ExpectedIssue[]): void {
  for (const e of expected) {
    const found = issues.some((i) => matches(i, e));
    if (!found) throw new Error(`expected ${String(e.file)}#${String(e.pointer)} ${String(e.message)}, got:\n${issues.map(formatIssue).join('\n')}`);
  }
}

/** Every reported issue is one of the expected ones: the defect is located precisely, without collateral noise. */
function expectOnly(issues: LoadIssue[], expected: ExpectedIssue[]): void {
  const strays = issues.filter((i) => !expected.some((e) => matches(i, e)));
  expect(strays.map(formatIssue)).toEqual([]);
}

describe('the real definitions', () => {
  test('cds-services/ loads with zero issues and three services', () => {
    const { issues, registry } = checkDefinitions(DEFINITIONS);
    expect(issues.map(formatIssue)).toEqual([]);
    expect(registry).toBeDefined();
    expect([...(registry?.services.keys() ?? [])].sort()).toEqual(['iph-order-select', 'iph-order-sign', 'iph-patient-view']);
  });

  test('the registry is frozen: requests cannot change it', () => {
    const registry = loadRegistry(DEFINITIONS);
    const service = registry.services.get('iph-patient-view');
    expect(Object.isFrozen(registry)).toBe(true);
    expect(Object.isFrozen(service)).toBe(true);
    expect(Object.isFrozen(service?.cards)).toBe(true);
    expect(Object.isFrozen(service?.prefetch)).toBe(true);
  });

  test('the registry is read-only: its services cannot be removed, replaced or edited', () => {
    const registry = loadRegistry(DEFINITIONS);
    const services = registry.services as unknown as Map<string, unknown>;
    expect(() => services.delete('iph-patient-view')).toThrow(TypeError);
    expect(() => services.set('iph-patient-view', {})).toThrow(TypeError);
    expect(() => services.clear()).toThrow(TypeError);
    const service = registry.services.get('iph-patient-view') as unknown as { cards: unknown[]; id: string };
    expect(() => service.cards.push({})).toThrow(TypeError);
    expect(() => {
      'use strict';
      service.id = 'other';
    }).toThrow(TypeError);
    expect(registry.services.has('iph-patient-view')).toBe(true);
    expect(registry.services.size).toBe(3);
    expect([...registry.services].map(([id]) => id).sort()).toEqual(['iph-order-select', 'iph-order-sign', 'iph-patient-view']);
  });
});

// Each row: a defect, and the issue(s) it must produce. The case fails when an expected issue is missing or when
// another, unrelated issue is reported.
const DEFECTS: [string, (dir: string) => ExpectedIssue[]][] = [
  [
    'a library function whose body does not parse',
    (dir) => {
      editDoc(dir, IPH_LIBRARY, (d) => setAt(d, '/functions/isLowHemoglobin', 'valueIn(('));
      // Its callers then call a function that does not exist.
      return [
        { file: IPH_LIBRARY, pointer: '/functions/isLowHemoglobin', message: /does not parse/ },
        { file: IPH_LIBRARY, pointer: /^\/expressions\//, message: /unknown function isLowHemoglobin\(\)/ },
      ];
    },
  ],
  [
    'a library function that reads a variable not defined where it is called',
    (dir) => {
      editDoc(dir, IPH_LIBRARY, (d) => setAt(d, '/functions/isLowHemoglobin', 'valueIn(\'g/dL\') < %hemoglobinCutOff'));
      return [{ file: IPH_LIBRARY, pointer: /^\/expressions\//, message: /isLowHemoglobin\(\) reads %hemoglobinCutOff/ }];
    },
  ],
  [
    'a library function called by a service that does not use its library',
    (dir) => {
      editDoc(dir, ORDERS_LIBRARY, (d) => setAt(d, '/functions/isBalOrder', "code.memberOf('bal-procedure') = true"));
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/usesOrdersFunction', '%serviceRequests.where(isBalOrder()).exists()'));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/usesOrdersFunction', message: /belongs to library "iph-orders"/ }];
    },
  ],
  [
    'a library function that shadows a built-in function',
    (dir) => {
      editDoc(dir, IPH_LIBRARY, (d) => setAt(d, '/functions/latest', 'true'));
      return [{ file: IPH_LIBRARY, pointer: '/functions/latest', message: /already exists/ }];
    },
  ],
  [
    'a service file that is not valid JSON',
    (dir) => {
      fs.writeFileSync(path.join(dir, PATIENT_VIEW), '{ "id": "iph-patient-view", ');
      return [{ file: PATIENT_VIEW, pointer: '', message: /not valid JSON/ }];
    },
  ],
  [
    'a library file that is not valid JSON',
    (dir) => {
      fs.writeFileSync(path.join(dir, ORDERS_LIBRARY), '{"name": "iph-orders",]');
      // The services that use it then name a library that does not exist.
      return [
        { file: ORDERS_LIBRARY, pointer: '', message: /not valid JSON/ },
        { file: 'iph-order-select.json', pointer: '/uses/1', message: /no library named "iph-orders"/ },
        { file: 'iph-order-sign.json', pointer: '/uses/1', message: /no library named "iph-orders"/ },
      ];
    },
  ],
  [
    'an unknown member at the top of a service',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/colour', 'red'));
      return [{ file: PATIENT_VIEW, pointer: '', message: /unknown member "colour"/ }];
    },
  ],
  [
    'a missing required member of a card',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        pointer = `/cards/${cardIndex(d, 'iph-persistent-ida')}`;
        removeAt(d, `${pointer}/source`);
      });
      return [{ file: PATIENT_VIEW, pointer, message: /missing member "source"/ }];
    },
  ],
  [
    'a value outside an enum (hook)',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/hook', 'patient-open'));
      return [{ file: PATIENT_VIEW, pointer: '/hook', message: /must be one of.*patient-view/ }];
    },
  ],
  [
    'an obsolete indicator value (hard-stop)',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        pointer = `/cards/${cardIndex(d, 'iph-exclusion-workup')}/indicator`;
        setAt(d, pointer, 'hard-stop');
      });
      // The indicator is a oneOf (enum or {expression}), so ajv explains each branch at the same pointer.
      return [
        { file: PATIENT_VIEW, pointer, message: /must be one of.*info.*warning.*critical/ },
        { file: PATIENT_VIEW, pointer, message: /object|oneOf|schema/ },
      ];
    },
  ],
  [
    'a ValueSet with a bad status',
    (dir) => {
      editDoc(dir, COUGH_VALUE_SET, (d) => setAt(d, '/status', 'final'));
      // The value set is then not loaded, so the expressions naming it are reported too (wherever they are).
      return [
        { file: COUGH_VALUE_SET, pointer: '/status', message: /must be one of/ },
        { file: /\.json$/, pointer: /^\/(expressions|cards)\//, message: /unknown value set "cough"/ },
      ];
    },
  ],
  [
    'FHIRPath that does not parse',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/showEvaluation', '%iphDiagnosed.not() and ('));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/showEvaluation', message: /does not parse/ }];
    },
  ],
  [
    'an unknown function',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/showEvaluation', '%iphDiagnosed.frobnicate()'));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/showEvaluation', message: /unknown function frobnicate\(\)/ }];
    },
  ],
  [
    'a function that reaches the network (resolve)',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/showEvaluation', '%patient.link.other.resolve().exists()'));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/showEvaluation', message: /resolve\(\) is not allowed/ }];
    },
  ],
  [
    'an undefined %variable',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/showEvaluation', '%nosuchThing.exists()'));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/showEvaluation', message: /undefined variable %nosuchThing/ }];
    },
  ],
  [
    'a %variable used before the expression that defines it',
    (dir) => {
      editDoc(dir, IPH_LIBRARY, (d) => setAt(d, '/expressions/ageYearsNow', '%isChild'));
      return [{ file: IPH_LIBRARY, pointer: '/expressions/ageYearsNow', message: /undefined variable %isChild/ }];
    },
  ],
  [
    'from() with an unknown prefetch key',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/chestCtRecent', "from('imaging', 'chest-ct').usable()"));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/chestCtRecent', message: /from\(\) names no prefetch key.*"imaging"/ }];
    },
  ],
  [
    'from() with an unknown value set',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/chestCtRecent', "from('reports', 'chest-mri').usable()"));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/chestCtRecent', message: /unknown value set "chest-mri"/ }];
    },
  ],
  [
    'memberOf() with an unknown value set',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/suggestChestCt', "%pendingCodings.where(memberOf('chest-mri')).exists()"));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/suggestChestCt', message: /unknown value set "chest-mri"/ }];
    },
  ],
  [
    'memberOf() with an unknown full value-set url',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) =>
        setAt(d, '/expressions/suggestChestCt', "%pendingCodings.where(memberOf('http://example.org/ValueSet/none')).exists()"),
      );
      return [{ file: PATIENT_VIEW, pointer: '/expressions/suggestChestCt', message: /unknown value set "http:\/\/example.org\/ValueSet\/none"/ }];
    },
  ],
  [
    'memberOf() with a value set that is not a literal',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/suggestChestCt', '%pendingCodings.where(memberOf(%context.patientId)).exists()'));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/suggestChestCt', message: /needs a literal value-set/ }];
    },
  ],
  [
    'a card `when` naming no expression',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        pointer = `/cards/${cardIndex(d, 'iph-persistent-ida')}/when`;
        setAt(d, pointer, 'showNothing');
      });
      return [{ file: PATIENT_VIEW, pointer, message: /no expression named "showNothing"/ }];
    },
  ],
  [
    'a card indicator expression naming no expression',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        pointer = `/cards/${cardIndex(d, 'iph-evaluation')}/indicator/expression`;
        setAt(d, pointer, 'noIndicator');
      });
      return [{ file: PATIENT_VIEW, pointer, message: /no expression named "noIndicator"/ }];
    },
  ],
  [
    'a suggestion `when` naming no expression',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        const card = cardIndex(d, 'iph-evaluation');
        pointer = `/cards/${card}/suggestions/${suggestionWithWhen(d, card)}/when`;
        setAt(d, pointer, 'suggestNothing');
      });
      return [{ file: PATIENT_VIEW, pointer, message: /no expression named "suggestNothing"/ }];
    },
  ],
  [
    'an action `forEach` naming no expression',
    (dir) => {
      let pointer = '';
      editDoc(dir, ORDERS_LIBRARY, (d) => {
        const card = cardIndex(d, 'gluten-free-diet');
        const suggestions = getAt(d, `/cards/${card}/suggestions`) as { actions: { forEach?: string }[] }[];
        const s = suggestions.findIndex((x) => x.actions.some((a) => a.forEach !== undefined));
        const a = (suggestions[s]?.actions ?? []).findIndex((x) => x.forEach !== undefined);
        pointer = `/cards/${card}/suggestions/${s}/actions/${a}/forEach`;
        setAt(d, pointer, 'noDiets');
      });
      return [{ file: ORDERS_LIBRARY, pointer, message: /no expression named "noDiets"/ }];
    },
  ],
  [
    'an action naming an unknown template',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        const card = cardIndex(d, 'iph-evaluation');
        pointer = `/cards/${card}/suggestions/0/actions/0/template`;
        getAt(d, pointer);
        setAt(d, pointer, 'mriRequest');
      });
      return [{ file: PATIENT_VIEW, pointer, message: /no template named "mriRequest"/ }];
    },
  ],
  [
    'a card naming an unknown suggestion set',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        pointer = `/cards/${cardIndex(d, 'iph-exclusion-workup')}/suggestions`;
        expect(typeof getAt(d, pointer)).toBe('string');
        setAt(d, pointer, 'exclusionTestz');
      });
      return [{ file: PATIENT_VIEW, pointer, message: /no suggestion set named "exclusionTestz"/ }];
    },
  ],
  [
    'an expression name that repeats a library name',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/isChild', 'true'));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/isChild', message: /"isChild" is already defined/ }];
    },
  ],
  [
    'an expression name that repeats a prefetch key',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/observations', 'true'));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/observations', message: /"observations" is already defined/ }];
    },
  ],
  [
    'two cards with the same topic',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        const second = cardIndex(d, 'iph-alternative-cause');
        expect(second).toBeGreaterThan(cardIndex(d, 'iph-evaluation'));
        pointer = `/cards/${second}/topic/code`;
        setAt(d, pointer, 'iph-evaluation');
      });
      return [{ file: PATIENT_VIEW, pointer, message: /topic "iph-evaluation" is used by two cards/ }];
    },
  ],
  [
    'a text placeholder with an undefined variable',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        pointer = `/cards/${cardIndex(d, 'iph-persistent-ida')}/summary`;
        setAt(d, pointer, 'Iron deficiency persists: {{%nothingHere}}');
      });
      return [{ file: PATIENT_VIEW, pointer, message: /undefined variable %nothingHere/ }];
    },
  ],
  [
    'a resource-template placeholder with an undefined variable',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        setAt(d, '/templates/iphProblem/subject/reference', 'Patient/{{%nobody}}');
        const card = cardIndex(d, 'iph-criteria-met');
        pointer = `/cards/${card}/suggestions/0/actions/0/template(iphProblem)/subject/reference`;
      });
      return [{ file: PATIENT_VIEW, pointer, message: /undefined variable %nobody/ }];
    },
  ],
  [
    'a prefetch token that is not a root-level context field',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) =>
        setAt(d, '/prefetch', { encounter: { query: 'Encounter/{{context.encounter.id}}', required: false } }),
      );
      return [{ file: PATIENT_VIEW, pointer: '/prefetch/encounter/query', message: /\{\{context\.encounter\.id\}\} is not a CDS Hooks 2\.0 token/ }];
    },
  ],
  [
    'a pre-1.0 prefetch token ({{Patient.id}})',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/prefetch', { self: { query: 'Patient/{{Patient.id}}', required: false } }));
      return [{ file: PATIENT_VIEW, pointer: '/prefetch/self/query', message: /\{\{Patient\.id\}\} is not a CDS Hooks 2\.0 token/ }];
    },
  ],
  [
    'a FHIRPath prefetch token (3.0 ballot only)',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) =>
        setAt(d, '/prefetch', { recent: { query: 'Observation?patient={{context.patientId}}&date=ge{{today() - 90 days}}', required: false } }),
      );
      return [{ file: PATIENT_VIEW, pointer: '/prefetch/recent/query', message: /\{\{today\(\) - 90 days\}\} is not a CDS Hooks 2\.0 token/ }];
    },
  ],
  [
    'a library that is used but missing',
    (dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/uses', ['iph', 'iph-extra']));
      return [{ file: PATIENT_VIEW, pointer: '/uses/1', message: /no library named "iph-extra"/ }];
    },
  ],
  [
    'two libraries with the same name',
    (dir) => {
      writeDoc(dir, 'libraries/iph-copy.json', readDoc(dir, IPH_LIBRARY));
      return [{ file: IPH_LIBRARY, pointer: '/name', message: /library "iph" is defined twice/ }];
    },
  ],
  [
    'two value sets with the same url',
    (dir) => {
      const vs = readDoc(dir, COUGH_VALUE_SET);
      vs.id = 'cough-copy';
      writeDoc(dir, 'valuesets/ValueSet-zz-cough-copy.json', vs);
      return [{ file: 'valuesets/ValueSet-zz-cough-copy.json', pointer: '/url', message: /url already defined by valuesets\/ValueSet-cough.json/ }];
    },
  ],
  [
    'an expression that parses but throws when evaluated (dry run)',
    (dir) => {
      // String + Integer: fhirpath.js compiles it, then throws "Cannot convert a to a number" on evaluation.
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/showEvaluation', "'a' + 1 > 2"));
      return [{ file: PATIENT_VIEW, pointer: '/expressions/showEvaluation', message: /fails on an empty record/ }];
    },
  ],
  [
    'a template placeholder that parses but throws when evaluated (dry run)',
    (dir) => {
      let pointer = '';
      editDoc(dir, PATIENT_VIEW, (d) => {
        pointer = `/cards/${cardIndex(d, 'iph-persistent-ida')}/summary`;
        setAt(d, pointer, "Persistent iron deficiency {{today() > 5}}");
      });
      return [{ file: PATIENT_VIEW, pointer, message: /template expression fails on an empty record/ }];
    },
  ],
];

describe('one injected defect is reported with its file and JSON pointer', () => {
  test.each(DEFECTS)('%s', (_name, inject) => {
    const { issues, expected, registry } = checkWithDefect(inject);
    expect(registry).toBeUndefined();
    expectReported(issues, expected);
    expectOnly(issues, expected);
  });
});

describe('schema violations: every error at once', () => {
  test('two injected schema errors in different cards are both reported', () => {
    let first = '';
    let second = '';
    const { issues } = checkWithDefect((dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => {
        first = `/cards/${cardIndex(d, 'iph-evaluation')}`;
        second = `/cards/${cardIndex(d, 'celiac-screening')}`;
        setAt(d, `${first}/colour`, 'red');
        removeAt(d, `${second}/summary`);
      });
      return [];
    });
    expectReported(issues, [
      { file: PATIENT_VIEW, pointer: first, message: /unknown member "colour"/ },
      { file: PATIENT_VIEW, pointer: second, message: /missing member "summary"/ },
    ]);
    expect(issues).toHaveLength(2);
  });

  test('errors in different files are all reported in one run', () => {
    const { issues } = checkWithDefect((dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => setAt(d, '/expressions/showEvaluation', '%nosuchThing.exists()'));
      editDoc(dir, IPH_LIBRARY, (d) => setAt(d, '/expressions/isChild', 'iif(%ageYearsNow < 18, true, false).frobnicate()'));
      editDoc(dir, 'iph-order-sign.json', (d) => setAt(d, '/title', ''));
      return [];
    });
    expectReported(issues, [
      { file: PATIENT_VIEW, pointer: '/expressions/showEvaluation', message: /undefined variable %nosuchThing/ },
      { file: IPH_LIBRARY, pointer: '/expressions/isChild', message: /unknown function frobnicate/ },
      { file: 'iph-order-sign.json', pointer: '/title', message: /must not be empty/ },
    ]);
  });
});

describe('defects the checker must report rather than crash on', () => {
  // BUG (reported): buildValueSetIndex compiles the regex again after the check recorded the issue, and the
  // SyntaxError escapes checkDefinitions. Flip to `test` once fixed.
  test('a ValueSet regex filter that does not compile', () => {
    const { issues } = checkWithDefect((dir) => {
      editDoc(dir, COUGH_VALUE_SET, (d) => {
        const includes = getAt(d, '/compose/include') as { filter?: unknown[] }[];
        const i = includes.findIndex((inc) => Array.isArray(inc.filter));
        setAt(d, `/compose/include/${i}/filter/0/value`, 'R05(\\..*');
      });
      return [];
    });
    expect(issues.some((i) => i.file === COUGH_VALUE_SET && /^\/compose\/include\/\d+\/filter\/0\/value$/.test(i.pointer) && /regex does not compile/.test(i.message))).toBe(true);
  });

  test('the regex check itself locates the bad filter (checked through the thrown error today)', () => {
    const dir = copyDefinitions();
    editDoc(dir, COUGH_VALUE_SET, (d) => {
      const includes = getAt(d, '/compose/include') as { filter?: unknown[] }[];
      const i = includes.findIndex((inc) => Array.isArray(inc.filter));
      setAt(d, `/compose/include/${i}/filter/0/value`, 'R05(\\..*');
    });
    // Whatever the outcome, the server must not start with this tree.
    expect(() => loadRegistry(dir)).toThrow();
  });

  // BUG (reported): compileText throws on a placeholder that does not parse and nothing catches it in
  // compileCards, so checkDefinitions throws fhirpath.js's parser error instead of listing an issue.
  test('a text placeholder that does not parse', () => {
    let pointer = '';
    const { issues } = checkWithDefect((dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => {
        pointer = `/cards/${cardIndex(d, 'iph-persistent-ida')}/summary`;
        setAt(d, pointer, 'Iron deficiency persists {{%isChild and (}}');
      });
      return [];
    });
    expectReported(issues, [{ file: PATIENT_VIEW, pointer, message: /does not (parse|compile)/ }]);
  });

  test('a resource-template placeholder that does not parse is reported', () => {
    let pointer = '';
    const { issues } = checkWithDefect((dir) => {
      editDoc(dir, PATIENT_VIEW, (d) => {
        setAt(d, '/templates/iphProblem/recordedDate', '{{now( }}');
        pointer = `/cards/${cardIndex(d, 'iph-criteria-met')}/suggestions/0/actions/0/resource`;
      });
      return [];
    });
    expectReported(issues, [{ file: PATIENT_VIEW, pointer, message: /template FHIRPath does not compile/ }]);
  });

  // BUG (reported): placeholders of cards defined in a library are checked after the fact with the *service*
  // file name, so the issue points at e.g. iph-order-sign.json#/cards/0/summary, a card that file does not have.
  test('a placeholder defect in a library card names the library file', () => {
    let pointer = '';
    const { issues } = checkWithDefect((dir) => {
      editDoc(dir, ORDERS_LIBRARY, (d) => {
        pointer = `/cards/${cardIndex(d, 'thiopurine-pharmacogenomics')}/summary`;
        setAt(d, pointer, 'TPMT and NUDT15 {{%nothingHere}}');
      });
      return [];
    });
    expect(issues.length).toBeGreaterThan(0);
    for (const issue of issues) expect({ file: issue.file, pointer: issue.pointer }).toEqual({ file: ORDERS_LIBRARY, pointer });
  });
});

describe('loadRegistry and formatIssue', () => {
  test('formatIssue prints file#pointer: message, "/" for the document root', () => {
    expect(formatIssue({ file: 'a.json', pointer: '/cards/0/when', message: 'no expression named "x"' })).toBe('a.json#/cards/0/when: no expression named "x"');
    expect(formatIssue({ file: 'a.json', pointer: '', message: 'not valid JSON' })).toBe('a.json#/: not valid JSON');
  });

  test('loadRegistry throws a DefinitionsError that lists every issue', () => {
    const dir = copyDefinitions();
    editDoc(dir, PATIENT_VIEW, (d) => {
      setAt(d, '/expressions/showEvaluation', '%nosuchThing.exists()');
      setAt(d, `/cards/${cardIndex(d, 'iph-persistent-ida')}/when`, 'showNothing');
    });
    let error: unknown;
    try {
      loadRegistry(dir);
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(DefinitionsError);
    const issues = (error as DefinitionsError).issues;
    expect(issues.length).toBeGreaterThanOrEqual(2);
    const message = (error as DefinitionsError).message;
    expect(message).toContain(`${issues.length} issue(s)`);
    for (const issue of issues) expect(message).toContain(formatIssue(issue));
    expect(message).toContain(`${PATIENT_VIEW}#/expressions/showEvaluation: undefined variable %nosuchThing`);
    expect(message).toMatch(/iph-patient-view\.json#\/cards\/\d+\/when: no expression named "showNothing"/);
  });

  test('loadRegistry returns the registry for the real tree', () => {
    const registry = loadRegistry(DEFINITIONS);
    expect(registry.services.get('iph-patient-view')?.hook).toBe('patient-view');
    expect(registry.valueSets.has('https://iph-cds.dev/fhir/ValueSet/cough')).toBe(true);
  });
});

describe('compiled `npm run check` (dist/check.js)', () => {
  // Built with the project's tsc into a scratch folder laid out like the repository (dist/ next to
  // cds-services/ and node_modules/), so the shared dist/ of other sessions is left alone.
  let sandbox = '';
  let checkScript = '';

  beforeAll(() => {
    sandbox = fs.mkdtempSync(path.join(os.tmpdir(), 'iph-check-'));
    tempDirs.push(sandbox);
    fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(sandbox, 'node_modules'), 'dir');
    fs.symlinkSync(DEFINITIONS, path.join(sandbox, 'cds-services'), 'dir');
    const tsc = require.resolve('typescript/bin/tsc');
    // tsc emits even when another session's file has a type error; only a missing check.js is fatal here.
    spawnSync(process.execPath, [tsc, '-p', path.join(ROOT, 'tsconfig.build.json'), '--outDir', path.join(sandbox, 'dist')], { cwd: ROOT, encoding: 'utf8' });
    checkScript = path.join(sandbox, 'dist', 'check.js');
    if (!fs.existsSync(checkScript)) throw new Error('tsc did not emit check.js');
  }, 120_000);

  function runCheck(dir?: string): { status: number | null; stdout: string; stderr: string } {
    const r = spawnSync(process.execPath, dir ? [checkScript, dir] : [checkScript], { cwd: sandbox, encoding: 'utf8', timeout: 60_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  }

  test('prints OK and exits 0 on the real definitions (default folder)', () => {
    const r = runCheck();
    expect(r.stderr).toBe('');
    expect(r.stdout).toMatch(/^OK: 3 service\(s\)/);
    expect(r.stdout).toContain('iph-patient-view');
    expect(r.status).toBe(0);
  }, 60_000);

  test('prints one file#pointer line per issue and exits 1', () => {
    const dir = copyDefinitions();
    let cardPointer = '';
    editDoc(dir, PATIENT_VIEW, (d) => {
      setAt(d, '/expressions/showEvaluation', '%nosuchThing.exists()');
      cardPointer = `/cards/${cardIndex(d, 'iph-persistent-ida')}/when`;
      setAt(d, cardPointer, 'showNothing');
    });
    const r = runCheck(dir);
    expect(r.status).toBe(1);
    const lines = r.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^\d+ issue\(s\) in /);
    expect(lines.slice(1)).toEqual(
      expect.arrayContaining([
        'iph-patient-view.json#/expressions/showEvaluation: undefined variable %nosuchThing',
        `iph-patient-view.json#${cardPointer}: no expression named "showNothing"`,
      ]),
    );
    for (const line of lines.slice(1)) expect(line).toMatch(/^[\w./-]+\.json#\/\S*: .+/);
  }, 60_000);
});
