/**
 * One message's FETCH response data (RFC 9051 §6.4.5, §7.5.2; RFC 3516 BINARY; RFC 7162
 * MODSEQ): the `(name value name value ...)` list of `* n FETCH (...)`.
 *
 *   renderFetch(items, msg, opts) -> { values, setsSeen, error }
 *     values    alternating name / value ImapValues; the session writes
 *               `* ${seq} FETCH ` + serialize(v.list(values), { utf8 })
 *     setsSeen  a non-PEEK BODY[...] / BINARY[...] or RFC822 / RFC822.TEXT was asked for
 *     error     non-null when a BINARY section has an unknown transfer encoding: answer the
 *               command `NO [UNKNOWN-CTE] ...` (RFC 3516 §4.1) instead of sending `values`
 *   fetchSetsSeen(items)  the same setsSeen, known before rendering
 *
 * How the session should use setsSeen (RFC 9051 §6.4.5: fetching BODY[...] without .PEEK
 * sets \Seen; "if this causes the flags to change, they SHOULD be included as part of the
 * FETCH responses"): when fetchSetsSeen(items) is true, the mailbox is read-write and the
 * message lacks \Seen, set \Seen in the store BEFORE calling renderFetch and pass the new
 * flags in `msg.flags`; if FLAGS was not among the items, append `FLAGS (...)` (and, under
 * CONDSTORE, the new MODSEQ) to `values` yourself.
 *
 * Loading is lazy: `msg.detail()` (the parsed index) is called only for ENVELOPE, BODY,
 * BODYSTRUCTURE and sections that need part offsets; `msg.raw()` (the blob) only for section
 * data. A FLAGS / UID / RFC822.SIZE / INTERNALDATE fetch touches neither. Each is called at
 * most once per call.
 *
 * Order: UID first when `opts.uidAlways` (UID FETCH, RFC 9051 §6.4.9) and not asked for, then
 * the items as requested, then MODSEQ when `opts.condstore` (RFC 7162 §3.2.4) and not asked
 * for. `opts.utf8` decides quoted vs literal inside BODY's nested bodies (bodystructure.ts).
 */
import type { MessageDetail, MessageExtras } from '../../store/types.js';
import { type FetchAtt, type Section, sectionToString } from '../wire/fetch-items.js';
import { dateTimeToString, type ImapValue, v } from '../wire/serializer.js';
import { bodyStructureValue } from './bodystructure.js';
import { envelopeValue } from './envelope.js';
import { previewText } from './preview.js';
import {
  applyPartial,
  binaryBytes,
  blockSectionBytes,
  type HeaderSectionText,
  messageSectionBytes,
  SectionError,
  sectionBytes,
} from './sections.js';

export type FetchItem = FetchAtt;

export interface FetchMessage {
  seq: number;
  uid: number;
  flags: string[];
  modseq: number;
  /** RFC822.SIZE: the stored size. */
  size: number;
  internalDate: Date;
  /** INTERNALDATE's zone (minutes east of UTC) as APPEND gave it; UTC when absent. */
  internalZone?: number;
  detail: () => Promise<MessageDetail>;
  raw: () => Promise<Buffer>;
  /**
   * EMAILID, THREADID, SAVEDATE and the cached PREVIEW (RFC 8474, 8514, 8970); only called when
   * one of them is asked for (see needsExtras).
   */
  extras: () => Promise<MessageExtras>;
  /** Keeps a preview worked out here, so that the next one (and PREVIEW (LAZY)) is cheap. */
  cachePreview?: (text: string) => void;
}

export interface FetchRenderOptions {
  utf8: boolean;
  condstore: boolean;
  uidAlways: boolean;
}

export interface FetchRendered {
  values: ImapValue[];
  setsSeen: boolean;
  error: SectionError | null;
}

const EXTRA_ITEMS: ReadonlySet<string> = new Set(['EMAILID', 'THREADID', 'SAVEDATE']);

