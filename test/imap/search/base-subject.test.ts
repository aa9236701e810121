// RFC 5256 §2.1 base subject without the regular expressions it used to be built from: the
// same answers on random subjects made of the ABNF's pieces, in time linear in the subject.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import fc from 'fast-check';
import { baseSubject } from '../../../src/imap/search/base-subject.js';

/** The regex version (before issue 15), the oracle. */
const BLOB = String.raw`\[[^\[\]]*\][ \t]*`;
const TRAILER = /(\(fwd\)|[ \t])$/i;
const REFWD = new RegExp(String.raw`^(?:${BLOB})*(?:re|fwd?)[ \t]*(?:${BLOB})?:`, 'i');
const LEADING_BLOB = new RegExp(`^${BLOB}`);
const FWD_HDR = /^\[fwd:([\s\S]*)\]$/i;
function oracle(subject: string): { base: string; replyOrForward: boolean } {
  let s = subject.replace(/\r?\n/g, '').replace(/[ \t]+/g, ' ');
  let replyOrForward = false;
  for (;;) {
    for (let m = TRAILER.exec(s); m; m = TRAILER.exec(s)) {
      if (m[1].toLowerCase() === '(fwd)') replyOrForward = true;
      s = s.slice(0, s.length - m[1].length);
    }
    for (let changed = true; changed; ) {
      changed = false;
      if (s.startsWith(' ') || s.startsWith('\t')) {
        s = s.slice(1);
        changed = true;
        continue;
      }
      const refwd = REFWD.exec(s);
      if (refwd) {
        s = s.slice(refwd[0].length);
        replyOrForward = true;
        changed = true;
        continue;
      }
      const blob = LEADING_BLOB.exec(s);
      if (blob && s.slice(blob[0].length).trim() !== '') {
        s = s.slice(blob[0].length);
        changed = true;
      }
    }
    const fwd = FWD_HDR.exec(s);
    if (!fwd) break;
    s = fwd[1];
    replyOrForward = true;
  }
  return { base: s, replyOrForward };
}

const PIECES = [
  're',
  'RE',
  'Re',
  'fw',
  'Fw',
  'fwd',
  'FWD',
  'd',
  'r',
  'e',
  ':',
  '[',
  ']',
  '[x]',
  '[]',
  '[a b]',
  '[fwd:',
  '[FWD:',
  '(fwd)',
  '(FwD)',
  '(',
  ')',
  ' ',
  '  ',
  '\t',
  '\r\n',
  '\r\n ',
  '\n',
  '\r',
  '\u00a0',
  '\u2028',
  'a',
  'b',
  'x]',
  'ſ',
  'K',
];

test('baseSubject agrees with the regex version on subjects made of ABNF pieces', () => {
  fc.assert(
    fc.property(fc.array(fc.constantFrom(...PIECES), { maxLength: 14 }), (pieces) => {
      const subject = pieces.join('');
      assert.deepEqual(baseSubject(subject), oracle(subject), JSON.stringify(subject));
    }),
    { numRuns: 20_000 },
  );
});

test('RFC 5256 §2.1 examples', () => {
  assert.deepEqual(baseSubject('Re: [list] Fwd: hello (fwd)'), {
    base: 'hello',
    replyOrForward: true,
  });
  assert.deepEqual(baseSubject('[fwd: [a] re: x]'), { base: 'x', replyOrForward: true });
  assert.deepEqual(baseSubject('[only]'), { base: '[only]', replyOrForward: false });
  assert.deepEqual(baseSubject('  plain  '), { base: 'plain', replyOrForward: false });
});

test('a subject built to make the old version quadratic takes linear time', () => {
  const n = 300_000; // the regex version: about a minute for the first one
  for (const subject of [
    '[a]'.repeat(n / 3),
    `${'[a]'.repeat(n / 3)}x`,
    `${'[fwd:'.repeat(n / 5)}x${']'.repeat(n / 5)}`,
    `${'[fwd:[a] '.repeat(n / 9)}x${']'.repeat(n / 9)}`,
    're:'.repeat(n / 3),
    '(fwd)'.repeat(n / 5),
    `[a]${'\u00a0'.repeat(n)}`,
  ]) {
    // CPU time, not wall time (a loaded machine stretches the latter), best of three.
    let best = Number.POSITIVE_INFINITY;
    for (let i = 0; i < 3; i++) {
      const c0 = process.cpuUsage();
      baseSubject(subject);
      const c = process.cpuUsage(c0);
      best = Math.min(best, (c.user + c.system) / 1000);
    }
    assert.ok(best < 1000, `${JSON.stringify(subject.slice(0, 12))}...: ${best.toFixed(0)} ms`);
  }
});
