// What /metrics exports (Prometheus text format, through prom-client). One instance per running
// server, with its own Registry: nothing global, so tests can run several servers in one
// process.
//
// Hot paths (a command, a commit) record into series bound once (metrics-family.ts); figures
// that exist anyway (open connections, the queue, the full-text backlog) are read only when
// /metrics is scraped.
import { Gauge, Registry } from 'prom-client';
import type { Origin, Outcome } from '../delivery/types.js';
import type { RecipientResult } from '../queue/worker.js';
import type { MailStore } from '../store/types.js';
import { registerDefaultMetrics } from './default-metrics.js';
import { EventLoopLag } from './event-loop-lag.js';
import {
  CounterFamily,
  type HistogramChild,
  HistogramFamily,
  type HistogramSnapshot,
} from './metrics-family.js';

export type CommandProtocol = 'imap' | 'pop3' | 'smtp';

/** The label of every command not in a protocol's table: one series, whatever clients send. */
export const UNKNOWN_COMMAND = 'UNKNOWN';

/**
 * One protocol's command latencies. Series are bound on first use, and only for the names in
 * the protocol's command table (a bounded set), so clients cannot grow the label set.
 */
export class CommandMetrics {
  private readonly bound = new Map<string, HistogramChild>();
  private readonly unknown: HistogramChild;

  constructor(
    private readonly family: HistogramFamily,
    private readonly protocol: CommandProtocol,
    private readonly known: ReadonlySet<string>,
  ) {
    this.unknown = family.child(protocol, UNKNOWN_COMMAND);
  }

  /** The series of a command by its name as parsed (upper case); null or unknown: UNKNOWN. */
  of(name: string | null): HistogramChild {
    if (name === null) return this.unknown;
    const c = this.bound.get(name);
    if (c) return c;
    if (!this.known.has(name)) return this.unknown;
    const child = this.family.child(this.protocol, name);
    this.bound.set(name, child);
    return child;
  }

  /**
   * Adds what another process recorded (a POP3 worker's report) to this process's series;
   * its names are bounded the same way.
   */
  merge(snapshots: readonly HistogramSnapshot[]): void {
    for (const s of snapshots) {
      if (s.labels.length === 2 && s.labels[0] === this.protocol) this.of(s.labels[1]!).add(s);
    }
  }

  /** Records a command that started at `startedMs` (performance.now()). */
  observe(name: string | null, startedMs: number): void {
    this.of(name).observe((performance.now() - startedMs) / 1000);
  }
}

/** A listener as the metrics read it at scrape time. */
export interface MetricsListener {
  name: string;
  connections: number;
  accepted: number;
}

export const COMMAND_METRIC = 'letterbox_command_duration_seconds';

/** A command histogram family (also made in POP3 worker processes, which send snapshots). */
export function commandFamily(): HistogramFamily {
  return new HistogramFamily(
    COMMAND_METRIC,
    'Commands by protocol and command, from arrival to the final response (seconds)',
    ['protocol', 'command'],
  );
}

export class ServerMetrics {
  readonly registry = new Registry();
  readonly commands = commandFamily();
  /** nodejs_eventloop_lag_*, sampled only while /metrics is scraped (event-loop-lag.ts). */
  readonly lag: EventLoopLag;
  private readonly auth = new CounterFamily(
    'letterbox_auth_total',
    'Authentication attempts by protocol and result (success or the failure reason)',
    ['protocol', 'result'],
  );
  private readonly messages = new CounterFamily(
    'letterbox_messages_total',
    'Messages decided by the delivery stage, by origin and result (accepted, temporary, or the refusal reason)',
    ['origin', 'result'],
  );
  private readonly deliveries = new CounterFamily(
    'letterbox_deliveries_total',
    'Deliveries: local (copies stored into mailboxes) and remote (recipient attempts by the queue), by result',
    ['route', 'result'],
  );
  private readonly localDelivered = this.deliveries.child('local', 'delivered');
  private readonly commitSeconds: HistogramChild;
  private readonly commitBatch: HistogramChild;
  /** Where scrape-time figures come from; set once the server has them. */
  private listeners: () => readonly MetricsListener[] = () => [];
  private store: MailStore | null = null;

