// The IMAP bench's tables: Letterbox beside Dovecot from the same run, with their ratio.
import { fmt, fmtBytes, table } from '../lib/stats.js';
import type { BigResult } from './big.js';
import type { Delivery } from './idle.js';
import { MIX_COMMANDS, type MixResult } from './mix.js';

export interface IdleResult {
  target: number;
  connected: number;
  connectMs: number;
  peakRss?: number;
  /** Sum of PSS over a process tree (Dovecot). */
  peakPss?: number;
  deliveries: Delivery[];
  error?: string;
}

export interface ImapReport {
  mix: { clients: number; letterbox?: MixResult; dovecot?: MixResult }[];
  big?: { messages: number; letterbox?: BigResult; dovecot?: BigResult };
  idle?: { letterbox?: IdleResult; dovecot?: IdleResult };
  notes: string[];
}

/** Letterbox ÷ Dovecot; "-" when either is missing. */
function ratio(lb: number | undefined, dv: number | undefined): string {
  if (
    lb === undefined ||
    dv === undefined ||
    !Number.isFinite(lb) ||
    !Number.isFinite(dv) ||
    dv === 0
  )
    return '-';
  return `${(lb / dv).toFixed(2)}x`;
}

function median(xs: number[]): number | undefined {
  const s = xs.filter(Number.isFinite).sort((a, b) => a - b);
  return s.length ? s[Math.floor(s.length / 2)] : undefined;
}

function row(name: string, lb: number | undefined, dv: number | undefined, digits = 1): string[] {
  return [name, fmt(lb, digits), fmt(dv, digits), ratio(lb, dv)];
}

export function formatReport(r: ImapReport): string {
  const out: string[] = [];
  const H = ['', 'Letterbox', 'Dovecot', 'LB / DV'];
  if (r.mix.length > 0) {
    out.push('### (a) Mixed client load (ops/s: higher is better; latency: lower is better)\n');
    const rows: string[][] = [];
    for (const c of r.mix) {
      rows.push(
        row(`${c.clients} clients: ops/s`, c.letterbox?.opsPerSecond, c.dovecot?.opsPerSecond),
      );
      rows.push(row(`${c.clients} clients: p50 ms`, c.letterbox?.p50Ms, c.dovecot?.p50Ms, 2));
      rows.push(row(`${c.clients} clients: p99 ms`, c.letterbox?.p99Ms, c.dovecot?.p99Ms, 2));
    }
    out.push(table(H, rows));
    out.push('\np99 latency per command, ms (Letterbox / Dovecot):\n');
    const cmdRows = MIX_COMMANDS.map((cmd) => [
      cmd,
      ...r.mix.flatMap((c) => [
        `${fmt(c.letterbox?.perCommandP99[cmd], 2)} / ${fmt(c.dovecot?.perCommandP99[cmd], 2)}`,
      ]),
    ]);
    out.push(table(['command', ...r.mix.map((c) => `${c.clients} clients`)], cmdRows));
    for (const c of r.mix) {
      if (c.letterbox?.error) out.push(`\nLetterbox, ${c.clients} clients: ${c.letterbox.error}`);
      if (c.dovecot?.error) out.push(`\nDovecot, ${c.clients} clients: ${c.dovecot.error}`);
    }
  }
  if (r.big) {
    const { letterbox: lb, dovecot: dv } = r.big;
    out.push(
      `\n### (b) Mailbox of ${r.big.messages} messages (ms, lower is better; median of rounds, first round in brackets)\n`,
    );
    const cell = (m?: number, first?: number) =>
      m === undefined ? '-' : `${fmt(m)} (${fmt(first)})`;
    out.push(
      table(H, [
        [
          'SELECT',
          cell(lb?.selectMs, lb?.firstSelectMs),
          cell(dv?.selectMs, dv?.firstSelectMs),
          ratio(lb?.selectMs, dv?.selectMs),
        ],
        [
          'UID FETCH 1:* (UID FLAGS)',
          cell(lb?.fetchFlagsMs, lb?.firstFetchFlagsMs),
          cell(dv?.fetchFlagsMs, dv?.firstFetchFlagsMs),
          ratio(lb?.fetchFlagsMs, dv?.fetchFlagsMs),
        ],
        [
          'SEARCH BODY (1% match)',
          cell(lb?.searchBodyMs, lb?.firstSearchBodyMs),
          cell(dv?.searchBodyMs, dv?.firstSearchBodyMs),
          ratio(lb?.searchBodyMs, dv?.searchBodyMs),
        ],
        [
          '(messages / fetched / matches)',
          lb ? `${lb.exists} / ${lb.fetched} / ${lb.matches}` : '-',
          dv ? `${dv.exists} / ${dv.fetched} / ${dv.matches}` : '-',
          '',
        ],
      ]),
    );
  }
  if (r.idle) {
    const { letterbox: lb, dovecot: dv } = r.idle;
    out.push('\n### (c) Connections in IDLE on one mailbox\n');
    const hows = [
      ...new Set([...(lb?.deliveries ?? []), ...(dv?.deliveries ?? [])].map((d) => d.how)),
    ];
    const rows: string[][] = [
      ['connections in IDLE', `${lb?.connected ?? '-'}`, `${dv?.connected ?? '-'}`, ''],
      [
        'logins/s while connecting',
        fmt(lb && lb.connected / (lb.connectMs / 1000)),
        fmt(dv && dv.connected / (dv.connectMs / 1000)),
        ratio(lb && lb.connected / lb.connectMs, dv && dv.connected / dv.connectMs),
      ],
      ['peak RSS', fmtBytes(lb?.peakRss), fmtBytes(dv?.peakRss), ratio(lb?.peakRss, dv?.peakRss)],
      [
        'peak PSS (Dovecot: sum of processes)',
        fmtBytes(lb?.peakRss),
        fmtBytes(dv?.peakPss),
        ratio(lb?.peakRss, dv?.peakPss),
      ],
    ];
    for (const how of hows) {
      const pick = (x?: IdleResult) => x?.deliveries.filter((d) => d.how === how) ?? [];
      const all = (x?: IdleResult) => median(pick(x).map((d) => d.allMs));
      const p50 = (x?: IdleResult) => median(pick(x).map((d) => d.p50Ms));
      rows.push(row(`${how}: all reached, ms`, all(lb), all(dv)));
      rows.push(row(`${how}: median reached, ms`, p50(lb), p50(dv)));
    }
    out.push(table(H, rows));
    if (lb?.error) out.push(`\nLetterbox stopped connecting at ${lb.connected}: ${lb.error}`);
    if (dv?.error) out.push(`\nDovecot stopped connecting at ${dv.connected}: ${dv.error}`);
  }
  if (r.notes.length) out.push(`\n${r.notes.map((n) => `- ${n}`).join('\n')}`);
  return `${out.join('\n')}\n`;
}
