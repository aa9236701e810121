// The outbound queue in a running server: the worker with its real parts (routing from the
// config, the SMTP client, DKIM keys under data_dir) and the way its DSNs come back in.
import type { Config } from '../config/schema.js';
import { deliver } from '../delivery/deliver.js';
import { readOriginator } from '../delivery/originator.js';
import type { DeliveryObserver } from '../delivery/types.js';
import type { Logger } from '../log.js';
import type { MailStore } from '../store/types.js';
import { SmtpCourier } from './courier.js';
import { dkimSign } from './dkim.js';
import { routerFromConfig } from './routing.js';
import type { Srs } from './srs.js';
import { QueueWorker, type RecipientObserver } from './worker.js';

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;

export interface QueueInternals {
  /** MTA-STS over another port / CA (tests). */
  mtaSts?: { httpsPort?: number; ca?: string | string[] };
  /** Certificate authorities the SMTP client trusts instead of the system's (tests). */
  ca?: string | string[];
}

export interface RunningQueue {
  /** Stops claiming and waits up to `deadlineMs` for the attempts under way. */
  stop(deadlineMs: number): Promise<void>;
}

export function startQueueWorker(
  cfg: Config,
  store: MailStore,
  log: Logger,
  internals: QueueInternals = {},
  srs?: Srs,
  observer?: DeliveryObserver & RecipientObserver,
): RunningQueue {
  const qlog = log.child({ component: 'queue' });
  const q = cfg.queue;
  const worker = new QueueWorker(
    {
      store,
      log: qlog,
      hostname: cfg.hostname,
      ...(observer ? { observer } : {}),
      route: routerFromConfig(cfg, qlog, internals.mtaSts),
      courier: new SmtpCourier({
        client: { helo: cfg.hostname, ...(internals.ca ? { ca: internals.ca } : {}) },
        log: qlog,
      }),
      // RFC 6376: signed with the key of the From domain, or of a parent domain (DMARC's
      // relaxed alignment, RFC 7489 §3.1.1: d=example.com aligns with From @mail.example.com,
      // as in our DSNs from MAILER-DAEMON@<hostname>). Mail whose From is not ours
      // (forwarded) keeps its own signatures and gets none.
      sign: async (message) => {
        const who = readOriginator(message);
        const from = who.ok ? who.from[0] : undefined;
        if (!from) return message;
        const labels = from.slice(from.lastIndexOf('@') + 1).split('.');
        for (let i = 0; labels.length - i >= 2; i++) {
          const domain = labels.slice(i).join('.');
          const signed = await dkimSign(message, { dataDir: cfg.dataDir, domain });
          if (signed !== message) return signed;
        }
        return message;
      },
      // The DSN goes through the delivery stage like any message: into a local INBOX, or
      // back into the queue from <> (RFC 3461 §6.2: a DSN has the null reverse-path).
      submitDsn: async (to, dsn) => {
        const o = await deliver(
          { cfg, store, log: qlog, ...(srs ? { srs } : {}), ...(observer ? { observer } : {}) },
          { origin: 'dsn', sender: '', recipients: [to], message: dsn },
        );
        if (o.status === 'temporary') throw o.error;
        if (o.status === 'refused') throw new Error(o.text);
      },
    },
    {
      concurrency: q.concurrency,
      perDestination: q.per_destination,
      retry: {
        schedule: q.retry_minutes.map((m) => m * MINUTE),
        maxAgeMs: q.max_age_hours * HOUR,
        delayNoticeMs: q.delay_notice_hours * HOUR,
      },
    },
  );
  worker.start();
  return {
    stop: (deadlineMs) => worker.stop(deadlineMs),
  };
}
