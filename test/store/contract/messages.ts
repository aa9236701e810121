// The message role (MessageStore): messages in mailboxes with UIDs that ascend and are never
// reused (RFC 9051 §2.3.1.1), modseqs (RFC 7162), flags, COPY / MOVE (RFC 4315, RFC 6851),
// EXPUNGE and VANISHED, quota, REPLACE (RFC 8508), the stored index, search, object ids.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { indexMessage } from '../../../src/delivery/local.js';
import { isStoreError } from '../../../src/store/errors.js';
import type { ChangeEvent, ExpectedMailbox, Mailbox } from '../../../src/store/types.js';
import { newMessage, quotedPrintableMessage, simpleEnvelope } from '../../helpers/messages.js';
import {
  alice,
  freshStore,
  inbox,
  type MessageRoles,
  rejectsWith,
  type StoreFactory,
} from './fixture.js';

/** A message whose indexed text is `text` as given (newMessage's index keeps a body's own). */
function textMessage(subject: string, text: string): ReturnType<typeof newMessage> {
  const m = newMessage(subject, text);
  return { ...m, index: { ...m.index, text } };
}

export function messageContract(name: string, make: StoreFactory<MessageRoles>): void {
  describe(`message contract: ${name}`, () => {
    const store = freshStore(make);

    test('summary keywords: every keyword messages have or had, case-insensitively once', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const [r1] = await s.append(newMessage('k1'), [{ mailboxId: mb.id, flags: ['$Work'] }]);
      const [r2] = await s.append(newMessage('k2'), [{ mailboxId: mb.id }]);
      assert.deepEqual((await s.mailboxSummary(mb.id)).keywords, ['$Work']);
      await s.setFlags(mb.id, [r2!.uid], 'add', ['Later', '\\Seen', '$work']);
      assert.deepEqual([...(await s.mailboxSummary(mb.id)).keywords].sort(), ['$Work', 'Later']);
      // Gone from every message: still listed.
      await s.setFlags(mb.id, [r1!.uid, r2!.uid], 'replace', []);
      assert.deepEqual([...(await s.mailboxSummary(mb.id)).keywords].sort(), ['$Work', 'Later']);
      await s.expunge(mb.id, { uids: [r1!.uid, r2!.uid], onlyDeleted: false });
      assert.deepEqual([...(await s.mailboxSummary(mb.id)).keywords].sort(), ['$Work', 'Later']);
      // A copy brings its keywords into the destination.
      const [r3] = await s.append(newMessage('k3'), [{ mailboxId: mb.id, flags: ['Copied'] }]);
      const other = await s.createMailbox(a.id, 'Other');
      assert.deepEqual((await s.mailboxSummary(other.id)).keywords, []);
      await s.copyMessages(mb.id, [r3!.uid], other.id);
      await s.setFlags(other.id, [1], 'remove', ['Copied']);
      assert.deepEqual((await s.mailboxSummary(other.id)).keywords, ['Copied']);
    });

    test('claimRecent: one claimant per UID, a peek claims nothing, STATUS counts the rest', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      for (const x of ['r1', 'r2', 'r3']) await s.append(newMessage(x), [{ mailboxId: mb.id }]);
      // EXAMINE-like peek: recent from UID 1, nothing moves.
      assert.equal(await s.claimRecent(mb.id, 3, false), 1);
      assert.equal((await s.mailboxStatus(mb.id)).recent, 3);
      // The first claimant gets 1..2; the next one nothing of those, then 3.
      assert.equal(await s.claimRecent(mb.id, 2, true), 1);
      assert.equal((await s.mailboxStatus(mb.id)).recent, 1);
      assert.equal(await s.claimRecent(mb.id, 2, true), 3);
      assert.equal(await s.claimRecent(mb.id, 3, true), 3);
      assert.equal(await s.claimRecent(mb.id, 3, true), 4);
      assert.equal((await s.mailboxStatus(mb.id)).recent, 0);
      // New mail, and mail copied in, is recent again.
      await s.append(newMessage('r4'), [{ mailboxId: mb.id }]);
      const other = await s.createMailbox(a.id, 'Other');
      await s.copyMessages(mb.id, [1], other.id);
      assert.equal((await s.mailboxStatus(mb.id)).recent, 1);
      assert.equal((await s.mailboxStatus(other.id)).recent, 1);
      assert.equal(await s.claimRecent(other.id, 1, true), 1);
    });

    test('append: UIDs ascend, modseq grows, bytes round-trip, identical bytes stored once', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const m1 = newMessage('one');
      const [r1] = await s.append(m1, [
        { mailboxId: mb.id, flags: ['\\seen', 'Work', '\\Recent'] },
      ]);
      const [r2] = await s.append(newMessage('two'), [{ mailboxId: mb.id }]);
      const [r3] = await s.append(newMessage('one'), [{ mailboxId: mb.id }]);
      assert.deepEqual([r1!.uid, r2!.uid, r3!.uid], [1, 2, 3]);
      assert.ok(r1!.modseq < r2!.modseq && r2!.modseq < r3!.modseq);
      assert.equal(r1!.uidValidity, mb.uidValidity);
      const list = await s.listMessages(mb.id);
      assert.deepEqual(
        list.map((m) => m.uid),
        [1, 2, 3],
      );
      assert.deepEqual(list[0]!.flags, ['\\Seen', 'Work']);
      assert.equal(list[0]!.messageId, list[2]!.messageId);
      assert.deepEqual(await s.readMessage(list[1]!.blobHash), newMessage('two').raw);
      const [detail] = await s.getMessages(mb.id, [1]);
      assert.deepEqual(detail!.index.envelope, simpleEnvelope('one'));
      assert.equal(detail!.index.search.references, undefined);
      const recs = await s.getRecords(mb.id, [3, 1, 99]);
      assert.deepEqual(
        recs.map((r) => [r.uid, r.flags]),
        [
          [1, ['\\Seen', 'Work']],
          [3, []],
        ],
      );
      assert.equal(recs[0]!.blobHash, list[0]!.blobHash);
      assert.equal(detail!.index.search.subject, 'one');
      const st = await s.mailboxStatus(mb.id);
      assert.equal(st.messages, 3);
      assert.equal(st.unseen, 2);
      assert.equal(st.uidNext, 4);
      assert.equal(st.size, m1.raw.length * 2 + newMessage('two').raw.length);
      assert.equal(st.highestModseq, r3!.modseq);
      // Nothing claimed yet: every message is recent (RFC 3501 §2.3.2).
      assert.equal(st.recent, 3);
      assert.equal((await s.getAccount('alice@example.test'))?.usedBytes, st.size);
      const withRefs = newMessage('refs');
      withRefs.index.search.references = ['<a@x>', '<b@x>'];
      const [rr] = await s.append(withRefs, [{ mailboxId: mb.id }]);
      const [d2] = await s.getMessages(mb.id, [rr!.uid]);
      assert.deepEqual(d2!.index.search.references, ['<a@x>', '<b@x>']);
    });

    test('append: many concurrent appends all commit with distinct UIDs', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const results = await Promise.all(
        Array.from({ length: 60 }, (_, i) => s.append(newMessage(`m${i}`), [{ mailboxId: mb.id }])),
      );
      const uids = results.map((r) => r[0]!.uid).sort((x, y) => x - y);
      assert.deepEqual(
        uids,
        Array.from({ length: 60 }, (_, i) => i + 1),
      );
    });

    test('append: one message into several mailboxes of several accounts', async () => {
      const s = store();
      const a = await alice(s);
      const b = await s.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
      const res = await s.append(newMessage('multi'), [
        { mailboxId: (await inbox(s, a.id)).id },
        { mailboxId: (await inbox(s, b.id)).id, flags: ['\\Flagged'] },
      ]);
      assert.equal(res.length, 2);
      assert.deepEqual((await s.listMessages((await inbox(s, b.id)).id))[0]!.flags, ['\\Flagged']);
    });

    test('append with expect: stored only while the mailbox is still the one looked up', async () => {
      const s = store();
      const a = await alice(s);
      const b = await s.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
      const box = await s.createMailbox(a.id, 'Box');
      const expectOf = (m: Mailbox): ExpectedMailbox => ({
        accountId: m.accountId,
        uidValidity: m.uidValidity,
        name: m.name,
      });
      const [r] = await s.append(newMessage('e1'), [{ mailboxId: box.id, expect: expectOf(box) }]);
      assert.equal(r!.uid, 1);
      // Renamed: its id and UIDVALIDITY stay, its name does not.
      await s.renameMailbox(box.id, 'Renamed');
      await rejectsWith(
        s.append(newMessage('e2'), [{ mailboxId: box.id, expect: expectOf(box) }]),
        'NOT_FOUND',
      );
      assert.equal((await s.listMessages(box.id)).length, 1);
      // Deleted, and another account's mailbox made: SQLite gives it the same id.
      await s.deleteMailbox(box.id);
      const taken = await s.createMailbox(b.id, 'Taken');
      await rejectsWith(
        s.append(newMessage('e3'), [{ mailboxId: taken.id, expect: expectOf(box) }]),
        'NOT_FOUND',
      );
      assert.equal((await s.listMessages(taken.id)).length, 0);
      // At once (PostgreSQL groups them into one statement): only the stale one fails.
      const [e4, e5, e6] = await Promise.allSettled([
        s.append(newMessage('e4'), [{ mailboxId: taken.id, expect: expectOf(taken) }]),
        s.append(newMessage('e5'), [{ mailboxId: taken.id, expect: expectOf(box) }]),
        s.append(newMessage('e6'), [{ mailboxId: taken.id }]),
      ]);
      assert.equal(e4!.status, 'fulfilled');
      assert.equal(e6!.status, 'fulfilled');
      assert.equal(e5!.status, 'rejected');
      assert.ok(e5!.status === 'rejected' && isStoreError(e5.reason, 'NOT_FOUND'));
      assert.equal((await s.listMessages(taken.id)).length, 2);
    });

    test('quota: an append over quota stores nothing; others in the batch commit', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const m = newMessage('q');
      await s.setQuota('alice@example.test', m.raw.length * 2);
      await s.append(m, [{ mailboxId: mb.id }]);
      const outcomes = await Promise.allSettled([
        s.append(newMessage('q'), [{ mailboxId: mb.id }]),
        s.append(newMessage('big', 'x'.repeat(5000)), [{ mailboxId: mb.id }]),
      ]);
      assert.equal(outcomes[0].status, 'fulfilled');
      assert.equal(outcomes[1].status, 'rejected');
      assert.ok(isStoreError((outcomes[1] as PromiseRejectedResult).reason, 'OVERQUOTA'));
      assert.equal((await s.listMessages(mb.id)).length, 2);
      await rejectsWith(
        s.copyMessages(mb.id, [1], (await s.getMailbox(a.id, 'Archive'))!.id),
        'OVERQUOTA',
      );
    });

    test('append with replace: one transaction expunges the old message (RFC 8508)', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const drafts = (await s.getMailbox(a.id, 'Drafts'))!;
      const old = newMessage('old', 'x'.repeat(400));
      await s.append(old, [{ mailboxId: mb.id }]);
      await s.append(newMessage('keep'), [{ mailboxId: mb.id }]);
      const events: ChangeEvent[] = [];
      const off = s.subscribe((e) => events.push(e));
      // Into another mailbox: the new row there, the old one gone and recorded as expunged.
      const [r] = await s.append(newMessage('new'), [{ mailboxId: drafts.id }], {
        replace: { mailboxId: mb.id, uid: 1 },
      });
      off();
      assert.deepEqual(
        (await s.listMessages(mb.id)).map((m) => m.uid),
        [2],
      );
      assert.deepEqual(
        (await s.listMessages(drafts.id)).map((m) => m.uid),
        [r!.uid],
      );
      assert.deepEqual(await s.expungedSince(mb.id, 0), [1]);
      assert.deepEqual(
        events.map((e) => [e.kind, e.mailboxId, e.uids]),
        [
          ['append', drafts.id, [r!.uid]],
          ['expunge', mb.id, [1]],
        ],
      );
      // The message to replace is gone: nothing is stored.
      await rejectsWith(
        s.append(newMessage('again'), [{ mailboxId: drafts.id }], {
          replace: { mailboxId: mb.id, uid: 1 },
        }),
        'NOT_FOUND',
      );
      assert.equal((await s.listMessages(drafts.id)).length, 1);
      // Quota: the replaced message's bytes are freed before the check; over it, nothing changes.
      const used = (await s.getAccount('alice@example.test'))!.usedBytes;
      await s.setQuota('alice@example.test', used + 10);
      const twoUid = (await s.listMessages(mb.id))[0]!.uid;
      const bigger = newMessage('bigger', 'y'.repeat(200));
      await rejectsWith(
        s.append(bigger, [{ mailboxId: mb.id }], {
          replace: { mailboxId: mb.id, uid: twoUid },
        }),
        'OVERQUOTA',
      );
      assert.deepEqual(
        (await s.listMessages(mb.id)).map((m) => m.uid),
        [twoUid],
      );
      const [same] = await s.append(newMessage('keep'), [{ mailboxId: mb.id }], {
        replace: { mailboxId: mb.id, uid: twoUid },
      });
      assert.deepEqual(
        (await s.listMessages(mb.id)).map((m) => m.uid),
        [same!.uid],
      );
      assert.equal((await s.getAccount('alice@example.test'))!.usedBytes, used);
    });

    test('flags: add, remove, replace, unchanged skips modseq, UNCHANGEDSINCE', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      await s.append(newMessage('1'), [{ mailboxId: mb.id }]);
      await s.append(newMessage('2'), [{ mailboxId: mb.id }]);
      const add = await s.setFlags(mb.id, [1, 2, 99], 'add', ['\\Seen', '$Label1']);
      assert.equal(add.updated.length, 2);
      assert.deepEqual(add.updated[0]!.flags, ['\\Seen', '$Label1']);
      const ms = add.updated[0]!.modseq;
      const same = await s.setFlags(mb.id, [1], 'add', ['\\SEEN']);
      assert.equal(same.updated.length, 0);
      const rm = await s.setFlags(mb.id, [1], 'remove', ['$label1']);
      assert.deepEqual(rm.updated[0]!.flags, ['\\Seen']);
      assert.ok(rm.updated[0]!.modseq > ms);
      const cond = await s.setFlags(mb.id, [1, 2], 'replace', ['\\Flagged'], {
        unchangedSince: ms,
      });
      assert.deepEqual(cond.modified, [1]);
      assert.deepEqual(
        cond.updated.map((u) => u.uid),
        [2],
      );
      const changed = await s.listMessages(mb.id, { changedSince: ms });
      assert.deepEqual(
        changed.map((m) => m.uid),
        [1, 2],
      );
      assert.equal((await s.mailboxStatus(mb.id)).highestModseq, cond.updated[0]!.modseq);
    });

    test('copy and move: new UIDs in the target, COPYUID mapping, move expunges the source', async () => {
      const s = store();
      const a = await alice(s);
      const src = await inbox(s, a.id);
      const dst = (await s.getMailbox(a.id, 'Archive'))!;
      for (const x of ['1', '2', '3'])
        await s.append(newMessage(x), [{ mailboxId: src.id, flags: ['\\Seen'] }]);
      const c = await s.copyMessages(src.id, [3, 1, 42], dst.id);
      assert.deepEqual(c.mapping, [
        [1, 1],
        [3, 2],
      ]);
      assert.equal(c.uidValidity, dst.uidValidity);
      assert.deepEqual((await s.listMessages(dst.id))[0]!.flags, ['\\Seen']);
      const mv = await s.moveMessages(src.id, [2], dst.id);
      assert.deepEqual(mv.mapping, [[2, 3]]);
      assert.deepEqual(
        (await s.listMessages(src.id)).map((m) => m.uid),
        [1, 3],
      );
      assert.deepEqual(await s.expungedSince(src.id, 0), [2]);
      const empty = await s.copyMessages(src.id, [77], dst.id);
      assert.deepEqual(empty.mapping, []);
    });

    test('expunge: only \\Deleted, by UID, records VANISHED, UIDs never reused', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      for (const x of ['1', '2', '3', '4']) await s.append(newMessage(x), [{ mailboxId: mb.id }]);
      await s.setFlags(mb.id, [2, 3], 'add', ['\\Deleted']);
      const before = (await s.mailboxStatus(mb.id)).highestModseq;
      assert.deepEqual(await s.expunge(mb.id, { uids: [3, 4], onlyDeleted: true }), [3]);
      assert.deepEqual(await s.expunge(mb.id, { onlyDeleted: true }), [2]);
      assert.deepEqual(await s.expunge(mb.id, { uids: [1], onlyDeleted: false }), [1]);
      assert.deepEqual(await s.expungedSince(mb.id, before), [1, 2, 3]);
      assert.deepEqual(await s.expunge(mb.id, { onlyDeleted: true }), []);
      const [r] = await s.append(newMessage('5'), [{ mailboxId: mb.id }]);
      assert.equal(r!.uid, 5);
      const st = await s.mailboxStatus(mb.id);
      assert.equal(st.messages, 2);
      assert.equal((await s.getAccount('alice@example.test'))?.usedBytes, st.size);
    });

    test('getSearchField: one stored header field by UID, for sparse and dense sets', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      for (let i = 0; i < 150; i++) {
        await s.append(newMessage(`subject ${i}`), [{ mailboxId: mb.id }]);
      }
      const all = (await s.listMessages(mb.id)).map((r) => r.uid);
      const dense = await s.getSearchField(mb.id, 'subject', all.slice(10, 140));
      assert.equal(dense.size, 130);
      assert.equal(dense.get(all[10]!), 'subject 10');
      assert.equal(dense.has(all[9]!), false);
      const sparse = await s.getSearchField(mb.id, 'subject', [all[0]!, all[149]!, 9999]);
      assert.deepEqual(
        [...sparse.entries()],
        [
          [all[0]!, 'subject 0'],
          [all[149]!, 'subject 149'],
        ],
      );
      const details = await s.getMessages(mb.id, [all[3]!]);
      const from = await s.getSearchField(mb.id, 'from', [all[3]!]);
      assert.equal(from.get(all[3]!), details[0]!.index.search.from);
    });

    test('full-text search: case-insensitive substrings, short needles, unicode', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      await s.append(textMessage('1', 'The Quick brown fox'), [{ mailboxId: mb.id }]);
      await s.append(textMessage('2', 'Grüße aus München, 100% sicher'), [{ mailboxId: mb.id }]);
      await s.append(textMessage('3', 'nothing here'), [{ mailboxId: mb.id }]);
      assert.deepEqual(await s.searchText(mb.id, 'quick BROWN'), [1]);
      assert.deepEqual(await s.searchText(mb.id, 'MÜNCHEN'), [2]);
      assert.deepEqual(await s.searchText(mb.id, 'ow'), [1]);
      assert.deepEqual(await s.searchText(mb.id, '0%'), [2]);
      assert.deepEqual(await s.searchText(mb.id, 'e'), [1, 2, 3]);
      assert.deepEqual(await s.searchText(mb.id, 'absent words'), []);
      assert.deepEqual(await s.searchText(mb.id, 'say "hi"'), []);
      // Wildcards of the engine underneath are plain characters here.
      assert.deepEqual(await s.searchText(mb.id, 'n_thing'), []);
      assert.deepEqual(await s.searchText(mb.id, '%'), [2]);
      assert.deepEqual(await s.searchText(mb.id, 'h%re'), []);
    });

    test('full-text search finds what lies past the part of a text the parser cut by its bytes', async () => {
      // 12,000 characters of 9 encoded bytes each (UTF-8 in quoted-printable): the text made
      // for the index reads 4 bytes a character of its FTS_TEXT_MAX + 1, so it decodes about
      // 7,000, fewer than the index keeps, and is not the whole text: the message is marked
      // cut and a search reads it whole (RFC 9051 §6.4.4: the whole body is searched).
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const raw = quotedPrintableMessage('cut', `${'日本語のテキスト'.repeat(1500)} zebramarker\n`);
      await s.append({ raw, index: indexMessage(raw, 'on-delivery') }, [{ mailboxId: mb.id }]);
      await s.append(textMessage('2', 'plain zebra'), [{ mailboxId: mb.id }]);
      assert.deepEqual(await s.searchText(mb.id, 'ZEBRAMARKER'), [1]);
      assert.deepEqual(await s.searchText(mb.id, 'zebra'), [1, 2]);
      assert.deepEqual(await s.searchText(mb.id, 'テキスト'), [1]);
    });

    test('a message whose text and header fields hold NUL is stored, found, read whole', async () => {
      // A decoded text part or an encoded word can hold U+0000 (PostgreSQL's text cannot).
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const m = textMessage('subject\u0000with a nul', 'before\u0000after the nul\r\n');
      const [r] = await s.append(m, [{ mailboxId: mb.id }]);
      assert.equal(r!.uid, 1);
      assert.deepEqual(await s.searchText(mb.id, 'AFTER the'), [1]);
      assert.deepEqual(await s.searchText(mb.id, 'before'), [1]);
      assert.deepEqual(await s.searchText(mb.id, 'beforeafter'), []);
      const [rec] = await s.getRecords(mb.id, [1]);
      assert.deepEqual(await s.readMessage(rec!.blobHash), m.raw);
      const subject = (await s.getSearchField(mb.id, 'subject', [1])).get(1)!;
      assert.match(subject, /^subject.with a nul$/);
    });

    test('full-text search: a sigma is one letter whatever its place in a word', async () => {
      // RFC 9051 §6.4.4 compares case-insensitively. Lower-casing gives a capital sigma at a
      // word's end the final form (ς): the needle "ΟΔΟΣ." alone ends a word, inside
      // "ΟΔΟΣ.ΟΔΟΣ" it does not, and both must still be the same letters.
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      await s.append(textMessage('1', 'ΟΔΟΣ.ΟΔΟΣ'), [{ mailboxId: mb.id }]);
      await s.append(textMessage('2', 'σοφος λογος'), [{ mailboxId: mb.id }]);
      await s.append(textMessage('3', 'ΣΟΦΟΣ ΣΟΦΟΣ'), [{ mailboxId: mb.id }]);
      assert.deepEqual(await s.searchText(mb.id, 'ΟΔΟΣ.'), [1]);
      assert.deepEqual(await s.searchText(mb.id, 'οδος.ο'), [1]);
      assert.deepEqual(await s.searchText(mb.id, 'σοφοσ'), [2, 3]);
      assert.deepEqual(await s.searchText(mb.id, 'ΣΟΦΟΣ Σ'), [3]);
      assert.deepEqual(await s.searchText(mb.id, 'ς λ'), [2]);
      assert.deepEqual(await s.searchText(mb.id, 'ος'), [1, 2, 3]);
      // The sigma is a letter, not a wildcard.
      assert.deepEqual(await s.searchText(mb.id, 'οδοα'), []);
    });

    test('object ids (RFC 8474), save dates (RFC 8514), preview cache (RFC 8970)', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const other = await s.createMailbox(a.id, 'Other');
      assert.match(other.objectId, /^[A-Za-z0-9_-]{1,255}$/);
      assert.notEqual(other.objectId, mb.objectId);
      await s.renameMailbox(other.id, 'Renamed');
      assert.equal((await s.getMailbox(a.id, 'Renamed'))!.objectId, other.objectId);
      const old = new Date('2001-01-01T00:00:00Z');
      const [r] = await s.append({ ...newMessage('x'), internalDate: old }, [{ mailboxId: mb.id }]);
      const copy = await s.copyMessages(mb.id, [r!.uid], other.id);
      const here = (await s.getMessageExtras(mb.id, [r!.uid])).get(r!.uid)!;
      const there = (await s.getMessageExtras(other.id, [copy.mapping[0]![1]])).get(
        copy.mapping[0]![1],
      )!;
      assert.match(here.emailId, /^[A-Za-z0-9_-]{1,255}$/);
      assert.equal(there.emailId, here.emailId);
      assert.equal(there.threadId, here.threadId);
      assert.ok(here.saveDate.getTime() > old.getTime());
      assert.ok(there.saveDate.getTime() >= here.saveDate.getTime());
      assert.equal(here.preview, null);
      await s.setPreview((await s.getRecords(mb.id, [r!.uid]))[0]!.messageId, 'Hello.');
      assert.equal(
        (await s.getMessageExtras(other.id, [copy.mapping[0]![1]])).get(copy.mapping[0]![1])!
          .preview,
        'Hello.',
      );
      assert.equal((await s.getMessageExtras(mb.id, [999])).size, 0);
    });
  });
}
