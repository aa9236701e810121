// The text SEARCH FROM / TO / CC / BCC look in: an ENVELOPE address list written out.
//
// RFC 3501 §6.4.4 (and RFC 9051) match these keys against "the envelope structure's FROM
// field", not the raw header: `From: <user-from (comment)@ (comment) domain.org>` is the
// address user-from@domain.org, and the comments are not part of it. So the text is made from
// the addresses as the ENVELOPE holds them (RFC 3501 §7.4.2): each one as
// `name <@route:mailbox@host>` (the name with RFC 2047 words decoded, the route only when
// there is one), a group as `name: ... ;`, entries separated by ", ".
import type { Address } from './address.js';
import { decodeEncodedWords } from './encoded-words.js';

/** Names given in encoded words are matched decoded, as SEARCH compares decoded text. */
const decoded = (s: string): string => (s.includes('=?') ? decodeEncodedWords(s) : s);

function addrSpec(a: Address): string {
  const spec = a.host ? `${a.mailbox ?? ''}@${a.host}` : (a.mailbox ?? '');
  // An obsolete source route (RFC 3501 addr-adl, "@a,@b") in front, as in the header.
  return a.adl ? `${a.adl}:${spec}` : spec;
}

/** An ENVELOPE address list as SEARCH reads it; "" for NIL. */
export function addressSearchText(list: readonly Address[] | null | undefined): string {
  if (!list) return '';
  let out = '';
  let sep = '';
  for (const a of list) {
    if (a.host === null) {
      if (a.mailbox === null) {
        out += ';'; // group end
        sep = ', ';
      } else {
        out += `${sep}${decoded(a.mailbox)}:`; // group start
        sep = ' ';
      }
      continue;
    }
    const spec = addrSpec(a);
    const name = a.name ? decoded(a.name) : '';
    // A phrase without an address ("John Smith", host "") is just its name.
    out += sep + (name && spec ? `${name} <${spec}>` : name || spec);
    sep = ', ';
  }
  return out;
}

export interface EnvelopeAddressTexts {
  from: string;
  to: string;
  cc: string;
  bcc: string;
}

const isAddress = (x: unknown): x is Address =>
  typeof x === 'object' &&
  x !== null &&
  ['name', 'adl', 'mailbox', 'host'].every((k) => {
    const v = (x as Record<string, unknown>)[k];
    return v === null || v === undefined || typeof v === 'string';
  });

function listOf(v: unknown): Address[] | null {
  if (!Array.isArray(v)) return null;
  return v.filter(isAddress).map((a) => ({
    ...a,
    name: a.name ?? null,
    mailbox: a.mailbox ?? null,
    host: a.host ?? null,
  }));
}

/**
 * The four texts of a stored envelope (JSON of mime's Envelope, or anything else: a row
 * written by an older version, or none at all, gives "").
 */
export function envelopeAddressTexts(envelope: unknown): EnvelopeAddressTexts {
  const e = (typeof envelope === 'object' && envelope !== null ? envelope : {}) as Record<
    string,
    unknown
  >;
  return {
    from: addressSearchText(listOf(e.from)),
    to: addressSearchText(listOf(e.to)),
    cc: addressSearchText(listOf(e.cc)),
    bcc: addressSearchText(listOf(e.bcc)),
  };
}
