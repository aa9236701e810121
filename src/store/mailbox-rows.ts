// A row of `mailboxes` (with its subscription) as both backends read it, and the Mailbox it
// makes (sqlite/mailboxes.ts, postgres/mailboxes.ts): one mapping for the two stores.
import type { Mailbox, SpecialUse } from './types.js';

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
