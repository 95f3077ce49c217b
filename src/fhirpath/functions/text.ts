// Text functions: the sentences of a report's free text, so that rules can match words within one sentence
// (clinical-rules §3, text-only imaging conclusions). Linear in the text.
import { dataOf } from '../nodes';
import type { FpContext } from '../scope';

/** Report text longer than this is not read (a conclusion is a few lines; a long text is not a conclusion). */
const MAX_TEXT = 20_000;

/** sentences(): each text split after . ! ? followed by white space, and at line breaks; trimmed, empty ones dropped. */
export function sentences(this: FpContext, inputs: unknown[]): unknown[] {
  const out: string[] = [];
  for (const n of inputs) {
    const text = dataOf(n);
    if (typeof text !== 'string') continue;
    for (const s of text.slice(0, MAX_TEXT).split(/(?<=[.!?])\s+|\n+/)) if (s.trim()) out.push(s.trim());
  }
  return out;
}
