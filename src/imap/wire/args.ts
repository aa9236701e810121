/**
 * Arguments of STORE, STATUS, LIST and LSUB parsed to typed values (RFC 9051 §6.3.9, §6.3.11,
 * §6.4.6; RFC 7162 UNCHANGEDSINCE; RFC 5258 LIST-EXTENDED; RFC 5819 LIST-STATUS; RFC 6154
 * SPECIAL-USE). Each parse*Args reads from right after the command name to the end and throws
 * ImapParseError on bad syntax; wrap in tryParse().
 */
import { type ArgCursor, mailboxName } from './parser.js';
import type { SequenceSet } from './sequence.js';

export interface StoreArgs {
  readonly set: SequenceSet;
  /** RFC 7162 §3.1.3 UNCHANGEDSINCE, or null. */
  readonly unchangedSince: number | null;
  /** FLAGS replaces, +FLAGS adds, -FLAGS removes. */
  readonly op: 'set' | 'add' | 'remove';
  /** .SILENT: no untagged FETCH for this session (RFC 9051 §6.4.6). */
  readonly silent: boolean;
  readonly flags: string[];
}

/** ` sequence-set [SP "(" UNCHANGEDSINCE n ")"] SP [+-]FLAGS[.SILENT] SP flags`. */
export function parseStoreArgs(c: ArgCursor): StoreArgs {
  c.space();
  const set = c.sequenceSet();
  c.space();
  let unchangedSince: number | null = null;
  if (c.peek() === 0x28) {
    c.list((m) => {
      if (m.word() !== 'UNCHANGEDSINCE') m.fail('Unknown STORE modifier');
      m.space();
      unchangedSince = m.number64();
    }, 1);
    c.space();
  }
  const op = c.maybe('+') ? 'add' : c.maybe('-') ? 'remove' : 'set';
  const item = c.word();
  if (item !== 'FLAGS' && item !== 'FLAGS.SILENT') c.fail('Expected FLAGS, +FLAGS or -FLAGS');
  c.space();
  // store-att-flags: flag-list / (flag *(SP flag)).
  let flags: string[];
  if (c.peek() === 0x28) flags = c.flagList();
  else {
    flags = [c.flag()];
    while (c.maybe(' ')) flags.push(c.flag());
  }
  c.end();
  return { set, unchangedSince, op, silent: item === 'FLAGS.SILENT', flags };
}

export type StatusItem =
  | 'MESSAGES'
  | 'UIDNEXT'
  | 'UIDVALIDITY'
  | 'UNSEEN'
  | 'DELETED'
  | 'SIZE'
  | 'RECENT'
  | 'HIGHESTMODSEQ'
  | 'APPENDLIMIT'
  | 'MAILBOXID';

// RFC 9051 §6.3.11 status-att, RFC 3501 RECENT, RFC 7162 HIGHESTMODSEQ, RFC 7889 APPENDLIMIT,
// RFC 8474 §4.3 MAILBOXID.
const STATUS_ITEMS = new Set<string>([
  'MESSAGES',
  'UIDNEXT',
  'UIDVALIDITY',
  'UNSEEN',
  'DELETED',
  'SIZE',
  'RECENT',
  'HIGHESTMODSEQ',
  'APPENDLIMIT',
  'MAILBOXID',
]);

/** "(" status-att *(SP status-att) ")". */
export function parseStatusItems(c: ArgCursor): StatusItem[] {
  return c.list((l) => {
    const item = l.word();
    if (!STATUS_ITEMS.has(item)) l.fail(`Unknown STATUS item ${item}`);
    return item as StatusItem;
  }, 1);
}

/** ` mailbox SP (items)`. */
export function parseStatusArgs(c: ArgCursor): { mailbox: string; items: StatusItem[] } {
  c.space();
  const mailbox = c.mailbox();
  c.space();
  const items = parseStatusItems(c);
  c.end();
  return { mailbox, items };
}

