// A delivery's write of its account's row on the SQLite store (issue 19, fifteenth session):
// one statement adds the message's size, takes the next MODSEQ and returns what the quota
// check needs, where a delivery read the quota and then updated the row twice. The quota
// still counts every target of one append together, and an append over it stores nothing.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { newMessage } from '../helpers/messages.js';
import { statementsDuring } from '../helpers/sqlite-statements.js';
import { openAliceStore } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const dir = tempDirEachTest('lb-append-account-');

test("an append writes its account's row with one statement", async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    await store.append(newMessage('first'), [{ mailboxId: inbox }]);
    const m = newMessage('second');
    const run = await statementsDuring(() => store.append(m, [{ mailboxId: inbox }]));
    const onAccounts = run.sql.filter((s) => /\baccounts\b/.test(s));
    assert.equal(onAccounts.length, 1, onAccounts.join('\n'));
    const [r] = run.value;
    const account = (await store.getAccount('alice@example.test'))!;
    assert.equal(account.usedBytes, newMessage('first').raw.length + m.raw.length);
    // The MODSEQ taken is the mailbox's and the account's highest.
    assert.equal(r!.modseq, (await store.getMailboxById(inbox))!.highestModseq);
  } finally {
    await store.close();
  }
});

test('the quota counts all targets of one append, and an append over it stores nothing', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    const account = (await store.getAccount('alice@example.test'))!;
    const other = (await store.createMailbox(account.id, 'Other')).id;
    const m = newMessage('q', 'x'.repeat(300));
    // Room for exactly two copies: one append into both mailboxes fits, a third copy not.
    await store.setQuota('alice@example.test', m.raw.length * 2);
    await store.append(m, [{ mailboxId: inbox }, { mailboxId: other }]);
    assert.equal((await store.getAccount('alice@example.test'))!.usedBytes, m.raw.length * 2);
    await store.setQuota('alice@example.test', m.raw.length * 3);
    const before = (await store.getMailboxById(inbox))!;
    // Each copy alone fits, both together do not.
    await assert.rejects(
      store.append(newMessage('r', 'y'.repeat(300)), [{ mailboxId: inbox }, { mailboxId: other }]),
      { code: 'OVERQUOTA' },
    );
    const after = (await store.getAccount('alice@example.test'))!;
    assert.equal(after.usedBytes, m.raw.length * 2);
    const box = (await store.getMailboxById(inbox))!;
    assert.equal(box.uidNext, before.uidNext);
    assert.equal(box.highestModseq, before.highestModseq);
    assert.equal((await store.listMessages(other)).length, 1);
  } finally {
    await store.close();
  }
});
