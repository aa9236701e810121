// Helpers shared by the command handlers: mailbox names on the wire, flags, the selected
// mailbox and the account.

import { isStoreError } from '../../store/errors.js';
import { normalizeMailboxName } from '../../store/names.js';
import type { Mailbox } from '../../store/types.js';
import { type ImapError, no } from '../responses.js';
import type { ImapSession } from '../session.js';
import type { AccountRef, Selected } from '../state.js';
import { astring } from '../wire/serializer.js';
import { decodeMailboxName, encodeMailboxName } from '../wire/utf7.js';

/** `(\Seen $Label)`: flags are atoms, written as stored. */
export function formatFlags(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}

export function requireAccount(s: ImapSession): AccountRef {
  const a = s.account;
  if (!a) throw new Error('handler ran without an account (state table bug)');
  return a;
}

export function requireSelected(s: ImapSession): Selected {
  const sel = s.selected;
  if (!sel) throw new Error('handler ran without a selected mailbox (state table bug)');
  return sel;
}

/**
 * A mailbox name from the client to the store's UTF-8 form. RFC 3501 §5.1.3: an IMAP4rev1
 * client that did not enable UTF8=ACCEPT sends modified UTF-7; RFC 6855 §3 / RFC 9051 §5.1:
 * after ENABLE it sends UTF-8. Names are then validated: `..` levels, control characters,
 * wildcards, empty levels and overlong names get a clear NO. Whatever the name, the store is
 * scoped by account id: no name reaches another user's mail.
 */
export function clientMailboxName(s: ImapSession, name: string): string {
  let decoded = name;
  if (!s.enabled.utf8) {
    const d = decodeMailboxName(name);
    if (d === null) throw no('CANNOT', 'Mailbox name is not valid modified UTF-7');
    decoded = d;
  }
  try {
    return normalizeMailboxName(decoded);
  } catch (err) {
    if (isStoreError(err)) throw no(err.code === 'LIMIT' ? 'LIMIT' : 'CANNOT', err.message);
    throw err;
  }
}

/** The store's UTF-8 name as the client expects it (UTF-8 or modified UTF-7). */
export function wireMailboxName(s: ImapSession, name: string): string {
  return s.enabled.utf8 ? name : encodeMailboxName(name);
}

/** The name serialized as an astring for a response line. */
export function mailboxAstring(s: ImapSession, name: string): Buffer {
  return astring(wireMailboxName(s, name), s.writeOpts);
}

/** The account's mailbox by client name, or NO [NONEXISTENT] (or TRYCREATE where asked). */
export async function getMailboxOrFail(
  s: ImapSession,
  clientName: string,
  missingCode = 'NONEXISTENT',
): Promise<Mailbox> {
  const name = clientMailboxName(s, clientName);
  const mb = await s.ctx.store.getMailbox(requireAccount(s).id, name);
  if (!mb) throw noMailbox(name, missingCode);
  return mb;
}

/** NO [code] for a mailbox name that names none (the name as the client gave it, decoded). */
export function noMailbox(name: string, code = 'NONEXISTENT'): ImapError {
  return no(code, `No mailbox ${name.replace(/[^\x20-\x7e]/g, '?')}`);
}

/** The message UIDs a sequence set names in the selected mailbox (UID or sequence numbers). */
export function resolveSet(
  s: ImapSession,
  set: import('../wire/sequence.js').SequenceSet,
  uid: boolean,
): number[] {
  const view = requireSelected(s).view;
  if (set.kind === 'saved') {
    // RFC 5182 §2.1: `$` is the saved result, minus messages expunged since.
    return s.savedSearch.filter((u) => view.isLive(u));
  }
  return uid ? view.uidsForUidSet(set.ranges) : view.uidsForSeqSet(set.ranges);
}
