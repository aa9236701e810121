// What the append statements (append-batch.ts's group statement, append-one.ts's for one
// message) check of their mailbox: that it is still the one the caller looked up
// (AppendTarget.expect), and that it was not deleted while they waited for the account's lock.
import type { ExpectedMailbox } from '../types.js';

/**
 * AppendTarget.expect as an append statement's condition on its mailboxes row, the three
 * parameters from $n (all null: no expectation; expectParams gives them): the mailbox must
 * still have the owner, UIDVALIDITY and name the caller looked up.
 */
export function expectedMailbox(n: number): string {
  return `($${n}::bigint IS NULL OR (account_id = $${n} AND uid_validity = $${n + 1}::bigint
    AND name = $${n + 2}::text))`;
}

/** The parameters of expectedMailbox. */
export function expectParams(e: ExpectedMailbox | undefined): unknown[] {
  return e === undefined ? [null, null, null] : [e.accountId, e.uidValidity, e.name];
}

/** Whether a mailboxes row is still what `expect` names (AppendTarget.expect). */
export function isExpected(
  r: { account_id: number; uid_validity: number; name: string },
  e: ExpectedMailbox,
): boolean {
  return r.account_id === e.accountId && r.uid_validity === e.uidValidity && r.name === e.name;
}

/**
 * SQLSTATE of a group statement (or appendOne's) that found its mailbox gone only once it had
 * the account's lock: the mailbox was deleted by a transaction that held that lock while the
 * statement waited for it, so the mailbox's row, read before, could not be updated. The
 * statement divides by zero to undo itself whole (the account's usage and modseq, the stored
 * messages); tried again, it finds no mailbox.
 */
export const MAILBOX_GONE = '22012';

/**
 * The guard of an append statement whose CTE `a` moved the account's counters and `m` the
 * mailbox's (MAILBOX_GONE): the account's lock is taken before the mailbox's row is, and a
 * deletion of the mailbox committed in between leaves `m` empty.
 */
export const MAILBOX_GUARD = `CASE WHEN EXISTS (SELECT 1 FROM a) AND NOT EXISTS (SELECT 1 FROM m)
    THEN (SELECT 1 / count(*)::integer FROM m) END AS guard`;
