// Text and resource templates (src/evaluation/templates.ts): list lines repeat per value and vanish when empty, inline
// values are joined with ", ", values read as card text (quantities, dates, resources as evidence lines);
// resource templates insert whole values, drop empty members, and copy-and-append with $base/$append.
import { createVariables, type RequestScope } from '../src/fhirpath/scope';
import { type CompiledExpression } from '../src/fhirpath/runtime';
import { buildRecordIndex } from '../src/evaluation/record-index';
import { compileText, compileValue, renderText, renderValue, type Evaluate, type TemplateExpression } from '../src/evaluation/templates';
import { runtime, valueSets } from './helpers/runtime';

type Json = Record<string, unknown>;

const NOW = Date.parse('2026-06-15T12:00:00.000Z');
const LOINC = 'http://loinc.org';

function evaluator(vars: Record<string, unknown>, context: Json = { patientId: 'pat-1' }): Evaluate {
  const scope: RequestScope = { now: NOW, index: buildRecordIndex({}, valueSets), referenceable: new Map() };
  const all = createVariables(scope, vars);
  return (expr: CompiledExpression) => expr.evaluate(context, all);
}

function text(template: string | string[], vars: Record<string, unknown> = {}): string {
  return renderText(compileText(template, runtime, '/t'), evaluator(vars));
}

function value(template: unknown, vars: Record<string, unknown> = {}): unknown {
  const found: TemplateExpression[] = [];
  return renderValue(compileValue(template, runtime, '/r', found), evaluator(vars));
}

const hemoglobin = {
  resourceType: 'Observation',
  id: 'hb',
  status: 'final',
  code: { coding: [{ system: LOINC, code: '718-7', display: 'Hemoglobin [Mass/volume] in Blood' }], text: 'Hemoglobin' },
  valueQuantity: { value: 8.2, unit: 'g/dL', system: 'http://unitsofmeasure.org', code: 'g/dL' },
  interpretation: [{ coding: [{ system: 'http://terminology.hl7.org/CodeSystem/v3-ObservationInterpretation', code: 'L' }] }],
  effectiveDateTime: '2026-05-28T09:30:00Z',
};

const iphCondition = {
  resourceType: 'Condition',
  id: 'iph',
  code: { coding: [{ system: 'http://hl7.org/fhir/sid/icd-10-cm', code: 'J84.03', display: 'Idiopathic pulmonary hemosiderosis' }] },
  onsetDateTime: '2026-02-20',
};

describe('text templates: list lines', () => {
  test('a line that is only a placeholder (after a bullet) repeats per value', () => {
    expect(text(['Missing:', '- {{%groups}}', 'End.'], { groups: ['ANCA', 'Anti-GBM antibody', 'Cardiac'] })).toBe('Missing:\n- ANCA\n- Anti-GBM antibody\n- Cardiac\nEnd.');
  });

  test('numbered and star bullets, and a bare placeholder line, repeat too', () => {
    expect(text(['1. {{%x}}'], { x: ['a', 'b'] })).toBe('1. a\n1. b');
    expect(text(['* {{%x}}'], { x: ['a', 'b'] })).toBe('* a\n* b');
    expect(text(['  - {{%x}}'], { x: ['a'] })).toBe('- a');
    expect(text(['Head', '{{%x}}', 'Tail'], { x: ['a', 'b'] })).toBe('Head\na\nb\nTail');
  });

  test('a list line with no value vanishes, and the blank lines around it collapse', () => {
    expect(text(['Missing:', '- {{%groups}}', 'End.'], { groups: [] })).toBe('Missing:\nEnd.');
    expect(text(['Intro.', '', '- {{%none}}', '', 'Source.'], { none: [] })).toBe('Intro.\n\nSource.');
    expect(text(['{{iif(false, \'Heading\', {})}}', '- {{%none}}', '', 'Body.'], { none: [] })).toBe('Body.');
  });

  test('empty strings and nulls are not lines', () => {
    expect(text(['- {{%x}}'], { x: ['a', '', 'b'] })).toBe('- a\n- b');
  });
});

