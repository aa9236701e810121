// The queue worker: takes due items from the persistent outbound queue, routes each
// recipient's domain, hands the message to the courier (the SMTP client), and records every
// recipient's outcome: delivered, failed for good (a DSN to the sender, RFC 3464), or deferred
// (tried again on the retry schedule, bounced when too old, a delay notice on the way).
//
// Durability: a recipient is marked done only after the remote's reply to it was recorded.
// An item is claimed under a lease; if the process dies mid-attempt, the item is tried again
// when the worker next starts. What was in flight then may be delivered twice: the window is
// from the remote's reply to the end of data until our commit of it (as in Postfix, whose
// queue manager also re-sends what it had not recorded as delivered).
import type { Logger } from '../log.js';
import type { MailStore, OutboundItem, OutboundUpdate } from '../store/types.js';
import { buildDsn, type DsnRecipient, shouldNotify, smtpDiagnostic } from './dsn.js';
import { LOOP_STATUS, tooManyHops } from './loop.js';
import { DEFAULT_RETRY, expired, nextAttempt, type RetryPolicy } from './schedule.js';
import type { RecipientOutcome, Route, SendRequest, SendResult } from './types.js';

/** Carries one message to the hosts of a route (trying them in order, reusing connections). */
export interface Courier {
  send(route: Extract<Route, { kind: 'hosts' }>, req: SendRequest): Promise<SendResult>;
  close(): Promise<void>;
}

/** A recipient's outcome with the host that gave the reply. */
type Outcome = RecipientOutcome & { remoteMta?: string; remoteDsn?: boolean };

export interface WorkerDeps {
  store: MailStore;
  log: Logger;
  /** Our host name: Reporting-MTA of DSNs. */
  hostname: string;
  route(domain: string): Promise<Route>;
  courier: Courier;
  /** DKIM-signs a message about to be sent (identity when no key applies). */
  sign(message: Buffer): Promise<Buffer>;
  /** Delivers a generated message (a DSN) to `to` through the delivery stage. */
  submitDsn(to: string, message: Buffer): Promise<void>;
  now?: () => Date;
  /** Monitoring: the outcome of each recipient's attempt, once it is recorded. */
  observer?: RecipientObserver;
}

/** delivered; failed (for good, DSN); deferred (tried again); expired (too old: failed 4.4.7). */
export type RecipientResult = 'delivered' | 'failed' | 'deferred' | 'expired';

export interface RecipientObserver {
  remoteOutcome(result: RecipientResult): void;
}

export interface WorkerOptions {
  /** Items attempted at once. */
  concurrency: number;
  /**
   * Sessions at once to one destination domain: messages being written to it (with
   * PIPELINING a session takes the next message while the last one's reply is on its way).
   */
  perDestination: number;
  retry: RetryPolicy;
  /** How long a claimed item is reserved (longer than any one attempt can take). */
  leaseMs: number;
  /**
   * Look for due items at least this often: a sweep for what no wake-up announces (the items
   * of a node that died before claiming them or with their leases). Everything else wakes
   * the worker: this process's enqueue, retry and release (the store's onOutboundQueued),
   * another process's or node's (the store hears them: SQLite's change of data_version,
   * PostgreSQL's queue channel), an attempt's end, and the next due time (a retry's, a
   * lease's end), which arms a timer. An idle node then costs no claim a second.
   */
  pollMs: number;
}

export const DEFAULT_WORKER_OPTIONS: WorkerOptions = {
  concurrency: 50,
  perDestination: 10,
  retry: DEFAULT_RETRY,
  leaseMs: 30 * 60_000,
  pollMs: 60_000,
};

/** After the store failed a claim or a read of the next due time: looked at again this soon. */
const AFTER_ERROR_MS = 1000;

