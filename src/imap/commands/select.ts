// SELECT and EXAMINE (RFC 9051 §6.3.2-3) with the CONDSTORE and QRESYNC parameters (RFC 7162
// §3.1.8, §3.2.5); CLOSE, UNSELECT (RFC 9051 §6.4.2, §6.4.3) and EXPUNGE, UID EXPUNGE
// (RFC 9051 §6.4.3, RFC 4315 §2.1).
import type { Mailbox, MailboxSummary } from '../../store/types.js';
import { bad, no, ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { MailboxView } from '../view.js';
import type { ArgCursor } from '../wire/parser.js';
import { intervalsContain, resolveSequenceSet, type SequenceSet } from '../wire/sequence.js';
import { sequenceSetToString } from '../wire/serializer.js';
import { AUTHED, command, noArgs, SELECTED } from './types.js';
import {
  clientMailboxName,
  formatFlags,
  getMailboxOrFail,
  mailboxAstring,
  noMailbox,
  requireAccount,
  requireSelected,
  resolveSet,
} from './util.js';

const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

interface QresyncParam {
  uidValidity: number;
  modseq: number;
  knownUids: SequenceSet | null;
}

interface SelectArgs {
  mailbox: string;
  condstore: boolean;
  qresync: QresyncParam | null;
}

function parseSelect(c: ArgCursor): SelectArgs {
  c.space();
  const mailbox = c.mailbox();
  let condstore = false;
  let qresync: QresyncParam | null = null;
  if (c.maybe(' ')) {
    c.list((p) => {
      const name = p.word();
      if (name === 'CONDSTORE') condstore = true;
      else if (name === 'QRESYNC') {
        p.space();
        p.expect('(');
        const uidValidity = p.nzNumber();
        p.space();
        const modseq = p.number64();
        let knownUids: SequenceSet | null = null;
        if (p.maybe(' ')) {
          if (p.peek() !== 0x28) {
            knownUids = p.sequenceSet();
            if (knownUids.kind === 'saved') p.fail('$ is not allowed in QRESYNC');
            p.maybe(' ');
          }
          // seq-match-data is an optimisation the server may ignore (RFC 7162 §3.2.5.2):
          // expunged UIDs are kept with their modseq, so VANISHED (EARLIER) is exact anyway.
          if (p.peek() === 0x28) {
            p.expect('(');
            p.sequenceSet();
            p.space();
            p.sequenceSet();
            p.expect(')');
          }
        }
        p.expect(')');
        qresync = { uidValidity, modseq, knownUids };
      } else p.fail(`Unknown SELECT parameter ${name}`);
    }, 1);
  }
  c.end();
  return { mailbox, condstore, qresync };
}

function selectCommand(name: 'SELECT' | 'EXAMINE') {
  const readOnly = name === 'EXAMINE';
  return command({
    name,
    states: AUTHED,
    parse: parseSelect,
    async run(s, a) {
      const account = requireAccount(s);
      if (s.state.kind === 'selected') {
        // RFC 9051 §6.3.2: a failed SELECT leaves no mailbox selected; RFC 7162 §3.2.11: the
        // client learns where the old mailbox's responses end from [CLOSED].
        s.state = { kind: 'authenticated', account };
        s.untaggedStatus('OK', 'CLOSED', 'Previous mailbox is now closed');
      }
      if (a.qresync && !s.enabled.qresync) throw bad('QRESYNC is not enabled');
      if (a.condstore) s.enabled.condstore = true; // RFC 7162 §3.1.8
      const { mb, summary, read } = await readMailbox(s, a.mailbox);
      const view = new MailboxView(mb.id, summary.uids, mb.highestModseq);
      view.keywords = summary.keywords;
      s.state = { kind: 'selected', account, selected: { mailbox: mb, view, readOnly } };
      read.replay(view);
      s.savedSearch = [];
      // RFC 3501 §6.3.1-2: SELECT takes \Recent from later sessions, EXAMINE does not.
      await s.claimRecent(summary.uids.last ?? 0);
      sendSelectResponses(s, mb, summary, readOnly);
      if (a.qresync && a.qresync.uidValidity === mb.uidValidity) {
        await sendQresync(s, mb, view, a.qresync);
      }
      return ok(`${name} completed`, readOnly ? 'READ-ONLY' : 'READ-WRITE');
    },
  });
}

/**
 * The mailbox by the client's name and its summary, with the events that came during the read
 * (session.selecting): in one read where the store can (openMailbox), else the mailbox and then
 * its summary, HIGHESTMODSEQ as read before the summary (never above what the view holds).
 */
async function readMailbox(s: ImapSession, clientName: string) {
  const store = s.ctx.store;
  if (store.openMailbox === undefined) {
    const mb = await getMailboxOrFail(s, clientName);
    const read = await s.selecting(mb.id, () => store.mailboxSummary(mb.id));
    return { mb, summary: read.value, read };
  }
  const name = clientMailboxName(s, clientName);
  const accountId = requireAccount(s).id;
  const read = await s.selecting(null, () => store.openMailbox!(accountId, name));
  if (read.value === null) {
    read.stop();
    throw noMailbox(name);
  }
  return { mb: read.value.mailbox, summary: read.value.summary, read };
}

/**
 * FLAGS (RFC 3501 §7.2.6, RFC 9051 §7.3.5: the system flags and every keyword the mailbox's
 * messages use) and OK [PERMANENTFLAGS] (RFC 9051 §7.1: `\*` says new keywords may be
 * created): at SELECT, and again whenever a keyword new to the session appears.
 */
export function sendFlagsList(
  s: ImapSession,
  keywords: readonly string[],
  readOnly: boolean,
): void {
  const flags = [...SYSTEM_FLAGS, ...keywords];
  s.untagged(`FLAGS ${formatFlags(flags)}`);
  const permanent = readOnly ? '()' : formatFlags([...flags, '\\*']);
  s.untaggedStatus('OK', `PERMANENTFLAGS ${permanent}`, 'Flags permitted');
}

function sendSelectResponses(
  s: ImapSession,
  mb: Mailbox,
  summary: MailboxSummary,
  readOnly: boolean,
): void {
  const { keywords, firstUnseen } = summary;
  sendFlagsList(s, keywords, readOnly);
  s.untagged(`${summary.uids.length} EXISTS`);
  if (!s.enabled.imap4rev2) {
    // RFC 3501 §6.3.1 requires RECENT and the first unseen message; IMAP4rev2 dropped both.
    s.untagged(`${s.selected?.view.recentCount() ?? 0} RECENT`);
    if (firstUnseen > 0) s.untaggedStatus('OK', `UNSEEN ${firstUnseen}`, 'First unseen');
  }
  s.untaggedStatus('OK', `UIDVALIDITY ${mb.uidValidity}`, 'UIDs valid');
  // Messages added between reading the mailbox and its summary are in the view: UIDNEXT is
  // above them.
  const uidNext = Math.max(mb.uidNext, (summary.uids.last ?? 0) + 1);
  s.untaggedStatus('OK', `UIDNEXT ${uidNext}`, 'Predicted next UID');
  s.untaggedStatus('OK', `HIGHESTMODSEQ ${mb.highestModseq}`, 'Highest');
  // RFC 8474 §4.2: MAILBOXID in an untagged OK of every successful SELECT / EXAMINE.
  s.untaggedStatus('OK', `MAILBOXID (${mb.objectId})`, 'Ok');
  if (s.enabled.imap4rev2) {
    // RFC 9051 §6.3.2: the LIST response gives the mailbox name in its canonical form.
    s.untagged(Buffer.concat([Buffer.from('LIST () "/" '), mailboxAstring(s, mb.name)]));
  }
}

/** RFC 7162 §3.2.5.1: VANISHED (EARLIER) for expunges and FETCH for flag changes since. */
async function sendQresync(
  s: ImapSession,
  mb: Mailbox,
  view: MailboxView,
  q: QresyncParam,
): Promise<void> {
  const records = await s.ctx.store.listMessages(mb.id, { changedSince: q.modseq });
  let vanished = await s.ctx.store.expungedSince(mb.id, q.modseq);
  if (q.knownUids && q.knownUids.kind === 'ranges') {
    const known = resolveSequenceSet(q.knownUids, Number.MAX_SAFE_INTEGER);
    vanished = vanished.filter((u) => intervalsContain(known, u));
  }
  if (vanished.length > 0) s.untagged(`VANISHED (EARLIER) ${sequenceSetToString(vanished)}`);
  for (const r of records) {
    // A message delivered since the view was made is announced later, as EXISTS.
    if (r.modseq <= q.modseq || view.seqOf(r.uid) === 0) continue;
    const flags = formatFlags(view.withRecent(r.uid, r.flags));
    s.untagged(`${view.seqOf(r.uid)} FETCH (UID ${r.uid} FLAGS ${flags} MODSEQ (${r.modseq}))`);
  }
}

export const SELECT = selectCommand('SELECT');
export const EXAMINE = selectCommand('EXAMINE');

// RFC 9051 §6.4.2: CLOSE expunges \Deleted messages silently (unless read-only).
export const CLOSE = command({
  name: 'CLOSE',
  states: SELECTED,
  parse: noArgs,
  async run(s) {
    const sel = requireSelected(s);
    s.state = { kind: 'authenticated', account: requireAccount(s) };
    if (!sel.readOnly) await s.ctx.store.expunge(sel.mailbox.id, { onlyDeleted: true });
    return ok('CLOSE completed');
  },
});

// RFC 3691 / RFC 9051 §6.4.3: leave the mailbox without expunging.
export const UNSELECT = command({
  name: 'UNSELECT',
  states: SELECTED,
  parse: noArgs,
  async run(s) {
    s.state = { kind: 'authenticated', account: requireAccount(s) };
    return ok('UNSELECT completed');
  },
});

async function expunge(s: ImapSession, uids: number[] | undefined): Promise<void> {
  const sel = requireSelected(s);
  if (sel.readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
  const gone = await s.ctx.store.expunge(sel.mailbox.id, { uids, onlyDeleted: true });
  // The store's event may come later (another node): the view ignores a second report.
  sel.view.noteExpunged(gone);
}

// The dispatcher announces the EXPUNGE (or VANISHED) responses before the tagged OK.
export const EXPUNGE = command({
  name: 'EXPUNGE',
  states: SELECTED,
  parse: noArgs,
  async run(s) {
    await expunge(s, undefined);
    return ok('EXPUNGE completed');
  },
});

export const UID_EXPUNGE = command({
  name: 'UID EXPUNGE',
  states: SELECTED,
  parse(c) {
    c.space();
    const set = c.sequenceSet();
    c.end();
    return set;
  },
  async run(s, set) {
    const uids = resolveSet(s, set, true);
    if (uids.length > 0) await expunge(s, uids);
    else if (requireSelected(s).readOnly) throw no('READ-ONLY', 'Mailbox is read-only');
    return ok('UID EXPUNGE completed');
  },
});
