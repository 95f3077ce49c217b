// compileFhirPath on its own: each FHIRPath feature the rules rely on gives fhirpath.js's result (values and
// errors), a few results are also pinned outright, user functions are called directly, and constructs outside the
// compiled subset are refused at compile time so the caller can fall back to fhirpath.js.
import fhirpath from 'fhirpath';
import r4 from 'fhirpath/fhir-context/r4';
import { compileFhirPath, UnsupportedFhirPath, type FunctionTable } from '../src/fhirpath/compiler';
import { plain } from './helpers/fhirpath-engines';

const UCUM = 'http://unitsofmeasure.org';
const hb = (id: string, value: number | undefined, code: string | undefined, date: string | undefined, extra: Record<string, unknown> = {}) => ({
  resourceType: 'Observation',
  id,
  status: 'final',
  code: { coding: [{ system: 'http://loinc.org', code: '718-7', display: 'Hemoglobin' }, { code: 'local-hb' }], text: 'Hb' },
  ...(value === undefined ? {} : { valueQuantity: { value, unit: code, system: code ? UCUM : undefined, code } }),
  ...(date === undefined ? {} : { effectiveDateTime: date }),
  ...extra,
});

const patient = {
  resourceType: 'Patient',
  id: 'p1',
  birthDate: '2015-06',
  gender: 'female',
  name: [{ given: ['Ana', 'María'], family: 'López' }, { given: ['Annie'] }],
  extension: [{ url: 'http://example.org/ext/a', valueString: 'x' }, { url: 'http://example.org/ext/b', valueInteger: 3 }],
  _gender: { extension: [{ url: 'http://example.org/ext/why', valueCode: 'self' }] },
};

const observations = [
  hb('o1', 9.5, 'g/dL', '2024-03-01T08:00:00+01:00'),
  hb('o2', 120, 'g/L', '2024-03'),
  hb('o3', 7.1, 'mmol/L', '2024-03-05'),
  hb('o4', undefined, undefined, undefined, { valueString: 'hemolysed', status: 'cancelled' }),
  hb('o5', 11, undefined, '2024-03-06T23:30:00Z'),
  hb('o6', 10, 'g/dL', '2024-03-07T00:15:00.250-08:00', { valueQuantity: { value: 10, comparator: '<', system: UCUM, code: 'g/dL' } }),
];

// Fresh per evaluation and built in this realm: fhirpath.js tests `instanceof Array`, which structuredClone's arrays fail under jest.
const makeVars = () => ({
  obs: observations,
  // Same Type/id as %obs members: one an identical copy (equal), one with another value (not equal); and id-less twins.
  twins: [hb('o1', 9.5, 'g/dL', '2024-03-01T08:00:00+01:00'), hb('o2', 121, 'g/L', '2024-03'), { resourceType: 'Observation', status: 'final' }, { resourceType: 'Observation', status: 'final' }],
  empty: [],
  numbers: [3, 1, 2, 2],
  words: ['alpha', 'Beta', 'gamma'],
  when: '2024-03-04',
  limit: 7,
});
const vars = makeVars();

