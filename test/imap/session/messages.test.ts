import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, type ImapTestEnv, last, message, type RawClient, startImap } from './client.js';

describe('IMAP session: messages in the selected mailbox', () => {
  let env: ImapTestEnv;
  let box = 0;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  /** A fresh mailbox with `n` messages, selected. */
  async function fresh(c: RawClient, n: number): Promise<string> {
    const name = `M${++box}`;
    await c.cmd('cr', `CREATE ${name}`);
    for (let i = 1; i <= n; i++) await append(c, name, message(`msg ${i}`, `Body number ${i}\r\n`));
    // The first SELECT takes the new messages' \Recent (recent.test.ts covers that); the
    // tests here see plain flags.
    await c.cmd('sr', `SELECT ${name}`);
    await c.cmd('ur', 'UNSELECT');
    assert.match(last(await c.cmd('se', `SELECT ${name}`)), /OK/);
    return name;
  }

  test('FETCH: byte-for-byte body, PEEK vs \\Seen, UID FETCH adds UID, errors', async () => {
    const c = await env.login();
    await fresh(c, 2);
    const raw = message('msg 1', 'Body number 1\r\n');
    const f = await c.cmd('a', 'FETCH 1 (BODY.PEEK[] RFC822.SIZE)');
    const joined = f.join('\r\n');
    assert.ok(joined.includes(raw.toString()), joined);
    assert.ok(joined.includes(`RFC822.SIZE ${raw.length}`));
    assert.equal((await c.cmd('b', 'FETCH 1 FLAGS'))[0], '* 1 FETCH (FLAGS ())');
    const seen = await c.cmd('c', 'FETCH 1 BODY[HEADER.FIELDS (SUBJECT)]');
    assert.ok(seen.join('\n').includes('FLAGS (\\Seen)'), seen.join('\n'));
    assert.equal((await c.cmd('d', 'FETCH 1 FLAGS'))[0], '* 1 FETCH (FLAGS (\\Seen))');
    const u = await c.cmd('e', 'UID FETCH 2 (FLAGS)');
    assert.equal(u[0], '* 2 FETCH (UID 2 FLAGS ())');
    assert.match(last(await c.cmd('f', 'FETCH 1 (BOGUS)')), /^f BAD/);
    assert.match(last(await c.cmd('g', 'FETCH 5 FLAGS')), /^g OK/);
    const env1 = await c.cmd('h', 'FETCH 2 (ENVELOPE BODYSTRUCTURE)');
    assert.match(env1[0], /^\* 2 FETCH \(ENVELOPE \("Mon, 7 Feb 1994 21:52:25 -0800" "msg 2"/);
    assert.match(env1[0], /BODYSTRUCTURE \("TEXT" "PLAIN"/);
    c.close();
  });

  test('STORE: FLAGS, +FLAGS.SILENT, UID STORE, UNCHANGEDSINCE -> MODIFIED', async () => {
    const c = await env.login();
    await fresh(c, 3);
    assert.equal(
      (await c.cmd('a', 'STORE 1 +FLAGS (\\Flagged)'))[0],
      '* 1 FETCH (FLAGS (\\Flagged))',
    );
    const silent = await c.cmd('b', 'STORE 2 +FLAGS.SILENT (\\Seen)');
    assert.equal(silent.length, 1, silent.join('\n'));
    // A keyword new to the mailbox: FLAGS and PERMANENTFLAGS first (RFC 3501 §7.2.6).
    assert.deepEqual((await c.cmd('c', 'UID STORE 3 FLAGS ($Work)')).slice(0, -1), [
      '* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work)',
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Work \\*)] Flags permitted',
      '* 3 FETCH (UID 3 FLAGS ($Work))',
    ]);
    const m = await c.cmd('d', 'FETCH 1:3 (MODSEQ)');
    const modseq2 = Number(/^\* 2 FETCH \(MODSEQ \((\d+)\)/m.exec(m.join('\n'))?.[1]);
    await c.cmd('e', 'STORE 1 -FLAGS (\\Flagged)');
    const cond = await c.cmd('f', `STORE 1:2 (UNCHANGEDSINCE ${modseq2}) +FLAGS (\\Answered)`);
    assert.match(last(cond), /^f OK \[MODIFIED 1\]/);
    assert.ok(
      cond.some((l) => /^\* 2 FETCH \(UID 2 FLAGS \(\\Seen \\Answered\) MODSEQ \(\d+\)\)$/.test(l)),
      cond.join('\n'),
    );
    assert.match(last(await c.cmd('g', 'STORE 1 +FLAGS (\\Recent')), /^g BAD/);
    c.close();
  });

  test('COPY, MOVE (COPYUID, EXPUNGE), EXPUNGE, UID EXPUNGE, CLOSE, UNSELECT', async () => {
    const c = await env.login();
    await c.cmd('x', 'CREATE Dest');
    await fresh(c, 5);
    const cp = await c.cmd('a', 'COPY 1:2 Dest');
    assert.match(last(cp), /^a OK \[COPYUID \d+ 1:2 \d+:\d+\]/);
    assert.match(last(await c.cmd('b', 'COPY 1 Nowhere')), /^b NO \[TRYCREATE\]/);
    const mv = await c.cmd('c', 'MOVE 2 Dest');
    assert.match(mv[0], /^\* OK \[COPYUID \d+ 2 \d+\]/);
    assert.equal(mv[1], '* 2 EXPUNGE');
    assert.match(last(mv), /^c OK/);
    await c.cmd('d', 'STORE 1,3 +FLAGS.SILENT (\\Deleted)');
    const ux = await c.cmd('e', 'UID EXPUNGE 5');
    assert.equal(ux.length, 1, 'UID EXPUNGE only removes \\Deleted messages in its set');
    const ex = await c.cmd('f', 'EXPUNGE');
    assert.deepEqual(ex.slice(0, -1), ['* 3 EXPUNGE', '* 1 EXPUNGE']);
    assert.equal((await c.cmd('g', 'FETCH 1:* UID')).length, 3);
    await c.cmd('h', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    assert.equal((await c.cmd('i', 'CLOSE')).length, 1, 'CLOSE expunges silently');
    assert.match(last(await c.cmd('j', 'FETCH 1 UID')), /^j BAD/);
    assert.match(last(await c.cmd('k', 'UNSELECT')), /^k BAD/);
    await c.cmd('l', 'SELECT Dest');
    assert.match(last(await c.cmd('m', 'UNSELECT')), /^m OK/);
    c.close();
  });

  test('SEARCH, UID SEARCH, ESEARCH, SAVE and $', async () => {
    const c = await env.login();
    await fresh(c, 4);
    await c.cmd('a', 'STORE 2,4 +FLAGS (\\Seen)');
    assert.equal((await c.cmd('b', 'SEARCH UNSEEN'))[0], '* SEARCH 1 3');
    assert.equal((await c.cmd('c', 'UID SEARCH SUBJECT "msg 3"'))[0], '* SEARCH 3');
    assert.equal(
      (await c.cmd('d', 'SEARCH RETURN (MIN MAX COUNT) SEEN'))[0],
      '* ESEARCH (TAG "d") MIN 2 MAX 4 COUNT 2',
    );
    const saved = await c.cmd('e', 'SEARCH RETURN (SAVE) BODY "number 3"');
    assert.equal(saved.length, 1);
    assert.equal((await c.cmd('f', 'FETCH $ (UID)'))[0], '* 3 FETCH (UID 3)');
    assert.match(last(await c.cmd('g', 'SEARCH CHARSET KOI8-R ALL')), /^g NO \[BADCHARSET/);
    assert.match(last(await c.cmd('h', 'SEARCH FROBNICATE')), /^h BAD/);
    c.close();
  });

  test('CONDSTORE CHANGEDSINCE and QRESYNC SELECT with VANISHED (EARLIER)', async () => {
    const c = await env.login();
    const name = await fresh(c, 4);
    const sel = await c.cmd('a', `SELECT ${name}`);
    const uidValidity = Number(/UIDVALIDITY (\d+)/.exec(sel.join('\n'))?.[1]);
    const hms = Number(/HIGHESTMODSEQ (\d+)/.exec(sel.join('\n'))?.[1]);
    await c.cmd('b', 'STORE 1 +FLAGS (\\Flagged)');
    await c.cmd('c', 'STORE 4 +FLAGS (\\Deleted)');
    await c.cmd('d', 'EXPUNGE');
    const ch = await c.cmd('e', `FETCH 1:* (FLAGS) (CHANGEDSINCE ${hms})`);
    // RFC 7162 §3.1: the first CONDSTORE enabling command after SELECT gets HIGHESTMODSEQ.
    assert.match(ch[0], /^\* OK \[HIGHESTMODSEQ \d+\] Highest$/);
    assert.match(ch[1], /^\* 1 FETCH \(FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/);
    assert.equal(ch.length, 3, ch.join('\n'));
    await c.cmd('f', 'UNSELECT');
    assert.match(
      last(await c.cmd('g', `SELECT ${name} (QRESYNC (${uidValidity} ${hms}))`)),
      /^g BAD/,
    );
    await c.cmd('h', 'ENABLE QRESYNC');
    const q = await c.cmd('i', `SELECT ${name} (QRESYNC (${uidValidity} ${hms} 1:10))`);
    assert.ok(q.includes('* VANISHED (EARLIER) 4'), q.join('\n'));
    assert.ok(q.some((l) => /^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/.test(l)));
    const v = await c.cmd('j', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${hms} VANISHED)`);
    assert.equal(v[0], '* VANISHED (EARLIER) 4');
    await c.cmd('k', 'STORE 3 +FLAGS.SILENT (\\Deleted)');
    assert.deepEqual((await c.cmd('l', 'EXPUNGE')).slice(0, -1), ['* VANISHED 3']);
    c.close();
  });

  test('SORT, UID SORT, THREAD', async () => {
    const c = await env.login();
    await fresh(c, 0);
    const name = `M${box}`;
    await append(c, name, message('b topic', 'x\r\n'.repeat(30)));
    await append(c, name, message('a topic'));
    await append(c, name, message('Re: b topic'));
    await c.cmd('n', 'NOOP');
    assert.equal((await c.cmd('a', 'SORT (SUBJECT) UTF-8 ALL'))[0], '* SORT 2 1 3');
    assert.equal((await c.cmd('b', 'UID SORT (REVERSE SIZE) UTF-8 ALL'))[0], '* SORT 1 3 2');
    assert.equal((await c.cmd('c', 'THREAD ORDEREDSUBJECT UTF-8 ALL'))[0], '* THREAD (1 3)(2)');
    assert.match(last(await c.cmd('d', 'SORT (BOGUS) UTF-8 ALL')), /^d BAD/);
    assert.match(last(await c.cmd('e', 'THREAD ORDEREDSUBJECT KOI8-R ALL')), /^e NO \[BADCHARSET/);
    c.close();
  });

  test('IDLE: + idling, DONE, BAD on anything else', async () => {
    const c = await env.login();
    await fresh(c, 1);
    c.write('a IDLE\r\n');
    assert.equal(await c.line(), '+ idling');
    c.write('DONE\r\n');
    assert.match(last(await c.tagged('a')), /^a OK/);
    c.write('b IDLE\r\n');
    await c.line();
    c.write('NOPE\r\n');
    assert.match(last(await c.tagged('b')), /^b BAD/);
    c.close();
  });
});
