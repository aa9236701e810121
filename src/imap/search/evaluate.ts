/**
 * SEARCH evaluation (RFC 9051 §6.4.4; RFC 3501 NEW / OLD / RECENT; RFC 7162 §3.1.5 MODSEQ;
 * RFC 5182 `$`) over a session's view of the selected mailbox.
 *
 *   searchMessages(key, ctx) -> matching UIDs, ascending
 *
 * The key tree is evaluated as set filters over candidate messages: an AND applies its keys
 * cheapest first, so the message index (`ctx.details`) and the blobs (`ctx.store.readMessage`)
 * are loaded only for the messages still alive when an expensive key is reached. Costs:
 * flags / sizes / INTERNALDATE / OLDER / YOUNGER / sets / MODSEQ (the view) < FROM, TO, CC,
 * BCC, SUBJECT, HEADER FROM/TO/CC/BCC/SUBJECT, SENT* (the index) < BODY (one full-text
 * query) < HEADER <other field>, TEXT (the blob's header block).
 *
 * String keys match case-insensitively as substrings of the decoded text (searchFold on both
 * sides: lower case, non-ASCII letters too, a final sigma as sigma), as RFC 9051 §6.4.4 asks.
 */
import { type EnvelopeAddressTexts, envelopeAddressTexts } from '../../mime/address-text.js';
import { decodeEncodedWords } from '../../mime/encoded-words.js';
import { type HeaderField, parseHeaders } from '../../mime/headers.js';
import { searchFold } from '../../store/search-fold.js';
import type {
  MailStore,
  MessageDetail,
  MessageExtras,
  SearchHeaderField,
} from '../../store/types.js';
import type { ImapDate } from '../wire/dates.js';
import type { AddressField, DateOp, SearchKey } from '../wire/search-keys.js';
import {
  type Interval,
  intervalsContain,
  resolveSequenceSet,
  type SequenceSet,
} from '../wire/sequence.js';

export interface SearchMessage {
  seq: number;
  uid: number;
  flags: string[];
  modseq: number;
  size: number;
  internalDate: Date;
  /** INTERNALDATE's zone, minutes east of UTC (absent: UTC). */
  internalZone?: number;
}

export interface SearchContext {
  mailboxId: number;
  /** The session's view, in sequence-number order. */
  messages: SearchMessage[];
  store: MailStore;
  details: (uids: number[]) => Promise<Map<number, MessageDetail>>;
  /**
   * One stored header field of these messages (decoded, as SEARCH compares it), without the
   * rest of the details: FROM and SUBJECT over a whole mailbox read one column. Optional:
   * without it, the field is taken from `details`.
   */
  field?: (name: SearchHeaderField, uids: number[]) => Promise<Map<number, string>>;
  /** RFC 5182 saved result (UIDs), or null when none was saved. */
  saved: number[] | null;
  maxSeq: number;
  maxUid: number;
  /** UIDs that are \Recent in this session. */
  recent: { has(uid: number): boolean };
  /** The time OLDER / YOUNGER count back from (epoch ms); the search's start by default. */
  now?: number;
  /** Full-text hits already asked for (see requiredBody), by needle. */
  bodyHits?: ReadonlyMap<string, Set<number>>;
}

/** HEADER fields kept decoded in the index: HEADER FROM x reads a column, not the blob. */
const STORED_HEADERS: Record<string, SearchHeaderField> = {
  FROM: 'from',
  TO: 'to',
  CC: 'cc',
  BCC: 'bcc',
  SUBJECT: 'subject',
};

/** FROM / TO / CC / BCC: the ENVELOPE's address lists as the index wrote them out. */
const ENVELOPE_FIELDS: Record<AddressField, SearchHeaderField> = {
  FROM: 'envelopeFrom',
  TO: 'envelopeTo',
  CC: 'envelopeCc',
  BCC: 'envelopeBcc',
};
const ENVELOPE_LISTS: Record<AddressField, keyof EnvelopeAddressTexts> = {
  FROM: 'from',
  TO: 'to',
  CC: 'cc',
  BCC: 'bcc',
};

/** A stored header value from the message's index ("" when it has none). */
const indexValue =
  (field: SearchHeaderField) =>
  (d: MessageDetail): string => {
    const v = (d.index.search as Record<string, unknown>)[field];
    return typeof v === 'string' ? v : '';
  };

function cost(key: SearchKey): number {
  switch (key.key) {
    case 'address':
      return 1;
    case 'header':
      // An empty value asks whether the field exists: the header block tells, but a stored
      // field that is not empty tells first (see fieldExists).
      return key.field in STORED_HEADERS ? 1 : 3;
    case 'sentDate':
    case 'objectId':
    case 'saveDate':
      return 1;
    case 'body':
      return 2;
    case 'text':
      return 3;
    case 'not':
      return cost(key.inner);
    case 'or':
      return Math.max(cost(key.left), cost(key.right));
    case 'and':
      return Math.max(0, ...key.keys.map(cost));
    default:
      return 0;
  }
}

