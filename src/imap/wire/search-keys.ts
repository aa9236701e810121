/**
 * SEARCH arguments (RFC 9051 §6.4.4, RFC 3501 §6.4.4, RFC 7162 §3.1.5 MODSEQ, RFC 4731/9051
 * RETURN options) parsed to a typed tree. Readers throw ImapParseError; wrap in tryParse().
 *
 *   parseSearchArgs(args)      ` [RETURN (...)] [CHARSET x] key *(SP key)` to the end
 *   parseSearchKeys(c, cs)     one or more keys up to the end or a ")": an 'and' node or the key
 *
 * The tree is normalized so handlers see few shapes: ANSWERED/UNANSWERED/KEYWORD/RECENT...
 * are all { key: 'flag', flag, set }; SUBJECT/HEADER are { key: 'header' }, FROM/TO/CC/BCC
 * { key: 'address' } (they match the ENVELOPE's addresses, not the header's text);
 * NEW is RECENT and UNSEEN, OLD is NOT RECENT. String values are decoded per the CHARSET
 * (RFC 9051: US-ASCII and UTF-8 are required; others get NO [BADCHARSET]). OLDER / YOUNGER
 * (RFC 5032 WITHIN) are { key: 'within' }.
 */
import type { ImapDate } from './dates.js';
import type { FetchAtt } from './fetch-items.js';
import { type ArgCursor, ImapParseError } from './parser.js';
import { type PartialRange, parseReturnOptions, type SearchReturnOption } from './search-return.js';
import type { SequenceSet } from './sequence.js';

export type { PartialRange, SearchReturnOption };

export type DateOp = 'before' | 'on' | 'since';
export type AddressField = 'FROM' | 'TO' | 'CC' | 'BCC';

export type SearchKey =
  | { key: 'all' }
  | { key: 'seq'; set: SequenceSet }
  | { key: 'uid'; set: SequenceSet }
  | { key: 'flag'; flag: string; set: boolean }
  | { key: 'header'; field: string; value: string } // field upper-cased: 'FROM', 'X-SPAM'
  | { key: 'address'; field: AddressField; value: string }
  | { key: 'body'; value: string }
  | { key: 'text'; value: string }
  | { key: 'internalDate'; op: DateOp; date: ImapDate }
  | { key: 'sentDate'; op: DateOp; date: ImapDate }
  | { key: 'size'; op: 'larger' | 'smaller'; size: number }
  | { key: 'within'; op: 'older' | 'younger'; seconds: number } // RFC 5032
  | {
      key: 'modseq';
      modseq: number;
      entry: { flag: string; type: 'priv' | 'shared' | 'all' } | null;
    }
  // RFC 8474 §6: EMAILID / THREADID <objectid>.
  | { key: 'objectId'; kind: 'emailId' | 'threadId'; id: string }
  // RFC 8514 §4.3: SAVEDBEFORE / SAVEDON / SAVEDSINCE (SAVEDATESUPPORTED is 'all').
  | { key: 'saveDate'; op: DateOp; date: ImapDate }
  | { key: 'not'; inner: SearchKey }
  | { key: 'or'; left: SearchKey; right: SearchKey }
  | { key: 'and'; keys: SearchKey[] };

export interface SearchArgs {
  /** RETURN options (RFC 9051 §6.4.4.1); null when absent. `RETURN ()` means ALL. */
  readonly returnOptions: SearchReturnOption[] | null;
  /** RFC 5267 §4.4 / RFC 9394 PARTIAL range (then returnOptions holds 'PARTIAL'). */
  readonly partial: PartialRange | null;
  /** RFC 5465 §7: fetch attributes of RETURN (UPDATE (...)). */
  readonly updateFetch?: FetchAtt[];
  readonly charset: string;
  readonly key: SearchKey;
}

export const SUPPORTED_CHARSETS = ['US-ASCII', 'UTF-8'];

