// Local delivery: parse the message once, then store the blob and its rows in one commit for
// every recipient account's INBOX. The caller answers 250 only after this resolves. Reached
// through deliver.ts (and mailbox.ts for one chosen mailbox), never by a protocol directly.
import { parseMessage } from '../mime/index.js';
import { isStoreError } from '../store/errors.js';
import {
  type Account,
  type AppendResult,
  type AppendTarget,
  checkedTarget,
  FTS_TEXT_MAX,
  type FullTextIndexMode,
  type MailStore,
  type MessageIndex,
} from '../store/types.js';

/**
 * What the store keeps from the parse: FETCH and SEARCH never parse the message again. The
 * text only for a store that indexes it at delivery (`fullTextIndex`): with `on-search` none is
 * extracted (a text cap of 0 stops the parser's text pass before it starts), and the store
 * reads the message's bytes if a search needs them. A store that indexes on search ignores a
 * text it is given (callers that store directly, tests and benches, may leave the default).
 */
export function indexMessage(raw: Buffer, mode: FullTextIndexMode = 'on-delivery'): MessageIndex {
  const p = parseMessage(raw, { textCap: mode === 'on-delivery' ? FTS_TEXT_MAX + 1 : 0 });
  return {
    structure: p.root,
    envelope: p.envelope,
    search: {
      from: p.search.from,
      to: p.search.to,
      cc: p.search.cc,
      bcc: p.search.bcc,
      subject: p.search.subject,
      messageId: p.search.messageId ?? '',
      sentAt: p.search.date,
      references: p.search.references,
    },
    // One character past the index's share tells that there is more; so does a part whose
    // bytes the parser's cap cut (its text then shorter than the share, yet not whole).
    text: p.text.slice(0, FTS_TEXT_MAX),
    textTruncated: p.text.length > FTS_TEXT_MAX || p.textCut,
  };
}

export interface LocalDelivery {
  /** The message as it will be stored (trace headers already prepended). */
  raw: Buffer;
  accounts: Account[];
  internalDate?: Date;
}

/**
 * Each account's INBOX as last looked up, per store, so that a delivery need not read the
 * mailbox row first (a read of its own outside the append's transaction). The append checks
 * in its transaction that the mailbox is still that INBOX (AppendTarget.expect: owner,
 * UIDVALIDITY, name; a deleted mailbox's id may be reused, UIDVALIDITY never is), and a
 * delivery it refuses looks the INBOXes up again once.
 */
const inboxes = new WeakMap<MailStore, Map<number, AppendTarget>>();
/** Accounts whose INBOX is remembered at once, per store; then it starts over. */
const INBOXES_MAX = 10_000;

/**
 * Into each account's INBOX, atomically: all recipients get it or none do (OVERQUOTA when one
 * account has no room, so the sending server bounces and nothing is silently lost).
 */
export async function deliverLocal(store: MailStore, d: LocalDelivery): Promise<AppendResult[]> {
  let known = inboxes.get(store);
  if (known === undefined) {
    known = new Map();
    inboxes.set(store, known);
  }
  const message = {
    raw: d.raw,
    index: indexMessage(d.raw, store.fullTextIndex),
    internalDate: d.internalDate,
  };
  let remembered = false;
  const targets: AppendTarget[] = [];
  for (const a of d.accounts) {
    const t = known.get(a.id);
    if (t !== undefined) remembered = true;
    targets.push(t ?? (await lookUpInbox(store, known, a)));
  }
  try {
    return await store.append(message, targets);
  } catch (err) {
    // A remembered INBOX that is no longer one (account or INBOX deleted, or the store's):
    // nothing was stored; look them all up again.
    if (!remembered || !isStoreError(err, 'NOT_FOUND')) throw err;
    for (const a of d.accounts) known.delete(a.id);
    const fresh: AppendTarget[] = [];
    for (const a of d.accounts) fresh.push(await lookUpInbox(store, known, a));
    return store.append(message, fresh);
  }
}

async function lookUpInbox(
  store: MailStore,
  known: Map<number, AppendTarget>,
  a: Account,
): Promise<AppendTarget> {
  const inbox = await store.getMailbox(a.id, 'INBOX');
  if (!inbox) throw new Error(`account ${a.address} has no INBOX`);
  const t = checkedTarget(inbox);
  if (known.size >= INBOXES_MAX) known.clear();
  known.set(a.id, t);
  return t;
}