  constructor() {
    const r = this.registry;
    registerDefaultMetrics(r);
    this.lag = new EventLoopLag(r);
    this.commands.register(r);
    this.auth.register(r);
    this.messages.register(r);
    this.deliveries.register(r);
    const commit = new HistogramFamily(
      'letterbox_store_commit_seconds',
      'Group commits: from the first commit of a group to the WAL fsync that made it durable (seconds)',
      [],
    ).register(r);
    this.commitSeconds = commit.child();
    const batch = new HistogramFamily(
      'letterbox_store_commit_batch_size',
      'Commits made durable by one WAL fsync (group commit size)',
      [],
      [1, 2, 4, 8, 16, 32, 64, 128, 256],
    ).register(r);
    this.commitBatch = batch.child();

    const open: Gauge = new Gauge({
      name: 'letterbox_connections_open',
      help: 'Open connections by listener (TLS handshakes and refusals included)',
      labelNames: ['listener'],
      registers: [r],
      collect: () => {
        open.reset();
        for (const l of this.listeners()) open.set({ listener: l.name }, l.connections);
      },
    });
    const total = new CounterFamily(
      'letterbox_connections_total',
      'Connections accepted by listener since the start (refused ones included)',
      ['listener'],
    ).register(r);
    total.collect = () => {
      for (const l of this.listeners()) total.child(l.name).value = l.accepted;
    };
    const queued: Gauge = new Gauge({
      name: 'letterbox_queue_messages',
      help: 'Messages in the outbound queue (held ones included)',
      registers: [r],
      collect: async () => {
        const s = await this.queueSummary();
        queued.set(s?.messages ?? 0);
      },
    });
    const oldest: Gauge = new Gauge({
      name: 'letterbox_queue_oldest_age_seconds',
      help: 'Age of the oldest message in the outbound queue (0 when empty)',
      registers: [r],
      collect: async () => {
        const s = await this.queueSummary();
        oldest.set(s?.oldest ? Math.max(0, (Date.now() - s.oldest.getTime()) / 1000) : 0);
      },
    });
    const ftsMessages: Gauge = new Gauge({
      name: 'letterbox_fts_backlog_messages',
      help: 'Messages stored and not yet in the full-text index',
      registers: [r],
      collect: () => {
        ftsMessages.set(this.store?.stats().ftsBacklogMessages ?? 0);
      },
    });
    const ftsChars: Gauge = new Gauge({
      name: 'letterbox_fts_backlog_chars',
      help: 'Text of those messages waiting for the full-text index (characters)',
      registers: [r],
      collect: () => {
        ftsChars.set(this.store?.stats().ftsBacklogChars ?? 0);
      },
    });
  }

  private summary: Promise<{ messages: number; oldest: Date | null } | null> | null = null;

  /** One store query per scrape for both queue gauges. */
  private queueSummary(): Promise<{ messages: number; oldest: Date | null } | null> {
    if (!this.summary) {
      const store = this.store;
      this.summary = (store ? store.outboundSummary() : Promise.resolve(null)).catch(() => null);
      const done = () => {
        this.summary = null;
      };
      this.summary.then(done, done);
    }
    return this.summary;
  }

  /** The command metrics of a protocol whose command table has these names. */
  commandMetrics(protocol: CommandProtocol, names: Iterable<string>): CommandMetrics {
    return new CommandMetrics(this.commands, protocol, new Set(names));
  }

  /** The running server's listeners and store, read at scrape time. */
  attach(sources: { listeners: () => readonly MetricsListener[]; store: MailStore }): void {
    this.listeners = sources.listeners;
    this.store = sources.store;
  }

  // Hooks, called where things happen (auth, delivery, the queue worker, the store).

  authResult(protocol: string, result: string): void {
    this.auth.child(protocol, result).inc();
  }

  messageOutcome(origin: Origin, outcome: Outcome): void {
    const result = outcome.status === 'refused' ? outcome.refusal.reason : outcome.status;
    this.messages.child(origin, result).inc();
    if (outcome.status === 'accepted' && outcome.stored.length > 0) {
      this.localDelivered.inc(outcome.stored.length);
    }
  }

  remoteOutcome(result: RecipientResult): void {
    this.deliveries.child('remote', result).inc();
  }

  commitGroup(commits: number, seconds: number): void {
    this.commitSeconds.observe(seconds);
    this.commitBatch.observe(commits);
  }

  /** The text exposition (Prometheus format 0.0.4). */
  async text(): Promise<string> {
    return this.registry.metrics();
  }

  /** The server stops: no more sampling. */
  close(): void {
    this.lag.stop();
  }

  get contentType(): string {
    return this.registry.contentType;
  }
}
