// The change-event role (ChangeEvents): one event per committed change, after the commit, in
// commit order, whatever a listener does.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ChangeEvent } from '../../../src/store/types.js';
import { newMessage } from '../../helpers/messages.js';
import { alice, freshStore, inbox, type MessageRoles, type StoreFactory } from './fixture.js';

export function eventContract(name: string, make: StoreFactory<MessageRoles>): void {
  describe(`event contract: ${name}`, () => {
    const store = freshStore(make);

    test('events: emitted after commit for append, flags, expunge, mailbox changes', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const events: ChangeEvent[] = [];
      const off = s.subscribe((e) => events.push(e));
      s.subscribe(() => {
        throw new Error('a broken listener must not break the store');
      });
      const [r] = await s.append(newMessage('e'), [{ mailboxId: mb.id }]);
      await s.setFlags(mb.id, [r!.uid], 'add', ['\\Seen']);
      await s.expunge(mb.id, { uids: [r!.uid], onlyDeleted: false });
      const created = await s.createMailbox(a.id, 'New');
      await s.renameMailbox(created.id, 'Newer');
      await s.deleteMailbox(created.id);
      off();
      await s.append(newMessage('after'), [{ mailboxId: mb.id }]);
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

    test("subscribeAccount: only that account's events, after the listeners of every event", async () => {
      const s = store();
      const a = await alice(s);
      const b = await s.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
      const mbA = await inbox(s, a.id);
      const mbB = await inbox(s, b.id);
      const heard: string[] = [];
      s.subscribe((e) => heard.push(`all ${e.kind} ${e.accountId}`));
      const offA1 = s.subscribeAccount(a.id, (e) => heard.push(`a1 ${e.kind} ${e.accountId}`));
      s.subscribeAccount(a.id, (e) => heard.push(`a2 ${e.kind} ${e.accountId}`));
      s.subscribeAccount(b.id, (e) => heard.push(`b ${e.kind} ${e.accountId}`));
      s.subscribeAccount(a.id, () => {
        throw new Error('a broken listener must not break the store');
      });
      await s.append(newMessage('to a'), [{ mailboxId: mbA.id }]);
      await s.append(newMessage('to b'), [{ mailboxId: mbB.id }]);
      offA1();
      offA1();
      await s.append(newMessage('to a again'), [{ mailboxId: mbA.id }]);
      assert.deepEqual(heard, [
        `all append ${a.id}`,
        `a1 append ${a.id}`,
        `a2 append ${a.id}`,
        `all append ${b.id}`,
        `b append ${b.id}`,
        `all append ${a.id}`,
        `a2 append ${a.id}`,
      ]);
    });
  });
}
