// The annotation role (MetadataStore): IMAP METADATA (RFC 5464) of the server view and of
// mailboxes, all or nothing within METADATA_LIMITS, and the special-use entry (RFC 6154 §4).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ChangeEvent,
  type ChangeEvents,
  type DirectoryStore,
  type MailboxStore,
  METADATA_LIMITS,
  type MetadataStore,
} from '../../../src/store/types.js';
import { alice, freshStore, inbox, type StoreFactory } from './fixture.js';

export function metadataContract(
  name: string,
  make: StoreFactory<DirectoryStore & MailboxStore & MetadataStore & ChangeEvents>,
): void {
  describe(`metadata contract: ${name}`, () => {
    const store = freshStore(make);

    test('metadata: server and mailbox entries, depth, all-or-nothing limits, mailbox lifetime', async () => {
      const s = store();
      const a = await alice(s);
      const mb = await inbox(s, a.id);
      const v = (s: string) => Buffer.from(s);
      assert.deepEqual(
        await s.setMetadata(a.id, null, [{ name: '/private/comment', value: v('server') }]),
        { ok: true },
      );
      assert.deepEqual(
        await s.setMetadata(a.id, mb.id, [
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
        (await s.getMetadata(a.id, mb.id, ['/private/a'], depth)).map((e) => e.name);
      assert.deepEqual(await names(0), ['/private/a']);
      assert.deepEqual(await names(1), ['/private/a', '/private/a/b']);
      assert.deepEqual(await names('infinity'), ['/private/a', '/private/a/b', '/private/a/b/c']);
      assert.deepEqual(await s.getMetadata(a.id, mb.id, ['/private/gone'], 0), []);
      assert.deepEqual(await s.getMetadata(a.id, null, ['/private/comment'], 0), [
        { name: '/private/comment', value: v('server') },
      ]);
      assert.deepEqual(await s.getMetadata(a.id, mb.id, ['/private/comment'], 0), []);
      // Over a limit: refused whole, nothing changed.
      const big = Buffer.alloc(METADATA_LIMITS.maxValueSize + 1);
      assert.deepEqual(
        await s.setMetadata(a.id, mb.id, [
          { name: '/private/a', value: v('changed') },
          { name: '/private/big', value: big },
        ]),
        { ok: false, reason: 'maxsize', max: METADATA_LIMITS.maxValueSize },
      );
      const many = Array.from({ length: METADATA_LIMITS.maxEntries }, (_, i) => ({
        name: `/shared/n${i}`,
        value: v('n'),
      }));
      assert.deepEqual(await s.setMetadata(a.id, mb.id, many), {
        ok: false,
        reason: 'toomany',
      });
      assert.deepEqual(await s.getMetadata(a.id, mb.id, ['/private/a', '/shared/n0'], 0), [
        { name: '/private/a', value: v('1') },
      ]);
      // A renamed mailbox keeps its entries; a deleted one takes them along.
      const box = await s.createMailbox(a.id, 'Notes');
      await s.setMetadata(a.id, box.id, [{ name: '/shared/comment', value: v('c') }]);
      await s.renameMailbox(box.id, 'Renamed');
      assert.equal((await s.getMetadata(a.id, box.id, ['/shared/comment'], 0)).length, 1);
      await s.deleteMailbox(box.id);
      const again = await s.createMailbox(a.id, 'Renamed');
      assert.deepEqual(await s.getMetadata(a.id, again.id, ['/shared/comment'], 0), []);
      // The special-use attribute (RFC 6154 §4 /private/specialuse) is the mailbox's own.
      const events: ChangeEvent[] = [];
      const off = s.subscribe((e) => events.push(e));
      await s.setSpecialUse(again.id, '\\Archive');
      assert.equal((await s.getMailboxById(again.id))?.specialUse, '\\Archive');
      await s.setSpecialUse(again.id, null);
      off();
      assert.equal((await s.getMailboxById(again.id))?.specialUse, null);
      assert.deepEqual(
        events.map((e) => [e.kind, e.mailboxId, e.entries]),
        [
          ['metadata', again.id, ['/private/specialuse']],
          ['metadata', again.id, ['/private/specialuse']],
        ],
      );
    });
  });
}
