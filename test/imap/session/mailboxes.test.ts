import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, type ImapTestEnv, last, message, startImap } from './client.js';

describe('IMAP session: mailboxes', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  test('SELECT and EXAMINE responses; NONEXISTENT', async () => {
    const c = await env.login();
    await append(c, 'INBOX', message('one'), '\\Seen $Label');
    await append(c, 'INBOX', message('two'));
    const r = await c.cmd('a', 'SELECT inbox');
    assert.ok(r.includes('* 2 EXISTS'), r.join('\n'));
    // RFC 3501 §2.3.2: this is the first session to see the two appended messages.
    assert.ok(r.includes('* 2 RECENT'), r.join('\n'));
    assert.ok(r.some((l) => /^\* FLAGS \(.*\\Seen.*\$Label\)$/.test(l)));
    assert.ok(r.some((l) => /^\* OK \[PERMANENTFLAGS \(.*\\\*\)\]/.test(l)));
    assert.ok(r.some((l) => /^\* OK \[UNSEEN 2\]/.test(l)));
    assert.ok(r.some((l) => /^\* OK \[UIDVALIDITY \d+\]/.test(l)));
    assert.ok(r.some((l) => /^\* OK \[UIDNEXT 3\]/.test(l)));
    assert.ok(r.some((l) => /^\* OK \[HIGHESTMODSEQ \d+\]/.test(l)));
    assert.match(last(r), /^a OK \[READ-WRITE\]/);
    const e = await c.cmd('b', 'EXAMINE INBOX');
    assert.ok(e.some((l) => l.startsWith('* OK [CLOSED]')));
    assert.ok(e.some((l) => l.startsWith('* OK [PERMANENTFLAGS ()]')));
    assert.match(last(e), /^b OK \[READ-ONLY\]/);
    assert.match(last(await c.cmd('c', 'STORE 1 +FLAGS (\\Deleted)')), /^c NO \[READ-ONLY\]/);
    assert.match(last(await c.cmd('d', 'SELECT Nope')), /^d NO \[NONEXISTENT\]/);
    // A failed SELECT leaves no mailbox selected.
    assert.match(last(await c.cmd('e', 'FETCH 1 FLAGS')), /^e BAD/);
    assert.match(last(await c.cmd('f', 'SELECT INBOX (FOO)')), /^f BAD/);
    c.close();
  });

  test('CREATE (with parents), DELETE, RENAME, RENAME INBOX, bad names', async () => {
    const c = await env.login();
    assert.match(last(await c.cmd('a', 'CREATE Projects/2024/Q1')), /^a OK/);
    assert.match(last(await c.cmd('b', 'CREATE Projects')), /^b NO \[ALREADYEXISTS\]/);
    assert.match(last(await c.cmd('c', 'CREATE INBOX')), /^c NO \[ALREADYEXISTS\]/);
    assert.match(last(await c.cmd('d', 'CREATE "a/../b"')), /^d NO \[CANNOT\]/);
    assert.match(last(await c.cmd('e', 'CREATE "x//y"')), /^e NO \[CANNOT\]/);
    assert.match(last(await c.cmd('f', `CREATE ${'x'.repeat(600)}`)), /^f NO \[LIMIT\]/);
    assert.match(last(await c.cmd('g', 'CREATE {3+}\r\na\tb')), /^g NO \[CANNOT\]/);
    assert.match(last(await c.cmd('h', 'CREATE "bad&utf7"')), /^h NO \[CANNOT\]/);
    assert.match(last(await c.cmd('i', 'CREATE Entw&APw-rfe')), /^i OK/);
    const list = await c.cmd('j', 'LIST "" "Entw*"');
    assert.equal(list[0], '* LIST (\\HasNoChildren) "/" Entw&APw-rfe');
    assert.match(last(await c.cmd('k', 'RENAME Projects Archive2')), /^k OK/);
    const l2 = await c.cmd('l', 'LIST "" "Archive2/*"');
    assert.deepEqual(l2.slice(0, -1), [
      '* LIST (\\HasChildren) "/" Archive2/2024',
      '* LIST (\\HasNoChildren) "/" Archive2/2024/Q1',
    ]);
    assert.match(last(await c.cmd('m', 'RENAME Nope Other')), /^m NO \[NONEXISTENT\]/);
    assert.match(last(await c.cmd('n', 'RENAME Archive2 Sent')), /^n NO \[ALREADYEXISTS\]/);
    assert.match(last(await c.cmd('o', 'DELETE INBOX')), /^o NO/);
    assert.match(last(await c.cmd('p', 'DELETE Archive2/2024/Q1')), /^p OK/);
    assert.match(last(await c.cmd('q', 'DELETE Archive2/2024/Q1')), /^q NO \[NONEXISTENT\]/);
    // RENAME INBOX moves its messages to the new mailbox; INBOX stays, empty.
    await append(c, 'INBOX', message('moving'));
    const before = await c.cmd('r', 'STATUS INBOX (MESSAGES)');
    const n = Number(/MESSAGES (\d+)/.exec(before[0])?.[1]);
    assert.ok(n >= 1);
    assert.match(last(await c.cmd('s', 'RENAME INBOX OldInbox')), /^s OK/);
    assert.equal((await c.cmd('t', 'STATUS INBOX (MESSAGES)'))[0], '* STATUS INBOX (MESSAGES 0)');
    assert.equal(
      (await c.cmd('u', 'STATUS OldInbox (MESSAGES)'))[0],
      `* STATUS OldInbox (MESSAGES ${n})`,
    );
    c.close();
  });

  test('UTF-8 names after ENABLE UTF8=ACCEPT', async () => {
    const c = await env.login();
    await c.cmd('a', 'ENABLE UTF8=ACCEPT');
    assert.match(last(await c.cmd('b', 'CREATE "Grüße"')), /^b OK/);
    const l = await c.cmd('c', 'LIST "" "Gr*"');
    assert.equal(l[0], '* LIST (\\HasNoChildren) "/" "Grüße"');
    c.close();
    const d = await env.login();
    assert.equal(
      (await d.cmd('a', 'LIST "" "Gr*"'))[0],
      '* LIST (\\HasNoChildren) "/" Gr&APw-&AN8-e'.replace('&APw-&AN8-', '&APwA3w-'),
    );
    d.close();
  });

  test('LIST: root, %, special-use, subscribed, RECURSIVEMATCH, STATUS return, LSUB', async () => {
    const c = await env.login();
    assert.equal((await c.cmd('a', 'LIST "" ""'))[0], '* LIST (\\Noselect) "/" ""');
    const top = await c.cmd('b', 'LIST "" "%"');
    assert.equal(top[0], '* LIST (\\HasNoChildren) "/" INBOX');
    assert.ok(top.includes('* LIST (\\HasNoChildren \\Sent) "/" Sent'), top.join('\n'));
    await c.cmd('c', 'CREATE Lists/Dev');
    await c.cmd('d', 'SUBSCRIBE Lists/Dev');
    await c.cmd('e', 'SUBSCRIBE Ghost');
    const su = await c.cmd('f', 'LIST (SPECIAL-USE) "" "*"');
    assert.ok(
      su.slice(0, -1).every((l) => /\\(Sent|Drafts|Trash|Junk|Archive)/.test(l)),
      su.join('\n'),
    );
    const sub = await c.cmd('g', 'LIST (SUBSCRIBED) "" "*"');
    assert.ok(sub.includes('* LIST (\\HasNoChildren \\Subscribed) "/" Lists/Dev'), sub.join('\n'));
    assert.ok(sub.includes('* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" Ghost'));
    const rec = await c.cmd('h', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"');
    assert.ok(
      rec.includes('* LIST (\\HasChildren) "/" Lists ("CHILDINFO" ("SUBSCRIBED"))'),
      rec.join('\n'),
    );
    const st = await c.cmd('i', 'LIST "" "INBOX" RETURN (STATUS (MESSAGES UIDNEXT) SUBSCRIBED)');
    assert.equal(st[0], '* LIST (\\HasNoChildren \\Subscribed) "/" INBOX');
    assert.match(st[1], /^\* STATUS INBOX \(MESSAGES \d+ UIDNEXT \d+\)$/);
    const lsub = await c.cmd('j', 'LSUB "" "*"');
    assert.ok(lsub.includes('* LSUB () "/" Lists/Dev'));
    assert.ok(lsub.includes('* LSUB (\\Noselect) "/" Ghost'));
    await c.cmd('k', 'UNSUBSCRIBE Ghost');
    assert.ok(!(await c.cmd('l', 'LSUB "" "*"')).some((l) => l.includes('Ghost')));
    assert.match(last(await c.cmd('m', 'LIST (BOGUS) "" "*"')), /^m BAD/);
    c.close();
  });

  test('STATUS items; APPEND flags, date, MULTIAPPEND, TRYCREATE; quota', async () => {
    const c = await env.login();
    await c.cmd('a', 'CREATE Box');
    const m1 = message('s1');
    const m2 = message('s2');
    const r = await c.cmd(
      'b',
      Buffer.concat([
        Buffer.from(`APPEND Box (\\Seen) "05-Jan-2020 10:00:00 +0000" {${m1.length}+}\r\n`),
        m1,
        Buffer.from(` (\\Deleted) {${m2.length}+}\r\n`),
        m2,
        Buffer.from('\r\n'),
      ]),
    );
    assert.match(last(r), /^b OK \[APPENDUID \d+ 1:2\]/);
    const st = await c.cmd(
      'c',
      'STATUS Box (MESSAGES UIDNEXT UIDVALIDITY UNSEEN DELETED SIZE HIGHESTMODSEQ RECENT APPENDLIMIT)',
    );
    assert.match(
      st[0],
      new RegExp(
        `^\\* STATUS Box \\(MESSAGES 2 UIDNEXT 3 UIDVALIDITY \\d+ UNSEEN 1 DELETED 1 SIZE ${m1.length + m2.length} HIGHESTMODSEQ \\d+ RECENT 2 APPENDLIMIT \\d+\\)$`,
      ),
    );
    await c.cmd('d', 'SELECT Box');
    const f = await c.cmd('e', 'FETCH 1 (INTERNALDATE FLAGS)');
    // STATUS (HIGHESTMODSEQ) enabled CONDSTORE (RFC 7162 §3.1): FETCH carries MODSEQ.
    assert.match(
      f[0],
      /^\* 1 FETCH \(INTERNALDATE " 5-Jan-2020 10:00:00 \+0000" FLAGS \(\\Seen \\Recent\) MODSEQ \(\d+\)\)$/,
    );
    assert.match(
      last(await c.cmd('f', `APPEND Missing {${m1.length}+}\r\n${m1}`)),
      /^f NO \[TRYCREATE\]/,
    );
    assert.match(last(await c.cmd('g', 'STATUS Missing (MESSAGES)')), /^g NO \[NONEXISTENT\]/);
    assert.match(last(await c.cmd('h', 'STATUS Box (BOGUS)')), /^h BAD/);
    const q = await c.cmd('i', 'GETQUOTAROOT INBOX');
    assert.equal(q[0], '* QUOTAROOT INBOX ""');
    assert.equal(q[1], '* QUOTA "" ()');
    await env.ts.server.ctx.store.setQuota('alice@example.test', 1024 * 100);
    const q2 = await c.cmd('j', 'GETQUOTA ""');
    assert.match(q2[0], /^\* QUOTA "" \(STORAGE \d+ 100\)$/);
    assert.match(last(await c.cmd('k', 'GETQUOTA "other"')), /^k NO/);
    const big = Buffer.alloc(150 * 1024, 'a');
    const over = await c.cmd(
      'l',
      Buffer.concat([
        Buffer.from(`APPEND Box {${big.length + 4}+}\r\n\r\n\r\n`),
        big,
        Buffer.from('\r\n'),
      ]),
    );
    assert.match(last(over), /^l NO \[OVERQUOTA\]/);
    await env.ts.server.ctx.store.setQuota('alice@example.test', null);
    c.close();
  });
});
