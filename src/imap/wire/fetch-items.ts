/**
 * FETCH arguments (RFC 9051 §6.4.5, RFC 3516 BINARY, RFC 7162 CHANGEDSINCE/VANISHED, RFC 8474
 * EMAILID/THREADID, RFC 8514 SAVEDATE, RFC 8970 PREVIEW) parsed to typed values. Readers throw ImapParseError; wrap calls in tryParse().
 *
 *   parseFetchArgs(args)  reads ` <sequence-set> <items> [(<modifiers>)]` to the end
 *   parseFetchItems(c)    reads the items: a macro (ALL FAST FULL), one fetch-att or a list
 *   sectionToString(s)    the section spec as echoed in the response, e.g. `1.2.HEADER.FIELDS (A)`
 */
import type { ArgCursor } from './parser.js';
import { type PartialRange, parsePartialRange } from './search-return.js';
import type { SequenceSet } from './sequence.js';
import { astring } from './serializer.js';

export type SimpleFetchAtt =
  | 'FLAGS'
  | 'INTERNALDATE'
  | 'RFC822.SIZE'
  | 'ENVELOPE'
  | 'BODY'
  | 'BODYSTRUCTURE'
  | 'UID'
  | 'MODSEQ'
  | 'RFC822'
  | 'RFC822.HEADER'
  | 'RFC822.TEXT'
  | 'EMAILID'
  | 'THREADID'
  | 'SAVEDATE';

export type SectionText =
  | { kind: 'HEADER' }
  | { kind: 'TEXT' }
  | { kind: 'MIME' }
  | { kind: 'HEADER.FIELDS'; not: boolean; fields: string[] };

/** section-spec: `part` is the section-part (empty for the whole message). */
export interface Section {
  readonly part: number[];
  readonly text: SectionText | null;
}

/** `<offset.length>` of a BODY[...] or BINARY[...] request. */
export interface FetchPartial {
  readonly offset: number;
  readonly length: number;
}

export type FetchAtt =
  | { kind: 'simple'; name: SimpleFetchAtt }
  | { kind: 'body'; peek: boolean; section: Section; partial: FetchPartial | null }
  | { kind: 'binary'; peek: boolean; part: number[]; partial: FetchPartial | null }
  | { kind: 'binarySize'; part: number[] }
  // RFC 8970 §3: PREVIEW, with LAZY the server may answer NIL rather than work it out now.
  | { kind: 'preview'; lazy: boolean };

export interface FetchArgs {
  readonly set: SequenceSet;
  readonly items: FetchAtt[];
  /** RFC 7162 §3.1.4.1 CHANGEDSINCE, or null. */
  readonly changedSince: number | null;
  /** RFC 7162 §3.2.6 VANISHED (the handler checks UID FETCH and QRESYNC). */
  readonly vanished: boolean;
  /** RFC 9394 §3.3 PARTIAL (the handler checks UID FETCH), or null. */
  readonly partial: PartialRange | null;
}

const SIMPLE = new Set<string>([
  'FLAGS',
  'INTERNALDATE',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODY',
  'BODYSTRUCTURE',
  'UID',
  'MODSEQ',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
  'EMAILID',
  'THREADID',
  'SAVEDATE',
]);

const simple = (name: SimpleFetchAtt): FetchAtt => ({ kind: 'simple', name });

// RFC 9051 §6.4.5: the macros, which may not be combined with other items.
const MACROS: Record<string, SimpleFetchAtt[]> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

/** FetchArgs after the sequence set: what the same text always parses to. */
type FetchTail = Omit<FetchArgs, 'set'>;

/**
 * The tails parsed last, by their text (the items and modifiers after the sequence set, no
 * literal among them), frozen: a client asks the same items of every mailbox at each login
 * (issue 19's login mix: `(UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])`), and
 * their parse, the line renderer made from them and the header names' sets were work of each
 * FETCH (~12 us of a FETCH's ~110 in the mix's profile). The same items object then stands for
 * the same request in every FETCH, which the renderer's memo (commands/fetch.ts) and the
 * names' sets (fetch/sections.ts) key on.
 */
