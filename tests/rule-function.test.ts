// A rule-defined function's body runs once per resource and variables object: the memo in src/fhirpath/rule-function.ts,
// called as fhirpath.js calls a user function (`this` is the evaluation context), with a body that counts its runs.
import r4 from 'fhirpath/fhir-context/r4';
import { resourceNode } from '../src/fhirpath/nodes';
import { ruleFunction, type RuleFunctionBody } from '../src/fhirpath/rule-function';
import type { FpContext } from '../src/fhirpath/scope';

type Json = Record<string, unknown>;

function countingBody(answer: (item: unknown) => unknown[] = () => ['x']): RuleFunctionBody & { runs: unknown[] } {
  const runs: unknown[] = [];
  return {
    runs,
    evaluate(item) {
      runs.push(item);
      return answer(item);
    },
  };
}

const context = (vars: Record<string, unknown> = {}): FpContext & { model: unknown } => ({ vars, model: r4 });
const hb = (id: string): Json => ({ resourceType: 'Observation', id, status: 'final' });

test('runs once per resource for one variables object, however many expressions and nodes ask', () => {
  const body = countingBody((item) => [`cutoff of ${String(((item as { data: Json }).data).id)}`]);
  const { fn } = ruleFunction(body);
  const ctx = context();
  const a = hb('a');
  const b = hb('b');
  // The same resource, wrapped by two evaluations as two different nodes, and given twice in one input.
  expect(fn.call(ctx, [resourceNode(ctx, a), resourceNode(ctx, b), resourceNode(ctx, a)])).toEqual(['cutoff of a', 'cutoff of b', 'cutoff of a']);
  expect(fn.call(context(ctx.vars), [resourceNode(ctx, b), resourceNode(ctx, a)])).toEqual(['cutoff of b', 'cutoff of a']);
  expect(body.runs).toHaveLength(2);
});

test('runs again for another variables object (another request, or a card layer that shadows a name)', () => {
  const body = countingBody();
  const { fn } = ruleFunction(body);
  const a = hb('a');
  fn.call(context({ priority: 'routine' }), [a]);
  fn.call(context({ priority: 'urgent' }), [a]);
  expect(body.runs).toHaveLength(2);
});

test('elements and primitives are not remembered: they run every time', () => {
  const body = countingBody();
  const { fn } = ruleFunction(body);
  const ctx = context();
  const quantity = { value: 9.5, unit: 'g/dL' };
  fn.call(ctx, [quantity, 'text', 3]);
  fn.call(ctx, [quantity, 'text', 3]);
  expect(body.runs).toHaveLength(6);
});

test('a body that throws is not remembered: the next call runs it again', () => {
  let fail = true;
  const body = countingBody(() => {
    if (fail) throw new Error('no cut-off');
    return ['ok'];
  });
  const { fn } = ruleFunction(body);
  const ctx = context();
  const a = hb('a');
  expect(() => fn.call(ctx, [a])).toThrow('no cut-off');
  fail = false;
  expect(fn.call(ctx, [a])).toEqual(['ok']);
  expect(fn.call(ctx, [a])).toEqual(['ok']);
  expect(body.runs).toHaveLength(2);
});

test("the caller's collection is a copy: changing it leaves the remembered result alone", () => {
  const { fn } = ruleFunction(countingBody(() => ['one', 'two']));
  const ctx = context();
  const a = hb('a');
  const first = fn.call(ctx, [a]);
  first.push('three');
  expect(fn.call(ctx, [a])).toEqual(['one', 'two']);
});
