// STATUS (RFC 9051 §6.3.11; RFC 8438 SIZE; RFC 7162 HIGHESTMODSEQ; RFC 7889 APPENDLIMIT;
// RFC 8474 MAILBOXID),
// also used by LIST-STATUS (RFC 5819).
import type { Mailbox } from '../../store/types.js';
import { ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { parseStatusArgs, type StatusItem } from '../wire/args.js';
import { AUTHED, command } from './types.js';
import { getMailboxOrFail, mailboxAstring } from './util.js';

/** `STATUS name (ITEM n ...)` without the leading `* `. */
export async function statusResponse(
  s: ImapSession,
  mb: Mailbox,
  items: readonly StatusItem[],
): Promise<Buffer> {
  const st = await s.ctx.store.mailboxStatus(mb.id);
  const values: Record<StatusItem, number | string> = {
    MESSAGES: st.messages,
    UIDNEXT: st.uidNext,
    UIDVALIDITY: st.uidValidity,
    UNSEEN: st.unseen,
    DELETED: st.deleted,
    SIZE: st.size,
    RECENT: recentStatus(s, mb, st.recent),
    HIGHESTMODSEQ: st.highestModseq,
    APPENDLIMIT: s.ctx.cfg.limits.max_message_size,
    // RFC 8474 §4.3: status-att-value =/ "MAILBOXID" SP "(" objectid ")".
    MAILBOXID: `(${mb.objectId})`,
  };
  const parts = [...new Set(items)].map((i) => `${i} ${values[i]}`).join(' ');
  return Buffer.concat([
    Buffer.from('STATUS '),
    mailboxAstring(s, mb.name),
    Buffer.from(` (${parts})`),
  ]);
}

/**
 * RFC 3501 §6.3.10 RECENT: the messages no session has taken yet, plus those this session
 * took when the mailbox is the one it has selected read-write. IMAP4rev2 has no \Recent.
 */
function recentStatus(s: ImapSession, mb: Mailbox, unclaimed: number): number {
  if (s.enabled.imap4rev2) return 0;
  const sel = s.selected;
  if (!sel || sel.mailbox.id !== mb.id || sel.readOnly) return unclaimed;
  return unclaimed + sel.view.recentCount();
}

export const STATUS = command({
  name: 'STATUS',
  states: AUTHED,
  parse: parseStatusArgs,
  async run(s, a) {
    const mb = await getMailboxOrFail(s, a.mailbox);
    // RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) is a CONDSTORE enabling command.
    if (a.items.includes('HIGHESTMODSEQ')) s.enableCondstore();
    s.untagged(await statusResponse(s, mb, a.items));
    return ok('STATUS completed');
  },
});