const keptTails = new Map<string, FetchTail>();
/** Texts kept at most; then they start over. */
const KEPT_TAILS_MAX = 64;
/** A tail longer than this is parsed each time (and not kept). */
const KEPT_TAIL_CHARS = 512;

export function parseFetchArgs(c: ArgCursor): FetchArgs {
  c.space();
  const set = c.sequenceSet();
  c.space();
  const text = c.rest();
  const key = text !== null && text.length <= KEPT_TAIL_CHARS ? text : null;
  const kept = key === null ? undefined : keptTails.get(key);
  if (kept !== undefined) {
    c.skipRest();
    return {
      set,
      items: kept.items,
      changedSince: kept.changedSince,
      vanished: kept.vanished,
      partial: kept.partial,
    };
  }
  const tail = parseFetchTail(c);
  if (key !== null) {
    if (keptTails.size >= KEPT_TAILS_MAX) keptTails.clear();
    keptTails.set(key, deepFreeze(tail));
  }
  return {
    set,
    items: tail.items,
    changedSince: tail.changedSince,
    vanished: tail.vanished,
    partial: tail.partial,
  };
}

/** A kept tail is shared by every FETCH that sends its text: nothing may change it. */
function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}

function parseFetchTail(c: ArgCursor): FetchTail {
  const items = parseFetchItems(c);
  let changedSince: number | null = null;
  let vanished = false;
  let partial: PartialRange | null = null;
  if (c.maybe(' ')) {
    c.list((m) => {
      const name = m.word();
      if (name === 'PARTIAL' && partial === null) {
        m.space();
        partial = parsePartialRange(m);
      } else if (name === 'CHANGEDSINCE') {
        m.space();
        changedSince = m.number64();
      } else if (name === 'VANISHED') {
        vanished = true;
      } else {
        m.fail(`Unknown FETCH modifier ${name}`);
      }
    }, 1);
  }
  c.end();
  // RFC 7162 §3.2.6: VANISHED without CHANGEDSINCE is a BAD.
  if (vanished && changedSince === null) c.fail('VANISHED requires CHANGEDSINCE');
  return { items, changedSince, vanished, partial };
}

export function parseFetchItems(c: ArgCursor): FetchAtt[] {
  if (c.peek() === 0x28) return c.list(parseFetchAtt, 1);
  const macro = MACROS[c.peekWord()];
  if (macro && !isSectionStart(c)) {
    c.word();
    return macro.map(simple);
  }
  return [parseFetchAtt(c)];
}

function isSectionStart(c: ArgCursor): boolean {
  const mark = c.save();
  c.word();
  const b = c.peek();
  c.restore(mark);
  return b === 0x5b || b === 0x3c;
}

export function parseFetchAtt(c: ArgCursor): FetchAtt {
  const name = c.word();
  const bracket = c.peek() === 0x5b;
  if (name === 'BODY' || name === 'BODY.PEEK') {
    if (!bracket) {
      if (name === 'BODY') return simple('BODY');
      c.fail('BODY.PEEK needs a section');
    }
    const section = parseSection(c);
    return { kind: 'body', peek: name === 'BODY.PEEK', section, partial: parsePartial(c) };
  }
  if (name === 'BINARY' || name === 'BINARY.PEEK' || name === 'BINARY.SIZE') {
    const part = parseBinarySection(c);
    if (name === 'BINARY.SIZE') return { kind: 'binarySize', part };
    return { kind: 'binary', peek: name === 'BINARY.PEEK', part, partial: parsePartial(c) };
  }
  if (name === 'PREVIEW' && !bracket) return { kind: 'preview', lazy: parsePreviewModifiers(c) };
  if (!bracket && SIMPLE.has(name)) return simple(name as SimpleFetchAtt);
  return c.fail(`Unknown FETCH item ${name || 'at this position'}`);
}

/** FETCH modifiers (RFC 7162, RFC 9394): a list opening with one of them is not PREVIEW's. */
const FETCH_MODIFIERS = new Set(['CHANGEDSINCE', 'VANISHED', 'PARTIAL']);