/**
 * Reads a charset (astring) and refuses the ones SEARCH cannot decode: RFC 9051 §6.4.4 and
 * RFC 5256 §3 (SORT, THREAD) answer NO [BADCHARSET (...)].
 */
export function parseCharset(c: ArgCursor): string {
  const charset = c.astring().toString('latin1').toUpperCase();
  if (!SUPPORTED_CHARSETS.includes(charset)) {
    throw new ImapParseError(
      `Unsupported charset ${charset}`,
      undefined,
      `BADCHARSET (${SUPPORTED_CHARSETS.join(' ')})`,
      'NO',
    );
  }
  return charset;
}
// Bounds recursion, so that `NOT NOT NOT ...` or `((((...` answers BAD instead of overflowing.
const MAX_DEPTH = 64;

const FLAG_KEYS: Record<string, [string, boolean]> = {
  ANSWERED: ['\\Answered', true],
  DELETED: ['\\Deleted', true],
  DRAFT: ['\\Draft', true],
  FLAGGED: ['\\Flagged', true],
  SEEN: ['\\Seen', true],
  RECENT: ['\\Recent', true],
  UNANSWERED: ['\\Answered', false],
  UNDELETED: ['\\Deleted', false],
  UNDRAFT: ['\\Draft', false],
  UNFLAGGED: ['\\Flagged', false],
  UNSEEN: ['\\Seen', false],
};
const ADDRESS_KEYS = new Set(['BCC', 'CC', 'FROM', 'TO']);
const DATE_KEYS: Record<string, ['internalDate' | 'sentDate' | 'saveDate', DateOp]> = {
  BEFORE: ['internalDate', 'before'],
  ON: ['internalDate', 'on'],
  SINCE: ['internalDate', 'since'],
  SENTBEFORE: ['sentDate', 'before'],
  SENTON: ['sentDate', 'on'],
  SENTSINCE: ['sentDate', 'since'],
  SAVEDBEFORE: ['saveDate', 'before'],
  SAVEDON: ['saveDate', 'on'],
  SAVEDSINCE: ['saveDate', 'since'],
};
/** RFC 8474 §7: objectid = 1*255(ALPHA / DIGIT / "_" / "-"). */
const OBJECT_ID = /^[A-Za-z0-9_-]{1,255}$/;

export function parseSearchArgs(c: ArgCursor): SearchArgs {
  c.space();
  const ret = parseReturnOptions(c); // search-return.ts
  if (ret) c.space();
  let charset = 'UTF-8';
  if (c.peekWord() === 'CHARSET') {
    c.word();
    c.space();
    charset = parseCharset(c);
    c.space();
  }
  const key = parseSearchKeys(c);
  c.end();
  const args = { returnOptions: ret?.options ?? null, partial: ret?.partial ?? null, charset, key };
  return ret?.updateFetch ? { ...args, updateFetch: ret.updateFetch } : args;
}

/** One or more SP-separated keys; a single key is returned as itself, several as 'and'. */
export function parseSearchKeys(c: ArgCursor, depth = 0): SearchKey {
  const keys: SearchKey[] = [parseSearchKey(c, depth)];
  while (c.maybe(' ')) keys.push(parseSearchKey(c, depth));
  return keys.length === 1 ? keys[0] : { key: 'and', keys };
}

// Values are UTF-8 (US-ASCII is a subset); stray bytes decode to U+FFFD rather than fail.
const text = (c: ArgCursor): string => c.astring().toString('utf8');

