/**
 * SORT (RFC 5256 §3): criteria parsing, base-subject extraction (§2.1), ordering and the
 * response.
 *
 *   parseSortArgs(c)           ` (criteria) charset search-keys` -> { criteria, charset, key }
 *                              (throws ImapParseError; NO [BADCHARSET] for other charsets)
 *   baseSubject(subject)       -> { base, replyOrForward } (§2.1; used by THREAD too)
 *   sortMessages(criteria, ctx, uids) -> UIDs in sorted order (details loaded only when a
 *                              criterion needs the index: all but ARRIVAL and SIZE)
 *   sortResponse(numbers)      `SORT 2 1 3` (numbers in the client's numbering)
 *
 * Strings compare with i;ascii-casemap (ASCII letters folded, then code point order), as
 * RFC 5256 §3 requires at minimum. Equal messages stay in sequence order (§3: "sorted
 * according to the order in which they appear in the mailbox"), never reversed.
 */
import type { Address } from '../../mime/address.js';
import { decodeEncodedWords } from '../../mime/encoded-words.js';
import type { MessageDetail } from '../../store/types.js';
import type { ArgCursor } from '../wire/parser.js';
import { parseCharset, parseSearchKeys, type SearchKey } from '../wire/search-keys.js';
import { baseSubject } from './base-subject.js';
import type { SearchContext, SearchMessage } from './evaluate.js';

// RFC 5256 §2.1 base subject: base-subject.ts (linear in a subject the sender chose).
export { baseSubject };

export type SortKey =
  | 'ARRIVAL'
  | 'CC'
  | 'DATE'
  | 'DISPLAYFROM'
  | 'DISPLAYTO'
  | 'FROM'
  | 'SIZE'
  | 'SUBJECT'
  | 'TO';
export interface SortCriterion {
  key: SortKey;
  reverse: boolean;
}

// RFC 5957 (SORT=DISPLAY) adds DISPLAYFROM and DISPLAYTO.
const SORT_KEYS = new Set<string>([
  'ARRIVAL',
  'CC',
  'DATE',
  'DISPLAYFROM',
  'DISPLAYTO',
  'FROM',
  'SIZE',
  'SUBJECT',
  'TO',
]);
/** RFC 5256 §3: sort-criteria = "(" sort-criterion *(SP sort-criterion) ")". */
export function parseSortArgs(c: ArgCursor): {
  criteria: SortCriterion[];
  charset: string;
  key: SearchKey;
} {
  c.space();
  const criteria = c.list((l) => {
    let word = l.word();
    let reverse = false;
    if (word === 'REVERSE') {
      reverse = true;
      l.space();
      word = l.word();
    }
    if (!SORT_KEYS.has(word)) l.fail(`Unknown sort criterion ${word}`);
    return { key: word as SortKey, reverse };
  }, 1);
  c.space();
  const charset = parseCharset(c);
  c.space();
  const key = parseSearchKeys(c);
  c.end();
  return { criteria, charset, key };
}

/** i;ascii-casemap (RFC 4790 §9.2): only a-z fold. */
export function asciiCasemap(s: string): string {
  return s.replace(/[a-z]+/g, (x) => x.toUpperCase());
}

/**
 * RFC 5256 §3 FROM / TO / CC: the addr-mailbox of the first address as the ENVELOPE lists it.
 * A group start is an address too (RFC 3501 §7.4.2: its addr-mailbox is the group name), so
 * `Cc: user2: blah@domain1.org;` sorts as "user2". No field (or no address in it): "".
 */
function firstMailbox(list: Address[] | null | undefined): string {
  return asciiCasemap(list?.[0]?.mailbox ?? '');
}

/**
 * RFC 5957 §3, the display value of the first address: its addr-name with RFC 2047 words
 * decoded when that is not empty, else addr-mailbox@addr-host, else addr-mailbox (a group
 * start, or a mailbox without a domain), else "".
 */
export function displayValue(list: Address[] | null | undefined): string {
  const a = list?.[0];
  if (!a) return '';
  const name = a.name === null ? '' : decodeEncodedWords(a.name);
  if (name !== '') return name;
  if (a.mailbox !== null && a.host !== null && a.host !== '') return `${a.mailbox}@${a.host}`;
  return a.mailbox ?? '';
}

interface EnvelopeLike {
  from?: Address[] | null;
  to?: Address[] | null;
  cc?: Address[] | null;
}

/** RFC 5256 §2.2: the Date header's instant, or INTERNALDATE when it has none. */
export function sentDate(m: SearchMessage, d: MessageDetail | undefined): number {
  return d?.index.search.sentAt ?? m.internalDate.getTime();
}

function sortValue(key: SortKey, m: SearchMessage, d: MessageDetail | undefined): string | number {
  const env: EnvelopeLike = d?.index.envelope ?? {};
  switch (key) {
    case 'ARRIVAL':
      return m.internalDate.getTime();
    case 'SIZE':
      return m.size;
    case 'DATE':
      return sentDate(m, d);
    // RFC 5256 §3: FROM / TO / CC sort on the addr-mailbox of the first address.
    case 'FROM':
      return firstMailbox(env.from);
    case 'TO':
      return firstMailbox(env.to);
    case 'CC':
      return firstMailbox(env.cc);
    // RFC 5957 §4, compared like the others (i;ascii-casemap).
    case 'DISPLAYFROM':
      return asciiCasemap(displayValue(env.from));
    case 'DISPLAYTO':
      return asciiCasemap(displayValue(env.to));
    case 'SUBJECT':
      return asciiCasemap(baseSubject(d?.index.search.subject ?? '').base);
  }
}

const NEEDS_DETAIL = new Set<SortKey>([
  'CC',
  'DATE',
  'DISPLAYFROM',
  'DISPLAYTO',
  'FROM',
  'SUBJECT',
  'TO',
]);

export async function sortMessages(
  criteria: readonly SortCriterion[],
  ctx: SearchContext,
  uids: readonly number[],
): Promise<number[]> {
  const wanted = new Set(uids);
  const msgs = ctx.messages.filter((m) => wanted.has(m.uid));
  const details = criteria.some((c) => NEEDS_DETAIL.has(c.key))
    ? await ctx.details(msgs.map((m) => m.uid))
    : new Map<number, MessageDetail>();
  const rows = msgs.map((m) => ({
    m,
    values: criteria.map((c) => sortValue(c.key, m, details.get(m.uid))),
  }));
  rows.sort((a, b) => {
    for (let i = 0; i < criteria.length; i++) {
      const x = a.values[i];
      const y = b.values[i];
      const cmp = x < y ? -1 : x > y ? 1 : 0;
      if (cmp !== 0) return criteria[i].reverse ? -cmp : cmp;
    }
    return a.m.seq - b.m.seq;
  });
  return rows.map((r) => r.m.uid);
}

export function sortResponse(numbers: readonly number[]): string {
  return numbers.length === 0 ? 'SORT' : `SORT ${numbers.join(' ')}`;
}