export type ListSelectOption = 'SUBSCRIBED' | 'REMOTE' | 'RECURSIVEMATCH' | 'SPECIAL-USE';
export type ListReturnOption = 'SUBSCRIBED' | 'CHILDREN' | 'SPECIAL-USE' | 'STATUS';

export interface ListArgs {
  /** The reference name, '' when empty (RFC 9051 §6.3.9). */
  readonly reference: string;
  /** One or more patterns with `*` and `%` wildcards (RFC 5258 allows a list). */
  readonly patterns: string[];
  readonly selectOptions: ListSelectOption[];
  readonly returnOptions: ListReturnOption[];
  /** The STATUS return option's items (RFC 5819), or null. */
  readonly statusItems: StatusItem[] | null;
  /** True for the RFC 5258 extended syntax (select or return options, or a pattern list). */
  readonly extended: boolean;
}

const SELECT_OPTIONS = new Set(['SUBSCRIBED', 'REMOTE', 'RECURSIVEMATCH', 'SPECIAL-USE']);

/** A list-mailbox (1*list-char / string) decoded as UTF-8; INBOX normalized. */
function listMailbox(c: ArgCursor): string {
  return mailboxName(c, c.listMailbox());
}

/**
 * RFC 9051 §9 list = "LIST" [SP list-select-opts] SP mailbox SP mbox-or-pat
 * [SP list-return-opts]. RFC 5258 §3: an unknown option or a lone RECURSIVEMATCH is BAD.
 */
export function parseListArgs(c: ArgCursor): ListArgs {
  c.space();
  let extended = false;
  let selectOptions: ListSelectOption[] = [];
  if (c.peek() === 0x28) {
    extended = true;
    selectOptions = c.list((l) => {
      const opt = l.word();
      if (!SELECT_OPTIONS.has(opt)) l.fail(`Unknown LIST selection option ${opt}`);
      return opt as ListSelectOption;
    });
    // RFC 5258 §3.1: RECURSIVEMATCH alone, or only with REMOTE, is BAD (an option given
    // twice counts once, §3).
    if (
      selectOptions.includes('RECURSIVEMATCH') &&
      !selectOptions.some((o) => o !== 'RECURSIVEMATCH' && o !== 'REMOTE')
    )
      c.fail('RECURSIVEMATCH needs another selection option');
    c.space();
  }
  const referenceBytes = c.astring();
  const reference = referenceBytes.length === 0 ? '' : mailboxName(c, referenceBytes);
  c.space();
  let patterns: string[];
  if (c.peek() === 0x28) {
    // RFC 5258 §3: a parenthesized list of patterns is the extended syntax too.
    extended = true;
    patterns = c.list(listMailbox, 1);
  } else patterns = [listMailbox(c)];
  let returnOptions: ListReturnOption[] = [];
  let statusItems: StatusItem[] | null = null;
  if (c.maybe(' ')) {
    if (c.word() !== 'RETURN') c.fail('Expected RETURN');
    extended = true;
    c.space();
    returnOptions = c.list((l) => {
      const opt = l.word();
      if (opt === 'STATUS') {
        l.space();
        statusItems = parseStatusItems(l);
      } else if (opt !== 'SUBSCRIBED' && opt !== 'CHILDREN' && opt !== 'SPECIAL-USE') {
        l.fail(`Unknown LIST return option ${opt}`);
      }
      return opt as ListReturnOption;
    });
  }
  c.end();
  return { reference, patterns, selectOptions, returnOptions, statusItems, extended };
}

/** ` reference SP list-mailbox` (LSUB, RFC 3501 §6.3.9). */
export function parseLsubArgs(c: ArgCursor): { reference: string; pattern: string } {
  c.space();
  const ref = c.astring();
  const reference = ref.length === 0 ? '' : mailboxName(c, ref);
  c.space();
  const pattern = listMailbox(c);
  c.end();
  return { reference, pattern };
}
