// The rows both backends read (sqlite/, postgres/: the same tables and columns) and the records
// they make of them: one mapping each, so the two stores cannot answer differently. Where the
// drivers differ, the type says so (SQLite gives booleans as 0/1, PostgreSQL as booleans).
import type {
  AppPasswordRecord,
  DsnNotify,
  Mailbox,
  OutboundItem,
  OutboundState,
  SearchHeaderField,
  SpecialUse,
} from './types.js';

/** At most this many mailboxes per account: a limit against runaway clients. */
export const MAX_MAILBOXES_PER_ACCOUNT = 10_000;

/** SQLite gives `subscribed` (an EXISTS) as 0/1, PostgreSQL as a boolean. */
export interface MailboxRow {
  id: number;
  account_id: number;
  name: string;
  uid_validity: number;
  uid_next: number;
  highest_modseq: number;
  special_use: string | null;
  object_id: string;
  subscribed: number | boolean;
}

export function toMailbox(r: MailboxRow): Mailbox {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    uidValidity: r.uid_validity,
    uidNext: r.uid_next,
    highestModseq: r.highest_modseq,
    specialUse: r.special_use as SpecialUse | null,
    objectId: r.object_id,
    subscribed: Boolean(r.subscribed),
  };
}

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

/** A row of `app_passwords`. */
export interface AppPasswordRow {
  id: string;
  name: string;
  hash: string;
  created_at: number;
  last_used_at: number | null;
}

export function toAppPassword(r: AppPasswordRow): AppPasswordRecord {
  return {
    id: r.id,
    name: r.name,
    hash: r.hash,
    createdAt: new Date(r.created_at),
    lastUsedAt: r.last_used_at === null ? null : new Date(r.last_used_at),
  };
}

/** The `messages` column each stored search field is read from (MailStore.getSearchField). */
export const SEARCH_COLUMNS: Record<SearchHeaderField, string> = {
  from: 's_from',
  to: 's_to',
  cc: 's_cc',
  bcc: 's_bcc',
  subject: 's_subject',
  envelopeFrom: 'e_from',
  envelopeTo: 'e_to',
  envelopeCc: 'e_cc',
  envelopeBcc: 'e_bcc',
};