describe('text templates: inline values', () => {
  test('several values are joined with ", "', () => {
    expect(text('Groups: {{%groups}}.', { groups: ['ANCA', 'Lupus', 'Renal'] })).toBe('Groups: ANCA, Lupus, Renal.');
  });

  test('several placeholders on one line; an empty one renders as nothing', () => {
    expect(text('{{%a}} and {{%b}}; {{%none}}!', { a: ['x'], b: [1, 2], none: [] })).toBe('x and 1, 2; !');
  });

  test('text without placeholders is kept as is (Markdown included)', () => {
    expect(text(['**Bold** _it_ [link](https://example.org)', '- plain bullet'])).toBe('**Bold** _it_ [link](https://example.org)\n- plain bullet');
  });

  test('numbers without float noise, booleans as yes/no, counts', () => {
    expect(text('Values: {{%n}} / {{%f}} / {{%t}} / {{%list.count()}}.', { n: [12.1], f: [0.1 + 0.2], t: [true], list: ['a', 'b', 'c'] })).toBe('Values: 12.1 / 0.3 / yes / 3.');
  });

  // BUG (reported): LIST_LINE's lazy `{{(...)}}` anchored at both ends swallows `}} ... {{`, so a line that starts
  // with one placeholder and ends with another is compiled as ONE expression ("%a}} and {{%b") and throws.
  test('a line that starts and ends with placeholders is two inline placeholders', () => {
    expect(text('{{%a}} and {{%b}}', { a: ['x'], b: ['y', 'z'] })).toBe('x and y, z');
  });

  test('a resource member that starts and ends with placeholders is text, not one whole placeholder', () => {
    expect(value({ resourceType: 'X', id: '{{%a}}-{{%b}}' }, { a: ['p'], b: ['q'] })).toEqual({ resourceType: 'X', id: 'p-q' });
  });

  test('FHIRPath string operations inside a placeholder', () => {
    expect(text("{{%names.join('; ')}}", { names: ['a', 'b'] })).toBe('a; b');
    expect(text("{{iif(%flag, 'shown', {})}}", { flag: [true] })).toBe('shown');
  });
});

