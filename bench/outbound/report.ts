// The printed result of the outbound bench: one row per connection count, Letterbox beside
// Postfix, with the ratios the issue sets targets for.
import { fmt, fmtBytes, table } from '../lib/stats.js';

export interface DrainResult {
  /** Messages the sink counted. */
  messages: number;
  /** All `expected` came in before the deadline. */
  complete: boolean;
  /** Seconds from the sink's first 250 to its last. */
  drainSeconds: number;
  /** (messages - 1) / drainSeconds: the first message opens the interval. */
  perSecond: number;
  /** Server CPU from the release until idle again, in seconds. */
  cpuSeconds: number;
  /** Peak RSS: Letterbox's VmHWM; Postfix's largest sampled sum over its processes. */
  peakRss?: number;
  /** Postfix only: the largest sampled sum of PSS (shared pages split among processes). */
  peakPss?: number;
  /** Sessions the sink saw end (connections used). */
  sessions: number;
  /** Items or queue files left after the drain. */
  left: number;
  /** Filling the queue over SMTP: messages/s (not the measured figure). */
  fillPerSecond: number;
  /** DNS queries the bench's server answered during the drain. */
  dnsQueries?: number;
  /** With several rounds: each of them (the figures above are their medians). */
  all?: DrainResult[];
}

export interface Row {
  connections: number;
  rounds: number;
  letterbox?: DrainResult;
  postfix?: DrainResult;
}

function ratio(a: number | undefined, b: number | undefined): string {
  if (a === undefined || b === undefined || !(b > 0)) return '-';
  return `${(a / b).toFixed(2)}x`;
}

const perK = (d: DrainResult | undefined) =>
  d && d.messages > 0 ? (d.cpuSeconds / d.messages) * 1000 : undefined;

export function printReport(r: {
  rows: Row[];
  messages: number;
  size: number;
  cpus: number;
  route: string;
  backlog: boolean;
  notes: string[];
}): void {
  const header = [
    'connections',
    'LB msg/s',
    'PF msg/s',
    'LB/PF rate',
    'LB CPU s/1000',
    'PF CPU s/1000',
    'LB/PF CPU',
    'LB peak RSS',
    'PF peak RSS',
    'PF peak PSS',
  ];
  const rows = r.rows.map((x) => [
    String(x.connections),
    fmt(x.letterbox?.perSecond),
    fmt(x.postfix?.perSecond),
    ratio(x.letterbox?.perSecond, x.postfix?.perSecond),
    fmt(perK(x.letterbox), 2),
    fmt(perK(x.postfix), 2),
    ratio(perK(x.letterbox), perK(x.postfix)),
    fmtBytes(x.letterbox?.peakRss),
    fmtBytes(x.postfix?.peakRss),
    fmtBytes(x.postfix?.peakPss),
  ]);
  const one = (d: DrainResult) =>
    `${d.messages} at the sink${d.complete ? '' : ' (INCOMPLETE: deadline passed)'} ` +
    `in ${d.drainSeconds.toFixed(2)} s (${fmt(d.perSecond)} msg/s), CPU ${d.cpuSeconds.toFixed(2)} s, ` +
    `${d.sessions} sessions, ${d.left} left in the queue, filled at ${fmt(d.fillPerSecond)} ` +
    `msg/s${d.dnsQueries === undefined ? '' : `, ${d.dnsQueries} DNS queries`}`;
  const detail = (name: string, d: DrainResult | undefined) =>
    !d
      ? [`  ${name}: not run`]
      : d.all && d.all.length > 1
        ? d.all.map((x, i) => `  ${name} round ${i + 1}: ${one(x)}`)
        : [`  ${name}: ${one(d)}`];
  const out = [
    '',
    `Outbound bench: ${r.messages} messages of ${r.size} bytes queued, then drained to ` +
      `smtp-sink on 127.0.0.1; ${r.cpus} CPUs; Letterbox routes by ` +
      `${r.route === 'mx' ? 'MX on the bench DNS server' : 'a smarthost route (no DNS)'}, ` +
      'Postfix by relayhost = [127.0.0.1]:sink.',
    '',
    table(header, rows),
    '',
    ...r.rows.flatMap((x) => [
      `${x.connections} connections${x.rounds > 1 ? ` (medians of ${x.rounds} rounds)` : ''}:`,
      ...detail('Letterbox', x.letterbox),
      ...detail('Postfix  ', x.postfix),
    ]),
    '',
    'msg/s: (messages - 1) over the time from the first 250 at the sink to the last one.',
    'CPU: user + system of the server (Postfix: every process under master, reaped smtp',
    'processes included) from the release until it is idle again (under 20 ms in 500 ms, at',
    'least 6 s after the last 250, so cached sessions are closed); Letterbox: minus the CPU of',
    'a start on the same store with deliver = false (Node start-up, not delivery).',
    'Peak RSS: Letterbox VmHWM of the server process; Postfix the largest sum of VmRSS of its',
    'processes, sampled every 250 ms (shared pages counted once per process; PSS splits them).',
    `Targets (issue 13): LB/PF rate >= 1.50x, LB/PF CPU <= 1.00x` +
      (r.backlog ? ', Letterbox peak RSS < 500 MiB on the backlog.' : '.'),
    ...r.notes,
  ];
  process.stdout.write(`${out.join('\n')}\n`);
}