const dayNumber = (d: ImapDate): number => d.year * 10000 + d.month * 100 + d.day;

function compareDay(day: number, op: DateOp, date: ImapDate): boolean {
  const want = dayNumber(date);
  if (op === 'before') return day < want;
  if (op === 'on') return day === want;
  return day >= want;
}

const MONTHS = 'jan feb mar apr may jun jul aug sep oct nov dec'.split(' ');

/**
 * RFC 9051 §6.4.4: SENTBEFORE / SENTON / SENTSINCE compare the Date header's date
 * "disregarding time and timezone": the calendar day as written in the header, so a message
 * sent late on 1 Feb in -0800 is ON 1-Feb-... Falls back to the UTC day of the parsed value.
 */
function sentDay(detail: MessageDetail): number | null {
  const m = /(\d{1,2})\s+([A-Za-z]{3})[a-z]*\s+(\d{2,4})/.exec(detail.index.envelope.date ?? '');
  if (m) {
    const month = MONTHS.indexOf(m[2].toLowerCase()) + 1;
    let year = Number(m[3]);
    // RFC 5322 §4.3 obs-year: two digits are 19xx from 50, else 20xx; three digits add 1900.
    if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
    else if (m[3].length === 3) year += 1900;
    if (month > 0) return year * 10000 + month * 100 + Number(m[1]);
  }
  const at = detail.index.search.sentAt;
  if (at === null) return null;
  const d = new Date(at);
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
}

/**
 * INTERNALDATE and SAVED* keys: the calendar day of an instant in a zone (minutes east of
 * UTC; UTC when not given, as for save dates and mail that arrived over SMTP).
 */
function internalDay(d: Date, zone = 0): number {
  const t = zone === 0 ? d : new Date(d.getTime() + zone * 60_000);
  return t.getUTCFullYear() * 10000 + (t.getUTCMonth() + 1) * 100 + t.getUTCDate();
}

/** Case-insensitive comparison (RFC 9051 §6.4.4), as the store's full-text search folds. */
const lower = searchFold;

class Evaluator {
  private readonly detailCache = new Map<number, MessageDetail>();
  private readonly extrasCache = new Map<number, MessageExtras>();
  private readonly headerCache = new Map<number, HeaderField[]>();
  private readonly bodyCache = new Map<string, Set<number>>();
  private savedSet: Set<number> | null = null;
  // Each parsed set is resolved once, not once per message.
  private readonly resolved = new WeakMap<SequenceSet, Interval[]>();

  private readonly now: number;

  constructor(private readonly ctx: SearchContext) {
    this.now = ctx.now ?? Date.now();
    if (ctx.bodyHits) for (const [needle, hits] of ctx.bodyHits) this.bodyCache.set(needle, hits);
  }

  async run(key: SearchKey, cands: SearchMessage[]): Promise<SearchMessage[]> {
    if (cands.length === 0) return cands;
    switch (key.key) {
      case 'and': {
        let alive = cands;
        const keys = [...key.keys].sort((a, b) => cost(a) - cost(b));
        for (const k of keys) {
          alive = await this.run(k, alive);
          if (alive.length === 0) break;
        }
        return alive;
      }
      case 'or': {
        const left = await this.run(key.left, cands);
        const inLeft = new Set(left.map((m) => m.uid));
        const right = await this.run(
          key.right,
          cands.filter((m) => !inLeft.has(m.uid)),
        );
        for (const m of right) inLeft.add(m.uid);
        return cands.filter((m) => inLeft.has(m.uid));
      }
      case 'not': {
        const inner = new Set((await this.run(key.inner, cands)).map((m) => m.uid));
        return cands.filter((m) => !inner.has(m.uid));
      }
      case 'header': {
        const stored = STORED_HEADERS[key.field];
        if (stored === undefined) return this.rawHeader(key, cands);
        return key.value === ''
          ? this.fieldExists(stored, key, cands)
          : this.storedHeader(stored, key.value, cands);
      }
      case 'address':
        return this.address(key.field, key.value, cands);
      case 'sentDate': {
        const details = await this.load(cands);
        return cands.filter((m) => {
          const day = sentDay(details.get(m.uid) as MessageDetail);
          return day !== null && compareDay(day, key.op, key.date);
        });
      }
      case 'objectId': {
        const extras = await this.extras(cands);
        return cands.filter((m) => extras.get(m.uid)?.[key.kind] === key.id);
      }
      case 'saveDate': {
        const extras = await this.extras(cands);
        return cands.filter((m) => {
          const e = extras.get(m.uid);
          return e !== undefined && compareDay(internalDay(e.saveDate), key.op, key.date);
        });
      }
      case 'body': {
        const hits = await this.bodyHits(key.value);
        return cands.filter((m) => hits.has(m.uid));
      }
      case 'text':
        return this.text(key.value, cands);
      default:
        return cands.filter((m) => this.cheap(key, m));
    }
  }

