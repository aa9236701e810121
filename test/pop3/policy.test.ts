// UPDATE state (RFC 1939 §6) under each per-account policy, the maildrop lock, and the
// change events that tell IMAP sessions about POP3 deletions.
import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, test } from 'node:test';
import { POP3_DELETED_KEYWORD } from '../../src/pop3/maildrop.js';
import type { ChangeEvent } from '../../src/store/types.js';
import { RawPop3 } from './client.js';
import { PASSWORD, type Pop3Fixture, startPop3, USER } from './setup.js';

let fx: Pop3Fixture;
before(async () => {
  fx = await startPop3();
});
after(() => fx.stop());

const store = () => fx.ts.server.ctx.store;

/** Empty the INBOX (and Trash) and deliver three fresh messages. */
async function freshInbox(): Promise<number[]> {
  await store().expunge(fx.inboxId, { onlyDeleted: false });
  const trash = await store().getMailbox(fx.accountId, 'Trash');
  if (trash) await store().expunge(trash.id, { onlyDeleted: false });
  return fx.deliver('p1', 'p2', 'p3');
}

async function login(): Promise<RawPop3> {
  const c = await RawPop3.connect(fx.pop3);
  assert.match(await c.login(USER, PASSWORD), /^\+OK /);
  return c;
}

async function inboxUids(): Promise<number[]> {
  return (await store().listMessages(fx.inboxId)).map((r) => r.uid);
}

describe('POP3 policies at QUIT', () => {
  beforeEach(async () => {
    await fx.setPolicy('delete');
  });

  test('delete: DELE + QUIT expunges, emits an expunge event, the message is gone', async () => {
    const uids = await freshInbox();
    const events: ChangeEvent[] = [];
    const unsubscribe = store().subscribe((e) => events.push(e));
    try {
      const c = await login();
      assert.match(await c.cmd('DELE 1'), /^\+OK/);
      assert.match(await c.cmd('DELE 3'), /^\+OK/);
      // Nothing happens before QUIT.
      assert.deepEqual(await inboxUids(), uids);
      assert.match(await c.cmd('QUIT'), /^\+OK Goodbye, 1 messages left/);
      await c.closed();
    } finally {
      unsubscribe();
    }
    assert.deepEqual(await inboxUids(), [uids[1]]);
    const expunges = events.filter((e) => e.kind === 'expunge');
    assert.equal(expunges.length, 1, 'one atomic expunge');
    assert.equal(expunges[0]!.mailboxId, fx.inboxId);
    assert.deepEqual(expunges[0]!.uids, [uids[0], uids[2]]);
    assert.deepEqual(
      await store()
        .expungedSince(fx.inboxId, 0)
        .then((u) => u.includes(uids[0]!)),
      true,
    );
  });

  test('keep: DELE + QUIT hides the message from POP3 only; IMAP still has it', async () => {
    await fx.setPolicy('keep');
    const uids = await freshInbox();
    const c = await login();
    assert.match(await c.cmd('DELE 2'), /^\+OK/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    await c.closed();
    const recs = await store().listMessages(fx.inboxId);
    assert.deepEqual(
      recs.map((r) => r.uid),
      uids,
    );
    assert.ok(recs[1]!.flags.includes(POP3_DELETED_KEYWORD));
    const d = await login();
    assert.match(await d.cmd('STAT'), /^\+OK 2 /);
    const mb = await store().getMailboxById(fx.inboxId);
    const uidl = await d.multi('UIDL');
    assert.deepEqual(uidl.lines, [
      `1 ${mb!.uidValidity}.${uids[0]}`,
      `2 ${mb!.uidValidity}.${uids[2]}`,
    ]);
    assert.match(await d.cmd('QUIT'), /^\+OK/);
    await d.closed();
  });

  test('trash: DELE + QUIT moves the message to Trash', async () => {
    await fx.setPolicy('trash');
    const uids = await freshInbox();
    const c = await login();
    assert.match(await c.cmd('RETR 1'), /^\+OK/);
    await c.body();
    assert.match(await c.cmd('DELE 1'), /^\+OK/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    await c.closed();
    assert.deepEqual(await inboxUids(), uids.slice(1));
    const trash = await store().getMailbox(fx.accountId, 'Trash');
    const moved = await store().listMessages(trash!.id);
    assert.equal(moved.length, 1);
    assert.ok(moved[0]!.flags.includes('\\Seen'));
  });

  test('trash on a full account still works: a move within the account needs no room', async () => {
    await fx.setPolicy('trash');
    const uids = await freshInbox();
    const account = await store().getAccount(USER);
    await store().setQuota(USER, account!.usedBytes);
    try {
      const c = await login();
      assert.match(await c.cmd('DELE 1'), /^\+OK/);
      assert.match(await c.cmd('DELE 2'), /^\+OK/);
      assert.match(await c.cmd('QUIT'), /^\+OK/);
      await c.closed();
      assert.deepEqual(await inboxUids(), [uids[2]]);
    } finally {
      await store().setQuota(USER, null);
    }
  });

  test('QUIT without DELE changes nothing; RSET then QUIT changes nothing', async () => {
    const uids = await freshInbox();
    const c = await login();
    assert.match(await c.cmd('DELE 1'), /^\+OK/);
    assert.match(await c.cmd('RSET'), /^\+OK/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    await c.closed();
    assert.deepEqual(await inboxUids(), uids);
  });
});

describe('maildrop snapshot and lock', () => {
  test('a second session gets -ERR [IN-USE] and may retry after the first QUITs', async () => {
    await freshInbox();
    const first = await login();
    const second = await RawPop3.connect(fx.pop3s, { tls: true });
    assert.match(await second.login(USER, PASSWORD), /^-ERR \[IN-USE\] /);
    // RFC 1939 §4: still in AUTHORIZATION, may try again.
    assert.match(await first.cmd('QUIT'), /^\+OK/);
    await first.closed();
    assert.match(await second.login(USER, PASSWORD), /^\+OK /);
    assert.match(await second.cmd('QUIT'), /^\+OK/);
    await second.closed();
  });

  test('mail arriving during a session is not in its maildrop; message numbers stay fixed', async () => {
    const uids = await freshInbox();
    const c = await login();
    await fx.deliver('late');
    assert.match(await c.cmd('STAT'), /^\+OK 3 /);
    assert.match(await c.cmd('LIST 4'), /^-ERR No such message/);
    // An IMAP expunge of message 1 during the session: its number stays taken.
    await store().expunge(fx.inboxId, { uids: [uids[0]!], onlyDeleted: false });
    assert.match(await c.cmd('LIST 2'), /^\+OK 2 /);
    // Its bytes may be collected already (answered -ERR) or not yet (served): never a crash.
    const retr = await c.cmd('RETR 1');
    if (retr.startsWith('+OK')) await c.body();
    else assert.match(retr, /^-ERR Message was removed/);
    assert.match(await c.cmd('DELE 2'), /^\+OK/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    await c.closed();
    assert.deepEqual((await inboxUids()).length, 2); // uids[2] and 'late'
    const d = await login();
    assert.match(await d.cmd('STAT'), /^\+OK 2 /);
    assert.match(await d.cmd('QUIT'), /^\+OK/);
    await d.closed();
  });
});
