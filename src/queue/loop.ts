// Mail loop detection by counting Received fields (RFC 5321 §6.3): every relay prepends one
// (§4.4), so a message passed around in a loop grows a trace without bound.
import { fieldNameIs, forEachField, headerBounds } from '../mime/header-scan.js';

/**
 * A message with more Received fields than this is not sent on: it is bounced with
 * LOOP_STATUS. RFC 5321 §6.3 asks for a large threshold, "normally at least 100"; Postfix's
 * hopcount_limit is 50, Exim's received_headers_max 30. A real path has a dozen hops at most.
 */
export const MAX_RECEIVED = 100;

/** RFC 3463 §3.5: X.4.6 Routing loop detected. */
export const LOOP_STATUS = '5.4.6';

/**
 * Received fields in the header block of `message`, counting up to `max + 1` and stopping
 * there. The header is read by the one header scanner (mime/header-scan.ts), so the fields
 * counted are those every other reader sees; no field value is decoded, and a hostile header
 * of a million fields costs one pass over the header at most.
 */
export function countReceived(message: Buffer, max: number): number {
  const { fieldsEnd } = headerBounds(message);
  let count = 0;
  forEachField(message, 0, fieldsEnd, (start, colon) => {
    // A leading space or tab (a continuation with nothing to continue) makes no field name,
    // as parseHeaders reads it.
    const first = message[start];
    if (first !== 0x20 && first !== 0x09 && fieldNameIs(message, start, colon, 'received')) {
      count++;
    }
    return count > max;
  });
  return count;
}

/** True when the message has looped: more than `max` Received fields. */
export function tooManyHops(message: Buffer, max = MAX_RECEIVED): boolean {
  return countReceived(message, max) > max;
}
