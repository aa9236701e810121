// Mail loop detection by counting Received fields (RFC 5321 §6.3): every relay prepends one
// (§4.4), so a message passed around in a loop grows a trace without bound.

/**
 * A message with more Received fields than this is not sent on: it is bounced with
 * LOOP_STATUS. RFC 5321 §6.3 asks for a large threshold, "normally at least 100"; Postfix's
 * hopcount_limit is 50, Exim's received_headers_max 30. A real path has a dozen hops at most.
 */
export const MAX_RECEIVED = 100;

/** RFC 3463 §3.5: X.4.6 Routing loop detected. */
export const LOOP_STATUS = '5.4.6';

const LF = 0x0a;
const CR = 0x0d;
const SP = 0x20;
const TAB = 0x09;
const COLON = 0x3a;
const NAME = Buffer.from('received', 'latin1');

/**
 * Received fields in the header block of `message` (RFC 5322 §2.2: up to the first empty
 * line), counting up to `max + 1` and stopping there. Linear in the header block, one pass,
 * no allocation: this runs on every message the queue sends, and a hostile header of a million
 * lines costs no more than reading it. Field recognition matches mime/headers.ts parseHeaders
 * (a name, optional WSP, a colon; lines starting with WSP continue the field before them;
 * LF-only line ends accepted), which this does not call because it decodes every field's
 * value and cannot stop early.
 */
export function countReceived(message: Buffer, max: number): number {
  let count = 0;
  let pos = 0;
  const len = message.length;
  while (pos < len) {
    const first = message[pos];
    if (first === LF || (first === CR && message[pos + 1] === LF)) break; // end of the header
    if (first !== SP && first !== TAB && isReceived(message, pos)) {
      count++;
      if (count > max) return count;
    }
    const nl = message.indexOf(LF, pos);
    if (nl < 0) break;
    pos = nl + 1;
  }
  return count;
}

/** True when the message has looped: more than `max` Received fields. */
export function tooManyHops(message: Buffer, max = MAX_RECEIVED): boolean {
  return countReceived(message, max) > max;
}

/** The line at `pos` starts with "Received", optional spaces or tabs, then a colon. */
function isReceived(buf: Buffer, pos: number): boolean {
  if (pos + NAME.length >= buf.length) return false;
  for (let i = 0; i < NAME.length; i++) {
    // ASCII letters only: OR-ing 0x20 folds A-Z onto a-z.
    if ((buf[pos + i]! | 0x20) !== NAME[i]) return false;
  }
  let i = pos + NAME.length;
  while (i < buf.length && (buf[i] === SP || buf[i] === TAB)) i++;
  return buf[i] === COLON;
}
