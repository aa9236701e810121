// The scale bench's table: one row per store and node count, each rate beside its ratio to
// single-node SQLite of the same run, and CPU per operation of the nodes and of PostgreSQL.
import { fmt, table } from '../lib/stats.js';

interface Figures {
  perSecond: number;
  /** CPU of the Letterbox processes (or Dovecot's) per operation, ms. */
  serverMsPerOp: number;
  /** CPU of PostgreSQL's processes per operation, ms (0 without it). */
  dbMsPerOp: number;
}

export interface Cell {
  store: 'sqlite' | 'postgres' | 'dovecot';
  nodes: number;
  smtp?: Figures;
  mix?: Figures & { p50Ms: number; p99Ms: number };
}

/** Microseconds, as the mix's per-command CPU is usually read. */
export function mixCpuMs(ms: number): string {
  return `${(ms * 1000).toFixed(0)} us`;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
}

/** The median of each figure over the rounds of one row. */
function merge<T extends Figures>(list: T[]): T | undefined {
  if (list.length === 0) return undefined;
  const out = { ...list[0]! };
  for (const k of Object.keys(out) as (keyof T)[]) {
    (out[k] as number) = median(list.map((x) => x[k] as number));
  }
  return out;
}

export function formatScaleReport(cells: Cell[], opts: { notes: string[] }): string {
  const keys = [...new Set(cells.map((c) => `${c.store}:${c.nodes}`))];
  const rows = keys.map((k) => {
    const of = cells.filter((c) => `${c.store}:${c.nodes}` === k);
    return {
      store: of[0]!.store,
      nodes: of[0]!.nodes,
      smtp: merge(of.flatMap((c) => (c.smtp ? [c.smtp] : []))),
      mix: merge(of.flatMap((c) => (c.mix ? [c.mix] : []))),
    };
  });
  const lite = rows.find((r) => r.store === 'sqlite');
  const ratio = (v: number | undefined, ref: number | undefined) =>
    v === undefined || !ref ? '-' : `${(v / ref).toFixed(2)}x`;
  const out: string[] = [];
  out.push(
    table(
      [
        'store',
        'nodes',
        'SMTP msg/s',
        'vs SQLite',
        'node CPU ms/msg',
        'PG CPU ms/msg',
        'mix ops/s',
        'vs SQLite',
        'p50 / p99 ms',
        'node CPU us/op',
        'PG CPU us/op',
      ],
      rows.map((r) => [
        r.store,
        String(r.nodes),
        fmt(r.smtp?.perSecond, 0),
        r.store === 'dovecot' ? '-' : ratio(r.smtp?.perSecond, lite?.smtp?.perSecond),
        fmt(r.smtp?.serverMsPerOp, 2),
        r.store === 'postgres' ? fmt(r.smtp?.dbMsPerOp, 2) : '-',
        fmt(r.mix?.perSecond, 0),
        ratio(r.mix?.perSecond, lite?.mix?.perSecond),
        r.mix ? `${fmt(r.mix.p50Ms)} / ${fmt(r.mix.p99Ms)}` : '-',
        r.mix ? (r.mix.serverMsPerOp * 1000).toFixed(0) : '-',
        r.mix && r.store === 'postgres' ? (r.mix.dbMsPerOp * 1000).toFixed(0) : '-',
      ]),
    ),
  );
  out.push('');
  for (const n of opts.notes) out.push(`- ${n}`);
  return `${out.join('\n')}\n`;
}