export class QueueWorker {
  private readonly opts: WorkerOptions;
  private readonly now: () => Date;
  private readonly active = new Set<Promise<void>>();
  /**
   * Outcomes handed to the store and waiting for its commit (a WAL fsync, 5-20 ms on a busy
   * disk). They hold no concurrency slot: at 3,000 messages/s a slot per outcome being made
   * durable took most of the 60 slots, and the sessions waited for claims (bench/outbound).
   */
  private readonly recording = new Set<Promise<void>>();
  private readonly perDomain = new Map<string, number>();
  private readonly domainWaiters = new Map<string, Array<() => void>>();
  private stopped = false;
  private loop: Promise<void> | null = null;
  private wakeUp: (() => void) | null = null;
  private woken = false;
  private unsubscribe: (() => void) | null = null;

  constructor(
    private readonly deps: WorkerDeps,
    opts: Partial<WorkerOptions> = {},
  ) {
    this.opts = { ...DEFAULT_WORKER_OPTIONS, ...opts };
    this.now = deps.now ?? (() => new Date());
  }

  start(): void {
    // Mail queued, retried or released (here, or in another process or node the store hears):
    // look now. The poll is only a slow sweep.
    this.unsubscribe ??= this.deps.store.onOutboundQueued(() => this.wake());
    this.loop ??= this.run().catch((err) => {
      this.deps.log.fatal({ err }, 'queue worker stopped');
    });
  }

  /** Something was queued: look now instead of at the next poll. */
  wake(): void {
    this.woken = true;
    const w = this.wakeUp;
    this.wakeUp = null;
    w?.();
  }