/** Whether the items need FetchMessage.extras (the handler loads them per batch only then). */
export function needsExtras(items: readonly FetchItem[]): boolean {
  return items.some(
    (it) => it.kind === 'preview' || (it.kind === 'simple' && EXTRA_ITEMS.has(it.name)),
  );
}

/**
 * Whether the items need FetchMessage.detail (the parsed index): ENVELOPE, BODY and
 * BODYSTRUCTURE, PREVIEW, and the sections of a part (their offsets). The message's own
 * sections need only its bytes, the row items only the row (the handler then reads rows
 * without the index).
 */
export function needsDetail(items: readonly FetchItem[]): boolean {
  return items.some((it) => {
    if (it.kind === 'simple')
      return it.name === 'ENVELOPE' || it.name === 'BODY' || it.name === 'BODYSTRUCTURE';
    if (it.kind === 'body') return it.section.part.length > 0;
    if (it.kind === 'preview') return true;
    return it.part.length > 0; // BINARY[part], BINARY.SIZE[part]
  });
}

/**
 * Whether the items read every message's bytes (FetchMessage.raw): sections and their
 * RFC822 names, BINARY and BINARY.SIZE. PREVIEW reads them only when none is cached.
 */
export function needsBytes(items: readonly FetchItem[]): boolean {
  return items.some(
    (it) =>
      it.kind === 'body' ||
      it.kind === 'binary' ||
      it.kind === 'binarySize' ||
      (it.kind === 'simple' &&
        (it.name === 'RFC822' || it.name === 'RFC822.HEADER' || it.name === 'RFC822.TEXT')),
  );
}

/**
 * Whether the items read no more of the bytes than the message's own header (BODY[HEADER],
 * BODY[HEADER.FIELDS (...)] and .NOT, RFC822.HEADER, with or without a partial): then
 * `FetchMessage.raw` may give the header block alone (BlobStore.readHeaders), from which
 * messageSectionBytes cuts the same bytes as from the whole message.
 */
export function needsHeaderOnly(items: readonly FetchItem[]): boolean {
  return items.every((it) => {
    if (it.kind === 'body')
      return (
        it.section.part.length === 0 &&
        (it.section.text?.kind === 'HEADER' || it.section.text?.kind === 'HEADER.FIELDS')
      );
    if (it.kind === 'simple') return it.name !== 'RFC822' && it.name !== 'RFC822.TEXT';
    return false; // BINARY[...], BINARY.SIZE[...], PREVIEW
  });
}

export function fetchSetsSeen(items: readonly FetchItem[]): boolean {
  return items.some(
    (it) =>
      ((it.kind === 'body' || it.kind === 'binary') && !it.peek) ||
      (it.kind === 'simple' && (it.name === 'RFC822' || it.name === 'RFC822.TEXT')),
  );
}

