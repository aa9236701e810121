// The MailStore contract: written once, run against every implementation (SQLite now,
// PostgreSQL later). Each test gets a fresh, empty store from the factory.
import assert from 'node:assert/strict';
import { afterEach, beforeEach, describe, test } from 'node:test';
import { isStoreError } from '../../src/store/errors.js';
import { type ChangeEvent, type MailStore, METADATA_LIMITS } from '../../src/store/types.js';
import { newMessage, simpleEnvelope } from '../helpers/messages.js';

export interface StoreFixture {
  store: MailStore;
  cleanup(): Promise<void>;
}

async function rejectsWith(p: Promise<unknown>, code: string): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(isStoreError(e), `expected StoreError, got ${String(e)}`);
    assert.equal(e.code, code);
    return true;
  });
}

export function storeContract(name: string, make: () => Promise<StoreFixture>): void {
  describe(`MailStore contract: ${name}`, () => {
    let fx: StoreFixture;
    let store: MailStore;
    beforeEach(async () => {
      fx = await make();
      store = fx.store;
    });
    afterEach(async () => {
      await fx.cleanup();
    });

    async function alice() {
      await store.addDomain('example.test');
      return store.createAccount({ address: 'Alice@Example.TEST', passwordHash: 'h' });
    }
    async function inbox(accountId: number) {
      const mb = await store.getMailbox(accountId, 'inbox');
      assert.ok(mb);
      return mb;
    }

    test('summary keywords: every keyword messages have or had, case-insensitively once', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const [r1] = await store.append(newMessage('k1'), [{ mailboxId: mb.id, flags: ['$Work'] }]);
      const [r2] = await store.append(newMessage('k2'), [{ mailboxId: mb.id }]);
      assert.deepEqual((await store.mailboxSummary(mb.id)).keywords, ['$Work']);
      await store.setFlags(mb.id, [r2!.uid], 'add', ['Later', '\\Seen', '$work']);
      assert.deepEqual([...(await store.mailboxSummary(mb.id)).keywords].sort(), [
        '$Work',
        'Later',
      ]);
      // Gone from every message: still listed.
      await store.setFlags(mb.id, [r1!.uid, r2!.uid], 'replace', []);
      assert.deepEqual([...(await store.mailboxSummary(mb.id)).keywords].sort(), [
        '$Work',
        'Later',
      ]);
      await store.expunge(mb.id, { uids: [r1!.uid, r2!.uid], onlyDeleted: false });
      assert.deepEqual([...(await store.mailboxSummary(mb.id)).keywords].sort(), [
        '$Work',
        'Later',
      ]);
      // A copy brings its keywords into the destination.
      const [r3] = await store.append(newMessage('k3'), [{ mailboxId: mb.id, flags: ['Copied'] }]);
      const other = await store.createMailbox(a.id, 'Other');
      assert.deepEqual((await store.mailboxSummary(other.id)).keywords, []);
      await store.copyMessages(mb.id, [r3!.uid], other.id);
      await store.setFlags(other.id, [1], 'remove', ['Copied']);
      assert.deepEqual((await store.mailboxSummary(other.id)).keywords, ['Copied']);
    });

    test('claimRecent: one claimant per UID, a peek claims nothing, STATUS counts the rest', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      for (const s of ['r1', 'r2', 'r3']) await store.append(newMessage(s), [{ mailboxId: mb.id }]);
      // EXAMINE-like peek: recent from UID 1, nothing moves.
      assert.equal(await store.claimRecent(mb.id, 3, false), 1);
      assert.equal((await store.mailboxStatus(mb.id)).recent, 3);
      // The first claimant gets 1..2; the next one nothing of those, then 3.
      assert.equal(await store.claimRecent(mb.id, 2, true), 1);
      assert.equal((await store.mailboxStatus(mb.id)).recent, 1);
      assert.equal(await store.claimRecent(mb.id, 2, true), 3);
      assert.equal(await store.claimRecent(mb.id, 3, true), 3);
      assert.equal(await store.claimRecent(mb.id, 3, true), 4);
      assert.equal((await store.mailboxStatus(mb.id)).recent, 0);
      // New mail, and mail copied in, is recent again.
      await store.append(newMessage('r4'), [{ mailboxId: mb.id }]);
      const other = await store.createMailbox(a.id, 'Other');
      await store.copyMessages(mb.id, [1], other.id);
      assert.equal((await store.mailboxStatus(mb.id)).recent, 1);
      assert.equal((await store.mailboxStatus(other.id)).recent, 1);
      assert.equal(await store.claimRecent(other.id, 1, true), 1);
    });

    test('domains: add, list, duplicate, invalid, remove', async () => {
      await store.addDomain('Example.Test');
      await rejectsWith(store.addDomain('example.test'), 'EXISTS');
      await rejectsWith(store.addDomain('bad domain'), 'INVALID');
      assert.deepEqual(
        (await store.listDomains()).map((d) => d.name),
        ['example.test'],
      );
      assert.equal(await store.isLocalDomain('EXAMPLE.test'), true);
      assert.equal(await store.isLocalDomain('other.test'), false);
      await store.removeDomain('example.test');
      assert.deepEqual(await store.listDomains(), []);
      await rejectsWith(store.removeDomain('example.test'), 'NOT_FOUND');
    });

    test('accounts: created lower-case with the special-use mailboxes', async () => {
      const a = await alice();
      assert.equal(a.address, 'alice@example.test');
      assert.equal(a.usedBytes, 0);
      assert.equal(a.pop3Policy, 'delete');
      const names = (await store.listMailboxes(a.id)).map((m) => [m.name, m.specialUse]);
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
      assert.equal((await store.getAccount('ALICE@example.test'))?.id, a.id);
      assert.deepEqual((await store.listSubscriptions(a.id)).sort(), [
        'Archive',
        'Drafts',
        'INBOX',
        'Junk',
        'Sent',
        'Trash',
      ]);
    });

    test('accounts: domain must exist, no duplicates, domain removal refused while in use', async () => {
      await rejectsWith(
        store.createAccount({ address: 'x@nowhere.test', passwordHash: 'h' }),
        'NOT_FOUND',
      );
      await alice();
      await rejectsWith(
        store.createAccount({ address: 'alice@example.test', passwordHash: 'h' }),
        'EXISTS',
      );
      await rejectsWith(
        store.createAccount({ address: 'not-an-address', passwordHash: 'h' }),
        'INVALID',
      );
      await rejectsWith(store.removeDomain('example.test'), 'IN_USE');
      await store.removeDomain('example.test', { force: true });
      assert.equal(await store.getAccount('alice@example.test'), null);
    });

    test('accounts: password, quota, pop3 policy, remove', async () => {
      await alice();
      await store.setPassword('alice@example.test', 'h2');
      await store.setQuota('alice@example.test', 1000);
      await store.setPop3Policy('alice@example.test', 'keep');
      const a = await store.getAccount('alice@example.test');
      assert.equal(a?.passwordHash, 'h2');
      assert.equal(a?.quotaBytes, 1000);
      assert.equal(a?.pop3Policy, 'keep');
      await rejectsWith(store.setQuota('alice@example.test', -1), 'INVALID');
      await rejectsWith(store.setPassword('bob@example.test', 'x'), 'NOT_FOUND');
      await store.removeAccount('alice@example.test');
      assert.equal(await store.getAccount('alice@example.test'), null);
      assert.deepEqual(await store.listAccounts(), []);
    });

    test('accounts: disable, enable, unlock time', async () => {
      const a = await alice();
      assert.equal(a.disabled, false);
      assert.equal(a.unlockedAt, null);
      await store.setDisabled('ALICE@example.test', true);
      assert.equal((await store.getAccount('alice@example.test'))?.disabled, true);
      await store.setDisabled('alice@example.test', false);
      assert.equal((await store.getAccount('alice@example.test'))?.disabled, false);
      const before = Date.now();
      await store.unlockAccount('alice@example.test');
      const at = (await store.getAccountById(a.id))?.unlockedAt;
      assert.ok(at instanceof Date && at.getTime() >= before && at.getTime() <= Date.now());
      await rejectsWith(store.setDisabled('nobody@example.test', true), 'NOT_FOUND');
      await rejectsWith(store.unlockAccount('nobody@example.test'), 'NOT_FOUND');
    });

    test('app passwords: add, unique names and ids, list without hashes, remove, dropped with the account', async () => {
      const a = await alice();
      const p = await store.addAppPassword('alice@example.test', {
        id: 'abcdefgh',
        name: ' phone ',
        hash: '$sha256$x',
      });
      assert.equal(p.name, 'phone');
      assert.equal(p.lastUsedAt, null);
      await rejectsWith(
        store.addAppPassword('alice@example.test', { id: 'bbbbbbbb', name: 'phone', hash: 'h' }),
        'EXISTS',
      );
      await rejectsWith(
        store.addAppPassword('alice@example.test', { id: 'abcdefgh', name: 'laptop', hash: 'h' }),
        'EXISTS',
      );
      await rejectsWith(
        store.addAppPassword('alice@example.test', { id: 'cccccccc', name: 'a\nb', hash: 'h' }),
        'INVALID',
      );
      await rejectsWith(
        store.addAppPassword('nobody@example.test', { id: 'cccccccc', name: 'x', hash: 'h' }),
        'NOT_FOUND',
      );
      await store.addAppPassword('alice@example.test', {
        id: 'laptop22',
        name: 'laptop',
        hash: 'h2',
      });
      const list = await store.listAppPasswords('alice@example.test');
      assert.deepEqual(
        list.map((x) => x.name),
        ['phone', 'laptop'],
      );
      assert.ok(
        list.every((x) => !('hash' in x)),
        'list never carries the hashes',
      );
      const rec = await store.getAppPassword(a.id, 'abcdefgh');
      assert.equal(rec?.hash, '$sha256$x');
      assert.equal(await store.getAppPassword(a.id, 'zzzzzzzz'), null);
      const used = new Date(Date.now() - 5000);
      await store.touchAppPassword(a.id, 'abcdefgh', used);
      assert.equal(
        (await store.getAppPassword(a.id, 'abcdefgh'))?.lastUsedAt?.getTime(),
        used.getTime(),
      );
      await store.removeAppPassword('alice@example.test', 'phone');
      await rejectsWith(store.removeAppPassword('alice@example.test', 'phone'), 'NOT_FOUND');
      assert.equal(await store.getAppPassword(a.id, 'abcdefgh'), null);
      await store.removeAccount('alice@example.test');
      assert.equal(await store.getAppPassword(a.id, 'laptop22'), null);
    });

    test('aliases: exact, multiple targets, remote, catch-all, loops', async () => {
      const a = await alice();
      const b = await store.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
      await store.addAlias('team@example.test', [
        'alice@example.test',
        'Bob@example.test',
        'x@remote.test',
      ]);
      await store.addAlias('loop1@example.test', ['loop2@example.test']);
      await store.addAlias('loop2@example.test', ['loop1@example.test', 'alice@example.test']);
      await rejectsWith(store.addAlias('alice@example.test', ['bob@example.test']), 'EXISTS');
      await rejectsWith(store.addAlias('z@nowhere.test', ['bob@example.test']), 'NOT_FOUND');

      const team = await store.resolveRecipient('TEAM@example.test');
      assert.deepEqual(team?.accounts.map((x) => x.id).sort(), [a.id, b.id].sort());
      assert.deepEqual(team?.remote, ['x@remote.test']);
      assert.deepEqual(
        (await store.resolveRecipient('alice@example.test'))?.accounts.map((x) => x.id),
        [a.id],
      );
      assert.equal(await store.resolveRecipient('nobody@example.test'), null);
      assert.equal(await store.resolveRecipient('alice@remote.test'), null);
      assert.deepEqual(
        (await store.resolveRecipient('loop1@example.test'))?.accounts.map((x) => x.id),
        [a.id],
      );

      await store.addAlias('@example.test', ['bob@example.test']);
      assert.deepEqual(
        (await store.resolveRecipient('anyone@example.test'))?.accounts.map((x) => x.id),
        [b.id],
      );
      assert.deepEqual(
        (await store.listAliases()).map((x) => x.address),
        ['@example.test', 'loop1@example.test', 'loop2@example.test', 'team@example.test'],
      );
      await store.removeAlias('@example.test');
      assert.equal(await store.resolveRecipient('anyone@example.test'), null);
      await rejectsWith(store.removeAlias('@example.test'), 'NOT_FOUND');
    });

    test('mailboxes: create, names, rename with inferiors, delete, subscriptions', async () => {
      const a = await alice();
      const work = await store.createMailbox(a.id, 'Work');
      const sub = await store.createMailbox(a.id, 'Work/2026');
      await rejectsWith(store.createMailbox(a.id, 'Work'), 'EXISTS');
      for (const bad of ['', 'a//b', '../x', 'a/../b', 'x\u0001y', 'a*b', '%']) {
        await rejectsWith(store.createMailbox(a.id, bad), 'INVALID');
      }
      await rejectsWith(store.createMailbox(a.id, 'x'.repeat(600)), 'LIMIT');
      await rejectsWith(store.createMailbox(a.id, Array(20).fill('d').join('/')), 'LIMIT');
      assert.ok(work.uidValidity > 0);
      assert.notEqual(work.uidValidity, sub.uidValidity);
      assert.equal(work.uidNext, 1);

      await store.renameMailbox(work.id, 'Jobs');
      assert.equal((await store.getMailboxById(sub.id))?.name, 'Jobs/2026');
      assert.equal((await store.getMailboxById(work.id))?.uidValidity, work.uidValidity);
      assert.equal(await store.getMailbox(a.id, 'Work'), null);
      const inbox1 = await inbox(a.id);
      await rejectsWith(store.renameMailbox(inbox1.id, 'Old'), 'NOT_ALLOWED');
      await rejectsWith(store.renameMailbox(work.id, 'Jobs/2026/x'), 'INVALID');
      await rejectsWith(store.deleteMailbox(inbox1.id), 'NOT_ALLOWED');

      await store.setSubscribed(a.id, 'Does/Not/Exist', true);
      assert.ok((await store.listSubscriptions(a.id)).includes('Does/Not/Exist'));
      await store.setSubscribed(a.id, 'Does/Not/Exist', false);
      assert.ok(!(await store.listSubscriptions(a.id)).includes('Does/Not/Exist'));

      await store.deleteMailbox(work.id);
      assert.equal(await store.getMailboxById(work.id), null);
      // A re-created mailbox never reuses a UIDVALIDITY (RFC 9051 §2.3.1.1).
      const again = await store.createMailbox(a.id, 'Jobs');
      assert.notEqual(again.uidValidity, work.uidValidity);
    });

    test('append: UIDs ascend, modseq grows, bytes round-trip, identical bytes stored once', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const m1 = newMessage('one');
      const [r1] = await store.append(m1, [
        { mailboxId: mb.id, flags: ['\\seen', 'Work', '\\Recent'] },
      ]);
      const [r2] = await store.append(newMessage('two'), [{ mailboxId: mb.id }]);
      const [r3] = await store.append(newMessage('one'), [{ mailboxId: mb.id }]);
      assert.deepEqual([r1!.uid, r2!.uid, r3!.uid], [1, 2, 3]);
      assert.ok(r1!.modseq < r2!.modseq && r2!.modseq < r3!.modseq);
      assert.equal(r1!.uidValidity, mb.uidValidity);
      const list = await store.listMessages(mb.id);
      assert.deepEqual(
        list.map((m) => m.uid),
        [1, 2, 3],
      );
      assert.deepEqual(list[0]!.flags, ['\\Seen', 'Work']);
      assert.equal(list[0]!.messageId, list[2]!.messageId);
      assert.deepEqual(await store.readMessage(list[1]!.blobHash), newMessage('two').raw);
      const [detail] = await store.getMessages(mb.id, [1]);
      assert.deepEqual(detail!.index.envelope, simpleEnvelope('one'));
      assert.equal(detail!.index.search.references, undefined);
      const recs = await store.getRecords(mb.id, [3, 1, 99]);
      assert.deepEqual(
        recs.map((r) => [r.uid, r.flags]),
        [
          [1, ['\\Seen', 'Work']],
          [3, []],
        ],
      );
      assert.equal(recs[0]!.blobHash, list[0]!.blobHash);
      assert.equal(detail!.index.search.subject, 'one');
      const st = await store.mailboxStatus(mb.id);
      assert.equal(st.messages, 3);
      assert.equal(st.unseen, 2);
      assert.equal(st.uidNext, 4);
      assert.equal(st.size, m1.raw.length * 2 + newMessage('two').raw.length);
      assert.equal(st.highestModseq, r3!.modseq);
      // Nothing claimed yet: every message is recent (RFC 3501 §2.3.2).
      assert.equal(st.recent, 3);
      assert.equal((await store.getAccount('alice@example.test'))?.usedBytes, st.size);
      const withRefs = newMessage('refs');
      withRefs.index.search.references = ['<a@x>', '<b@x>'];
      const [rr] = await store.append(withRefs, [{ mailboxId: mb.id }]);
      const [d2] = await store.getMessages(mb.id, [rr!.uid]);
      assert.deepEqual(d2!.index.search.references, ['<a@x>', '<b@x>']);
    });

    test('append: many concurrent appends all commit with distinct UIDs', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) =>
          store.append(newMessage(`m${i}`), [{ mailboxId: mb.id }]),
        ),
      );
      const uids = results.map((r) => r[0]!.uid).sort((x, y) => x - y);
      assert.deepEqual(
        uids,
        Array.from({ length: 60 }, (_, i) => i + 1),
      );
    });

    test('append: one message into several mailboxes of several accounts', async () => {
      const a = await alice();
      const b = await store.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
      const res = await store.append(newMessage('multi'), [
        { mailboxId: (await inbox(a.id)).id },
        { mailboxId: (await inbox(b.id)).id, flags: ['\\Flagged'] },
      ]);
      assert.equal(res.length, 2);
      assert.deepEqual((await store.listMessages((await inbox(b.id)).id))[0]!.flags, ['\\Flagged']);
    });

    test('quota: an append over quota stores nothing; others in the batch commit', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const m = newMessage('q');
      await store.setQuota('alice@example.test', m.raw.length * 2);
      await store.append(m, [{ mailboxId: mb.id }]);
      const outcomes = await Promise.allSettled([
        store.append(newMessage('q'), [{ mailboxId: mb.id }]),
        store.append(newMessage('big', 'x'.repeat(5000)), [{ mailboxId: mb.id }]),
      ]);
      assert.equal(outcomes[0].status, 'fulfilled');
      assert.equal(outcomes[1].status, 'rejected');
      assert.ok(isStoreError((outcomes[1] as PromiseRejectedResult).reason, 'OVERQUOTA'));
      assert.equal((await store.listMessages(mb.id)).length, 2);
      await rejectsWith(
        store.copyMessages(mb.id, [1], (await store.getMailbox(a.id, 'Archive'))!.id),
        'OVERQUOTA',
      );
    });

    test('append with replace: one transaction expunges the old message (RFC 8508)', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const drafts = (await store.getMailbox(a.id, 'Drafts'))!;
      const old = newMessage('old', 'x'.repeat(400));
      await store.append(old, [{ mailboxId: mb.id }]);
      await store.append(newMessage('keep'), [{ mailboxId: mb.id }]);
      const events: ChangeEvent[] = [];
      const off = store.subscribe((e) => events.push(e));
      // Into another mailbox: the new row there, the old one gone and recorded as expunged.
      const [r] = await store.append(newMessage('new'), [{ mailboxId: drafts.id }], {
        replace: { mailboxId: mb.id, uid: 1 },
      });
      off();
      assert.deepEqual(
        (await store.listMessages(mb.id)).map((m) => m.uid),
        [2],
      );
      assert.deepEqual(
        (await store.listMessages(drafts.id)).map((m) => m.uid),
        [r!.uid],
      );
      assert.deepEqual(await store.expungedSince(mb.id, 0), [1]);
      assert.deepEqual(
        events.map((e) => [e.kind, e.mailboxId, e.uids]),
        [
          ['append', drafts.id, [r!.uid]],
          ['expunge', mb.id, [1]],
        ],
      );
      // The message to replace is gone: nothing is stored.
      await rejectsWith(
        store.append(newMessage('again'), [{ mailboxId: drafts.id }], {
          replace: { mailboxId: mb.id, uid: 1 },
        }),
        'NOT_FOUND',
      );
      assert.equal((await store.listMessages(drafts.id)).length, 1);
      // Quota: the replaced message's bytes are freed before the check; over it, nothing changes.
      const used = (await store.getAccount('alice@example.test'))!.usedBytes;
      await store.setQuota('alice@example.test', used + 10);
      const twoUid = (await store.listMessages(mb.id))[0]!.uid;
      const bigger = newMessage('bigger', 'y'.repeat(200));
      await rejectsWith(
        store.append(bigger, [{ mailboxId: mb.id }], {
          replace: { mailboxId: mb.id, uid: twoUid },
        }),
        'OVERQUOTA',
      );
      assert.deepEqual(
        (await store.listMessages(mb.id)).map((m) => m.uid),
        [twoUid],
      );
      const [same] = await store.append(newMessage('keep'), [{ mailboxId: mb.id }], {
        replace: { mailboxId: mb.id, uid: twoUid },
      });
      assert.deepEqual(
        (await store.listMessages(mb.id)).map((m) => m.uid),
        [same!.uid],
      );
      assert.equal((await store.getAccount('alice@example.test'))!.usedBytes, used);
    });

    test('metadata: server and mailbox entries, depth, all-or-nothing limits, mailbox lifetime', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const v = (s: string) => Buffer.from(s);
      assert.deepEqual(
        await store.setMetadata(a.id, null, [{ name: '/private/comment', value: v('server') }]),
        { ok: true },
      );
      assert.deepEqual(
        await store.setMetadata(a.id, mb.id, [
          { name: '/private/a', value: v('1') },
          { name: '/private/a/b', value: v('2') },
          { name: '/private/a/b/c', value: v('3') },
          { name: '/private/ab', value: v('sibling') },
          { name: '/private/gone', value: v('x') },
          { name: '/private/gone', value: null },
        ]),
        { ok: true },
      );
      const names = async (depth: 0 | 1 | 'infinity') =>
        (await store.getMetadata(a.id, mb.id, ['/private/a'], depth)).map((e) => e.name);
      assert.deepEqual(await names(0), ['/private/a']);
      assert.deepEqual(await names(1), ['/private/a', '/private/a/b']);
      assert.deepEqual(await names('infinity'), ['/private/a', '/private/a/b', '/private/a/b/c']);
      assert.deepEqual(await store.getMetadata(a.id, mb.id, ['/private/gone'], 0), []);
      assert.deepEqual(await store.getMetadata(a.id, null, ['/private/comment'], 0), [
        { name: '/private/comment', value: v('server') },
      ]);
      assert.deepEqual(await store.getMetadata(a.id, mb.id, ['/private/comment'], 0), []);
      // Over a limit: refused whole, nothing changed.
      const big = Buffer.alloc(METADATA_LIMITS.maxValueSize + 1);
      assert.deepEqual(
        await store.setMetadata(a.id, mb.id, [
          { name: '/private/a', value: v('changed') },
          { name: '/private/big', value: big },
        ]),
        { ok: false, reason: 'maxsize', max: METADATA_LIMITS.maxValueSize },
      );
      const many = Array.from({ length: METADATA_LIMITS.maxEntries }, (_, i) => ({
        name: `/shared/n${i}`,
        value: v('n'),
      }));
      assert.deepEqual(await store.setMetadata(a.id, mb.id, many), {
        ok: false,
        reason: 'toomany',
      });
      assert.deepEqual(await store.getMetadata(a.id, mb.id, ['/private/a', '/shared/n0'], 0), [
        { name: '/private/a', value: v('1') },
      ]);
      // A renamed mailbox keeps its entries; a deleted one takes them along.
      const box = await store.createMailbox(a.id, 'Notes');
      await store.setMetadata(a.id, box.id, [{ name: '/shared/comment', value: v('c') }]);
      await store.renameMailbox(box.id, 'Renamed');
      assert.equal((await store.getMetadata(a.id, box.id, ['/shared/comment'], 0)).length, 1);
      await store.deleteMailbox(box.id);
      const again = await store.createMailbox(a.id, 'Renamed');
      assert.deepEqual(await store.getMetadata(a.id, again.id, ['/shared/comment'], 0), []);
      // The special-use attribute (RFC 6154 §4 /private/specialuse) is the mailbox's own.
      const events: ChangeEvent[] = [];
      const off = store.subscribe((e) => events.push(e));
      await store.setSpecialUse(again.id, '\\Archive');
      assert.equal((await store.getMailboxById(again.id))?.specialUse, '\\Archive');
      await store.setSpecialUse(again.id, null);
      off();
      assert.equal((await store.getMailboxById(again.id))?.specialUse, null);
      assert.deepEqual(
        events.map((e) => [e.kind, e.mailboxId, e.entries]),
        [
          ['metadata', again.id, ['/private/specialuse']],
          ['metadata', again.id, ['/private/specialuse']],
        ],
      );
    });

    test('flags: add, remove, replace, unchanged skips modseq, UNCHANGEDSINCE', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      await store.append(newMessage('1'), [{ mailboxId: mb.id }]);
      await store.append(newMessage('2'), [{ mailboxId: mb.id }]);
      const add = await store.setFlags(mb.id, [1, 2, 99], 'add', ['\\Seen', '$Label1']);
      assert.equal(add.updated.length, 2);
      assert.deepEqual(add.updated[0]!.flags, ['\\Seen', '$Label1']);
      const ms = add.updated[0]!.modseq;
      const same = await store.setFlags(mb.id, [1], 'add', ['\\SEEN']);
      assert.equal(same.updated.length, 0);
      const rm = await store.setFlags(mb.id, [1], 'remove', ['$label1']);
      assert.deepEqual(rm.updated[0]!.flags, ['\\Seen']);
      assert.ok(rm.updated[0]!.modseq > ms);
      const cond = await store.setFlags(mb.id, [1, 2], 'replace', ['\\Flagged'], {
        unchangedSince: ms,
      });
      assert.deepEqual(cond.modified, [1]);
      assert.deepEqual(
        cond.updated.map((u) => u.uid),
        [2],
      );
      const changed = await store.listMessages(mb.id, { changedSince: ms });
      assert.deepEqual(
        changed.map((m) => m.uid),
        [1, 2],
      );
      assert.equal((await store.mailboxStatus(mb.id)).highestModseq, cond.updated[0]!.modseq);
    });

    test('copy and move: new UIDs in the target, COPYUID mapping, move expunges the source', async () => {
      const a = await alice();
      const src = await inbox(a.id);
      const dst = (await store.getMailbox(a.id, 'Archive'))!;
      for (const s of ['1', '2', '3'])
        await store.append(newMessage(s), [{ mailboxId: src.id, flags: ['\\Seen'] }]);
      const c = await store.copyMessages(src.id, [3, 1, 42], dst.id);
      assert.deepEqual(c.mapping, [
        [1, 1],
        [3, 2],
      ]);
      assert.equal(c.uidValidity, dst.uidValidity);
      assert.deepEqual((await store.listMessages(dst.id))[0]!.flags, ['\\Seen']);
      const mv = await store.moveMessages(src.id, [2], dst.id);
      assert.deepEqual(mv.mapping, [[2, 3]]);
      assert.deepEqual(
        (await store.listMessages(src.id)).map((m) => m.uid),
        [1, 3],
      );
      assert.deepEqual(await store.expungedSince(src.id, 0), [2]);
      const empty = await store.copyMessages(src.id, [77], dst.id);
      assert.deepEqual(empty.mapping, []);
    });

    test('expunge: only \\Deleted, by UID, records VANISHED, UIDs never reused', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      for (const s of ['1', '2', '3', '4'])
        await store.append(newMessage(s), [{ mailboxId: mb.id }]);
      await store.setFlags(mb.id, [2, 3], 'add', ['\\Deleted']);
      const before = (await store.mailboxStatus(mb.id)).highestModseq;
      assert.deepEqual(await store.expunge(mb.id, { uids: [3, 4], onlyDeleted: true }), [3]);
      assert.deepEqual(await store.expunge(mb.id, { onlyDeleted: true }), [2]);
      assert.deepEqual(await store.expunge(mb.id, { uids: [1], onlyDeleted: false }), [1]);
      assert.deepEqual(await store.expungedSince(mb.id, before), [1, 2, 3]);
      assert.deepEqual(await store.expunge(mb.id, { onlyDeleted: true }), []);
      const [r] = await store.append(newMessage('5'), [{ mailboxId: mb.id }]);
      assert.equal(r!.uid, 5);
      const st = await store.mailboxStatus(mb.id);
      assert.equal(st.messages, 2);
      assert.equal((await store.getAccount('alice@example.test'))?.usedBytes, st.size);
    });

    test('blobs: the last reference going away frees the bytes; shared copies stay', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const arch = (await store.getMailbox(a.id, 'Archive'))!;
      await store.append(newMessage('shared'), [{ mailboxId: mb.id }]);
      await store.copyMessages(mb.id, [1], arch.id);
      const hash = (await store.listMessages(mb.id))[0]!.blobHash;
      await store.expunge(mb.id, { onlyDeleted: false });
      assert.deepEqual(await store.readMessage(hash), newMessage('shared').raw);
      await store.deleteMailbox(arch.id);
      // Unlinking happens after commit; give it a moment.
      await new Promise((r) => setTimeout(r, 50));
      await assert.rejects(store.readMessage(hash));
      assert.equal((await store.getAccount('alice@example.test'))?.usedBytes, 0);
    });

    test('events: emitted after commit for append, flags, expunge, mailbox changes', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const events: ChangeEvent[] = [];
      const off = store.subscribe((e) => events.push(e));
      store.subscribe(() => {
        throw new Error('a broken listener must not break the store');
      });
      const [r] = await store.append(newMessage('e'), [{ mailboxId: mb.id }]);
      await store.setFlags(mb.id, [r!.uid], 'add', ['\\Seen']);
      await store.expunge(mb.id, { uids: [r!.uid], onlyDeleted: false });
      const created = await store.createMailbox(a.id, 'New');
      await store.renameMailbox(created.id, 'Newer');
      await store.deleteMailbox(created.id);
      off();
      await store.append(newMessage('after'), [{ mailboxId: mb.id }]);
      assert.deepEqual(
        events.map((e) => [e.kind, e.mailboxId, e.uids]),
        [
          ['append', mb.id, [1]],
          ['flags', mb.id, [1]],
          ['expunge', mb.id, [1]],
          ['mailbox-create', created.id, []],
          ['mailbox-rename', created.id, []],
          ['mailbox-delete', created.id, []],
        ],
      );
      assert.ok(events.every((e) => e.accountId === a.id));
      assert.ok(events[0]!.modseq < events[1]!.modseq && events[1]!.modseq < events[2]!.modseq);
    });

    test('outbound queue: durable with DSN parameters; its blob survives an expunge', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const m = newMessage('out');
      await store.append(m, [{ mailboxId: mb.id }]);
      const id = await store.enqueueOutbound({
        sender: 'alice@example.test',
        recipients: [
          { address: 'x@remote.test', notify: ['FAILURE', 'DELAY'], orcpt: 'rfc822;X@remote.test' },
          { address: 'y@remote.test' },
        ],
        raw: m.raw,
        envid: 'QQ314159',
        ret: 'HDRS',
        accountId: a.id,
      });
      await store.expunge(mb.id, { onlyDeleted: false });
      await new Promise((r) => setTimeout(r, 50));
      const [item] = await store.listOutbound();
      assert.equal(item!.id, id);
      assert.equal(item!.envid, 'QQ314159');
      assert.equal(item!.ret, 'HDRS');
      assert.deepEqual(
        item!.recipients.map((r) => [r.address, r.notify, r.orcpt, r.state]),
        [
          ['x@remote.test', ['FAILURE', 'DELAY'], 'rfc822;X@remote.test', 'pending'],
          ['y@remote.test', undefined, undefined, 'pending'],
        ],
      );
      assert.deepEqual(await store.readMessage(item!.blobHash), m.raw);
    });

    test('getSearchField: one stored header field by UID, for sparse and dense sets', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      for (let i = 0; i < 150; i++) {
        await store.append(newMessage(`subject ${i}`), [{ mailboxId: mb.id }]);
      }
      const all = (await store.listMessages(mb.id)).map((r) => r.uid);
      const dense = await store.getSearchField(mb.id, 'subject', all.slice(10, 140));
      assert.equal(dense.size, 130);
      assert.equal(dense.get(all[10]!), 'subject 10');
      assert.equal(dense.has(all[9]!), false);
      const sparse = await store.getSearchField(mb.id, 'subject', [all[0]!, all[149]!, 9999]);
      assert.deepEqual(
        [...sparse.entries()],
        [
          [all[0]!, 'subject 0'],
          [all[149]!, 'subject 149'],
        ],
      );
      const details = await store.getMessages(mb.id, [all[3]!]);
      const from = await store.getSearchField(mb.id, 'from', [all[3]!]);
      assert.equal(from.get(all[3]!), details[0]!.index.search.from);
    });

    test('full-text search: case-insensitive substrings, short needles, unicode', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const msg = (subject: string, text: string) => ({
        ...newMessage(subject, text),
        index: { ...newMessage(subject, text).index, text },
      });
      await store.append(msg('1', 'The Quick brown fox'), [{ mailboxId: mb.id }]);
      await store.append(msg('2', 'Grüße aus München, 100% sicher'), [{ mailboxId: mb.id }]);
      await store.append(msg('3', 'nothing here'), [{ mailboxId: mb.id }]);
      assert.deepEqual(await store.searchText(mb.id, 'quick BROWN'), [1]);
      assert.deepEqual(await store.searchText(mb.id, 'MÜNCHEN'), [2]);
      assert.deepEqual(await store.searchText(mb.id, 'ow'), [1]);
      assert.deepEqual(await store.searchText(mb.id, '0%'), [2]);
      assert.deepEqual(await store.searchText(mb.id, 'e'), [1, 2, 3]);
      assert.deepEqual(await store.searchText(mb.id, 'absent words'), []);
      assert.deepEqual(await store.searchText(mb.id, 'say "hi"'), []);
    });

    test('object ids (RFC 8474), save dates (RFC 8514), preview cache (RFC 8970)', async () => {
      const a = await alice();
      const mb = await inbox(a.id);
      const other = await store.createMailbox(a.id, 'Other');
      assert.match(other.objectId, /^[A-Za-z0-9_-]{1,255}$/);
      assert.notEqual(other.objectId, mb.objectId);
      await store.renameMailbox(other.id, 'Renamed');
      assert.equal((await store.getMailbox(a.id, 'Renamed'))!.objectId, other.objectId);
      const old = new Date('2001-01-01T00:00:00Z');
      const [r] = await store.append({ ...newMessage('x'), internalDate: old }, [
        { mailboxId: mb.id },
      ]);
      const copy = await store.copyMessages(mb.id, [r!.uid], other.id);
      const here = (await store.getMessageExtras(mb.id, [r!.uid])).get(r!.uid)!;
      const there = (await store.getMessageExtras(other.id, [copy.mapping[0]![1]])).get(
        copy.mapping[0]![1],
      )!;
      assert.match(here.emailId, /^[A-Za-z0-9_-]{1,255}$/);
      assert.equal(there.emailId, here.emailId);
      assert.equal(there.threadId, here.threadId);
      assert.ok(here.saveDate.getTime() > old.getTime());
      assert.ok(there.saveDate.getTime() >= here.saveDate.getTime());
      assert.equal(here.preview, null);
      await store.setPreview((await store.getRecords(mb.id, [r!.uid]))[0]!.messageId, 'Hello.');
      assert.equal(
        (await store.getMessageExtras(other.id, [copy.mapping[0]![1]])).get(copy.mapping[0]![1])!
          .preview,
        'Hello.',
      );
      assert.equal((await store.getMessageExtras(mb.id, [999])).size, 0);
    });
  });
}