export function parseSearchKey(c: ArgCursor, depth = 0): SearchKey {
  if (depth > MAX_DEPTH) c.fail('Search keys nested too deeply');
  const b = c.peek();
  if (b === 0x28) {
    c.expect('(');
    const inner = parseSearchKeys(c, depth + 1);
    c.expect(')', '")" closing the search keys');
    return inner;
  }
  if ((b >= 0x30 && b <= 0x39) || b === 0x2a || b === 0x24) {
    return { key: 'seq', set: c.sequenceSet() };
  }
  const name = c.word();
  const flag = FLAG_KEYS[name];
  if (flag) return { key: 'flag', flag: flag[0], set: flag[1] };
  const date = DATE_KEYS[name];
  if (date) {
    c.space();
    return { key: date[0], op: date[1], date: c.date() };
  }
  if (ADDRESS_KEYS.has(name)) {
    c.space();
    return { key: 'address', field: name as AddressField, value: text(c) };
  }
  switch (name) {
    case 'ALL':
      return { key: 'all' };
    case 'NEW': // RFC 3501: RECENT UNSEEN
      return {
        key: 'and',
        keys: [
          { key: 'flag', flag: '\\Recent', set: true },
          { key: 'flag', flag: '\\Seen', set: false },
        ],
      };
    case 'OLD': // RFC 3501: NOT RECENT
      return { key: 'flag', flag: '\\Recent', set: false };
    case 'KEYWORD':
    case 'UNKEYWORD':
      c.space();
      return { key: 'flag', flag: c.flag(), set: name === 'KEYWORD' };
    case 'SUBJECT':
      c.space();
      return { key: 'header', field: name, value: text(c) };
    case 'BODY':
    case 'TEXT':
      c.space();
      return { key: name === 'BODY' ? 'body' : 'text', value: text(c) };
    case 'HEADER': {
      c.space();
      const field = c.astring().toString('latin1');
      c.space();
      return { key: 'header', field: field.toUpperCase(), value: text(c) };
    }
    case 'LARGER':
    case 'SMALLER':
      c.space();
      return { key: 'size', op: name === 'LARGER' ? 'larger' : 'smaller', size: c.number64() };
    case 'UID':
      c.space();
      return { key: 'uid', set: c.sequenceSet() };
    case 'NOT':
      c.space();
      return { key: 'not', inner: parseSearchKey(c, depth + 1) };
    case 'OR': {
      c.space();
      const left = parseSearchKey(c, depth + 1);
      c.space();
      return { key: 'or', left, right: parseSearchKey(c, depth + 1) };
    }
    case 'MODSEQ':
      return parseModseq(c);
    // RFC 5032 §3: ( "OLDER" / "YOUNGER" ) SP nz-number, an interval in seconds.
    case 'OLDER':
    case 'YOUNGER':
      c.space();
      return { key: 'within', op: name === 'OLDER' ? 'older' : 'younger', seconds: c.nzNumber() };
    // RFC 8514 §4.3: every mailbox here keeps save dates, so this matches every message.
    case 'SAVEDATESUPPORTED':
      return { key: 'all' };
    case 'EMAILID':
    case 'THREADID': {
      c.space();
      const id = c.astring().toString('latin1');
      if (!OBJECT_ID.test(id)) c.fail(`Bad ${name} object id`);
      return { key: 'objectId', kind: name === 'EMAILID' ? 'emailId' : 'threadId', id };
    }
  }
  return c.fail(name ? `Unknown search key ${name}` : 'Expected a search key');
}

/**
 * RFC 7162 §3.1.5: "MODSEQ" [SP entry-name SP entry-type-req] SP mod-sequence-valzer, with
 * entry-name = DQUOTE "/flags/" attr-flag DQUOTE and entry-type-req = "priv" / "shared" / "all".
 */
function parseModseq(c: ArgCursor): SearchKey {
  c.space();
  let entry: { flag: string; type: 'priv' | 'shared' | 'all' } | null = null;
  if (c.peek() === 0x22) {
    const name = c.string().toString('latin1');
    if (!/^\/flags\/\\?[^\x00-\x20\x7f(){%*"\\\]]+$/i.test(name)) c.fail('Bad MODSEQ entry name');
    c.space();
    const type = c.word().toLowerCase();
    if (type !== 'priv' && type !== 'shared' && type !== 'all') c.fail('Bad MODSEQ entry type');
    c.space();
    entry = { flag: name.slice('/flags/'.length), type };
  }
  return { key: 'modseq', modseq: c.number64(), entry };
}
