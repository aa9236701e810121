// The mailbox role (MailboxStore): an account's mailboxes, their names and hierarchy (RFC 9051
// §5.1), UIDVALIDITY, MAILBOXID (RFC 8474), subscriptions (RFC 9051 §6.3.7).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DirectoryStore, MailboxStore } from '../../../src/store/types.js';
import { alice, freshStore, inbox, rejectsWith, type StoreFactory } from './fixture.js';

export function mailboxContract(
  name: string,
  make: StoreFactory<DirectoryStore & MailboxStore>,
): void {
  describe(`mailbox contract: ${name}`, () => {
    const store = freshStore(make);

    test('a new account has INBOX and the special-use mailboxes, all subscribed', async () => {
      const s = store();
      const a = await alice(s);
      const names = (await s.listMailboxes(a.id)).map((m) => [m.name, m.specialUse]);
      assert.deepEqual(names[0], ['INBOX', null], 'INBOX first');
      assert.deepEqual(
        new Map(names as [string, string | null][]),
        new Map([
          ['INBOX', null],
          ['Drafts', '\\Drafts'],
          ['Sent', '\\Sent'],
          ['Trash', '\\Trash'],
          ['Junk', '\\Junk'],
          ['Archive', '\\Archive'],
        ]),
      );
      assert.deepEqual((await s.listSubscriptions(a.id)).sort(), [
        'Archive',
        'Drafts',
        'INBOX',
        'Junk',
        'Sent',
        'Trash',
      ]);
      const mb = await inbox(s, a.id);
      assert.equal(mb.accountId, a.id);
      assert.equal(mb.subscribed, true);
      assert.equal((await s.getMailboxById(mb.id))?.name, 'INBOX');
      assert.deepEqual(await s.mailboxStatus(mb.id), {
        messages: 0,
        recent: 0,
        unseen: 0,
        deleted: 0,
        size: 0,
        uidNext: 1,
        uidValidity: mb.uidValidity,
        highestModseq: mb.highestModseq,
      });
    });

    test('mailboxes: create, names, rename with inferiors, delete, subscriptions', async () => {
      const s = store();
      const a = await alice(s);
      const work = await s.createMailbox(a.id, 'Work');
      const sub = await s.createMailbox(a.id, 'Work/2026');
      await rejectsWith(s.createMailbox(a.id, 'Work'), 'EXISTS');
      for (const bad of ['', 'a//b', '../x', 'a/../b', 'x\u0001y', 'a*b', '%']) {
        await rejectsWith(s.createMailbox(a.id, bad), 'INVALID');
      }
      await rejectsWith(s.createMailbox(a.id, 'x'.repeat(600)), 'LIMIT');
      await rejectsWith(s.createMailbox(a.id, Array(20).fill('d').join('/')), 'LIMIT');
      assert.ok(work.uidValidity > 0);
      assert.notEqual(work.uidValidity, sub.uidValidity);
      assert.equal(work.uidNext, 1);

      await s.renameMailbox(work.id, 'Jobs');
      assert.equal((await s.getMailboxById(sub.id))?.name, 'Jobs/2026');
      assert.equal((await s.getMailboxById(work.id))?.uidValidity, work.uidValidity);
      assert.equal(await s.getMailbox(a.id, 'Work'), null);
      const inbox1 = await inbox(s, a.id);
      await rejectsWith(s.renameMailbox(inbox1.id, 'Old'), 'NOT_ALLOWED');
      await rejectsWith(s.renameMailbox(work.id, 'Jobs/2026/x'), 'INVALID');
      await rejectsWith(s.deleteMailbox(inbox1.id), 'NOT_ALLOWED');

      await s.setSubscribed(a.id, 'Does/Not/Exist', true);
      assert.ok((await s.listSubscriptions(a.id)).includes('Does/Not/Exist'));
      await s.setSubscribed(a.id, 'Does/Not/Exist', false);
      assert.ok(!(await s.listSubscriptions(a.id)).includes('Does/Not/Exist'));

      await s.deleteMailbox(work.id);
      assert.equal(await s.getMailboxById(work.id), null);
      // A re-created mailbox never reuses a UIDVALIDITY (RFC 9051 §2.3.1.1).
      const again = await s.createMailbox(a.id, 'Jobs');
      assert.notEqual(again.uidValidity, work.uidValidity);
    });

    test('MAILBOXID (RFC 8474): kept across RENAME, never given to another mailbox', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const other = await s.createMailbox(a.id, 'Other');
      assert.match(other.objectId, /^[A-Za-z0-9_-]{1,255}$/);
      assert.notEqual(other.objectId, mb.objectId);
      await s.renameMailbox(other.id, 'Renamed');
      assert.equal((await s.getMailbox(a.id, 'Renamed'))!.objectId, other.objectId);
      await s.deleteMailbox(other.id);
      const again = await s.createMailbox(a.id, 'Other');
      assert.notEqual(again.objectId, other.objectId);
    });

    test('rename a subscribed mailbox onto a subscribed name: one subscription', async () => {
      // A subscription may name a mailbox that does not exist (RFC 9051 §6.3.7); found by the
      // session fuzz as a UNIQUE constraint error.
      const s = store();
      const a = await alice(s);
      const x = await s.createMailbox(a.id, 'x');
      await s.setSubscribed(a.id, 'x', true);
      await s.setSubscribed(a.id, 'y', true);
      await s.renameMailbox(x.id, 'y');
      assert.deepEqual(
        (await s.listSubscriptions(a.id)).filter((n) => n === 'x' || n === 'y'),
        ['y'],
      );
      assert.equal((await s.getMailbox(a.id, 'y'))?.subscribed, true);
    });
  });
}