/**
 * RFC 8970 §5: fetch-att =/ "PREVIEW" [SP "(" preview-mod *(SP preview-mod) ")"], preview-mod
 * = "LAZY". ` (` after PREVIEW may also open the FETCH modifiers (`FETCH 1 PREVIEW
 * (CHANGEDSINCE 5)`): a list that starts with one of those is left to them. Returns LAZY.
 */
function parsePreviewModifiers(c: ArgCursor): boolean {
  const mark = c.save();
  if (!c.maybe(' ') || c.peek() !== 0x28) {
    c.restore(mark);
    return false;
  }
  c.expect('(');
  const first = c.peekWord();
  c.restore(mark);
  if (FETCH_MODIFIERS.has(first)) return false;
  c.space();
  let lazy = false;
  c.list((m) => {
    const mod = m.word();
    if (mod !== 'LAZY') m.fail(`Unknown PREVIEW modifier ${mod || 'at this position'}`);
    lazy = true;
  }, 1);
  return lazy;
}

/** Splits `1.2.HEADER.FIELDS` into the part numbers and the text part. */
function splitSpec(c: ArgCursor, spec: string): { part: number[]; rest: string } {
  if (spec === '') return { part: [], rest: '' };
  const pieces = spec.split('.');
  const part: number[] = [];
  let i = 0;
  for (; i < pieces.length && /^[0-9]/.test(pieces[i]); i++) {
    if (!/^[1-9][0-9]{0,9}$/.test(pieces[i]) || Number(pieces[i]) > 4294967295)
      c.fail('Bad section part number');
    part.push(Number(pieces[i]));
  }
  const rest = pieces.slice(i).join('.');
  if (pieces.slice(i).some((p) => p === '')) c.fail('Bad section');
  return { part, rest };
}

/** RFC 9051 §9 section = "[" [section-spec] "]". */
export function parseSection(c: ArgCursor): Section {
  c.expect('[');
  const { part, rest } = splitSpec(c, c.word());
  let text: SectionText | null = null;
  if (rest === 'HEADER' || rest === 'TEXT') text = { kind: rest };
  else if (rest === 'MIME') {
    // section-text MIME only follows a section-part.
    if (part.length === 0) c.fail('MIME needs a part number');
    text = { kind: 'MIME' };
  } else if (rest === 'HEADER.FIELDS' || rest === 'HEADER.FIELDS.NOT') {
    c.space();
    const fields = c.list((l) => l.astring().toString('latin1'), 1);
    text = { kind: 'HEADER.FIELDS', not: rest.endsWith('.NOT'), fields };
  } else if (rest !== '') {
    c.fail(`Unknown section ${rest}`);
  }
  c.expect(']', '"]" closing the section');
  return { part, text };
}

/** RFC 3516 section-binary = "[" [section-part] "]". */
function parseBinarySection(c: ArgCursor): number[] {
  c.expect('[', 'a section');
  const { part, rest } = splitSpec(c, c.word());
  if (rest !== '') c.fail('BINARY takes only part numbers');
  c.expect(']', '"]" closing the section');
  return part;
}

/** partial = "<" number64 "." nz-number64 ">". */
function parsePartial(c: ArgCursor): FetchPartial | null {
  if (!c.maybe('<')) return null;
  const offset = c.number64();
  c.expect('.');
  if (c.peek() === 0x30) c.fail('Partial length must not be zero');
  const length = c.number64();
  c.expect('>');
  return { offset, length };
}

/** The section spec as sent back in FETCH responses: `1.2.HEADER.FIELDS (FROM TO)`. */
export function sectionToString(section: Section): string {
  const parts: string[] = section.part.map(String);
  const t = section.text;
  if (t) {
    if (t.kind !== 'HEADER.FIELDS') parts.push(t.kind);
    else {
      const names = t.fields.map((f) => astring(Buffer.from(f, 'latin1')).toString('latin1'));
      parts.push(`HEADER.FIELDS${t.not ? '.NOT' : ''} (${names.join(' ')})`);
    }
  }
  return parts.join('.');
}
