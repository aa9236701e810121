// REPLACE / UID REPLACE (RFC 8508): exact untagged and tagged responses, atomicity (nothing
// changes when either half fails), quota counting the replaced message, other sessions.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import {
  append,
  type ImapTestEnv,
  last,
  message,
  type RawClient,
  startImap,
  USER,
} from './client.js';

const lit = (b: Buffer): Buffer => Buffer.concat([Buffer.from(`{${b.length}+}\r\n`), b]);

describe('IMAP REPLACE (RFC 8508)', () => {
  let env: ImapTestEnv;
  let c: RawClient;
  let box = 0;
  before(async () => {
    env = await startImap();
    c = await env.login();
  });
  after(async () => {
    c.close();
    await env.ts.stop();
  });

  /** A fresh mailbox with n messages; returns its name and UIDVALIDITY. */
  async function fresh(n: number): Promise<{ name: string; uv: number }> {
    const name = `R${++box}`;
    await c.cmd('cr', `CREATE ${name}`);
    for (let i = 1; i <= n; i++) await append(c, name, message(`draft ${i}`));
    const st = await c.cmd('st', `STATUS ${name} (UIDVALIDITY)`);
    return { name, uv: Number(/UIDVALIDITY (\d+)/.exec(st[0])?.[1]) };
  }

  const count = async (name: string): Promise<number> =>
    Number(/MESSAGES (\d+)/.exec((await c.cmd('ct', `STATUS ${name} (MESSAGES)`))[0])?.[1]);

  test('advertised; only in the selected state', async () => {
    assert.match((await c.cmd('a', 'CAPABILITY'))[0], / REPLACE( |$)/);
    const m = message('x');
    assert.equal(
      last(
        await c.cmd(
          'b',
          Buffer.concat([Buffer.from('REPLACE 1 INBOX '), lit(m), Buffer.from('\r\n')]),
        ),
      ),
      'b BAD REPLACE is not allowed in the authenticated state',
    );
    assert.equal(
      last(
        await c.cmd(
          'c',
          Buffer.concat([Buffer.from('UID REPLACE 1 INBOX '), lit(m), Buffer.from('\r\n')]),
        ),
      ),
      'c BAD UID REPLACE is not allowed in the authenticated state',
    );
  });

  test('into the selected mailbox: APPENDUID in an untagged OK, EXISTS, EXPUNGE, then OK', async () => {
    const { name, uv } = await fresh(3);
    await c.cmd('s', `SELECT ${name}`);
    const m = message('draft 2 v2', 'New text.\r\n');
    const r = await c.cmd(
      'r',
      Buffer.concat([
        Buffer.from(`REPLACE 2 ${name} (\\Seen \\Draft) `),
        lit(m),
        Buffer.from('\r\n'),
      ]),
    );
    assert.deepEqual(r, [
      `* OK [APPENDUID ${uv} 4] Replacement Message ready`,
      '* 4 EXISTS',
      // RFC 3501 §7.3.2 (an IMAP4rev1 session): the SELECT took 1-3, the REPLACE adds 4.
      '* 4 RECENT',
      '* 2 EXPUNGE',
      'r OK REPLACE completed',
    ]);
    const f = await c.cmd('f', 'UID FETCH 1:* (FLAGS RFC822.SIZE)');
    assert.deepEqual(f.slice(0, -1), [
      `* 1 FETCH (UID 1 FLAGS (\\Recent) RFC822.SIZE ${message('draft 1').length})`,
      `* 2 FETCH (UID 3 FLAGS (\\Recent) RFC822.SIZE ${message('draft 3').length})`,
      `* 3 FETCH (UID 4 FLAGS (\\Seen \\Draft \\Recent) RFC822.SIZE ${m.length})`,
    ]);
    const body = await c.cmd('g', 'UID FETCH 4 BODY.PEEK[TEXT]');
    assert.ok(body.join('\r\n').includes('BODY[TEXT] {11}\r\nNew text.\r\n'), body.join('\n'));
  });

  test('UID REPLACE into another mailbox: only the EXPUNGE here; VANISHED under QRESYNC', async () => {
    const { name } = await fresh(2);
    const other = await fresh(1);
    await c.cmd('s', `SELECT ${name}`);
    const m = message('moved draft');
    const r = await c.cmd(
      'r',
      Buffer.concat([Buffer.from(`UID REPLACE 1 ${other.name} `), lit(m), Buffer.from('\r\n')]),
    );
    assert.deepEqual(r, [
      `* OK [APPENDUID ${other.uv} 2] Replacement Message ready`,
      '* 1 EXPUNGE',
      'r OK UID REPLACE completed',
    ]);
    assert.equal(await count(other.name), 2);
    // QRESYNC (RFC 7162 §3.2.10): VANISHED instead of EXPUNGE.
    const q = await env.login();
    await q.cmd('e', 'ENABLE QRESYNC');
    await q.cmd('s', `SELECT ${name}`);
    const r2 = await q.cmd(
      'r',
      Buffer.concat([Buffer.from(`UID REPLACE 2 ${name} `), lit(m), Buffer.from('\r\n')]),
    );
    assert.equal(
      r2[0],
      `* OK [APPENDUID ${/\d+/.exec(r2[0].split(' ')[3])?.[0]} 3] Replacement Message ready`,
    );
    assert.deepEqual(r2.slice(1), [
      '* 2 EXISTS',
      '* 1 RECENT',
      '* VANISHED 2',
      'r OK UID REPLACE completed',
    ]);
    q.close();
  });

  test('a session with the mailbox selected sees the expunge and the new message', async () => {
    const { name } = await fresh(2);
    await c.cmd('s', `SELECT ${name}`);
    const watcher = await env.login();
    await watcher.cmd('s', `SELECT ${name}`);
    await c.cmd(
      'r',
      Buffer.concat([Buffer.from(`REPLACE 1 ${name} `), lit(message('v2')), Buffer.from('\r\n')]),
    );
    const n = await watcher.cmd('n', 'NOOP');
    // EXISTS first (sent before the command runs, RFC 9051 §7.5.1 allows it any time), then
    // the EXPUNGE: as in RFC 8508's example.
    // RECENT with EXISTS (RFC 3501 §7.3.2): c, which replaced, took the new message's \Recent.
    assert.deepEqual(n, ['* 3 EXISTS', '* 0 RECENT', '* 1 EXPUNGE', 'n OK NOOP completed']);
    watcher.close();
  });

  test('failures change nothing: missing UID, bad sequence number, TRYCREATE, READ-ONLY', async () => {
    const { name } = await fresh(2);
    await c.cmd('s', `SELECT ${name}`);
    const m = lit(message('nope'));
    const send = (tag: string, text: string) =>
      c.cmd(tag, Buffer.concat([Buffer.from(text), m, Buffer.from('\r\n')]));
    assert.equal(
      last(await send('a', `UID REPLACE 99 ${name} `)),
      'a NO [NONEXISTENT] No message with that UID to replace',
    );
    assert.equal(
      last(await send('b', `REPLACE 3 ${name} `)),
      'b BAD Invalid message sequence number',
    );
    assert.equal(
      last(await send('c', 'REPLACE 1 Nowhere ')),
      'c NO [TRYCREATE] No mailbox Nowhere',
    );
    assert.equal(
      last(await send('d', `REPLACE 1 ${name} (\\Recent) `)),
      'd NO [CANNOT] The \\Recent flag cannot be set',
    );
    assert.match(last(await c.cmd('e', `REPLACE 0 ${name} {1+}\r\nx\r\n`)), /^e BAD /);
    assert.match(last(await c.cmd('f', `REPLACE 1 ${name} {1+}\r\nx (\\Seen)\r\n`)), /^f BAD /);
    await c.cmd('x', `EXAMINE ${name}`);
    assert.equal(
      last(await send('g', `REPLACE 1 ${name} `)),
      'g NO [READ-ONLY] Mailbox is read-only',
    );
    assert.equal(await count(name), 2);
    assert.match(last(await c.cmd('h', 'NOOP')), /^h OK/);
  });

  test('refused before the literal: no continuation, the client sends no message (RFC 9051 §7.5)', async () => {
    const { name } = await fresh(2);
    await c.cmd('u0', 'UNSELECT'); // leave what the last test selected
    const m = message('sync');
    /** Sends a command ending in a synchronizing literal; returns the server's next line. */
    const ask = async (tag: string, text: string) => {
      c.write(`${tag} ${text} {${m.length}}\r\n`);
      return c.line();
    };
    // Authenticated state: REPLACE is not allowed, and neither is an unknown command.
    assert.equal(
      await ask('a', `REPLACE 1 ${name}`),
      'a BAD REPLACE is not allowed in the authenticated state',
    );
    assert.equal(await ask('b', `XYZZY ${name}`), 'b BAD Unknown command XYZZY');
    await c.cmd('s', `SELECT ${name}`);
    assert.equal(await ask('c', `REPLACE 3 ${name}`), 'c BAD Invalid message sequence number');
    // A missing target, as for APPEND: TRYCREATE before the message is sent.
    assert.equal(await ask('c2', 'REPLACE 1 Nowhere'), 'c2 NO [TRYCREATE] No mailbox Nowhere');
    assert.equal(
      await ask('c3', 'APPEND Nowhere (\\Seen)'),
      'c3 NO [TRYCREATE] No mailbox Nowhere',
    );
    assert.equal(
      await ask('c4', 'APPEND "&Jjo"'),
      'c4 NO [CANNOT] Mailbox name is not valid modified UTF-7',
    );
    // The mailbox name itself in a literal: the check waits for the whole command.
    c.write('c5 APPEND {7}\r\n');
    assert.equal(await c.line(), '+ Ready for literal data');
    c.write(`Nowhere {${m.length}}\r\n`);
    assert.equal(await c.line(), '+ Ready for literal data');
    c.write(Buffer.concat([m, Buffer.from('\r\n')]));
    assert.equal(last(await c.tagged('c5')), 'c5 NO [TRYCREATE] No mailbox Nowhere');
    await c.cmd('x', `UID EXPUNGE 1`); // nothing: not \Deleted
    await c.cmd('d1', 'UID STORE 1 +FLAGS (\\Deleted)');
    await c.cmd('d2', 'UID EXPUNGE 1');
    assert.equal(
      await ask('d', `UID REPLACE 1 ${name}`),
      'd NO [NONEXISTENT] No message with that UID to replace',
    );
    // A UID past the last one announced may be new: the literal is asked for, then refused.
    assert.equal(await ask('e', `UID REPLACE 99 ${name}`), '+ Ready for literal data');
    c.write(Buffer.concat([m, Buffer.from('\r\n')]));
    assert.equal(
      last(await c.tagged('e')),
      'e NO [NONEXISTENT] No message with that UID to replace',
    );
    // The session reads the next command as a command, and a good REPLACE gets its "+".
    assert.match(last(await c.cmd('f', 'NOOP')), /^f OK/);
    assert.equal(await ask('g', `UID REPLACE 2 ${name} (\\Seen)`), '+ Ready for literal data');
    c.write(Buffer.concat([m, Buffer.from('\r\n')]));
    assert.equal(last(await c.tagged('g')), 'g OK UID REPLACE completed');
    await c.cmd('x', `EXAMINE ${name}`);
    assert.equal(await ask('h', `REPLACE 1 ${name}`), 'h NO [READ-ONLY] Mailbox is read-only');
    assert.match(last(await c.cmd('i', 'NOOP')), /^i OK/);
    assert.equal(env.ts.server.ctx.memory.inUse, 0);
  });

  test('quota: the replaced message frees its room; over quota nothing changes', async () => {
    const { name } = await fresh(1);
    const store = env.ts.server.ctx.store;
    const used = (await store.getAccount(USER))!.usedBytes;
    const small = message('q1');
    // Room for exactly one more message of this size besides what is stored.
    await store.setQuota(USER, used + 10);
    try {
      await c.cmd('s', `SELECT ${name}`);
      const big = message('q2', `${'x'.repeat(300)}\r\n`);
      const r = await c.cmd(
        'a',
        Buffer.concat([Buffer.from(`REPLACE 1 ${name} `), lit(big), Buffer.from('\r\n')]),
      );
      assert.equal(last(r), 'a NO [OVERQUOTA] Mailbox quota exceeded');
      assert.equal(await count(name), 1);
      // The same size as the replaced one (plus < 10 bytes) fits only because it frees its room.
      assert.ok(small.length <= message('draft 1').length + 10);
      const ok = await c.cmd(
        'b',
        Buffer.concat([Buffer.from(`REPLACE 1 ${name} `), lit(small), Buffer.from('\r\n')]),
      );
      assert.equal(last(ok), 'b OK REPLACE completed');
      assert.equal(await count(name), 1);
    } finally {
      await store.setQuota(USER, null);
    }
  });

  test('with CATENATE: the new version reuses parts of the one it replaces', async () => {
    const { name, uv } = await fresh(1);
    await c.cmd('s', `SELECT ${name}`);
    const r = await c.cmd(
      'r',
      Buffer.concat([
        Buffer.from(
          `UID REPLACE 1 ${name} (\\Draft) CATENATE (URL "/${name};UIDVALIDITY=${uv}/;UID=1/;SECTION=HEADER" TEXT `,
        ),
        lit(Buffer.from('Edited.\r\n')),
        Buffer.from(')\r\n'),
      ]),
    );
    assert.equal(last(r), 'r OK UID REPLACE completed');
    const f = await c.cmd('f', 'UID FETCH 2 BODY.PEEK[TEXT]');
    assert.ok(f.join('\r\n').includes('BODY[TEXT] {9}\r\nEdited.\r\n'), f.join('\n'));
  });
});