const EXPRESSIONS = [
  // paths, choice types, primitive extensions, type names at the root
  'Patient.name.given',
  'name.where(given.count() > 1).family',
  'Patient.gender.extension.url',
  'extension.where(url = \'http://example.org/ext/b\').value',
  "extension('http://example.org/ext/a').value",
  'birthDate',
  'Observation.value',
  '%obs.value',
  '%obs.value.ofType(Quantity).value',
  '%obs.value.ofType(string)',
  '%obs.effective',
  '%obs.select(value is Quantity)',
  '%obs.where(value as Quantity > 10 \'g/dL\').id',
  '%obs.code.coding.system',
  '%obs.code.coding.where(system.empty()).code',
  '%obs.code.coding.where(system = \'http://loinc.org\').code.distinct()',
  // existence and filtering
  '%obs.exists()', '%empty.exists()', '%obs.exists(status = \'cancelled\')', '%obs.all(status = \'final\')', '%empty.all(false)',
  '%obs.empty()', '%empty.empty()', '%obs.first().id', '%obs.last().id', '%obs.count()', '%obs.tail().count()',
  '%obs.skip(2).take(2).id', '%obs[1].id', '%obs[10]', '%numbers.distinct()', '%numbers.isDistinct()', '%obs.single()',
  '%obs.where($this.status = \'final\').select($index)', '%obs.select(id & \':\' & $index.toString())',
  // combining
  '%numbers.combine(%numbers).count()', '%numbers.union(%numbers)', '%numbers | %words', '%numbers.intersect(2 | 3)', '%numbers.exclude(2)',
  '(%obs | %obs).id', '(%obs.where(id = \'o1\') | %obs.where(id = \'o2\')).id', '%obs.distinct().id', '%obs.union(%twins).count()',
  '(%obs | %twins).value.value', '%twins.distinct().count()', '(%twins | %context).count()', '(%obs.first() | %obs.first().code).count()',
  '%obs.exclude(%obs.first()).count()', '(1 | 2).subsetOf(%numbers)', '%numbers.supersetOf(4)',
  // logic, three-valued, with empty
  'true and {}', 'false and {}', '{} and {}', 'true or {}', 'false or {}', '{} or true', 'true xor false', '{} implies false', 'false implies {}',
  'true implies {}', '{}.not()', 'true.not()', '(1 = 1).not()', '%empty.exists().not() and %obs.exists()', "iif(%empty.exists(), 'a', 'b')", "iif({}, 'a')",
  "iif(%obs.count() > 3, %obs.count(), 'few')",
  // equality and equivalence
  '1 = 1', '1 = 1.0', "'a' = 'A'", "'a' ~ 'A'", "'a b' ~ 'A  B'", '{} = 1', '1 != {}', '%numbers = %numbers', '(1 | 2) = (2 | 1)', '(1 | 2) ~ (2 | 1)',
  '%obs.first().code = %obs.last().code', '%obs.first().code ~ %obs[1].code', '1 ~ {}', '{} ~ {}',
  // numbers and arithmetic
  '1 + 2 * 3', '7 / 2', '7 div 2', '7 mod 2', '-%limit + 1', '2.50 + 0.5', '10 / 0', '1.5.round()', '2.345.round(2)', '(-2.5).abs()', '%numbers.sum()',
  '%numbers.min()', '%numbers.max()', '%numbers.avg()', "'1.5'.toDecimal() + 1", "'3'.toInteger()", '3.toString()', '0.1 + 0.2', '1L + 2L',
  // dates, times, partial precision, offsets, arithmetic
  '@2024-03-01 < @2024-03-02', '@2024-03 = @2024-03-15', '@2024-03 < @2024-04-15', '@2024 = @2024', '@2024-03-01T10:00:00+01:00 = @2024-03-01T09:00:00Z',
  '@2024-03-01T10:00 < @2024-03-01T10:00:30', '@2024-03-01 = @2024-03-01T00:00:00Z', '@T10:30 < @T11', '@2024-01-31 + 1 month', '@2024-03-01 - 30 days',
  '@2024-03-01T00:00:00Z + 36 hours', '@2024-03-01 - 1 year', '%obs.effective > @2024-03-02', '%obs.where(effective >= @2024-03-01T12:00:00Z).id',
  '%obs.where(effective < %when.toDate()).id', '%obs.effective.ofType(dateTime) ~ @2024-03', '@2024-02-29 + 1 year', '@2024-03-01.yearOf()',
  '(@2024-03-01T10:00:00+05:30).toString()', "'2024-03-01'.toDateTime() = @2024-03-01", '%obs.effective.toString()',
  // quantities: UCUM conversion, calendar units, inconvertible units, comparators
  "%obs[0].value > 90 'g/L'", "%obs[1].value = 12 'g/dL'", "%obs[1].value ~ 12 'g/dL'", "%obs[2].value > 1 'g/dL'", "%obs.value.where($this > 100 'g/L')",
  "10 'mg' + 1 'g'", "1 'g' = 1000 'mg'", "4 days = 96 hours", "1 year = 12 months", "1 'wk' = 7 days", "%obs[4].value > 1 'g/dL'",
  "(5 'mg' * 2).value", "%obs.value.ofType(Quantity).where(code = 'g/dL').value", "'5 mg'.toQuantity() = 5 'mg'", "1 'cm' < 1 'in'",
  // strings
  "'abc'.startsWith('ab')", "'abc'.endsWith('bc')", "'abc'.contains('x')", "'Hemoglobin'.lower()", "'x'.upper() & {}", "'x' + 'y'", "'x' + {}",
  "'a,b,c'.split(',').count()", "%words.join('-')", "'hello'.substring(1, 3)", "'hello'.indexOf('l')", "'  pad '.trim().length()",
  "'Hb 9.5'.matches('[0-9]+\\\\.[0-9]')", "'abc'.replace('b', 'B')", "'a1b2'.replaceMatches('[0-9]', '#')", "%words.where($this.matches('^[A-Z]'))",
  "%obs.code.text.first() in ('Hb' | 'Ferritin')", "%words contains 'gamma'", "'\\u00e9t\\u00e9'.length()", "'it\\'s'",
  // variables, $this, defineVariable scoping
  '%limit + 1', '%`limit`', '%context.id', '%ucum', "defineVariable('n', 2).select(%n * 3)", "defineVariable('n', %numbers).select(%n.count())",
  "%obs.select(defineVariable('v', value).select(%v)).count()", "(defineVariable('a', 1).select(%a)) | (defineVariable('a', 2).select(%a))",
  '%obs.where(value.exists() and $this.status = \'final\').count()', '%obs.select($this.id).first()',
  // types
  '1 is Integer', '1.0 is Decimal', "'x' is String", '%obs.first() is Observation', '%obs.value.first() is Quantity', '%obs.first().type().name',
  'birthDate is date', "%obs.first().as(Observation).id", '{} is Integer',
];

