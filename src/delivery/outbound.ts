// The local/remote split of a delivery's recipients, and the one place where mail enters the
// outbound queue (queue/ carries it on: routing, the SMTP client, DSNs).
import type { Account, OutboundRecipientInput } from '../store/types.js';
import type { DeliveryDeps, Recipient } from './types.js';

/** Mail for outside, under one envelope sender. */
export interface OutboundGroup {
  sender: string;
  recipients: OutboundRecipientInput[];
}

export interface Split {
  /** Local accounts, each once. */
  accounts: Account[];
  /** Remote recipients grouped by the envelope sender they are sent under. */
  outbound: OutboundGroup[];
}

/**
 * The envelope sender for mail that the alias `alias` forwards outside: the one place that
 * decides it. SRS (queue/srs.ts) rewrites it into the alias's domain, so that SPF passes at
 * the receiver (RFC 7208 §1.1.1: forwarding breaks SPF) and a bounce comes back to us, to be
 * sent on to the original sender (resolve.ts). The null sender stays null (a bounce is never
 * bounced). A recipient given outside directly (submission, a DSN) keeps the sender as it is.
 */
export function forwardedSender(deps: DeliveryDeps, sender: string, alias: string): string {
  if (sender === '' || !deps.srs) return sender;
  return deps.srs.forward(sender, alias.slice(alias.lastIndexOf('@') + 1));
}

/** RFC 3461 §4.2 ORCPT for a queued recipient: the one given, or the alias it came through. */
function orcptOf(r: Recipient, address: string): string | undefined {
  if (r.orcpt) return `${r.orcpt.type};${r.orcpt.addr}`;
  return address === r.address ? undefined : `rfc822;${r.address}`;
}

export function splitRecipients(deps: DeliveryDeps, sender: string, rs: Recipient[]): Split {
  const accounts = new Map<number, Account>();
  const groups = new Map<string, OutboundGroup>();
  const queued = new Set<string>();
  for (const r of rs) {
    for (const a of r.accounts) accounts.set(a.id, a);
    for (const address of r.remote) {
      if (queued.has(address)) continue;
      queued.add(address);
      const from = address === r.address ? sender : forwardedSender(deps, sender, r.address);
      let g = groups.get(from);
      if (!g) {
        g = { sender: from, recipients: [] };
        groups.set(from, g);
      }
      const orcpt = orcptOf(r, address);
      g.recipients.push({ address, notify: r.notify, ...(orcpt ? { orcpt } : {}) });
    }
  }
  return { accounts: [...accounts.values()], outbound: [...groups.values()] };
}

/** Into the persistent outbound queue (the only call of enqueueOutbound in delivery). */
export function enqueue(
  deps: DeliveryDeps,
  group: OutboundGroup,
  raw: Buffer,
  opts: { envid?: string; ret?: 'FULL' | 'HDRS'; accountId?: number },
): Promise<number> {
  return deps.store.enqueueOutbound({
    sender: group.sender,
    recipients: group.recipients,
    raw,
    envid: opts.envid,
    ret: opts.ret,
    accountId: opts.accountId,
  });
}
