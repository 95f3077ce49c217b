// A checklist's orders as a suggestion set: each test row carries its order (code, text, kind) and each suggestion
// row lists the tests it orders, so adding an orderable test is one row instead of one more hand-written suggestion.
import type { LoadIssue, RawAction, RawChecklist, RawChecklistOrder, RawChecklistTest, RawSuggestion } from './types';

const capitalize = (s: string) => s.charAt(0).toUpperCase() + s.slice(1);

/**
 * The checklist's suggestion set. A suggestion is offered when one of its tests is needed (`<t>Needed`); it has one
 * action per distinct order, each offered when one of the tests that order completes is needed, and one per
 * `alongside` test, offered with the others when that test is neither done nor pending. The conditions that are not
 * already a checklist name are added to `expressions` (e.g. `mpoAncaOrPr3AncaNeeded`, `antiDsdnaWithAnaNeeded`).
 */
export function expandOrders(id: string, c: RawChecklist, file: string, issues: LoadIssue[], expressions: Record<string, string>): RawSuggestion[] {
  const tests = new Map(c.tests.map((t) => [t.id, t]));
  const template = c.orderTemplate;
  if (c.suggestions && template === undefined) issues.push({ file, pointer: `/checklists/${id}`, message: 'a checklist with suggestions needs an "orderTemplate"' });
  // The test whose order completes `tid`: itself, or the test its `order` names.
  const ownerOf = (tid: string, pointer: string): (RawChecklistTest & { order: RawChecklistOrder }) | undefined => {
    const t = tests.get(tid);
    if (!t) {
      issues.push({ file, pointer, message: `no test "${tid}" in this checklist` });
      return undefined;
    }
    const owner = typeof t.order === 'string' ? tests.get(t.order) : t;
    if (owner?.order !== undefined && typeof owner.order !== 'string') return owner as RawChecklistTest & { order: RawChecklistOrder };
    const why = typeof t.order !== 'string' ? 'has no order' : owner ? `is ordered by test "${t.order}", which has no order of its own` : `is ordered by test "${t.order}", which this checklist does not have`;
    issues.push({ file, pointer, message: `test "${tid}" ${why}` });
    return undefined;
  };
  const anyNeeded = (ids: string[]): string => {
    if (ids.length === 1) return `${ids[0]}Needed`;
    const name = `${ids.map((t, i) => (i === 0 ? t : capitalize(t))).join('Or')}Needed`;
    expressions[name] ??= ids.map((t) => `%${t}Needed`).join(' or ');
    return name;
  };
  const action = (owner: RawChecklistTest & { order: RawChecklistOrder }, when: string | undefined): RawAction => {
    const { code, text, kind, description } = owner.order;
    return { type: 'create', description: description ?? `Order ${owner.label}`, ...(when ? { when } : {}), template, with: { code, text, kind } };
  };
  return (c.suggestions ?? []).map((s, si) => {
    const sp = `/checklists/${id}/suggestions/${si}`;
    const orders = new Map<string, { owner: RawChecklistTest & { order: RawChecklistOrder }; tests: string[] }>();
    s.tests.forEach((tid, ti) => {
      const owner = ownerOf(tid, `${sp}/tests/${ti}`);
      if (owner) orders.set(owner.id, { owner, tests: [...(orders.get(owner.id)?.tests ?? []), tid] });
    });
    const when = anyNeeded(s.tests);
    const alongside = (s.alongside ?? []).flatMap((tid, ti) => {
      const owner = ownerOf(tid, `${sp}/alongside/${ti}`);
      if (!owner) return [];
      const name = `${tid}With${capitalize(when)}`;
      expressions[name] ??= `%${when} and %${tid}Done.not() and %${tid}Pending.not()`;
      return [action(owner, name)];
    });
    const single = orders.size === 1 && alongside.length === 0;
    // With one action, the suggestion's condition is the action's: no second one to evaluate.
    const actions = [...[...orders.values()].map(({ owner, tests: met }) => action(owner, single ? undefined : anyNeeded(met))), ...alongside];
    const label = s.label ?? (single ? actions[0]?.description : undefined);
    if (label === undefined) issues.push({ file, pointer: `${sp}/label`, message: 'a suggestion of several orders needs a label' });
    return { label: label ?? '', when, actions };
  });
}
