// Storage cost per hook call, per back end: the replay-key insert a JWT call makes plus recording the served cards
// of an S-chart answer (4 cards, 12 suggestions), then the same with snoozing on (one extra look-up). Run with
//   npx tsc -p tsconfig.bench.json && node dist-bench/bench/storage-latency.js
// PostgreSQL is measured too when CDS_DATABASE_URL names a server (use a scratch database: rows are left behind).
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createReplayGuard } from '../src/auth/replay-store';
import type { HookRequest } from '../src/cds-hooks';
import type { Card } from '../src/evaluation/cards';
import { createCardLedger } from '../src/http/card-ledger';
import { createLogger } from '../src/logger';
import { createPseudonymizer } from '../src/storage/patient-pseudonym';
import { openPostgresStorage } from '../src/storage/postgres-storage';
import { openSqliteStorage } from '../src/storage/sqlite-storage';
import type { Storage } from '../src/storage/storage';

const ITERATIONS = 400;
const WARMUP = 50;
const log = createLogger({ level: 'silent' });
const pseudonymize = createPseudonymizer('bench-pseudonym-key-0123456789abcdef');

function answerCards(): Card[] {
  return ['iph-evaluation', 'iph-exclusion-workup', 'celiac-screening', 'data-unavailable'].map((topic) => ({
    uuid: randomUUID(),
    summary: 'Consider ...',
    indicator: 'warning',
    source: { label: 'IPH CDS', topic: { system: 'https://iph-cds.dev/fhir/CodeSystem/card-topic', code: topic } },
    suggestions: Array.from({ length: 3 }, () => ({ label: 'Order', uuid: randomUUID(), actions: [] })),
  }));
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

async function measure(storage: Storage, snoozeDays: number): Promise<{ p50: number; p90: number; p99: number }> {
  const replays = createReplayGuard(storage, 100_000, log);
  const ledger = createCardLedger({ storage, pseudonymize, snoozeDays, log });
  const times: number[] = [];
  for (let i = 0; i < WARMUP + ITERATIONS; i++) {
    const request = { hook: 'patient-view', hookInstance: randomUUID(), context: { userId: 'Practitioner/1', patientId: `patient-${i % 50}` } } as HookRequest;
    const cards = answerCards();
    const started = process.hrtime.bigint();
    const now = Date.now();
    await replays.remember('https://ehr.example.org', randomUUID(), now + 360_000, now);
    await ledger.serve('iph-patient-view', request, cards);
    const ms = Number(process.hrtime.bigint() - started) / 1e6;
    if (i >= WARMUP) times.push(ms);
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 50), p90: percentile(times, 90), p99: percentile(times, 99) };
}

async function main(): Promise<void> {
  const rows: string[] = ['| Back end | Snooze | p50 ms | p90 ms | p99 ms |', '| --- | --- | --- | --- | --- |'];
  const fmt = (n: number) => n.toFixed(2);
  const dir = mkdtempSync(path.join(tmpdir(), 'cds-storage-bench-'));
  const backends: [string, () => Promise<Storage>][] = [['SQLite (file, WAL)', async () => openSqliteStorage(dir)]];
  const url = process.env.CDS_DATABASE_URL?.trim();
  if (url) backends.push(['PostgreSQL (local)', () => openPostgresStorage(url)]);
  try {
    for (const [name, open] of backends) {
      const storage = await open();
      for (const snoozeDays of [0, 30]) {
        const r = await measure(storage, snoozeDays);
        rows.push(`| ${name} | ${snoozeDays === 0 ? 'off' : `${snoozeDays} days`} | ${fmt(r.p50)} | ${fmt(r.p90)} | ${fmt(r.p99)} |`);
      }
      await storage.close();
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  process.stdout.write(`Storage per hook call (replay key + 4 served cards with 12 suggestions), ${ITERATIONS} calls each:\n\n${rows.join('\n')}\n`);
  if (!url) process.stdout.write('\n(PostgreSQL not measured: set CDS_DATABASE_URL=postgres://... to include it)\n');
}

void main();
