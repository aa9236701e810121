// METADATA / METADATA-SERVER (RFC 5464): exact GETMETADATA / SETMETADATA answers for server and
// mailbox annotations, DEPTH and MAXSIZE, entry-name rules (§3.2), limits (§4.1, §4.3), and
// what DELETE and RENAME do to a mailbox's annotations (§4.1).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { METADATA_LIMITS } from '../../../src/store/types.js';
import { type ImapTestEnv, last, RawClient, startImap } from './client.js';

const lit = (b: Buffer | string): Buffer => {
  const x = Buffer.isBuffer(b) ? b : Buffer.from(b);
  return Buffer.concat([Buffer.from(`{${x.length}+}\r\n`), x]);
};

describe('IMAP METADATA (RFC 5464)', () => {
  let env: ImapTestEnv;
  let c: RawClient;
  before(async () => {
    env = await startImap();
    c = await env.login();
  });
  after(async () => {
    c.close();
    await env.ts.stop();
  });

  test('advertised; ENABLE METADATA enables nothing (no unsolicited responses are sent)', async () => {
    const caps = (await c.cmd('a', 'CAPABILITY'))[0];
    assert.match(caps, / METADATA( |$)/);
    assert.match(caps, / METADATA-SERVER( |$)/);
    const r = await c.cmd('b', 'ENABLE METADATA METADATA-SERVER');
    assert.ok(!r.some((l) => l.startsWith('* ENABLED') && l.includes('METADATA')), r.join('\n'));
    assert.match(last(r), /^b OK/);
  });

  test('not before authentication', async () => {
    const pre = await RawClient.connect(env.tlsPort, true);
    assert.equal(
      last(await pre.cmd('a', 'GETMETADATA "" /private/comment')),
      'a BAD GETMETADATA is not allowed in the notAuthenticated state',
    );
    pre.close();
  });

  test('server annotations: private ones per account, shared ones not settable', async () => {
    assert.deepEqual(await c.cmd('a', 'GETMETADATA "" /private/comment'), [
      '* METADATA "" (/private/comment NIL)',
      'a OK GETMETADATA completed',
    ]);
    assert.deepEqual(await c.cmd('b', 'SETMETADATA "" (/private/comment "my server note")'), [
      'b OK SETMETADATA completed',
    ]);
    assert.deepEqual(await c.cmd('c', 'GETMETADATA "" (/private/comment /shared/comment)'), [
      '* METADATA "" (/private/comment "my server note" /shared/comment NIL)',
      'c OK GETMETADATA completed',
    ]);
    // RFC 5464 §3.3: a server may refuse server annotations; §4.3: nothing else changes.
    assert.equal(
      last(
        await c.cmd(
          'd',
          'SETMETADATA "" (/private/vendor/vendor.x/k "1" /shared/admin "mailto:me")',
        ),
      ),
      'd NO [NOPERM] Shared server annotations are set by the administrator',
    );
    assert.deepEqual(await c.cmd('e', 'GETMETADATA "" /private/vendor/vendor.x/k'), [
      '* METADATA "" (/private/vendor/vendor.x/k NIL)',
      'e OK GETMETADATA completed',
    ]);
    // Another account does not see them.
    await env.ts.addUser('bob@example.test', 'secret-pw');
    const bob = await env.login('bob@example.test');
    assert.equal(
      (await bob.cmd('f', 'GETMETADATA "" /private/comment'))[0],
      '* METADATA "" (/private/comment NIL)',
    );
    bob.close();
  });

  test('mailbox annotations: set, get (names case-insensitive), multi-line literal, NIL removes', async () => {
    assert.deepEqual(
      await c.cmd(
        'a',
        'SETMETADATA INBOX (/private/comment "My own comment" /shared/comment "Shared comment")',
      ),
      ['a OK SETMETADATA completed'],
    );
    assert.deepEqual(await c.cmd('b', 'GETMETADATA "INBOX" (/shared/comment /private/comment)'), [
      '* METADATA INBOX (/shared/comment "Shared comment" /private/comment "My own comment")',
      'b OK GETMETADATA completed',
    ]);
    assert.equal(
      (await c.cmd('c', 'GETMETADATA INBOX /SHARED/Comment'))[0],
      '* METADATA INBOX (/shared/comment "Shared comment")',
    );
    // RFC 5464 §4.3 example: a synchronizing literal, CRLF inside.
    c.write('d SETMETADATA INBOX (/private/comment {33}\r\n');
    assert.match(await c.line(), /^\+ /);
    c.write('My new comment across\r\ntwo lines.)\r\n');
    const d = await c.tagged('d');
    assert.deepEqual(d, ['d OK SETMETADATA completed']);
    const e = await c.cmd('e', 'GETMETADATA INBOX /private/comment');
    assert.deepEqual(e, [
      '* METADATA INBOX (/private/comment {33}',
      'My new comment across',
      'two lines.)',
      'e OK GETMETADATA completed',
    ]);
    assert.deepEqual(await c.cmd('f', 'SETMETADATA INBOX (/private/comment NIL)'), [
      'f OK SETMETADATA completed',
    ]);
    assert.equal(
      (await c.cmd('g', 'GETMETADATA INBOX /private/comment'))[0],
      '* METADATA INBOX (/private/comment NIL)',
    );
    // A quoted "NIL" is a value, not a removal.
    await c.cmd('h', 'SETMETADATA INBOX (/private/comment "NIL")');
    assert.equal(
      (await c.cmd('i', 'GETMETADATA INBOX /private/comment'))[0],
      '* METADATA INBOX (/private/comment "NIL")',
    );
    await c.cmd('j', 'SETMETADATA INBOX (/private/comment NIL)');
  });

  test('entry names that are not atoms are sent back quoted', async () => {
    assert.deepEqual(
      await c.cmd(
        'a',
        'SETMETADATA INBOX ("/private/vendor/vendor.x/a b" "1" "/private/vendor/vendor.x/q\\"" "2")',
      ),
      ['a OK SETMETADATA completed'],
    );
    assert.deepEqual(
      await c.cmd(
        'b',
        'GETMETADATA INBOX ("/private/vendor/vendor.x/a b" "/private/vendor/vendor.x/q\\"")',
      ),
      [
        '* METADATA INBOX ("/private/vendor/vendor.x/a b" "1" "/private/vendor/vendor.x/q\\"" "2")',
        'b OK GETMETADATA completed',
      ],
    );
    await c.cmd(
      'c',
      'SETMETADATA INBOX ("/private/vendor/vendor.x/a b" NIL "/private/vendor/vendor.x/q\\"" NIL)',
    );
  });

  test('binary values go in and out as literal8', async () => {
    const value = Buffer.from([0, 1, 2, 0xff, 0xfe]);
    const r = await c.cmd(
      'a',
      Buffer.concat([
        Buffer.from('SETMETADATA INBOX (/private/vendor/vendor.x/bin ~{5+}\r\n'),
        value,
        Buffer.from(')\r\n'),
      ]),
    );
    assert.deepEqual(r, ['a OK SETMETADATA completed']);
    c.write('b GETMETADATA INBOX /private/vendor/vendor.x/bin\r\n');
    const text = await c.until((t) => {
      const i = t.indexOf('b OK');
      return i < 0 ? -1 : t.indexOf('\r\n', i) + 2;
    });
    const bytes = Buffer.from(text, 'utf8');
    assert.ok(
      bytes
        .toString('latin1')
        .startsWith('* METADATA INBOX (/private/vendor/vendor.x/bin ~{5}\r\n'),
      JSON.stringify(text),
    );
    await c.cmd('c', 'SETMETADATA INBOX (/private/vendor/vendor.x/bin NIL)');
  });

  test('DEPTH 0 / 1 / infinity and MAXSIZE with LONGENTRIES', async () => {
    await c.cmd('s', 'CREATE Depth');
    const set = await c.cmd(
      'a',
      'SETMETADATA Depth (/private/filters/values/small "SMALLER 5000" ' +
        '/private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/boss/deep "x" ' +
        '/private/filters/valuesx "sibling")',
    );
    assert.deepEqual(set, ['a OK SETMETADATA completed']);
    assert.deepEqual(await c.cmd('b', 'GETMETADATA (DEPTH 1) Depth (/private/filters/values)'), [
      '* METADATA Depth (/private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/small "SMALLER 5000")',
      'b OK GETMETADATA completed',
    ]);
    assert.deepEqual(
      await c.cmd('c', 'GETMETADATA (DEPTH infinity) Depth /private/filters/values'),
      [
        '* METADATA Depth (/private/filters/values/boss "FROM \\"boss@example.com\\"" /private/filters/values/boss/deep "x" /private/filters/values/small "SMALLER 5000")',
        'c OK GETMETADATA completed',
      ],
    );
    assert.deepEqual(await c.cmd('d', 'GETMETADATA (DEPTH 0) Depth /private/filters/values'), [
      '* METADATA Depth (/private/filters/values NIL)',
      'd OK GETMETADATA completed',
    ]);
    // RFC 5464 §4.2.1: values over MAXSIZE are left out; LONGENTRIES gives the biggest.
    assert.deepEqual(
      await c.cmd('e', 'GETMETADATA (MAXSIZE 12 DEPTH 1) Depth (/private/filters/values)'),
      [
        '* METADATA Depth (/private/filters/values/small "SMALLER 5000")',
        'e OK [METADATA LONGENTRIES 23] GETMETADATA completed',
      ],
    );
    assert.deepEqual(
      await c.cmd('f', 'GETMETADATA (MAXSIZE 2) Depth (/private/filters/values/small)'),
      ['f OK [METADATA LONGENTRIES 12] GETMETADATA completed'],
    );
    // Options after the mailbox (as some clients send them) are taken too.
    assert.equal(
      last(await c.cmd('g', 'GETMETADATA Depth (MAXSIZE 1000) /private/filters/valuesx')),
      'g OK GETMETADATA completed',
    );
  });

  test('invalid entry names and bad syntax are BAD; the connection stays usable', async () => {
    const names = [
      '/foo/bar',
      '/shared',
      '/private/',
      '/shared//comment',
      '/shared/comment/',
      '"/shared/comm%nt"',
      '"/shared/c*"',
      '"/shared/c\u00f6mment"',
      'comment',
      '/shared/vendor/x',
    ];
    for (const n of names) {
      assert.match(last(await c.cmd('a', `GETMETADATA INBOX ${n}`)), /^a BAD /, n);
      assert.match(last(await c.cmd('b', `SETMETADATA INBOX (${n} "v")`)), /^b BAD /, n);
      await c.cmd('n', 'NOOP'); // 20 bad commands in a row end the session
    }
    for (const bad of [
      'GETMETADATA (DEPTH 2) INBOX /shared/comment',
      'GETMETADATA (FOO 1) INBOX /shared/comment',
      'GETMETADATA (MAXSIZE) INBOX /shared/comment',
      'GETMETADATA INBOX ()',
      'GETMETADATA INBOX',
      'SETMETADATA INBOX ()',
      'SETMETADATA INBOX /shared/comment "x"',
      'SETMETADATA INBOX (/shared/comment)',
      'SETMETADATA INBOX (/shared/comment "x"',
    ]) {
      assert.match(last(await c.cmd('c', bad)), /^c BAD /, bad);
      await c.cmd('n', 'NOOP');
    }
    assert.match(last(await c.cmd('d', 'NOOP')), /^d OK/);
  });

  test("/private/specialuse is the mailbox's special-use attribute, checked when set (RFC 6154 §4)", async () => {
    await c.cmd('a', 'CREATE Arch');
    assert.deepEqual(await c.cmd('b', 'GETMETADATA Arch /private/specialuse'), [
      '* METADATA Arch (/private/specialuse NIL)',
      'b OK GETMETADATA completed',
    ]);
    assert.deepEqual(await c.cmd('c', 'SETMETADATA Arch (/private/specialuse "\\\\archive")'), [
      'c OK SETMETADATA completed',
    ]);
    assert.deepEqual(await c.cmd('d', 'GETMETADATA Arch /private/specialuse'), [
      '* METADATA Arch (/private/specialuse "\\\\Archive")',
      'd OK GETMETADATA completed',
    ]);
    assert.match(
      (await c.cmd('e', 'LIST "" Arch RETURN (SPECIAL-USE)'))[0],
      /^\* LIST \([^)]*\\Archive[^)]*\) "\/" Arch$/,
    );
    // Checked before anything changes (RFC 5464 §4.3: all or nothing).
    assert.deepEqual(
      await c.cmd('f', 'SETMETADATA Arch (/shared/comment "x" /private/specialuse "\\\\Bogus")'),
      ['f NO [USEATTR] Unsupported special-use attribute \\Bogus'],
    );
    assert.deepEqual(
      await c.cmd('g', 'SETMETADATA Arch (/private/specialuse "\\\\Drafts \\\\Sent")'),
      ['g NO [USEATTR] Only one special-use attribute per mailbox'],
    );
    assert.deepEqual(
      await c.cmd('h', 'GETMETADATA (DEPTH infinity) Arch (/shared/comment /private/specialuse)'),
      [
        // Under DEPTH only existing entries are listed.
        '* METADATA Arch (/private/specialuse "\\\\Archive")',
        'h OK GETMETADATA completed',
      ],
    );
    assert.deepEqual(await c.cmd('i', 'SETMETADATA Arch (/private/specialuse NIL)'), [
      'i OK SETMETADATA completed',
    ]);
    assert.doesNotMatch((await c.cmd('j', 'LIST "" Arch RETURN (SPECIAL-USE)'))[0], /\\Archive/);
    assert.equal(
      (await c.cmd('k', 'GETMETADATA Sent /private/specialuse'))[0],
      '* METADATA Sent (/private/specialuse "\\\\Sent")',
    );
  });

  test('a missing mailbox is NO [NONEXISTENT]', async () => {
    assert.equal(
      last(await c.cmd('a', 'GETMETADATA Nowhere /shared/comment')),
      'a NO [NONEXISTENT] No mailbox Nowhere',
    );
    assert.equal(
      last(await c.cmd('b', 'SETMETADATA Nowhere (/shared/comment "x")')),
      'b NO [NONEXISTENT] No mailbox Nowhere',
    );
  });

  test('limits: MAXSIZE per value, TOOMANY per mailbox, the account total; all or nothing', async () => {
    await c.cmd('s', 'CREATE Lim');
    const max = METADATA_LIMITS.maxValueSize;
    const over = Buffer.alloc(max + 1, 'v');
    const r = await c.cmd(
      'a',
      Buffer.concat([
        Buffer.from('SETMETADATA Lim (/shared/applied "no" /shared/huge '),
        lit(over),
        Buffer.from(')\r\n'),
      ]),
    );
    assert.deepEqual(r, [`a NO [METADATA MAXSIZE ${max}] Annotation value too large`]);
    const many = Array.from(
      { length: METADATA_LIMITS.maxEntries + 1 },
      (_, i) => `/shared/n${i} "${i}"`,
    ).join(' ');
    assert.deepEqual(await c.cmd('b', `SETMETADATA Lim (${many})`), [
      `b NO [METADATA TOOMANY] At most ${METADATA_LIMITS.maxEntries} entries here`,
    ]);
    assert.equal(
      (await c.cmd('c', 'GETMETADATA Lim (/shared/applied /shared/n0)'))[0],
      '* METADATA Lim (/shared/applied NIL /shared/n0 NIL)',
    );
    // At the limit it is accepted (RFC 5464 §4.1: at least 10 entries, 1024 octets).
    const fits = Array.from(
      { length: METADATA_LIMITS.maxEntries },
      (_, i) => `/shared/n${i} "${i}"`,
    ).join(' ');
    assert.deepEqual(await c.cmd('d', `SETMETADATA Lim (${fits})`), ['d OK SETMETADATA completed']);
    assert.deepEqual(await c.cmd('e', 'SETMETADATA Lim (/shared/one-more "x")'), [
      `e NO [METADATA TOOMANY] At most ${METADATA_LIMITS.maxEntries} entries here`,
    ]);
    // Replacing or removing entries at the limit is fine.
    assert.deepEqual(await c.cmd('f', 'SETMETADATA Lim (/shared/n0 "zero" /shared/n1 NIL)'), [
      'f OK SETMETADATA completed',
    ]);
    // The account's total: full-size values in fresh mailboxes until it is spent.
    const full = Buffer.alloc(max, 'w');
    let refused = '';
    for (let i = 0; i < 20 && !refused; i++) {
      await c.cmd('cr', `CREATE Tot${i}`);
      const t = await c.cmd(
        'g',
        Buffer.concat([
          Buffer.from(`SETMETADATA Tot${i} (/private/big `),
          lit(full),
          Buffer.from(')\r\n'),
        ]),
      );
      if (!last(t).startsWith('g OK')) refused = last(t);
    }
    const m = /^g NO \[METADATA MAXSIZE (\d+)\] Annotation value too large$/.exec(refused);
    assert.ok(m, refused);
    assert.ok(Number(m[1]) < max);
  });

  test("DELETE drops a mailbox's annotations, RENAME keeps them, RENAME INBOX copies them", async () => {
    await c.cmd('a', 'CREATE Gone');
    await c.cmd('b', 'SETMETADATA Gone (/shared/comment "old")');
    await c.cmd('c', 'DELETE Gone');
    await c.cmd('d', 'CREATE Gone');
    assert.equal(
      (await c.cmd('e', 'GETMETADATA Gone /shared/comment'))[0],
      '* METADATA Gone (/shared/comment NIL)',
    );
    await c.cmd('f', 'CREATE Before/Child');
    await c.cmd('g', 'SETMETADATA Before/Child (/private/comment "follows")');
    await c.cmd('h', 'RENAME Before After');
    assert.equal(
      (await c.cmd('i', 'GETMETADATA After/Child /private/comment'))[0],
      '* METADATA After/Child (/private/comment "follows")',
    );
    assert.match(
      last(await c.cmd('j', 'GETMETADATA Before/Child /private/comment')),
      /^j NO \[NONEXISTENT\]/,
    );
    await c.cmd('k', 'SETMETADATA INBOX (/private/comment "inbox note")');
    assert.match(last(await c.cmd('l', 'RENAME INBOX OldInbox')), /^l OK/);
    assert.equal(
      (await c.cmd('m', 'GETMETADATA OldInbox /private/comment'))[0],
      '* METADATA OldInbox (/private/comment "inbox note")',
    );
    assert.equal(
      (await c.cmd('n', 'GETMETADATA INBOX /private/comment'))[0],
      '* METADATA INBOX (/private/comment "inbox note")',
    );
  });
});