// Flags that cannot be written as an atom would make the serializer throw; the parser and
// store never produce them, but one bad row must not break the whole FETCH.
const FLAG_OK = /^\\?[^\x00-\x20\x7f-\xff(){%*"\\\]]+$/;

function once<T>(load: () => Promise<T>): () => Promise<T> {
  let p: Promise<T> | null = null;
  return () => {
    p ??= load();
    return p;
  };
}

const whole: Section = { part: [], text: null };

/** `BODY[section]<origin>` of each item, written once per FETCH, not once per message. */
const bodyLabels = new WeakMap<FetchItem, string>();

export function bodyLabel(it: Extract<FetchItem, { kind: 'body' }>): string {
  let label = bodyLabels.get(it);
  if (label === undefined) {
    // RFC 9051 §7.5.2: BODY[section]<origin>: the answer names BODY (also for BODY.PEEK)
    // and gives only the partial's origin octet.
    label = `BODY[${sectionToString(it.section)}]${it.partial ? `<${it.partial.offset}>` : ''}`;
    bodyLabels.set(it, label);
  }
  return label;
}

export async function renderFetch(
  items: readonly FetchItem[],
  msg: FetchMessage,
  opts: FetchRenderOptions,
): Promise<FetchRendered> {
  const detail = once(msg.detail);
  const raw = once(msg.raw);
  const extras = once(msg.extras);
  const root = async () => (await detail()).index.structure;
  const values: ImapValue[] = [];
  const asked = (name: string) => items.some((it) => it.kind === 'simple' && it.name === name);
  if (opts.uidAlways && !asked('UID')) values.push(v.atom('UID'), v.num(msg.uid));

  /**
   * BODY[section] bytes; the message's own sections need only the blob (its header is
   * scanned), those of a part also the offsets.
   */
  const section = async (s: Section): Promise<Buffer> => {
    if (s.part.length === 0) return messageSectionBytes(await raw(), s.text);
    return sectionBytes(await raw(), await root(), s);
  };

  for (const it of items) {
    if (it.kind === 'simple') {
      if (pushRowItem(values, it.name, msg, msg.flags)) continue;
      switch (it.name) {
        case 'ENVELOPE':
          values.push(
            v.atom('ENVELOPE'),
            envelopeValue((await detail()).index.envelope, { utf8: opts.utf8 }),
          );
          break;
        case 'BODY':
        case 'BODYSTRUCTURE':
          values.push(
            v.atom(it.name),
            bodyStructureValue(await root(), it.name === 'BODYSTRUCTURE', { utf8: opts.utf8 }),
          );
          break;
        // RFC 9051 §6.4.5 (RFC 3501 compatibility): RFC822 = BODY[], RFC822.HEADER =
        // BODY.PEEK[HEADER], RFC822.TEXT = BODY[TEXT], answered under their own names.
        case 'RFC822':
          values.push(v.atom('RFC822'), v.str(await section(whole)));
          break;
        case 'RFC822.HEADER':
          values.push(
            v.atom('RFC822.HEADER'),
            v.str(await section({ part: [], text: { kind: 'HEADER' } })),
          );
          break;
        case 'RFC822.TEXT':
          values.push(
            v.atom('RFC822.TEXT'),
            v.str(await section({ part: [], text: { kind: 'TEXT' } })),
          );
          break;
        // RFC 8474 §5.3: EMAILID (<objectid>), THREADID (<objectid>).
        case 'EMAILID':
          values.push(v.atom('EMAILID'), v.list([v.atom((await extras()).emailId)]));
          break;
        case 'THREADID':
          values.push(v.atom('THREADID'), v.list([v.atom((await extras()).threadId)]));
          break;
        // RFC 8514 §4.2: SAVEDATE date-time.
        case 'SAVEDATE':
          values.push(v.atom('SAVEDATE'), v.raw(dateTimeToString((await extras()).saveDate)));
          break;
      }
    } else if (it.kind === 'preview') {
      // RFC 8970 §3: NIL only under LAZY, when the preview is not at hand (as Dovecot: not
      // worked out before); without LAZY it is worked out now, and kept.
      let text = (await extras()).preview;
      if (text === null && !it.lazy) {
        text = previewText(await raw(), await root());
        msg.cachePreview?.(text);
      }
      values.push(v.atom('PREVIEW'), text === null ? v.nil : v.str(Buffer.from(text, 'utf8')));
    } else if (it.kind === 'body') {
      const data = applyPartial(await section(it.section), it.partial);
      values.push(v.raw(bodyLabel(it)), v.str(data));
    } else if (it.kind === 'binary') {
      const r =
        it.part.length === 0 ? await raw() : binaryBytes(await raw(), await root(), it.part);
      if (r instanceof SectionError) return { values, setsSeen: fetchSetsSeen(items), error: r };
      const data = applyPartial(r, it.partial);
      const origin = it.partial ? `<${it.partial.offset}>` : '';
      // RFC 3516 §4.2: data containing NUL must be a literal8.
      const value = data.includes(0) ? v.literal(data, true) : v.str(data);
      values.push(v.raw(`BINARY[${it.part.join('.')}]${origin}`), value);
    } else {
      const r =
        it.part.length === 0 ? await raw() : binaryBytes(await raw(), await root(), it.part);
      if (r instanceof SectionError) return { values, setsSeen: fetchSetsSeen(items), error: r };
      values.push(v.raw(`BINARY.SIZE[${it.part.join('.')}]`), v.num(r.length));
    }
  }
  if (opts.condstore && !asked('MODSEQ')) {
    values.push(v.atom('MODSEQ'), v.list([v.num(msg.modseq)]));
  }
  return { values, setsSeen: fetchSetsSeen(items), error: null };
}

/** What the row items read (a MessageRecord will do: its date is made only when asked). */
export type RowMessage = Pick<
  FetchMessage,
  'uid' | 'modseq' | 'size' | 'internalDate' | 'internalZone'
>;

/**
 * The row items (UID, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ): false for any other. `flags`
 * are the message's as the session shows them (with its \Recent).
 */
function pushRowItem(
  values: ImapValue[],
  name: string,
  msg: RowMessage,
  flags: readonly string[],
): boolean {
  switch (name) {
    case 'UID':
      values.push(v.atom('UID'), v.num(msg.uid));
      return true;
    case 'FLAGS':
      values.push(
        v.atom('FLAGS'),
        v.list(flags.filter((f) => FLAG_OK.test(f)).map((f) => v.atom(f))),
      );
      return true;
    case 'INTERNALDATE':
      values.push(
        v.atom('INTERNALDATE'),
        v.raw(dateTimeToString(msg.internalDate, msg.internalZone)),
      );
      return true;
    case 'RFC822.SIZE':
      values.push(v.atom('RFC822.SIZE'), v.num(msg.size));
      return true;
    case 'MODSEQ':
      // RFC 7162 §3.1.4: MODSEQ (<value>).
      values.push(v.atom('MODSEQ'), v.list([v.num(msg.modseq)]));
      return true;
    default:
      return false;
  }
}

/** RFC822.HEADER's section (RFC 9051 §6.4.5: BODY.PEEK[HEADER] under its own name). */
export const HEADER_TEXT: Section['text'] = { kind: 'HEADER' };

/**
 * Whether renderHeaderFetch can answer the items: row items (UID, FLAGS, INTERNALDATE,
 * RFC822.SIZE, MODSEQ) and at least one of the message's own header sections that set no
 * \Seen: BODY.PEEK[HEADER], BODY.PEEK[HEADER.FIELDS[.NOT] (...)] (with or without a
 * partial) and RFC822.HEADER. What a mail client asks of every message at each login.
 */
export function headerItemsOnly(items: readonly FetchItem[]): boolean {
  let header = false;
  for (const it of items) {
    if (it.kind === 'body') {
      const text = it.section.text?.kind;
      if (!it.peek || it.section.part.length > 0) return false;
      if (text !== 'HEADER' && text !== 'HEADER.FIELDS') return false;
      header = true;
    } else if (it.kind === 'simple') {
      if (it.name === 'RFC822.HEADER') header = true;
      else if (!LIGHT_ITEMS.has(it.name) || EXTRA_ITEMS.has(it.name)) return false;
    } else return false;
  }
  return header;
}

/**
 * renderFetch's values for items headerItemsOnly accepts, at once: `bytes` is the message or
 * its header block (BlobStore.readHeaders), already read. No promise, no loader per message
 * (a FETCH 1:* of header fields made several of each per message).
 */
export function renderHeaderFetch(
  items: readonly FetchItem[],
  msg: RowMessage,
  flags: readonly string[],
  bytes: Buffer,
  /** `bytes` are the header block as BlobStore.readHeaders gives it (blockSectionBytes). */
  block: boolean,
  opts: FetchRenderOptions,
): ImapValue[] {
  const values: ImapValue[] = [];
  let uid = false;
  let modseq = false;
  for (const it of items) {
    if (it.kind !== 'simple') continue;
    if (it.name === 'UID') uid = true;
    else if (it.name === 'MODSEQ') modseq = true;
  }
  if (opts.uidAlways && !uid) values.push(v.atom('UID'), v.num(msg.uid));
  for (const it of items) {
    if (it.kind === 'body') {
      // headerItemsOnly let through HEADER and HEADER.FIELDS[.NOT] only.
      const text = it.section.text as HeaderSectionText;
      const data = block ? blockSectionBytes(bytes, text) : messageSectionBytes(bytes, text);
      values.push(v.raw(bodyLabel(it)), v.str(applyPartial(data, it.partial)));
    } else if (it.kind === 'simple' && !pushRowItem(values, it.name, msg, flags)) {
      // The one other simple item headerItemsOnly lets through: RFC822.HEADER.
      const data = block ? bytes : messageSectionBytes(bytes, HEADER_TEXT);
      values.push(v.atom('RFC822.HEADER'), v.str(data));
    }
  }
  if (opts.condstore && !modseq) values.push(v.atom('MODSEQ'), v.list([v.num(msg.modseq)]));
  return values;
}

/**
 * Items answered from the message row alone, no parsed index, no blob: the row, and for
 * EMAILID / THREADID / SAVEDATE its extras (imapflow adds EMAILID to every FETCH it sends
 * once OBJECTID is offered: its FLAGS syncs stay on this path).
 */
export const LIGHT_ITEMS: ReadonlySet<string> = new Set([
  'UID',
  'FLAGS',
  'INTERNALDATE',
  'RFC822.SIZE',
  'MODSEQ',
  ...EXTRA_ITEMS,
]);

/** Whether every item is in LIGHT_ITEMS, so that renderLightText can answer. */
export function allLight(items: readonly FetchItem[]): boolean {
  return items.every((it) => it.kind === 'simple' && LIGHT_ITEMS.has(it.name));
}

type LightMessage = Pick<
  FetchMessage,
  'uid' | 'flags' | 'modseq' | 'size' | 'internalDate' | 'internalZone'
>;
type LightExtras = Pick<MessageExtras, 'emailId' | 'threadId' | 'saveDate'>;

/**
 * The `(...)` of `* n FETCH (...)` for LIGHT_ITEMS only, as text (send it as latin1, as the
 * serializer writes atoms): the same bytes renderFetch + serialize give, with the same order
 * and rules, built without a value tree. The items are looked at once, here; the returned
 * function runs per message (`UID FETCH 1:* (UID FLAGS)` on a 100,000-message mailbox).
 */
export function lightRenderer(
  items: readonly FetchItem[],
  opts: FetchRenderOptions,
  /** The session's \Recent (RFC 3501 §2.3.2), added to FLAGS without copying the row. */
  isRecent?: (uid: number) => boolean,
): (msg: LightMessage, extras?: LightExtras) => string {
  // `extras` is given when needsExtras(items) (the handler loads them with the rows).
  const parts: Array<(m: LightMessage, x?: LightExtras) => string> = [];
  const names = items.flatMap((it) => (it.kind === 'simple' ? [it.name] : []));
  const uid = (m: LightMessage) => `UID ${m.uid}`;
  const modseq = (m: LightMessage) => `MODSEQ (${m.modseq})`;
  if (opts.uidAlways && !names.includes('UID')) parts.push(uid);
  for (const name of names) {
    if (name === 'UID') parts.push(uid);
    else if (name === 'FLAGS')
      parts.push(
        isRecent === undefined
          ? (m) => `FLAGS (${flagsText(m.flags)})`
          : (m) => `FLAGS (${withRecentText(flagsText(m.flags), isRecent(m.uid))})`,
      );
    else if (name === 'INTERNALDATE')
      parts.push((m) => `INTERNALDATE ${dateTimeToString(m.internalDate, m.internalZone)}`);
    else if (name === 'RFC822.SIZE') parts.push((m) => `RFC822.SIZE ${m.size}`);
    else if (name === 'MODSEQ') parts.push(modseq);
    else if (name === 'EMAILID') parts.push((_, x) => `EMAILID (${x!.emailId})`);
    else if (name === 'THREADID') parts.push((_, x) => `THREADID (${x!.threadId})`);
    else if (name === 'SAVEDATE') parts.push((_, x) => `SAVEDATE ${dateTimeToString(x!.saveDate)}`);
  }
  if (opts.condstore && !names.includes('MODSEQ')) parts.push(modseq);
  if (parts.length === 2) {
    type Part = (m: LightMessage, x?: LightExtras) => string;
    const [a, b] = parts as [Part, Part];
    return (m, x) => `(${a(m, x)} ${b(m, x)})`;
  }
  return (m, x) => `(${parts.map((p) => p(m, x)).join(' ')})`;
}

/** The items columnRenderer answers: what MessageStore.flagColumns holds. */
const COLUMN_ITEMS: ReadonlySet<string> = new Set(['UID', 'FLAGS', 'MODSEQ']);

/**
 * lightRenderer's text for UID, FLAGS and MODSEQ alone, from a mailbox's columns (FlagColumns):
 * each distinct flag list's `FLAGS (...)` is written once and reused by every message that
 * has it (`UID FETCH 1:* (UID FLAGS)` over a million messages, issue 18 item 6). Null when
 * the items ask for anything else.
 */
/** Whether columnRenderer answers these items: UID, FLAGS and MODSEQ alone. */
export function columnItemsOnly(items: readonly FetchItem[]): boolean {
  return items.every((it) => it.kind === 'simple' && COLUMN_ITEMS.has(it.name));
}

export function columnRenderer(
  items: readonly FetchItem[],
  opts: FetchRenderOptions,
  isRecent?: (uid: number) => boolean,
): ((uid: number, listId: number, list: readonly string[], modseq: number) => string) | null {
  if (!columnItemsOnly(items)) return null;
  const names = items.flatMap((it) => (it.kind === 'simple' ? [it.name] : []));
  // The same order and rules as lightRenderer.
  const order: Array<'UID' | 'FLAGS' | 'MODSEQ'> = [];
  if (opts.uidAlways && !names.includes('UID')) order.push('UID');
  for (const n of names) order.push(n as 'UID' | 'FLAGS' | 'MODSEQ');
  if (opts.condstore && !names.includes('MODSEQ')) order.push('MODSEQ');
  const texts: string[] = [];
  const flagsOf = (uid: number, id: number, list: readonly string[]): string => {
    let t = texts[id];
    if (t === undefined) {
      t = flagsText(list);
      texts[id] = t;
    }
    return isRecent?.(uid) ? `FLAGS (${withRecentText(t, true)})` : `FLAGS (${t})`;
  };
  if (order.length === 2 && order[0] === 'UID' && order[1] === 'FLAGS')
    return (uid, id, list) => `(UID ${uid} ${flagsOf(uid, id, list)})`;
  return (uid, id, list, modseq) => {
    let out = '(';
    for (let i = 0; i < order.length; i++) {
      if (i > 0) out += ' ';
      const n = order[i];
      if (n === 'UID') out += `UID ${uid}`;
      else if (n === 'FLAGS') out += flagsOf(uid, id, list);
      else out += `MODSEQ (${modseq})`;
    }
    return `${out})`;
  };
}

function withRecentText(flags: string, recent: boolean): string {
  if (!recent) return flags;
  return flags === '' ? '\\Recent' : `${flags} \\Recent`;
}

/** The flags FLAGS shows, as its list's text (RFC 9051 §7.5.2), bad ones left out. */
export function flagsText(flags: readonly string[]): string {
  let out = '';
  for (const f of flags) {
    if (!FLAG_OK.test(f)) continue;
    out = out === '' ? f : `${out} ${f}`;
  }
  return out;
}
