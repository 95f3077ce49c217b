// Hook calls of golden cases with the clock pinned to the case's `now` (only Date is faked), for tests that need
// the real cards a case produces: served-card recording, feedback, card outcomes, snoozing.
import path from 'node:path';
import type { Express } from 'express';
import request from 'supertest';
import { loadRegistry } from '../../src/definitions/load';
import { buildRequest, listCases } from './golden';

export const registry = loadRegistry(path.join(__dirname, '..', '..', 'cds-services'));

export interface ServedCardView {
  uuid: string;
  indicator: string;
  source: { topic: { code: string } };
  suggestions?: { uuid: string }[];
  overrideReasons?: { system: string; code: string; display?: string }[];
}

const DO_NOT_FAKE = ['nextTick', 'setImmediate', 'clearImmediate', 'setTimeout', 'clearTimeout', 'setInterval', 'clearInterval', 'queueMicrotask', 'hrtime', 'performance'] as const;

export function caseOf(service: string, name: string) {
  const c = listCases().find((x) => x.service === service && x.name === name);
  const definition = registry.services.get(service);
  if (!c || !definition) throw new Error(`no golden case ${service}/${name}`);
  return { now: Date.parse(c.data.now), body: buildRequest(definition, c.data) };
}

/** Runs `work` with Date pinned to `now` (timers stay real). */
export async function atTime<T>(now: number, work: () => Promise<T>): Promise<T> {
  jest.useFakeTimers({ now, doNotFake: [...DO_NOT_FAKE] });
  try {
    return await work();
  } finally {
    jest.useRealTimers();
  }
}

/** Posts the case (optionally with another patient id) at the case's time; returns the cards. */
export async function postCase(app: Express, service: string, name: string, patientId?: string): Promise<ServedCardView[]> {
  const { now, body } = caseOf(service, name);
  if (patientId !== undefined) (body.context as Record<string, unknown>).patientId = patientId;
  const res = await atTime(now, async () => request(app).post(`/cds-services/${service}`).set('Content-Type', 'application/json').send(body));
  if (res.status !== 200) throw new Error(`${service}/${name}: ${res.status} ${JSON.stringify(res.body)}`);
  return (res.body as { cards: ServedCardView[] }).cards;
}