  /** Keys answered from the session's view alone. */
  private cheap(key: SearchKey, m: SearchMessage): boolean {
    switch (key.key) {
      case 'all':
        return true;
      case 'seq':
        return this.inSet(key.set, m.seq, this.ctx.maxSeq, m.uid);
      case 'uid':
        return this.inSet(key.set, m.uid, this.ctx.maxUid, m.uid);
      case 'flag': {
        // \Recent is per session (RFC 3501 §2.3.2), not a stored flag.
        if (key.flag === '\\Recent') return this.ctx.recent.has(m.uid) === key.set;
        const want = lower(key.flag);
        return m.flags.some((f) => lower(f) === want) === key.set;
      }
      case 'size':
        return key.op === 'larger' ? m.size > key.size : m.size < key.size;
      case 'internalDate':
        // RFC 3501 §6.4.4 "disregarding time and timezone": the day as INTERNALDATE reads
        // in its own zone (the one APPEND gave), as FETCH INTERNALDATE shows it.
        return compareDay(internalDay(m.internalDate, m.internalZone), key.op, key.date);
      case 'within': {
        // RFC 5032 §2: YOUNGER n is an INTERNALDATE at most n seconds before now, OLDER n one
        // further back (so OLDER n is exactly NOT YOUNGER n). An instant: no time zone.
        const young = m.internalDate.getTime() >= this.now - key.seconds * 1000;
        return key.op === 'younger' ? young : !young;
      }
      case 'modseq':
        // RFC 7162 §3.1.5: messages whose mod-sequence is equal to or greater than the value.
        // Per-flag entries are not tracked apart, so the message's modseq stands for each.
        return m.modseq >= key.modseq;
      default:
        throw new Error(`not a cheap search key: ${key.key}`);
    }
  }

  /** RFC 5182: `$` is the saved result (UIDs), empty when nothing was saved. */
  private inSet(set: SequenceSet, n: number, max: number, uid: number): boolean {
    if (set.kind === 'saved') {
      this.savedSet ??= new Set(this.ctx.saved ?? []);
      return this.savedSet.has(uid);
    }
    let intervals = this.resolved.get(set);
    if (!intervals) {
      intervals = resolveSequenceSet(set, max);
      this.resolved.set(set, intervals);
    }
    return intervalsContain(intervals, n);
  }

  private async load(cands: SearchMessage[]): Promise<Map<number, MessageDetail>> {
    const missing = cands.map((m) => m.uid).filter((u) => !this.detailCache.has(u));
    if (missing.length > 0) {
      for (const [uid, d] of await this.ctx.details(missing)) this.detailCache.set(uid, d);
    }
    return this.detailCache;
  }

  /** One stored text per message: a column when the context reads one, else the details. */
  private async stored(
    field: SearchHeaderField,
    cands: SearchMessage[],
    fromDetail: (d: MessageDetail) => string,
  ): Promise<Map<number, string>> {
    const uids = cands.map((m) => m.uid);
    if (this.ctx.field) return this.ctx.field(field, uids);
    const details = await this.load(cands);
    const out = new Map<number, string>();
    for (const u of uids) {
      const d = details.get(u);
      if (d) out.set(u, fromDetail(d));
    }
    return out;
  }

  /** EMAILID, THREADID and save dates (RFC 8474, RFC 8514), read once per message. */
  private async extras(cands: SearchMessage[]): Promise<Map<number, MessageExtras>> {
    const missing = cands.map((m) => m.uid).filter((u) => !this.extrasCache.has(u));
    if (missing.length > 0) {
      const got = await this.ctx.store.getMessageExtras(this.ctx.mailboxId, missing);
      for (const [uid, e] of got) this.extrasCache.set(uid, e);
    }
    return this.extrasCache;
  }

  private async storedHeader(
    field: SearchHeaderField,
    value: string,
    cands: SearchMessage[],
  ): Promise<SearchMessage[]> {
    const needle = lower(value);
    const values = await this.stored(field, cands, indexValue(field));
    return cands.filter((m) => lower(values.get(m.uid) ?? '').includes(needle));
  }

