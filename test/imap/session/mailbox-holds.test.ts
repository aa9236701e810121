// A session tells the store which mailbox it has selected (MailStore.holdMailbox /
// releaseMailbox), so that the store keeps a large mailbox's cached rows only while someone
// has it selected (src/store/sqlite/record-cache.ts). Each hold gets exactly one release,
// however the selection ends: SELECT of another, UNSELECT, CLOSE, a failed SELECT (RFC 9051
// §6.3.2: the mailbox is deselected), LOGOUT, or the connection dropped.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ImapTestEnv, last, startImap } from './client.js';

// The hints are the SQLite store's (its row cache); the PostgreSQL store takes none.
const sqliteOnly = process.env.LETTERBOX_TEST_STORE === 'postgres' ? 'SQLite store only' : false;

describe('IMAP session: the selected mailbox is held in the store', { skip: sqliteOnly }, () => {
  let env: ImapTestEnv;
  const held = new Map<number, number>();
  const ids = new Map<string, number>();
  before(async () => {
    env = await startImap();
    const store = env.ts.server.ctx.store;
    const hold = store.holdMailbox?.bind(store);
    const release = store.releaseMailbox?.bind(store);
    assert.ok(hold && release, 'the SQLite store takes the hints');
    store.holdMailbox = (id) => {
      held.set(id, (held.get(id) ?? 0) + 1);
      hold(id);
    };
    store.releaseMailbox = (id) => {
      const n = (held.get(id) ?? 0) - 1;
      assert.ok(n >= 0, `mailbox ${id} released more often than held`);
      held.set(id, n);
      release(id);
    };
    for (const name of ['INBOX', 'Held1', 'Held2']) {
      if (name !== 'INBOX') await store.createMailbox(env.accountId, name);
      ids.set(name, (await store.getMailbox(env.accountId, name))!.id);
    }
  });
  after(async () => {
    await env.ts.stop();
  });

  const count = (name: string) => held.get(ids.get(name)!) ?? 0;

  async function until(what: () => boolean, label: string): Promise<void> {
    const deadline = Date.now() + 10_000;
    while (!what()) {
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${label}`);
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  test('SELECT, SELECT of another, EXAMINE of the same, UNSELECT, CLOSE, LOGOUT', async () => {
    const c = await env.login();
    assert.match(last(await c.cmd('a', 'SELECT Held1')), /^a OK/);
    assert.equal(count('Held1'), 1);
    assert.match(last(await c.cmd('b', 'SELECT Held2')), /^b OK/);
    assert.deepEqual([count('Held1'), count('Held2')], [0, 1]);
    assert.match(last(await c.cmd('c', 'EXAMINE Held2')), /^c OK/);
    assert.equal(count('Held2'), 1);
    assert.match(last(await c.cmd('d', 'UNSELECT')), /^d OK/);
    assert.equal(count('Held2'), 0);
    assert.match(last(await c.cmd('e', 'SELECT INBOX')), /^e OK/);
    assert.match(last(await c.cmd('f', 'CLOSE')), /^f OK/);
    assert.equal(count('INBOX'), 0);
    // A SELECT that fails leaves no mailbox selected (RFC 9051 §6.3.2).
    assert.match(last(await c.cmd('g', 'SELECT Held1')), /^g OK/);
    assert.match(last(await c.cmd('h', 'SELECT NoSuchBox')), /^h NO/);
    assert.equal(count('Held1'), 0);
    assert.match(last(await c.cmd('i', 'SELECT Held1')), /^i OK/);
    await c.cmd('j', 'LOGOUT');
    await until(() => count('Held1') === 0, 'the release at LOGOUT');
    c.close();
  });

  test('two sessions on one mailbox; a dropped connection releases its hold', async () => {
    const [a, b] = [await env.login(), await env.login()];
    await a.cmd('a', 'SELECT Held1');
    await b.cmd('b', 'SELECT Held1');
    assert.equal(count('Held1'), 2);
    a.close();
    await until(() => count('Held1') === 1, 'the first session to end');
    b.write('i IDLE\r\n');
    await b.line();
    b.close();
    await until(() => count('Held1') === 0, 'the session in IDLE to end');
  });
});
