// The blob role (BlobStore): message bytes by SHA-256, stored once however many mailboxes and
// queue items hold them, freed when the last holder goes.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { OutboundQueueStore } from '../../../src/store/types.js';
import { newMessage } from '../../helpers/messages.js';
import {
  alice,
  freshStore,
  gone,
  inbox,
  type MessageRoles,
  rejectsWith,
  type StoreFactory,
} from './fixture.js';

export function blobContract(
  name: string,
  make: StoreFactory<MessageRoles & OutboundQueueStore>,
): void {
  describe(`blob contract: ${name}`, () => {
    const store = freshStore(make);

    test('blobs: the last reference going away frees the bytes; shared copies stay', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const arch = (await s.getMailbox(a.id, 'Archive'))!;
      await s.append(newMessage('shared'), [{ mailboxId: mb.id }]);
      await s.copyMessages(mb.id, [1], arch.id);
      const hash = (await s.listMessages(mb.id))[0]!.blobHash;
      await s.expunge(mb.id, { onlyDeleted: false });
      assert.deepEqual(await s.readMessage(hash), newMessage('shared').raw);
      await s.deleteMailbox(arch.id);
      // Freed after the commit, maybe once the store is quiet.
      await gone(() => s.readMessage(hash), 'the bytes of the last copy to be freed');
      assert.equal((await s.getAccount('alice@example.test'))?.usedBytes, 0);
    });

    test('bytes by SHA-256: exact round trip, stored once, unknown hashes NOT_FOUND', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const big = newMessage('big', `${'0123456789abcdef'.repeat(8191)}\r\n`);
      for (const m of [newMessage('small'), big, newMessage('small')])
        await s.append(m, [{ mailboxId: mb.id }]);
      const list = await s.listMessages(mb.id);
      assert.equal(list[0]!.blobHash, list[2]!.blobHash);
      assert.equal(list[0]!.messageId, list[2]!.messageId);
      assert.match(list[0]!.blobHash, /^[0-9a-f]{64}$/);
      assert.deepEqual(await s.readMessage(list[1]!.blobHash, list[1]!.size), big.raw);
      assert.deepEqual(await s.readMessage(list[0]!.blobHash), newMessage('small').raw);
      await rejectsWith(s.readMessage('0'.repeat(64)), 'NOT_FOUND');
    });

    test('outbound queue: durable with DSN parameters; its blob survives an expunge', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const m = newMessage('out');
      await s.append(m, [{ mailboxId: mb.id }]);
      const id = await s.enqueueOutbound({
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
      await s.expunge(mb.id, { onlyDeleted: false });
      await new Promise((r) => setTimeout(r, 50));
      const [item] = await s.listOutbound();
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
      assert.deepEqual(await s.readMessage(item!.blobHash), m.raw);
    });
  });
}
