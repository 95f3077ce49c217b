// Reads a V8 .cpuprofile (from `node --cpu-prof`) into the functions with the most self time, for the report.
import fs from 'node:fs';
import path from 'node:path';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
}

export interface HotFunction {
  name: string;
  where: string;
  share: number;
}

/** The `top` functions by self time across every profile in `dir`, as shares of all samples. */
export function hottestFunctions(dir: string, top: number): HotFunction[] {
  const self = new Map<string, { name: string; where: string; us: number }>();
  let total = 0;
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith('.cpuprofile'))) {
    const profile = JSON.parse(fs.readFileSync(path.join(dir, file), 'utf8')) as { nodes: ProfileNode[]; samples: number[]; timeDeltas: number[] };
    const byId = new Map(profile.nodes.map((n) => [n.id, n]));
    profile.samples.forEach((id, i) => {
      const node = byId.get(id);
      const us = profile.timeDeltas[i] ?? 0;
      if (!node) return;
      const { functionName, url, lineNumber } = node.callFrame;
      if (functionName === '(idle)' || functionName === '(program)') return;
      const where = url ? `${url.replace(/^file:\/\//, '').split('/node_modules/').pop()?.split('/').slice(-3).join('/')}:${lineNumber + 1}` : '';
      const key = `${functionName}@${where}`;
      const entry = self.get(key) ?? { name: functionName || '(anonymous)', where, us: 0 };
      entry.us += us;
      self.set(key, entry);
      total += us;
    });
  }
  return [...self.values()]
    .sort((a, b) => b.us - a.us)
    .slice(0, top)
    .map((e) => ({ name: e.name, where: e.where, share: total ? e.us / total : 0 }));
}