describe('text templates: how values read', () => {
  test('a quantity reads as "12.1 g/dL" (unit, else code; comparator kept)', () => {
    expect(text('Hb {{%o.valueQuantity}}', { o: [{ ...hemoglobin, valueQuantity: { value: 12.1, unit: 'g/dL' } }] })).toBe('Hb 12.1 g/dL');
    expect(text('Hb {{%o.valueQuantity}}', { o: [{ ...hemoglobin, valueQuantity: { value: 12.1, system: 'http://unitsofmeasure.org', code: 'g/dL' } }] })).toBe('Hb 12.1 g/dL');
    expect(text('CRP {{%q}}', { q: [{ value: 5, comparator: '<', unit: 'mg/L' }] })).toBe('CRP <5 mg/L');
    expect(text('{{%q}}', { q: [{ value: 12.100000001, unit: 'g/dL' }] })).toBe('12.1 g/dL');
  });

  test('a FHIRPath quantity literal reads the same way', () => {
    expect(text("{{12.1 'g/dL'}}")).toBe('12.1 g/dL');
  });

  test('date-times read as YYYY-MM-DD; dates stay as written', () => {
    expect(text('on {{%o.effectiveDateTime}}', { o: [hemoglobin] })).toBe('on 2026-05-28');
    expect(text('on {{%o.clinicalDate()}}', { o: [hemoglobin] })).toBe('on 2026-05-28');
    expect(text('as of {{now()}}')).toBe('as of 2026-06-15');
    expect(text('onset {{%c.onsetDateTime}}', { c: [iphCondition] })).toBe('onset 2026-02-20');
    expect(text('{{%s}}', { s: ['2026-05-28T09:30:00+02:00'] })).toBe('2026-05-28');
  });

  test('resources read as evidence lines', () => {
    expect(text(['- {{%evidence}}'], { evidence: [hemoglobin, iphCondition] })).toBe('- Hemoglobin: 8.2 g/dL (L) on 2026-05-28\n- Idiopathic pulmonary hemosiderosis (2026-02-20)');
  });

  test('evidence lines of other types', () => {
    const procedure = { resourceType: 'Procedure', status: 'completed', code: { coding: [{ system: 'http://snomed.info/sct', code: '397397002', display: 'Bronchoscopy and bronchoalveolar lavage' }] }, performedDateTime: '2026-02-19' };
    const undated = { resourceType: 'Observation', status: 'final', code: { text: 'ANA' }, valueString: 'negative' };
    const report = { resourceType: 'DiagnosticReport', status: 'final', code: { text: 'CT chest' }, conclusionCode: [{ text: 'Ground-glass opacities' }], effectiveDateTime: '2026-03-01' };
    const order = { resourceType: 'ServiceRequest', status: 'active', code: { text: 'Echocardiogram' }, authoredOn: '2026-06-01' };
    expect(text(['- {{%r}}'], { r: [procedure, undated, report, order] })).toBe(
      '- Bronchoscopy and bronchoalveolar lavage on 2026-02-19\n- ANA: negative (undated)\n- CT chest: Ground-glass opacities on 2026-03-01\n- Echocardiogram: ordered (2026-06-01)',
    );
  });

  test('codings read as their display, concepts as their text', () => {
    expect(text('{{%c}}', { c: [{ system: LOINC, code: '718-7', display: 'Hemoglobin' }] })).toBe('Hemoglobin');
    expect(text('{{%c}}', { c: [{ coding: [{ system: LOINC, code: '718-7', display: 'Hb' }], text: 'Hemoglobin' }] })).toBe('Hemoglobin');
  });
});

