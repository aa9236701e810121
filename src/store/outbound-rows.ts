// The outbound queue's rows as both backends read them (sqlite/queue.ts, postgres/queue.ts),
// and the OutboundItem they make: one mapping, so the two stores cannot answer differently.
import type { DsnNotify, OutboundItem, OutboundState } from './types.js';

/** A row of `outbound`; SQLite gives its flags as 0/1, PostgreSQL as booleans. */
export interface OutboundRow {
  id: number;
  blob_hash: string;
  size: number;
  sender: string;
  envid: string | null;
  ret: 'FULL' | 'HDRS' | null;
  account_id: number | null;
  created_at: number;
  next_attempt_at: number;
  attempts: number;
  held: number | boolean;
  last_attempt_at: number | null;
  delay_notified: number | boolean;
}

/** A row of `outbound_recipients` (notify: the JSON of RFC 3461 NOTIFY). */
export interface RecipientRow {
  address: string;
  notify: string | null;
  orcpt: string | null;
  state: OutboundState;
  last_error: string | null;
  status: string | null;
  remote_mta: string | null;
}

export function outboundItem(r: OutboundRow, rcpts: readonly RecipientRow[]): OutboundItem {
  return {
    id: r.id,
    sender: r.sender,
    envid: r.envid,
    ret: r.ret,
    accountId: r.account_id,
    blobHash: r.blob_hash,
    size: r.size,
    createdAt: new Date(r.created_at),
    nextAttemptAt: new Date(r.next_attempt_at),
    attempts: r.attempts,
    held: Boolean(r.held),
    lastAttemptAt: r.last_attempt_at === null ? null : new Date(r.last_attempt_at),
    delayNotified: Boolean(r.delay_notified),
    recipients: rcpts.map((x) => ({
      address: x.address,
      ...(x.notify === null ? {} : { notify: JSON.parse(x.notify) as DsnNotify }),
      ...(x.orcpt === null ? {} : { orcpt: x.orcpt }),
      state: x.state,
      lastError: x.last_error,
      status: x.status,
      remoteMta: x.remote_mta,
    })),
  };
}
