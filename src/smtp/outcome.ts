// The delivery stage's answers as SMTP replies: the decisions are delivery's, the codes are
// SMTP's (RFC 5321 §4.2, enhanced codes RFC 3463, all from the catalog in wire/replies.ts).
import type { Outcome, Refusal } from '../delivery/types.js';
import * as R from './wire/replies.js';
import type { SmtpReply } from './wire/reply.js';

export function refusalReply(r: Refusal): SmtpReply {
  switch (r.reason) {
    case 'no-such-user':
      return R.noSuchUser(r.address);
    case 'over-quota':
      return R.overQuota(r.address);
    case 'relay-denied':
      return R.relayDenied();
    case 'bad-address':
      return R.badRecipientSyntax();
    case 'sender-not-owned':
      return R.senderNotOwned();
    // RFC 6409 §6.3 / §5.1: after the end of data, 554 for what cannot be read, 550 5.7.1
    // for an originator the user does not own.
    case 'originator-fields':
      return R.contentRejected(r.text);
    case 'originator-address':
      return R.badOriginatorAddress(r.text);
    case 'originator-not-owned':
      return R.originatorNotOwned(r.field, r.address);
    case 'dmarc-reject':
      return R.addressRefused('Message rejected by the DMARC policy of the sender domain');
  }
}

/** The reply to the end of a message (DATA's final dot, BDAT LAST). */
export function outcomeReply(o: Outcome): SmtpReply {
  switch (o.status) {
    case 'accepted':
      return R.messageAccepted(o.id);
    case 'refused':
      return refusalReply(o.refusal);
    case 'temporary':
      return R.localError();
  }
}
