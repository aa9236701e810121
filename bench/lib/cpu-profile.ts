// Summarizes a V8 CPU profile (`node --cpu-prof`, a .cpuprofile file): where the self time
// goes, by function and by source file, so a bench run can say what to make faster.
// Usage: node --import tsx bench/lib/cpu-profile.ts FILE.cpuprofile [top=25]
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

export interface Hotspot {
  name: string;
  ms: number;
  share: number;
}

function shortUrl(url: string): string {
  if (!url) return '(native)';
  const i = url.indexOf('/node_modules/');
  if (i >= 0) return url.slice(i + 1);
  const d = url.indexOf('/dist/');
  if (d >= 0) return url.slice(d + 1);
  return url.replace(/^file:\/\//, '');
}

/** Self time per function and per file, largest first. */
export function summarizeProfile(p: Profile): { byFunction: Hotspot[]; byFile: Hotspot[] } {
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  p.samples.forEach((id, i) => {
    self.set(id, (self.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
  });
  const total = [...self.values()].reduce((a, b) => a + b, 0) || 1;
  const fn = new Map<string, number>();
  const file = new Map<string, number>();
  for (const [id, us] of self) {
    const f = byId.get(id)!.callFrame;
    const where = shortUrl(f.url);
    const name = `${f.functionName || '(anonymous)'} ${where}${f.url ? `:${f.lineNumber + 1}` : ''}`;
    fn.set(name, (fn.get(name) ?? 0) + us);
    file.set(where, (file.get(where) ?? 0) + us);
  }
  const sorted = (m: Map<string, number>) =>
    [...m]
      .map(([name, us]) => ({ name, ms: us / 1000, share: us / total }))
      .sort((a, b) => b.ms - a.ms);
  return { byFunction: sorted(fn), byFile: sorted(file) };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [file, topArg] = process.argv.slice(2);
  if (!file) {
    process.stderr.write('usage: cpu-profile.ts FILE.cpuprofile [top]\n');
    process.exit(2);
  }
  const top = Number(topArg ?? 25);
  const { byFunction, byFile } = summarizeProfile(JSON.parse(readFileSync(file, 'utf8')));
  const show = (title: string, list: Hotspot[]) => {
    process.stdout.write(`\n${title}\n`);
    for (const h of list.slice(0, top)) {
      process.stdout.write(
        `${(h.share * 100).toFixed(1).padStart(5)}%  ${h.ms.toFixed(0).padStart(7)} ms  ${h.name}\n`,
      );
    }
  };
  show('Self time by file', byFile);
  show('Self time by function', byFunction);
}