function reference(expression: string, base: unknown): unknown {
  try {
    return { value: plain(fhirpath.evaluate(base as never, expression, makeVars(), r4 as never, { resolveInternalTypes: false } as never)) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

function compiled(expression: string, base: unknown): unknown {
  try {
    return { value: plain(compileFhirPath(expression, { model: r4 }).evaluate(base, makeVars())) };
  } catch (e) {
    return { error: e instanceof Error ? e.message : String(e) };
  }
}

describe('compiled results equal fhirpath.js results', () => {
  test.each(EXPRESSIONS)('%s', (expression) => {
    expect(compiled(expression, patient)).toEqual(reference(expression, patient));
  });

  test('on a collection as the input, and on no input at all', () => {
    for (const e of ['Observation.id', 'value.ofType(Quantity).value', 'count()', '$this.count()', 'where(status = \'final\').id', 'exists()']) {
      expect(compiled(e, observations)).toEqual(reference(e, observations));
      expect(compiled(e, [])).toEqual(reference(e, []));
    }
  });
});

describe('pinned results', () => {
  const run = (expression: string, base: unknown = patient) => plain(compileFhirPath(expression, { model: r4 }).evaluate(base, makeVars()));

  test('empty propagates through comparison and arithmetic; and/or are three-valued', () => {
    expect(run('{} = 1')).toEqual([]);
    expect(run('%empty.count() + 1')).toEqual([1]);
    expect(run('%empty.first() + 1')).toEqual([]);
    expect(run('false and {}')).toEqual([false]);
    expect(run('true and {}')).toEqual([]);
    expect(run('true or {}')).toEqual([true]);
    expect(run('{} implies false')).toEqual([]);
  });

  test('dates of different precision are not comparable: empty, not false', () => {
    expect(run('@2024-03 = @2024-03-15')).toEqual([]);
    expect(run('@2024-03 < @2024-04-15')).toEqual([true]);
    expect(run('@2024-03-01T10:00:00+01:00 = @2024-03-01T09:00:00Z')).toEqual([true]);
  });

  test('choice types: value[x] is read by its model type', () => {
    expect(run('%obs.value.ofType(Quantity).value')).toEqual([9.5, 120, 7.1, 11, 10]);
    expect(run('%obs.value.ofType(string)')).toEqual(['hemolysed']);
  });

  test('UCUM conversion between commensurable units; mass and molar units do not compare', () => {
    expect(run("%obs[1].value = 12 'g/dL'")).toEqual([true]);
    expect(run("%obs[0].value > 90 'g/L'")).toEqual([true]);
    expect(run("%obs[2].value > 1 'g/dL'")).toEqual([]);
  });

  test('defineVariable names stay inside the subexpression that defines them', () => {
    expect(run("(defineVariable('a', 1).select(%a)) | (defineVariable('a', 2).select(%a))")).toEqual([1, 2]);
    expect(() => run("defineVariable('limit', 1)")).toThrow('already defined');
    expect(() => run('%undefinedName')).toThrow('undefined environment variable: undefinedName');
  });

  test('a variable is read once per variables object; raw resources are wrapped, nodes used as they are', () => {
    const finals = compileFhirPath("%obs.where(status = 'final')", { model: r4 }).evaluate(patient, makeVars());
    let reads = 0;
    const withGetter = () => Object.defineProperty(makeVars(), 'finals', { get: () => (reads++, finals), enumerable: true });
    const shared = withGetter();
    const count = compileFhirPath('%finals.count() + %finals.where(%finals.count() > 0).count()', { model: r4 });
    expect(plain(count.evaluate(patient, shared))).toEqual([2 * finals.length]);
    expect(reads).toBe(1);
    // Another expression on the same object reads nothing again, and gets the same nodes.
    const again = compileFhirPath('%finals', { model: r4 }).evaluate(patient, shared);
    expect(reads).toBe(1);
    again.forEach((node, i) => expect(node).toBe(finals[i]));
    // Another object is read afresh, and so is an object merged with default variables (new on each evaluation).
    expect(plain(count.evaluate(patient, withGetter()))).toEqual([2 * finals.length]);
    expect(reads).toBe(2);
    const withDefaults = compileFhirPath('%finals.count()', { model: r4, variables: { limit: 1 } });
    withDefaults.evaluate(patient, shared);
    withDefaults.evaluate(patient, shared);
    expect(reads).toBe(4);
    // Raw resources in a variable become nodes: their model types resolve (value[x] by type).
    expect(run('%obs.value.ofType(Quantity).count()')).toEqual([5]);
  });

  test('default variables apply unless the call gives its own', () => {
    const c = compileFhirPath('%a + %b', { model: r4, variables: { a: 1, b: 2 } });
    expect(plain(c.evaluate({}, { b: 10 }))).toEqual([11]);
    expect(plain(c.evaluate({}))).toEqual([3]);
  });
});

describe('user functions', () => {
  test('are called directly with the focus, evaluated parameters, and a context exposing the variables', () => {
    const seen: unknown[] = [];
    const functions: FunctionTable = {
      twice: {
        fn: function (this: { vars: Record<string, unknown> }, inputs: unknown[], times: number) {
          seen.push({ limit: this.vars.limit, inputs: inputs.length, times: Number(times) });
          return inputs.flatMap((i) => Array.from({ length: Number(times) }, () => i));
        } as never,
        arity: { 1: ['Integer'] },
        internalStructures: true,
      },
      // Without internalStructures, fhirpath.js hands plain values instead of its nodes: the compiler does too.
      ids: { fn: ((inputs: { id?: string }[]) => inputs.map((i) => i.id)) as never },
    };
    const c = compileFhirPath('%obs.take(2).twice(2).count() + %obs.ids().count()', { model: r4, functions });
    expect(plain(c.evaluate(patient, vars))).toEqual([10]);
    expect(seen).toEqual([{ limit: 7, inputs: 2, times: 2 }]);
  });

  test('override built-in functions of the same name', () => {
    const functions: FunctionTable = { count: { fn: (() => [42]) as never } };
    expect(plain(compileFhirPath('%obs.count()', { model: r4, functions }).evaluate(patient, vars))).toEqual([42]);
  });
});

describe('constructs outside the compiled subset', () => {
  test.each(['%obs.sort(id)', '%numbers.aggregate($total + $this, 0)', "%obs.trace('x')", "%obs.first().resolve()", 'Coding { code: \'x\' }', 'unknownFunction()'])(
    '%s is refused at compile time',
    (expression) => {
      expect(() => compileFhirPath(expression, { model: r4 })).toThrow(UnsupportedFhirPath);
    },
  );

  test('syntax errors are fhirpath.js parse errors, not UnsupportedFhirPath', () => {
    let error: unknown;
    try {
      compileFhirPath('%obs.where(', { model: r4 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(Error);
    expect(error).not.toBeInstanceOf(UnsupportedFhirPath);
  });
});