  /** Stops claiming; waits up to `deadlineMs` for attempts under way (their items are leased). */
  async stop(deadlineMs: number): Promise<void> {
    this.unsubscribe?.();
    this.unsubscribe = null;
    this.stopped = true;
    this.wake();
    await this.loop;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      Promise.allSettled([...this.active]).then(() => Promise.allSettled([...this.recording])),
      new Promise((r) => {
        timer = setTimeout(r, deadlineMs);
      }),
    ]);
    clearTimeout(timer);
    await this.deps.courier.close();
  }

  private async run(): Promise<void> {
    // One worker per store: leases left by a process that died are void.
    await this.deps.store.resetOutboundLeases();
    while (!this.stopped) {
      // Outcomes not yet durable are few (one commit's worth); a store that stalls for long
      // stops the claims once there are as many as ten rounds of attempts.
      const free =
        this.recording.size >= 10 * this.opts.concurrency
          ? 0
          : this.opts.concurrency - this.active.size;
      let claimed: OutboundItem[] = [];
      if (free <= 0) {
        // Full: wait for a slot (an attempt ending, outcomes committed), at most a poll.
        this.woken = false;
        await this.idle(this.opts.pollMs);
        continue;
      }
      this.woken = false;
      try {
        claimed = await this.deps.store.claimOutbound({
          now: this.now(),
          limit: free,
          leaseMs: this.opts.leaseMs,
        });
      } catch (err) {
        // The store failed (busy, disk): the worker goes on and looks again at the next poll.
        if (this.stopped) break;
        this.deps.log.error({ err }, 'queue: claiming due messages failed');
        await this.idle(Math.min(this.opts.pollMs, AFTER_ERROR_MS));
        continue;
      }
      for (const item of claimed) this.track(this.attempt(item));
      if (claimed.length > 0 && claimed.length === free) {
        await this.idle(0); // full: wait for a slot
        // Attempts end in bursts (their commits share one WAL fsync): let the others of this
        // turn of the event loop end too, and claim their slots in one transaction.
        await new Promise<void>((r) => setImmediate(r));
      } else if (!this.woken) {
        const due = await this.deps.store.nextOutboundDue().catch(() => undefined);
        const wait =
          due === undefined
            ? AFTER_ERROR_MS // not read: look again soon, as after a failed claim
            : due === null
              ? this.opts.pollMs
              : due.getTime() - this.now().getTime();
        // An item fell due since the claim (its time passed in between): claim again now.
        // idle(0) would wait for an attempt to end or for new mail, which may never come.
        if (wait <= 0) await new Promise<void>((r) => setImmediate(r));
        else await this.idle(Math.min(wait, this.opts.pollMs));
      } else {
        // Woken meanwhile: look again, but after this turn's I/O (never a loop of microtasks).
        await new Promise<void>((r) => setImmediate(r));
      }
    }
  }

  private track(p: Promise<void>): void {
    this.active.add(p);
    void p.finally(() => {
      this.active.delete(p);
      this.wake();
    });
  }

  /** Resolves after `ms` or on wake(); with ms 0 only on wake() (an attempt ends, mail queued). */
  private idle(ms: number): Promise<void> {
    if (this.woken || this.stopped) return Promise.resolve();
    return new Promise<void>((resolve) => {
      const timer = ms > 0 ? setTimeout(done, ms) : undefined;
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wakeUp = done;
    });
  }

  /** One attempt at every pending recipient of an item; never throws. */
  private async attempt(item: OutboundItem): Promise<void> {
    const log = this.deps.log.child({ queueId: item.id });
    try {
      const message = await this.deps.store.readOutbound(item);
      const pending = item.recipients.filter((r) => r.state === 'pending');
      let outcomes: Outcome[];
      if (tooManyHops(message)) {
        // RFC 5321 §6.3: a message that went round too often is a loop; do not send it on.
        outcomes = pending.map((r) => ({
          address: r.address,
          status: 'failed',
          reply: null,
          diagnostic: `${LOOP_STATUS} too many Received header fields: mail loop`,
        }));
        log.warn('mail loop: bounced without sending');
      } else {
        const byDomain = new Map<string, typeof pending>();
        for (const r of pending) {
          const d = domainOf(r.address);
          byDomain.set(d, [...(byDomain.get(d) ?? []), r]);
        }
        const parts = await Promise.all(
          [...byDomain].map(([domain, rcpts]) => this.toDomain(domain, item, rcpts, message, log)),
        );
        outcomes = parts.flat();
      }
      await this.record(item, outcomes, message, log);
    } catch (err) {
      // The store failed (disk, closed): the lease runs out and the item is tried again.
      log.error({ err }, 'queue attempt failed');
    }
  }

  private async toDomain(
    domain: string,
    item: OutboundItem,
    rcpts: OutboundItem['recipients'],
    message: Buffer,
    log: Logger,
  ): Promise<Outcome[]> {
    const all = (status: RecipientOutcome['status'], diagnostic: string) =>
      rcpts.map((r) => ({ address: r.address, status, reply: null, diagnostic }));
    await this.enter(domain);
    // The destination's slot is a session's: it is handed on as soon as the session can take
    // the next message (PIPELINING), while this message's reply is still on its way.
    let left = false;
    const leave = () => {
      if (left) return;
      left = true;
      this.leave(domain);
    };
    try {
      const route = await this.deps.route(domain);
      switch (route.kind) {
        case 'null-mx':
          // RFC 7505 §4.2: 5.1.10 for a domain that declares it accepts no mail.
          return all('failed', `5.1.10 ${domain} accepts no mail (null MX)`);
        case 'no-domain':
          return all('failed', `5.1.2 ${route.reason}`);
        case 'dns-error':
          return all('deferred', `4.4.3 ${route.reason}`);
      }
      const result = await this.deps.courier.send(route, {
        sender: item.sender,
        recipients: rcpts.map((r) => ({
          address: r.address,
          ...(r.notify ? { notify: r.notify } : {}),
          ...(r.orcpt ? { orcpt: r.orcpt } : {}),
        })),
        message,
        ...(item.envid ? { envid: item.envid } : {}),
        ...(item.ret ? { ret: item.ret } : {}),
        finalize: (m) => this.deps.sign(m),
        onSessionFree: leave,
      });
      for (const o of result.recipients) {
        // One line per recipient and attempt: queue id, recipient, host, address, TLS, reply.
        log.info(
          {
            rcpt: o.address,
            status: o.status,
            host: result.info.host,
            ip: result.info.ip,
            tls: result.info.tls,
            reply: o.reply ? `${o.reply.code} ${o.reply.enhanced ?? ''} ${o.reply.text}` : null,
            ms: result.info.durationMs,
          },
          `delivery ${o.status}: ${o.diagnostic}`,
        );
      }
      const dsn = result.info.dsn === true;
      return result.recipients.map((o) => ({
        ...o,
        ...(o.reply ? { remoteMta: result.info.host } : {}),
        remoteDsn: dsn,
      }));
    } catch (err) {
      log.error({ err, domain }, 'delivery attempt failed');
      return all('deferred', `4.4.0 internal error: ${(err as Error).message}`);
    } finally {
      leave();
    }
  }

  /** Records the outcomes and sends what DSNs they call for. */
  private async record(
    item: OutboundItem,
    outcomes: Outcome[],
    message: Buffer,
    log: Logger,
  ): Promise<void> {
    const now = this.now();
    const policy = this.opts.retry;
    const tooOld = expired(policy, item.createdAt, now);
    const byAddress = new Map(item.recipients.map((r) => [r.address, r]));
    const failed: DsnRecipient[] = [];
    const delayed: DsnRecipient[] = [];
    const relayed: DsnRecipient[] = [];
    const giveUpAt = new Date(item.createdAt.getTime() + policy.maxAgeMs);
    const update: OutboundUpdate = { recipients: [], nextAttemptAt: now, attempted: true };
    for (const o of outcomes) {
      const r = byAddress.get(o.address);
      if (!r) continue;
      const status = statusOf(o);
      const remoteMta = o.remoteMta ?? null;
      const diagnostic = o.reply ? smtpDiagnostic(o.reply) : undefined;
      if (o.status === 'delivered') {
        update.recipients.push({ address: o.address, state: 'sent', lastError: null, status });
        // RFC 3461 §6.2.3.2: NOTIFY=SUCCESS to a server without DSN: we report 'relayed'
        // (a server with DSN got NOTIFY with the message and reports delivery itself).
        if (r.notify !== undefined && r.notify !== 'NEVER' && r.notify.includes('SUCCESS')) {
          if (!o.remoteDsn) {
            relayed.push({
              address: o.address,
              ...(r.orcpt ? { orcpt: r.orcpt } : {}),
              action: 'relayed',
              status,
              ...(remoteMta ? { remoteMta } : {}),
              ...(diagnostic ? { diagnostic } : {}),
              lastAttempt: now,
            });
          }
        }
        continue;
      }
      if (o.status === 'failed' || tooOld) {
        // RFC 3463 4.4.7: the message waited too long; the last temporary reason goes with it.
        const final = o.status === 'failed' ? status : '4.4.7';
        update.recipients.push({
          address: o.address,
          state: 'failed',
          lastError: o.diagnostic,
          status: final,
          remoteMta,
        });
        if (shouldNotify(r.notify, 'failed')) {
          failed.push({
            address: o.address,
            ...(r.orcpt ? { orcpt: r.orcpt } : {}),
            action: 'failed',
            status: final.startsWith('4') ? `5${final.slice(1)}` : final,
            ...(remoteMta ? { remoteMta } : {}),
            diagnostic: diagnostic ?? `x-letterbox; ${o.diagnostic}`,
            lastAttempt: now,
          });
        }
        continue;
      }
      update.recipients.push({
        address: o.address,
        state: 'pending',
        lastError: o.diagnostic,
        status,
        remoteMta,
      });
      if (shouldNotify(r.notify, 'delayed')) {
        delayed.push({
          address: o.address,
          ...(r.orcpt ? { orcpt: r.orcpt } : {}),
          action: 'delayed',
          status,
          ...(remoteMta ? { remoteMta } : {}),
          diagnostic: diagnostic ?? `x-letterbox; ${o.diagnostic}`,
          lastAttempt: now,
          willRetryUntil: giveUpAt,
        });
      }
    }
    update.nextAttemptAt = nextAttempt(policy, item.attempts + 1, item.createdAt, now);
    const sendDelay =
      delayed.length > 0 &&
      !item.delayNotified &&
      now.getTime() - item.createdAt.getTime() >= policy.delayNoticeMs;
    // The DSNs go out before the outcome is committed: a crash in between repeats a DSN
    // rather than losing it.
    if (failed.length > 0) await this.notify(item, message, failed, log);
    if (relayed.length > 0) await this.notify(item, message, relayed, log);
    if (sendDelay) {
      await this.notify(item, message, delayed, log);
      update.delayNotified = true;
    }
    // The attempt is over once its outcome is with the store: the commit (and its fsync) is
    // awaited apart, without holding the attempt's slot or its message.
    const retried = update.recipients.some((r) => r.state === 'pending');
    const recorded = this.deps.store.updateOutbound(item.id, update).then(
      () => {
        this.observe(update);
        // A retry's due time is now the item's (it was the lease's end, 30 minutes off, when
        // the loop last read the next due time): the loop reads it again and arms its timer.
        if (retried) this.wake();
      },
      (err) => {
        // Not recorded: the lease runs out and the item is tried again.
        log.error({ err }, 'queue: recording the outcome failed');
      },
    );
    this.recording.add(recorded);
    void recorded.finally(() => {
      this.recording.delete(recorded);
      if (this.recording.size === 10 * this.opts.concurrency - 1) this.wake();
    });
  }

  /** Monitoring: each recipient's outcome, once recorded. */
  private observe(update: OutboundUpdate): void {
    const observer = this.deps.observer;
    if (!observer) return;
    for (const r of update.recipients) {
      const result =
        r.state === 'sent'
          ? 'delivered'
          : r.state === 'pending'
            ? 'deferred'
            : r.status === '4.4.7'
              ? 'expired'
              : 'failed';
      observer.remoteOutcome(result);
    }
  }

  private async notify(
    item: OutboundItem,
    message: Buffer,
    recipients: DsnRecipient[],
    log: Logger,
  ): Promise<void> {
    // Never a DSN to the null sender (RFC 3461 §6.2, RFC 5321 §4.5.5): no loops of bounces.
    if (item.sender === '') return;
    const dsn = buildDsn({
      reportingMta: this.deps.hostname,
      to: item.sender,
      ...(item.envid ? { envid: item.envid } : {}),
      ...(item.ret ? { ret: item.ret } : {}),
      arrivalDate: item.createdAt,
      original: message,
      recipients,
    });
    if (dsn === null) return;
    try {
      await this.deps.submitDsn(item.sender, dsn);
      log.info(
        { to: item.sender, action: recipients[0]?.action, rcpts: recipients.length },
        'DSN sent',
      );
    } catch (err) {
      log.error({ err, to: item.sender }, 'DSN could not be delivered');
    }
  }

  private async enter(domain: string): Promise<void> {
    while ((this.perDomain.get(domain) ?? 0) >= this.opts.perDestination) {
      await new Promise<void>((resolve) => {
        const list = this.domainWaiters.get(domain) ?? [];
        list.push(resolve);
        this.domainWaiters.set(domain, list);
      });
    }
    this.perDomain.set(domain, (this.perDomain.get(domain) ?? 0) + 1);
  }

  private leave(domain: string): void {
    const n = (this.perDomain.get(domain) ?? 1) - 1;
    if (n <= 0) this.perDomain.delete(domain);
    else this.perDomain.set(domain, n);
    const list = this.domainWaiters.get(domain);
    const next = list?.shift();
    if (list && list.length === 0) this.domainWaiters.delete(domain);
    next?.();
  }
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return (at < 0 ? '' : address.slice(at + 1)).toLowerCase();
}

/** RFC 3463 status of an outcome: the remote's enhanced code, else one from the diagnostic. */
function statusOf(o: RecipientOutcome): string {
  if (o.reply?.enhanced) return o.reply.enhanced;
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})\b/.exec(o.diagnostic);
  if (m) return `${m[1]}.${m[2]}.${m[3]}`;
  if (o.reply) return `${String(o.reply.code)[0]}.0.0`;
  return o.status === 'delivered' ? '2.0.0' : o.status === 'failed' ? '5.0.0' : '4.0.0';
}