  /**
   * HEADER <stored field> "": a message whose stored value is not empty has the field; only
   * the others (no field, or one with an empty value) need their header block read.
   */
  private async fieldExists(
    field: SearchHeaderField,
    key: { field: string; value: string },
    cands: SearchMessage[],
  ): Promise<SearchMessage[]> {
    const values = await this.stored(field, cands, indexValue(field));
    const unsure = cands.filter((m) => (values.get(m.uid) ?? '') === '');
    const inHeader = new Set((await this.rawHeader(key, unsure)).map((m) => m.uid));
    return cands.filter((m) => (values.get(m.uid) ?? '') !== '' || inHeader.has(m.uid));
  }

  /**
   * RFC 3501 §6.4.4 / RFC 9051 §6.4.4 FROM, TO, CC, BCC: the string is looked for in the
   * envelope structure's field, that is in its addresses (name, route, mailbox@host) as
   * mime/address-text.ts writes them, never in comments or other raw header text. An empty
   * string matches every message whose field is not NIL.
   */
  private async address(
    field: AddressField,
    value: string,
    cands: SearchMessage[],
  ): Promise<SearchMessage[]> {
    const needle = lower(value);
    const values = await this.stored(
      ENVELOPE_FIELDS[field],
      cands,
      (d) => envelopeAddressTexts(d.index.envelope)[ENVELOPE_LISTS[field]],
    );
    return cands.filter((m) => {
      const text = values.get(m.uid) ?? '';
      return text !== '' && lower(text).includes(needle);
    });
  }

  /** The header fields of the message, parsed from the blob's header block. */
  private async headers(cands: SearchMessage[]): Promise<Map<number, HeaderField[]>> {
    const details = await this.load(cands);
    for (const m of cands) {
      if (this.headerCache.has(m.uid)) continue;
      const d = details.get(m.uid);
      if (!d) continue;
      const raw = await this.ctx.store.readMessage(d.blobHash, d.size);
      const root = d.index.structure;
      this.headerCache.set(m.uid, parseHeaders(raw.subarray(root.headerStart, root.headerEnd)));
    }
    return this.headerCache;
  }

  /**
   * RFC 9051 §6.4.4 HEADER: the field exists and its value (after the colon) contains the
   * string; an empty string matches every message that has the field, even with an empty
   * value (RFC 3501 §6.4.4), and only those.
   */
  private async rawHeader(
    key: { field: string; value: string },
    cands: SearchMessage[],
  ): Promise<SearchMessage[]> {
    const all = await this.headers(cands);
    const name = lower(key.field);
    const needle = lower(key.value);
    return cands.filter((m) =>
      (all.get(m.uid) ?? []).some(
        (f) => f.lname === name && lower(decodeEncodedWords(f.value)).includes(needle),
      ),
    );
  }

  /** UIDs whose body text contains the needle, from the full-text index. */
  private async bodyHits(needle: string): Promise<Set<number>> {
    let hits = this.bodyCache.get(needle);
    if (hits) return hits;
    hits = await textHits(this.ctx.store, this.ctx.mailboxId, needle);
    this.bodyCache.set(needle, hits);
    return hits;
  }

  /** RFC 9051 §6.4.4 TEXT: the header or the body contains the string. */
  private async text(value: string, cands: SearchMessage[]): Promise<SearchMessage[]> {
    const body = await this.bodyHits(value);
    const rest = cands.filter((m) => !body.has(m.uid));
    const all = await this.headers(rest);
    const needle = lower(value);
    const inHeader = new Set(
      rest
        .filter((m) =>
          (all.get(m.uid) ?? []).some((f) =>
            lower(`${f.name}: ${decodeEncodedWords(f.value)}`).includes(needle),
          ),
        )
        .map((m) => m.uid),
    );
    return cands.filter((m) => body.has(m.uid) || inHeader.has(m.uid));
  }
}

/** UIDs of the mailbox whose body text contains the needle, from the full-text index. */
export async function textHits(
  store: MailStore,
  mailboxId: number,
  needle: string,
): Promise<Set<number>> {
  // The store folds case itself, for needles of any length (RFC 9051 §6.4.4).
  return new Set(await store.searchText(mailboxId, needle));
}

/**
 * A BODY string every match must contain (the key is BODY, or an AND with a BODY among its
 * keys), else null: a search with one needs only the full-text hits as candidates, not every
 * message of the mailbox (issue 18 item 6: a million search entries for 10,000 hits).
 */
export function requiredBody(key: SearchKey): string | null {
  if (key.key === 'body') return key.value;
  if (key.key === 'and') {
    for (const k of key.keys) {
      const needle = requiredBody(k);
      if (needle !== null) return needle;
    }
  }
  return null;
}

export async function searchMessages(key: SearchKey, ctx: SearchContext): Promise<number[]> {
  const matched = await new Evaluator(ctx).run(key, ctx.messages);
  return matched.map((m) => m.uid).sort((a, b) => a - b);
}
