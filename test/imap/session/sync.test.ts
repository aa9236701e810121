import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deliverLocal } from '../../../src/delivery/local.js';
import { newMessage } from '../../helpers/messages.js';
import { append, type ImapTestEnv, last, message, type RawClient, startImap } from './client.js';

describe('IMAP session: sync between sessions', () => {
  let env: ImapTestEnv;
  let box = 0;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  /** Two sessions with the same fresh mailbox (n messages) selected. */
  async function pair(n: number): Promise<[RawClient, RawClient, string]> {
    const a = await env.login();
    const b = await env.login();
    const name = `S${++box}`;
    await a.cmd('c', `CREATE ${name}`);
    for (let i = 1; i <= n; i++) await append(a, name, message(`m${i}`));
    await a.cmd('s', `SELECT ${name}`);
    await b.cmd('s', `SELECT ${name}`);
    return [a, b, name];
  }

  test('NOOP reports EXISTS, FETCH FLAGS (with MODSEQ under CONDSTORE) and EXPUNGE', async () => {
    const [a, b, name] = await pair(3);
    await b.cmd('s2', `SELECT ${name} (CONDSTORE)`);
    await append(a, name, message('new'));
    const n1 = await b.cmd('n1', 'NOOP');
    // RFC 3501 §7.3.2: RECENT with the new size; a (which appended) took the \Recent.
    assert.deepEqual(n1.slice(0, -1), ['* 4 EXISTS', '* 0 RECENT']);
    await a.cmd('f', 'STORE 2 +FLAGS (\\Flagged)');
    const n2 = await b.cmd('n2', 'NOOP');
    assert.match(n2[0], /^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/);
    // The session's own STORE is not repeated as an update.
    assert.deepEqual((await a.cmd('n', 'NOOP')).length, 1);
    await a.cmd('d', 'STORE 1,3 +FLAGS.SILENT (\\Deleted)');
    await a.cmd('x', 'EXPUNGE');
    const n3 = await b.cmd('n3', 'NOOP');
    assert.deepEqual(n3.slice(0, -1), ['* 3 EXPUNGE', '* 1 EXPUNGE']);
    assert.match(last(n3), /^n3 OK/);
    a.close();
    b.close();
  });

  test('no EXPUNGE during FETCH, STORE, SEARCH; UID FETCH may have it', async () => {
    const [a, b] = await pair(3);
    await a.cmd('d', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
    await a.cmd('x', 'EXPUNGE');
    const f = await b.cmd('f', 'FETCH 1:* (UID)');
    assert.ok(!f.some((l) => l.includes('EXPUNGE')), f.join('\n'));
    assert.equal(
      f.filter((l) => l.includes('FETCH (UID')).length,
      2,
      'the expunged one is not fetched',
    );
    const st = await b.cmd('st', 'STORE 1 +FLAGS (\\Seen)');
    assert.ok(!st.some((l) => l.includes('EXPUNGE')));
    const se = await b.cmd('se', 'SEARCH ALL');
    assert.ok(!se.some((l) => l.includes('EXPUNGE')));
    // Sequence numbers are still the old ones: message 3 is UID 3.
    assert.equal((await b.cmd('g', 'FETCH 3 (UID)'))[0], '* 3 FETCH (UID 3)');
    const u = await b.cmd('u', 'UID FETCH 1 (FLAGS)');
    assert.ok(u.includes('* 2 EXPUNGE'), u.join('\n'));
    assert.equal((await b.cmd('h', 'FETCH 2 (UID)'))[0], '* 2 FETCH (UID 3)');
    a.close();
    b.close();
  });

  test('QRESYNC sessions get VANISHED; delivery reaches a selected INBOX', async () => {
    const a = await env.login();
    const b = await env.login();
    await b.cmd('q', 'ENABLE QRESYNC');
    await a.cmd('s', 'SELECT INBOX');
    const sel = await b.cmd('s', 'SELECT INBOX');
    const exists = Number(/\* (\d+) EXISTS/.exec(sel.join('\n'))?.[1]);
    const store = env.ts.server.ctx.store;
    const account = await store.getAccountById(env.accountId);
    assert.ok(account);
    const [r] = await deliverLocal(store, { raw: message('delivered'), accounts: [account] });
    // b is the first session told of the delivered message: it is \Recent there.
    assert.deepEqual((await b.cmd('n', 'NOOP')).slice(0, -1), [
      `* ${exists + 1} EXISTS`,
      '* 1 RECENT',
    ]);
    await a.cmd('n', 'NOOP');
    await a.cmd('d', `UID STORE ${r.uid} +FLAGS.SILENT (\\Deleted)`);
    await a.cmd('x', `UID EXPUNGE ${r.uid}`);
    assert.deepEqual((await b.cmd('n2', 'NOOP')).slice(0, -1), [`* VANISHED ${r.uid}`]);
    a.close();
    b.close();
  });

  // How fast a change reaches an idling session is measured by bench/imap ("APPEND
  // reach-all"), not asserted here: a bound in milliseconds fails on a loaded machine.
  test('IDLE: EXISTS, FETCH FLAGS and EXPUNGE are pushed while idling', async () => {
    const [a, b, name] = await pair(2);
    b.write('i IDLE\r\n');
    assert.equal(await b.line(), '+ idling');
    await append(a, name, message('idle'));
    assert.equal(await b.line(), '* 3 EXISTS');
    // Whichever of a (which appended) and b hears first takes the \Recent.
    assert.match(await b.line(), /^\* [01] RECENT$/);
    await a.cmd('f', 'STORE 1 +FLAGS (\\Answered)');
    assert.equal(await b.line(), '* 1 FETCH (UID 1 FLAGS (\\Answered))');
    await a.cmd('d', 'STORE 2 +FLAGS.SILENT (\\Deleted)');
    assert.equal(await b.line(), '* 2 FETCH (UID 2 FLAGS (\\Deleted))');
    await a.cmd('x', 'EXPUNGE');
    assert.equal(await b.line(), '* 2 EXPUNGE');
    b.write('DONE\r\n');
    assert.match(last(await b.tagged('i')), /^i OK/);
    a.close();
    b.close();
  });

  test('a deleted selected mailbox ends the other session with BYE', async () => {
    const [a, b, name] = await pair(1);
    await a.cmd('u', 'UNSELECT');
    assert.match(last(await a.cmd('d', `DELETE ${name}`)), /^d OK/);
    const r = await b.cmd('n', 'NOOP');
    assert.match(r[0], /^\* BYE/);
    assert.match(last(r), /^n NO/);
    a.close();
    b.close();
  });

  test('a message committed while SELECT reads the mailbox is announced, not lost', async () => {
    const a = await env.login();
    const name = `S${++box}`;
    await a.cmd('c', `CREATE ${name}`);
    await append(a, name, message('before'));
    const store = env.ts.server.ctx.store;
    const mb = await store.getMailbox(env.accountId, name);
    assert.ok(mb);
    const inbox = await store.getMailbox(env.accountId, 'INBOX');
    assert.ok(inbox);
    // INBOX's next UID above this mailbox's: taken by this view, its append would show.
    for (const m of ['i1', 'i2', 'i3'])
      await store.append(newMessage(m), [{ mailboxId: inbox.id }]);
    const original = store.mailboxSummary;
    const originalOpen = store.openMailbox;
    // The summary is read, then (before SELECT makes its view) another message commits, and
    // one to another mailbox of the account, which this view must not take.
    const meanwhile = async () => {
      store.mailboxSummary = original;
      store.openMailbox = originalOpen;
      await store.append(newMessage('elsewhere'), [{ mailboxId: inbox.id }]);
      await store.append(newMessage('meanwhile'), [{ mailboxId: mb.id }]);
    };
    store.mailboxSummary = async (id: number) => {
      const summary = await original.call(store, id);
      if (id === mb.id) await meanwhile();
      return summary;
    };
    // SELECT's one read where the store has it (SQLite).
    if (originalOpen)
      store.openMailbox = async (accountId: number, n: string) => {
        const found = await originalOpen.call(store, accountId, n);
        if (found?.mailbox.id === mb.id) await meanwhile();
        return found;
      };
    try {
      const r = await a.cmd('s', `SELECT ${name}`);
      assert.ok(r.includes('* 1 EXISTS'), r.join('\n'));
      // Announced before the tagged OK, with its RECENT (RFC 3501 §7.3.2).
      const at = r.indexOf('* 2 EXISTS');
      assert.ok(at > 0, r.join('\n'));
      assert.equal(r[at + 1], '* 2 RECENT');
      // The other mailbox's message is not this view's.
      assert.ok(!r.includes('* 3 EXISTS'), r.join('\n'));
      assert.match(last(r), /^s OK \[READ-WRITE\]/);
      assert.equal((await a.cmd('f', 'FETCH 2 (UID)'))[0], '* 2 FETCH (UID 2)');
    } finally {
      store.mailboxSummary = original;
      store.openMailbox = originalOpen;
    }
    a.close();
  });
});