describe('resource templates', () => {
  const serviceRequest = {
    resourceType: 'ServiceRequest',
    status: 'draft',
    intent: 'order',
    code: { coding: ['{{%code}}'], text: '{{%text}}' },
    subject: { reference: 'Patient/{{%context.patientId}}' },
    note: [{ text: '{{%note}}' }],
    authoredOn: '{{now()}}',
  };
  const code = { system: LOINC, code: '2276-4', display: 'Ferritin [Mass/volume] in Serum or Plasma' };

  test('a whole placeholder inserts the value itself (an object), text placeholders interpolate', () => {
    const r = value(serviceRequest, { code: [code], text: ['Ferritin'], note: ['Fasting'] }) as Json;
    expect(r).toEqual({
      resourceType: 'ServiceRequest',
      status: 'draft',
      intent: 'order',
      code: { coding: [code], text: 'Ferritin' },
      subject: { reference: 'Patient/pat-1' },
      note: [{ text: 'Fasting' }],
      authoredOn: new Date(NOW).toISOString(),
    });
  });

  test('members that render empty are dropped, up the tree (no null, "", {} or [])', () => {
    const r = value(serviceRequest, { code: [code], text: [], note: [] }) as Json;
    expect(r).not.toHaveProperty('note');
    expect(r.code).toEqual({ coding: [code] });
    const none = value({ resourceType: 'Condition', code: { coding: ['{{%nothing}}'], text: '{{%nothing}}' }, evidence: [{ detail: ['{{%nothing}}'] }] }, { nothing: [] });
    expect(none).toEqual({ resourceType: 'Condition' });
  });

  test('a whole placeholder keeps the value’s type; several values become a list', () => {
    expect(value({ resourceType: 'X', n: '{{%n}}', b: '{{%b}}', list: '{{%many}}' }, { n: [3], b: [false], many: ['a', 'b'] })).toEqual({ resourceType: 'X', n: 3, b: false, list: ['a', 'b'] });
  });

  // BUG (reported): toPlain copies an FP_Quantity's value, which fhirpath.js 5 holds as an FP_Decimal_Native object,
  // so a quantity literal inserted whole becomes {value: {<decimal internals>}, unit} instead of a FHIR Quantity.
  test('a FHIRPath quantity inserted whole is a plain {value, unit}', () => {
    expect(value({ resourceType: 'X', q: "{{12.1 'g/dL'}}" })).toEqual({ resourceType: 'X', q: { value: 12.1, unit: 'g/dL' } });
  });

  test('in an array, a whole placeholder spreads its values', () => {
    expect(value({ resourceType: 'X', coding: ['{{%codes}}', { code: 'literal' }] }, { codes: [{ code: 'a' }, { code: 'b' }] })).toEqual({ resourceType: 'X', coding: [{ code: 'a' }, { code: 'b' }, { code: 'literal' }] });
  });

  test('the inserted object is a copy: rendering cannot change the data it came from', () => {
    const source = { ...code };
    const r = value({ resourceType: 'X', c: '{{%c}}' }, { c: [source] }) as { c: Json };
    expect(r.c).toEqual(source);
    expect(r.c).not.toBe(source);
  });

  test('literals (numbers, booleans, strings without placeholders) are kept', () => {
    expect(value({ resourceType: 'X', a: 1, b: true, c: 'plain', d: [1, 'two'] })).toEqual({ resourceType: 'X', a: 1, b: true, c: 'plain', d: [1, 'two'] });
  });

  test('$base + $append: a copy of the resource with values appended to arrays', () => {
    const diet = {
      resourceType: 'NutritionOrder',
      id: 'diet-1',
      status: 'draft',
      oralDiet: { type: [{ text: 'Dairy-free diet' }] },
    };
    const template = {
      $base: '{{%item}}',
      $append: {
        'oralDiet.type': { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/diet', code: 'gluten-free' }], text: 'Gluten-free diet' },
        'note': { text: 'Added by the IPH service on {{now()}}' },
      },
    };
    const r = value(template, { item: [diet] }) as Json;
    expect(r).toEqual({
      resourceType: 'NutritionOrder',
      id: 'diet-1',
      status: 'draft',
      oralDiet: { type: [{ text: 'Dairy-free diet' }, { coding: [{ system: 'http://terminology.hl7.org/CodeSystem/diet', code: 'gluten-free' }], text: 'Gluten-free diet' }] },
      note: [{ text: 'Added by the IPH service on 2026-06-15' }],
    });
    // The draft order in the request is untouched.
    expect(diet.oralDiet.type).toHaveLength(1);
    expect(diet).not.toHaveProperty('note');
  });

  test('$append creates missing parents and turns a single value into a list', () => {
    const base = { resourceType: 'X', tag: 'one' };
    expect(value({ $base: '{{%b}}', $append: { tag: 'two', 'meta.security': { code: 's' } } }, { b: [base] })).toEqual({ resourceType: 'X', tag: ['one', 'two'], meta: { security: [{ code: 's' }] } });
  });

  test('$append of an empty value appends nothing; an empty $base renders nothing', () => {
    const base = { resourceType: 'X', tag: ['one'] };
    expect(value({ $base: '{{%b}}', $append: { tag: '{{%none}}' } }, { b: [base], none: [] })).toEqual(base);
    expect(value({ $base: '{{%none}}', $append: { tag: 'x' } }, { none: [] })).toBeUndefined();
  });

  test('$base must be a single whole placeholder', () => {
    expect(() => value({ $base: 'NutritionOrder/{{%id}}' }, { id: ['x'] })).toThrow(/\$base/);
  });

  test('every placeholder is compiled once and reported with its pointer (for load-time checks)', () => {
    const found: TemplateExpression[] = [];
    compileValue({ resourceType: 'X', a: { 'b/c': '{{%x}}' }, list: ['{{%y}}', 'z {{%w}}'] }, runtime, '/templates/t', found);
    expect(found.map((f) => [f.pointer, f.expression.source])).toEqual([
      ['/templates/t/a/b~1c', '%x'],
      ['/templates/t/list/0', '%y'],
      ['/templates/t/list/1', '%w'],
    ]);
  });
});
