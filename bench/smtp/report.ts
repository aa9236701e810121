// The printed result of the SMTP bench: one row per cell (sessions x message size), Letterbox
// beside Postfix, with the ratios and what each figure means.
import type { LoadResult } from '../lib/smtp-load.js';
import { fmt, fmtBytes, table } from '../lib/stats.js';

export interface CellResult {
  sessions: number;
  sizeName: string;
  letterbox?: LoadResult;
  /** VmHWM of the server process. */
  letterboxRss?: number;
  postfix?: LoadResult;
  /** Messages accepted, divided by the time from the start until the last one was in new/. */
  postfixDeliveredPerSecond?: number;
  /** Largest sum of the RSS of all Postfix processes, sampled every 250 ms. */
  postfixRss?: number;
  /** The same for the proportional set size (shared pages split between their users). */
  postfixPss?: number;
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return '-';
  return `${(a / b).toFixed(2)}x`;
}

export function printReport(r: {
  cells: CellResult[];
  durationMs: number;
  rounds: number;
  cpus: number;
  perCellPeak: boolean;
  pipelining: boolean;
  notes: string[];
}): void {
  const header = [
    'sessions x size',
    'LB msg/s',
    'LB MB/s',
    'LB p50 ms',
    'LB p99 ms',
    'LB peak RSS',
    'PF accepted msg/s',
    'PF delivered msg/s',
    'PF MB/s (acc.)',
    'PF p50 ms',
    'PF p99 ms',
    'PF RSS (sampled)',
    'PF PSS (sampled)',
    'LB/PF delivered',
    'LB/PF accepted',
  ];
  const rows = r.cells.map((c) => [
    `${c.sessions} x ${c.sizeName.toUpperCase()}`,
    fmt(c.letterbox?.messagesPerSecond),
    fmt(c.letterbox?.megabytesPerSecond, 2),
    fmt(c.letterbox?.p50Ms),
    fmt(c.letterbox?.p99Ms),
    fmtBytes(c.letterboxRss),
    fmt(c.postfix?.messagesPerSecond),
    fmt(c.postfixDeliveredPerSecond),
    fmt(c.postfix?.megabytesPerSecond, 2),
    fmt(c.postfix?.p50Ms),
    fmt(c.postfix?.p99Ms),
    fmtBytes(c.postfixRss),
    fmtBytes(c.postfixPss),
    ratio(c.letterbox?.messagesPerSecond, c.postfixDeliveredPerSecond),
    ratio(c.letterbox?.messagesPerSecond, c.postfix?.messagesPerSecond),
  ]);
  const out = [
    '',
    `SMTP bench: ${r.durationMs / 1000} s of load per cell and server in ${r.rounds} rounds ` +
      `alternating between the servers, ${r.cpus} CPUs, ` +
      `client and servers on one machine, 127.0.0.1, one recipient, ` +
      `${r.pipelining ? 'MAIL/RCPT/DATA pipelined' : 'not pipelined (a server lacked PIPELINING)'}.`,
    '',
    table(header, rows),
    '',
    'Compared figure: LB/PF delivered = Letterbox msg/s / Postfix delivered msg/s. A Letterbox 250',
    'means the message is in the mailbox (blob fsynced, rows committed); a Postfix 250 means it is',
    'in the queue (queue file fsynced), and it reaches the Maildir later. "PF delivered msg/s" is',
    'messages / time from the start of the load until the last one was in Maildir/new.',
    'LB/PF accepted compares against Postfix 250s alone, for reference.',
    'Latency: from the final ".\\r\\n" leaving the client to the 250 (Postfix: the queue-file 250).',
    `LB peak RSS: VmHWM of the server process ${r.perCellPeak ? 'during the cell (reset before it)' : 'since it started'}.`,
    'PF RSS (sampled): largest sum of VmRSS over the master process and its children, sampled every',
    '250 ms; shared pages count once per process, so it overstates what the processes need.',
    'PF PSS (sampled): the same with Pss from smaps_rollup, shared pages split among their users.',
    ...r.notes,
    '',
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
