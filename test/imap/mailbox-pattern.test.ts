// The LIST/LSUB wildcard matcher: same answers as the regex it replaced, without its
// exponential backtracking on client-chosen patterns.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { compileMailboxPattern } from '../../src/imap/mailbox-pattern.js';

/** The matcher list.ts used before (a backtracking regex): the oracle for short inputs. */
function regexMatcher(pattern: string): (name: string) => boolean {
  let p = pattern;
  if (/^inbox(?=$|[/*%])/i.test(p)) p = `INBOX${p.slice(5)}`;
  const re = new RegExp(
    `^${[...p]
      .map((ch) =>
        ch === '*' ? '.*' : ch === '%' ? '[^/]*' : ch.replace(/[.+?^${}()|[\]\\]/g, '\\$&'),
      )
      .join('')}$`,
    's',
  );
  return (name) => re.test(name);
}

const PATTERN_CHARS = ['a', 'b', '/', '*', '%', '.', '\n', 'é', '😀', 'I', 'n', 'X'];
const NAME_CHARS = ['a', 'b', '/', '.', '\n', 'é', '😀', '*', '%'];
const str = (chars: string[], maxLength: number) =>
  fc.array(fc.constantFrom(...chars), { maxLength }).map((a) => a.join(''));
const inboxPrefix = fc.constantFrom('', 'inbox', 'INBOX', 'InBoX', 'inbox/', 'INBOX/');

describe('compileMailboxPattern', () => {
  test('agrees with the old regex on short random patterns and names', () => {
    fc.assert(
      fc.property(
        inboxPrefix,
        str(PATTERN_CHARS, 10),
        inboxPrefix,
        str(NAME_CHARS, 12),
        (pp, p, np, n) => {
          const pattern = pp + p;
          const name = np + n;
          assert.equal(
            compileMailboxPattern(pattern)(name),
            regexMatcher(pattern)(name),
            `${JSON.stringify(pattern)} ~ ${JSON.stringify(name)}`,
          );
        },
      ),
      { numRuns: 5000 },
    );
  });

  test('agrees with the old regex past one 32-bit word of pattern states', () => {
    // Few wildcards, so the regex stays fast, and names built to match often.
    const piece = fc.constantFrom('a', 'b', '/', 'ab', 'a/b', '%', '*');
    fc.assert(
      fc.property(
        fc.array(piece, { minLength: 20, maxLength: 60 }),
        fc.array(fc.constantFrom('a', 'b', '/', 'ab', 'ba'), { maxLength: 60 }),
        (pieces, filler) => {
          const pattern = pieces.join('');
          // A name that matches: every wildcard replaced by some text.
          let k = 0;
          const name = pieces
            .map((x) =>
              x === '*' || x === '%' ? (filler[k++] ?? '').replace(/\//g, x === '%' ? '' : '/') : x,
            )
            .join('');
          assert.equal(compileMailboxPattern(pattern)(name), regexMatcher(pattern)(name));
          const other = `${name}x`;
          assert.equal(compileMailboxPattern(pattern)(other), regexMatcher(pattern)(other));
        },
      ),
      { numRuns: 500 },
    );
  });

  test('RFC 9051 §6.3.9 semantics', () => {
    const m = (p: string, n: string) => compileMailboxPattern(p)(n);
    assert.ok(m('*', 'a/b/c'));
    assert.ok(m('%', 'abc'));
    assert.ok(!m('%', 'a/b'));
    assert.ok(m('%/%', 'a/b'));
    assert.ok(m('a/*', 'a/b/c'));
    assert.ok(!m('a/%', 'a/b/c'));
    assert.ok(m('inbox', 'INBOX'));
    assert.ok(m('Inbox/%', 'INBOX/x'));
    assert.ok(!m('inboxes', 'INBOXES'));
    assert.ok(m('', ''));
    assert.ok(!m('', 'a'));
    assert.ok(m('%*%', 'a/b'));
    assert.ok(!m('%%%', 'a/b'));
    assert.ok(m('Gr*', 'Grüße'));
    assert.ok(m('*😀', 'x😀'));
  });

  test('a pattern built to backtrack is answered in linear time', () => {
    const name = 'a'.repeat(512);
    const hostile = [
      '*a*a*a*a*a*a*b',
      `${'*a'.repeat(200)}b`,
      `${'%a'.repeat(200)}b`,
      `${'*%'.repeat(5000)}b`,
      `${'a*'.repeat(256)}a`,
    ];
    for (const p of hostile) {
      // CPU time, not wall time (a loaded machine stretches the latter), best of three; the
      // old regex took 20 s on the first pattern with a name of 100 characters.
      let best = Number.POSITIVE_INFINITY;
      for (let i = 0; i < 3; i++) {
        const c0 = process.cpuUsage();
        const match = compileMailboxPattern(p);
        for (let k = 0; k < 20; k++) match(name);
        const c = process.cpuUsage(c0);
        best = Math.min(best, (c.user + c.system) / 1000);
      }
      assert.ok(best < 500, `${p.slice(0, 20)}...: ${best.toFixed(1)} ms for 20 names`);
    }
    assert.ok(compileMailboxPattern(`${'a*'.repeat(256)}a`)(name));
    assert.ok(!compileMailboxPattern('*a*a*a*a*a*a*b')(name));
  });
});
