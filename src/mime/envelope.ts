// ENVELOPE (RFC 9051 §7.5.2) and SEARCH/SORT fields, computed once from a header block.
import { type Address, parseAddressList } from './address.js';
import { parseDate } from './date.js';
import { decodeEncodedWords } from './encoded-words.js';
import { type HeaderField, headerValue } from './headers.js';
import type { Envelope, SearchFields } from './types.js';

function addresses(fields: readonly HeaderField[], name: string): Address[] | null {
  const v = headerValue(fields, name);
  if (v === null || v === '') return null;
  const list = parseAddressList(v);
  return list.length > 0 ? list : null;
}

function orNull(v: string | null): string | null {
  return v === null || v === '' ? null : v;
}

export function buildEnvelope(fields: readonly HeaderField[]): Envelope {
  const from = addresses(fields, 'from');
  const subject = orNull(headerValue(fields, 'subject'));
  return {
    date: orNull(headerValue(fields, 'date')),
    subject,
    subjectDecoded: subject === null ? null : decodeEncodedWords(subject),
    from,
    // RFC 9051 §7.5.2: an absent or empty Sender / Reply-To is set to the From value.
    sender: addresses(fields, 'sender') ?? from,
    replyTo: addresses(fields, 'reply-to') ?? from,
    to: addresses(fields, 'to'),
    cc: addresses(fields, 'cc'),
    bcc: addresses(fields, 'bcc'),
    inReplyTo: orNull(headerValue(fields, 'in-reply-to')),
    messageId: orNull(headerValue(fields, 'message-id')),
  };
}

/** The first real address (not a group marker), names decoded. */
function firstAddress(value: string | null): Address | null {
  if (value === null) return null;
  for (const a of parseAddressList(value, { decodeWords: true })) {
    if (a.host !== null) return a;
  }
  return null;
}

/**
 * firstAddress of the field an ENVELOPE list was parsed from, without parsing it again: the
 * parse with decodeWords differs only in passing each display name through
 * decodeEncodedWords (address.ts, phrase).
 */
function firstOfList(list: readonly Address[] | null): Address | null {
  if (list === null) return null;
  for (const a of list) {
    if (a.host === null) continue;
    return { ...a, name: a.name === null ? null : decodeEncodedWords(a.name) };
  }
  return null;
}

function decoded(fields: readonly HeaderField[], name: string): string {
  // Repeated fields (several To: lines) are all searchable.
  const values = fields.filter((f) => f.lname === name).map((f) => decodeEncodedWords(f.value));
  return values.join(', ');
}

/**
 * `envelope`: buildEnvelope of the same fields, when the caller has it: its From, To and Cc
 * lists give the first addresses without a second parse.
 */
export function buildSearchFields(
  fields: readonly HeaderField[],
  envelope?: Envelope,
): SearchFields {
  const refs = headerValue(fields, 'references') ?? '';
  return {
    from: decoded(fields, 'from'),
    to: decoded(fields, 'to'),
    cc: decoded(fields, 'cc'),
    bcc: decoded(fields, 'bcc'),
    subject: decoded(fields, 'subject'),
    date: parseDate(headerValue(fields, 'date')),
    messageId: orNull(headerValue(fields, 'message-id')),
    inReplyTo: orNull(headerValue(fields, 'in-reply-to')),
    references: refs.match(/<[^<>\s]+>/g) ?? [],
    firstFrom: envelope ? firstOfList(envelope.from) : firstAddress(headerValue(fields, 'from')),
    firstTo: envelope ? firstOfList(envelope.to) : firstAddress(headerValue(fields, 'to')),
    firstCc: envelope ? firstOfList(envelope.cc) : firstAddress(headerValue(fields, 'cc')),
  };
}
