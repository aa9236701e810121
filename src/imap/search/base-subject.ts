// RFC 5256 §2.1 base subject, for SORT (SUBJECT) and THREAD, in time linear in the subject.
//
// The subject is a sender's choice, of any length. The earlier version applied the §5 ABNF as
// regular expressions in the §2.1 loop: `^(subj-blob)*(re|fwd?)...` re-read every leading blob
// on each turn and removed one, so a subject of 10,000 `[a]` blobs took seconds (quadratic). Here
// the text is one string with a start and an end index that only move inward, each blob run is
// read once per turn, and what one turn learned about the blobs decides all the removals it
// allows at once.

const SP = 0x20;
const TAB = 0x09;
const OPEN = 0x5b; // [
const CLOSE = 0x5d; // ]
const COLON = 0x3a;
const WHITESPACE = /\s/; // what String.prototype.trim removes

const isWsp = (c: number) => c === SP || c === TAB;

/** ASCII letters of `word` (lower case) at s[i..], case-insensitively (ABNF strings). */
function letters(s: string, i: number, end: number, word: string): boolean {
  if (i + word.length > end) return false;
  for (let k = 0; k < word.length; k++) {
    if ((s.charCodeAt(i + k) | 0x20) !== word.charCodeAt(k)) return false;
  }
  return true;
}

/** subj-blob = "[" *BLOBCHAR "]" *WSP at s[i..end): the index after it, or -1. */
function blobEnd(s: string, i: number, end: number): number {
  if (i >= end || s.charCodeAt(i) !== OPEN) return -1;
  let j = i + 1;
  for (; j < end; j++) {
    const c = s.charCodeAt(j);
    if (c === CLOSE) break;
    if (c === OPEN) return -1;
  }
  if (j >= end) return -1;
  j++;
  while (j < end && isWsp(s.charCodeAt(j))) j++;
  return j;
}

/** subj-refwd = ("re" / ("fw" ["d"])) *WSP [subj-blob] ":" at s[i..end): index after, or -1. */
function refwdEnd(s: string, i: number, end: number): number {
  let j: number;
  if (letters(s, i, end, 're')) j = i + 2;
  else if (letters(s, i, end, 'fw')) j = letters(s, i + 2, end, 'd') ? i + 3 : i + 2;
  else return -1;
  while (j < end && isWsp(s.charCodeAt(j))) j++;
  const b = blobEnd(s, j, end);
  if (b >= 0) j = b;
  return j < end && s.charCodeAt(j) === COLON ? j + 1 : -1;
}

/**
 * RFC 5256 §2.1 base subject. `replyOrForward` is true when a "Re:"/"Fw:"/"Fwd:" leader, a
 * "(fwd)" trailer or a "[fwd: ...]" wrapper was removed (used by THREAD=REFERENCES).
 * The input is the decoded subject (encoded words already turned into UTF-8).
 */
export function baseSubject(subject: string): { base: string; replyOrForward: boolean } {
  // (1) tabs and line continuations become a space; runs of spaces become one.
  const s = subject.replace(/\r?\n/g, '').replace(/[ \t]+/g, ' ');
  let a = 0;
  let b = s.length;
  let replyOrForward = false;
  // lastText[i]: the last index below i whose character is not white space (-1: none).
  let lastText: Int32Array | undefined;
  const textIn = (from: number, to: number): boolean => {
    if (!lastText) {
      lastText = new Int32Array(s.length + 1);
      let last = -1;
      for (let i = 0; i < s.length; i++) {
        lastText[i] = last;
        if (!WHITESPACE.test(s[i])) last = i;
      }
      lastText[s.length] = last;
    }
    return lastText[to] >= from;
  };
  for (;;) {
    // (2) remove subj-trailer ("(fwd)" / WSP) repeatedly.
    for (;;) {
      if (b > a && isWsp(s.charCodeAt(b - 1))) b--;
      else if (b - a >= 5 && s[b - 5] === '(' && letters(s, b - 4, b, 'fwd') && s[b - 1] === ')') {
        b -= 5;
        replyOrForward = true;
      } else break;
    }
    // (3)-(5): remove subj-leader (*subj-blob subj-refwd / WSP), and a subj-blob when
    // something remains after it, until neither applies.
    for (;;) {
      if (a < b && isWsp(s.charCodeAt(a))) {
        a++;
        continue;
      }
      let end = a;
      let lastBlob = -1;
      for (let e = blobEnd(s, end, b); e >= 0; e = blobEnd(s, end, b)) {
        lastBlob = end;
        end = e;
      }
      const refwd = refwdEnd(s, end, b);
      if (refwd >= 0) {
        a = refwd;
        replyOrForward = true;
        continue;
      }
      // No subj-refwd after these blobs, so none after any tail of them: (4) removes them one
      // by one (each but the last has a blob after it), the last one if text follows it.
      if (lastBlob >= 0) a = textIn(end, b) ? end : lastBlob;
      break;
    }
    // (6) "[fwd:" ... "]" around the whole subject: unwrap and start again at (2).
    const wrapped =
      b - a >= 6 &&
      s.charCodeAt(a) === OPEN &&
      letters(s, a + 1, b, 'fwd') &&
      s.charCodeAt(a + 4) === COLON &&
      s.charCodeAt(b - 1) === CLOSE;
    if (!wrapped) break;
    a += 5;
    b -= 1;
    replyOrForward = true;
  }
  return { base: s.slice(a, b), replyOrForward };
}
