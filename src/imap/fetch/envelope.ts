/**
 * FETCH ENVELOPE (RFC 9051 §7.5.2) from the Envelope that mime/ stored at delivery: nothing is
 * re-parsed here.
 *
 *   envelopeValue(env, opts?)  -> ImapValue: (date subject from sender reply-to to cc bcc
 *                          in-reply-to message-id)
 *
 * Strings go out as the header wrote them (encoded words undecoded, RFC 9051 §7.5.2) and as
 * `string` values, so the serializer picks quoted or literal (8-bit text without UTF8=ACCEPT
 * becomes a literal). An absent field is NIL; an address list with no address is NIL.
 */
import type { Address } from '../../mime/address.js';
import type { Envelope } from '../../mime/types.js';
import { type ImapValue, serialize, v, type WriteOptions } from '../wire/serializer.js';

/**
 * RFC 9051 §7.5.2: an address is (addr-name addr-adl addr-mailbox addr-host). Group syntax:
 * the group start has a NIL host and the group name as mailbox; the group end has NIL
 * mailbox and NIL host. mime/address.ts already uses exactly that shape. addr-adl is the
 * obsolete source route (RFC 3501 §7.4.2, RFC 5322 §4.4 obs-route), NIL when there is none.
 */
function addressValue(a: Address): ImapValue {
  return v.list([
    v.nstr(a.name),
    a.adl === undefined ? v.nil : v.str(a.adl),
    v.nstr(a.mailbox),
    v.nstr(a.host),
  ]);
}

/**
 * RFC 9051 §9 env-from = "(" 1*address ")" / nil: the addresses follow each other with no
 * space between them (a 'concat' inside the list).
 */
function addressList(list: readonly Address[] | null | undefined): ImapValue {
  if (!list || list.length === 0) return v.nil;
  return v.list([v.concat(list.map(addressValue))]);
}

/** Whether two address lists hold the same addresses (a stored envelope has copies). */
function sameAddresses(a: readonly Address[] | null, b: readonly Address[] | null): boolean {
  if (a === b) return true;
  if (!a || !b || a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x.name !== y.name || x.adl !== y.adl || x.mailbox !== y.mailbox || x.host !== y.host)
      return false;
  }
  return true;
}

/**
 * `opts.utf8` must match the session's (from's addresses may be serialized early); the
 * default, no UTF-8 in quoted strings, is valid for every client.
 */
export function envelopeValue(env: Envelope, opts: WriteOptions = {}): ImapValue {
  // RFC 9051 §7.5.2: sender and reply-to default to from; mime/envelope.ts did that at
  // delivery, but an index written without it still falls back here.
  const sender = env.sender ?? env.from;
  const replyTo = env.replyTo ?? env.from;
  const senderIsFrom = sameAddresses(sender, env.from);
  const replyToIsFrom = sameAddresses(replyTo, env.from);
  let from = addressList(env.from);
  // Written more than once: serialized once here, its bytes reused.
  if ((senderIsFrom || replyToIsFrom) && from.type !== 'nil') from = v.raw(serialize(from, opts));
  return v.list([
    v.nstr(env.date),
    v.nstr(env.subject),
    from,
    senderIsFrom ? from : addressList(sender),
    replyToIsFrom ? from : addressList(replyTo),
    addressList(env.to),
    addressList(env.cc),
    addressList(env.bcc),
    v.nstr(env.inReplyTo),
    v.nstr(env.messageId),
  ]);
}
