// Cross-protocol: mail delivered locally is read over POP3; what POP3 does reaches every
// other session through store change events (IMAP turns them into FETCH FLAGS and EXPUNGE /
// VANISHED; the IMAP IDLE half of this test joins when the IMAP server lands).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { deliverLocal } from '../../src/delivery/local.js';
import type { ChangeEvent } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { RawPop3 } from '../pop3/client.js';
import { PASSWORD, type Pop3Fixture, startPop3, USER } from '../pop3/setup.js';

let fx: Pop3Fixture;
before(async () => {
  fx = await startPop3();
});
after(() => fx.stop());

test('deliver, RETR marks \\Seen, DELE + QUIT expunges at once; another account keeps its copy', async () => {
  const store = fx.ts.server.ctx.store;
  const bobId = await fx.ts.addUser('bob@example.test', 'bob password');
  const raw = Buffer.from(
    'From: carol@example.net\r\nTo: alice@example.test, bob@example.test\r\n' +
      'Subject: cross\r\nMessage-ID: <cross@example.net>\r\n\r\nHi both.\r\n.\r\n',
  );
  const accounts = [(await store.getAccount(USER))!, (await store.getAccountById(bobId))!];
  await deliverLocal(store, { raw, accounts });

  const events: ChangeEvent[] = [];
  const unsubscribe = store.subscribe((e) => events.push(e));
  try {
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.login(USER, PASSWORD), /has 1 messages/);
    assert.equal(await c.cmd('RETR 1'), `+OK ${raw.length} octets`);
    assert.deepEqual(await c.body(), raw);
    // \Seen is committed (and announced) within the batch delay, SEEN_BATCH_MS.
    await eventually(
      () => events.some((e) => e.kind === 'flags' && e.mailboxId === fx.inboxId),
      'the \\Seen flags event',
      5000,
    );
    assert.match(await c.cmd('DELE 1'), /^\+OK/);
    assert.equal(events.filter((e) => e.kind === 'expunge').length, 0, 'nothing before QUIT');
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    // The expunge is committed and announced before the +OK to QUIT goes out.
    const expunge = events.find((e) => e.kind === 'expunge');
    assert.ok(expunge, 'expunge event emitted');
    assert.equal(expunge.mailboxId, fx.inboxId);
    assert.equal(expunge.accountId, fx.accountId);
    await c.closed();
  } finally {
    unsubscribe();
  }
  assert.equal((await store.listMessages(fx.inboxId)).length, 0);
  const bobInbox = await store.getMailbox(bobId, 'INBOX');
  const [bobMsg] = await store.listMessages(bobInbox!.id);
  assert.ok(bobMsg && !bobMsg.flags.includes('\\Seen'));
  assert.deepEqual(await store.readMessage(bobMsg.blobHash), raw);
});
