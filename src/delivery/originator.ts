// The originator fields of a submitted message (RFC 5322 §3.6.2: From, Sender), read the way
// the recipients' MUAs will read them, so that the ownership check in deliver.ts sees every
// address a reader may be shown. Pure: bytes in, addresses or a refusal out.
//
// Field names are matched loosely on purpose: `From :` (RFC 5322 §4.5.3 obs-optional allows
// WSP before the colon, and readers accept it), ` From:` on the first line, `FROM:`, and
// names with stray bytes (`Fr\0om:`) all count as From. Counting too many only refuses a
// malformed message; counting too few would let a second From past the check.
import { forEachField, headerBounds } from '../mime/header-scan.js';
import { normalizeAddress } from '../store/names.js';
import { type HeaderMailbox, parseMailboxList } from './mailbox-list.js';

export type OriginatorProblem =
  /** RFC 5322 §3.6: From must occur exactly once, Sender at most once. */
  | 'field-count'
  /** An address the ownership check cannot evaluate (syntax, no domain, literal, encoded). */
  | 'address';

export type Originator =
  | {
      ok: true;
      /** Normalized addresses of every From mailbox (group members included), in order. */
      from: string[];
      /** The Sender mailbox, normalized, or null when there is no Sender field. */
      sender: string | null;
    }
  | { ok: false; problem: OriginatorProblem; text: string };

/** The field name as loosely as a reader might take it: letters, digits and '-' only. */
function looseName(raw: Buffer, start: number, end: number): string | null {
  // One pass up to the colon, within the field: searching the colon from `start` to the end
  // of the buffer cost a scan of the rest of the message per colon-less line (a header of
  // bare LFs: quadratic).
  let name = '';
  for (let i = start; i < end; i++) {
    const c = raw[i]!;
    if (c === 0x3a) return name;
    if ((c >= 0x30 && c <= 0x39) || (c >= 0x61 && c <= 0x7a) || c === 0x2d)
      name += String.fromCharCode(c);
    else if (c >= 0x41 && c <= 0x5a) name += String.fromCharCode(c + 0x20);
    // Only a short name can be From or Sender: stop early on long header lines.
    if (name.length > 16) return null;
  }
  return null; // no colon: not a field
}

/**
 * The address as the ownership check compares it, or null when it cannot be evaluated: a
 * domain literal, a quoted local part that is not a plain dot-atom, or one the store refuses.
 */
function evaluable(m: HeaderMailbox): string | null {
  if (m.literal) return null;
  // `"sam"@example.com` is sam@example.com (RFC 5322 §3.4.1: the quotes are not part of it);
  // a quoted local part that needs its quotes is no address we can own.
  if (m.quoted && !/^[^\s."(),:;<>@[\\\]]+(\.[^\s."(),:;<>@[\\\]]+)*$/.test(m.local)) return null;
  try {
    return normalizeAddress(`${m.local}@${m.domain}`);
  } catch {
    return null;
  }
}

/**
 * Longest From or Sender field read, in bytes. RFC 5322 §2.1.1 limits a line to 998 octets;
 * a folded field may be longer, but 64 KB is hundreds of mailboxes. Bounds the parse of a
 * field a client could otherwise make as big as the message.
 */
export const MAX_ORIGINATOR_FIELD = 64 * 1024;

function readField(
  raw: Buffer,
  start: number,
  end: number,
  name: string,
): HeaderMailbox[] | string {
  if (end - start > MAX_ORIGINATOR_FIELD)
    return `The ${name} field is longer than ${MAX_ORIGINATOR_FIELD} bytes`;
  const colon = raw.indexOf(0x3a, start);
  const r = parseMailboxList(raw.subarray(colon + 1, end).toString('utf8'));
  if (!r.ok) return `Cannot read the ${name} field: ${r.error}`;
  return r.mailboxes;
}

export function readOriginator(raw: Buffer): Originator {
  const from: Array<{ start: number; end: number }> = [];
  const sender: Array<{ start: number; end: number }> = [];
  // The header read CRLF only (mime/header-scan.ts): the longest one a reader may take. The
  // scanner's own name reading is not used: looseName counts more fields as From.
  const { fieldsEnd } = headerBounds(raw, 0, raw.length, true);
  forEachField(raw, 0, fieldsEnd, (start, _colon, _valueEnd, end) => {
    const name = looseName(raw, start, end);
    if (name === 'from') from.push({ start, end });
    else if (name === 'sender') sender.push({ start, end });
  });
  // RFC 5322 §3.6 (table): From min 1 max 1, Sender max 1. RFC 6409 §8 lets the MSA fix a
  // message; it cannot know which of two From fields the author meant, or whom to name when
  // there is none, so it refuses (§6.3: 554 for syntactic problems in the data).
  if (from.length === 0)
    return { ok: false, problem: 'field-count', text: 'Message must have a From field' };
  if (from.length > 1)
    return {
      ok: false,
      problem: 'field-count',
      text: `Message has ${from.length} From fields, RFC 5322 allows one`,
    };
  if (sender.length > 1)
    return {
      ok: false,
      problem: 'field-count',
      text: `Message has ${sender.length} Sender fields, RFC 5322 allows one`,
    };

  const fromBoxes = readField(raw, from[0]!.start, from[0]!.end, 'From');
  if (typeof fromBoxes === 'string') return { ok: false, problem: 'address', text: fromBoxes };
  if (fromBoxes.length === 0)
    return { ok: false, problem: 'address', text: 'The From field names no mailbox' };
  const fromAddresses: string[] = [];
  for (const m of fromBoxes) {
    const a = evaluable(m);
    if (a === null)
      return {
        ok: false,
        problem: 'address',
        text: `Cannot check the From address ${m.local}@${m.domain}`,
      };
    fromAddresses.push(a);
  }

  let senderAddress: string | null = null;
  if (sender.length === 1) {
    const boxes = readField(raw, sender[0]!.start, sender[0]!.end, 'Sender');
    if (typeof boxes === 'string') return { ok: false, problem: 'address', text: boxes };
    // RFC 5322 §3.6.2: sender = "Sender:" mailbox CRLF (one mailbox, not a list).
    if (boxes.length !== 1 || boxes[0]!.inGroup)
      return { ok: false, problem: 'address', text: 'The Sender field must name one mailbox' };
    senderAddress = evaluable(boxes[0]!);
    if (senderAddress === null)
      return {
        ok: false,
        problem: 'address',
        text: `Cannot check the Sender address ${boxes[0]!.local}@${boxes[0]!.domain}`,
      };
  }
  return { ok: true, from: fromAddresses, sender: senderAddress };
}
