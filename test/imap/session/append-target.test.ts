// APPEND keeps the mailbox its check before the synchronizing literal found, and the append
// checks in its own transaction that the mailbox is still that one (AppendTarget.expect): the
// mailbox may be deleted, deleted and its id taken by another (SQLite reuses ids), or renamed
// while the client sends its message. RFC 9051 §6.3.12: NO [TRYCREATE] when the mailbox
// does not exist; the message goes nowhere else.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ImapTestEnv, last, message, type RawClient, startImap } from './client.js';

describe('IMAP APPEND: the mailbox changed while the literal was in flight', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
    await env.ts.addUser('bob@example.test', 'secret-pw');
  });
  after(async () => {
    await env.ts.stop();
  });

  /** Starts `tag APPEND name {n}` and waits for the server's go-ahead (the check ran). */
  async function startAppend(c: RawClient, tag: string, name: string, msg: Buffer) {
    c.write(`${tag} APPEND ${name} {${msg.length}}\r\n`);
    assert.match(await c.line(), /^\+ /);
    return () => c.tagged(tag);
  }

  async function messages(c: RawClient, name: string): Promise<number> {
    const r = await c.cmd('st', `STATUS ${name} (MESSAGES)`);
    const m = /MESSAGES (\d+)/.exec(r[0] ?? '');
    if (!m) throw new Error(r.join('\n'));
    return Number(m[1]);
  }

  test('deleted, and its id taken by another account’s new mailbox: NO [TRYCREATE]', async () => {
    const c = await env.login();
    const other = await env.login();
    const bob = await env.login('bob@example.test');
    const store = env.ts.server.ctx.store;
    // The newest mailbox: SQLite gives a deleted last id to the next mailbox made.
    assert.match(last(await c.cmd('a', 'CREATE Gone')), /^a OK/);
    const gone = await store.getMailbox(env.accountId, 'Gone');
    const msg = message('to the deleted one');
    const finish = await startAppend(c, 'b', 'Gone', msg);
    assert.match(last(await other.cmd('c', 'DELETE Gone')), /^c OK/);
    assert.match(last(await bob.cmd('d', 'CREATE Taken')), /^d OK/);
    const bobId = (await store.getAccount('bob@example.test'))!.id;
    const taken = await store.getMailbox(bobId, 'Taken');
    // PostgreSQL never reuses an id; the answer is the same.
    if (process.env.LETTERBOX_TEST_STORE !== 'postgres') assert.equal(taken?.id, gone?.id);
    c.write(Buffer.concat([msg, Buffer.from('\r\n')]));
    assert.match(last(await finish()), /^b NO \[TRYCREATE\]/);
    assert.equal(await messages(bob, 'Taken'), 0);
    c.close();
    other.close();
    bob.close();
  });

  test('deleted and made again by the same name: the message goes into the new one', async () => {
    const c = await env.login();
    const other = await env.login();
    assert.match(last(await c.cmd('a', 'CREATE Again')), /^a OK/);
    const msg = message('to the new one');
    const finish = await startAppend(c, 'b', 'Again', msg);
    assert.match(last(await other.cmd('c', 'DELETE Again')), /^c OK/);
    assert.match(last(await other.cmd('d', 'CREATE Again')), /^d OK/);
    const now = await env.ts.server.ctx.store.getMailbox(env.accountId, 'Again');
    c.write(Buffer.concat([msg, Buffer.from('\r\n')]));
    assert.equal(last(await finish()), `b OK [APPENDUID ${now!.uidValidity} 1] APPEND completed`);
    assert.equal(await messages(c, 'Again'), 1);
    c.close();
    other.close();
  });

  test('renamed: NO [TRYCREATE], and nothing in the mailbox under its new name', async () => {
    const c = await env.login();
    const other = await env.login();
    assert.match(last(await c.cmd('a', 'CREATE Before')), /^a OK/);
    const msg = message('to the renamed one');
    const finish = await startAppend(c, 'b', 'Before', msg);
    assert.match(last(await other.cmd('c', 'RENAME Before After')), /^c OK/);
    c.write(Buffer.concat([msg, Buffer.from('\r\n')]));
    assert.match(last(await finish()), /^b NO \[TRYCREATE\]/);
    assert.equal(await messages(c, 'After'), 0);
    // And an APPEND to a mailbox that stayed as it was keeps working (the kept lookup used).
    const ok = message('to the one that stayed');
    const done = await startAppend(c, 'e', 'After', ok);
    c.write(Buffer.concat([ok, Buffer.from('\r\n')]));
    assert.match(last(await done()), /^e OK \[APPENDUID \d+ 1\]/);
    assert.equal(await messages(c, 'After'), 1);
    c.close();
    other.close();
  });
});

// The selected mailbox is the one APPEND names more often than any: the session holds its row
// from SELECT, and the store's change events tell it of a rename or delete (view.ts), so its
// check before the literal need not read the row again; the append's transaction checks it.
describe('IMAP APPEND to the selected mailbox', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  /** The store's getMailbox calls while `f` runs. */
  async function lookUps(f: () => Promise<void>): Promise<number> {
    const store = env.ts.server.ctx.store;
    const original = store.getMailbox;
    let n = 0;
    store.getMailbox = (...args) => {
      n++;
      return original.apply(store, args);
    };
    try {
      await f();
    } finally {
      store.getMailbox = original;
    }
    return n;
  }

  test('by its name: no look-up of the mailbox by name', async () => {
    const c = await env.login();
    assert.match(last(await c.cmd('a', 'CREATE Held')), /^a OK/);
    assert.match(last(await c.cmd('b', 'SELECT Held')), /^b OK/);
    const msg = message('to the selected one');
    const n = await lookUps(async () => {
      c.write(`c APPEND Held {${msg.length}}\r\n`);
      assert.match(await c.line(), /^\+ /);
      c.write(Buffer.concat([msg, Buffer.from('\r\n')]));
      assert.match(last(await c.tagged('c')), /^c OK \[APPENDUID \d+ 1\]/);
    });
    assert.equal(n, 0);
    c.close();
  });

  test('renamed by another session: NO [TRYCREATE] before the literal, as a look-up says', async () => {
    const c = await env.login();
    const other = await env.login();
    assert.match(last(await c.cmd('a', 'CREATE Moving')), /^a OK/);
    assert.match(last(await c.cmd('b', 'SELECT Moving')), /^b OK/);
    assert.match(last(await other.cmd('c', 'RENAME Moving Moved')), /^c OK/);
    const msg = message('to the old name');
    c.write(`d APPEND Moving {${msg.length}}\r\n`);
    assert.match(await c.line(), /^d NO \[TRYCREATE\]/);
    c.close();
    other.close();
  });
});
