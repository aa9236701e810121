// The maildrop lock role (MaildropLockStore): RFC 1939 §8 exclusive access to a maildrop,
// one POP3 session at a time per account.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { MaildropLockStore } from '../../../src/store/types.js';
import { freshStore, type StoreFactory } from './fixture.js';

export function maildropLockContract(name: string, make: StoreFactory<MaildropLockStore>): void {
  describe(`maildrop lock contract: ${name}`, () => {
    const store = freshStore(make);

    test('one holder per account; release is idempotent and frees it', async () => {
      const s = store();
      const release = await s.lockMaildrop(1);
      assert.ok(release);
      assert.equal(await s.lockMaildrop(1), null);
      const other = await s.lockMaildrop(2);
      assert.ok(other, 'other accounts are independent');
      release();
      release();
      const again = await s.lockMaildrop(1);
      assert.ok(again, 'free once released');
      release(); // a stale release must not free the new holder's lock
      assert.equal(await s.lockMaildrop(1), null);
      again();
      other();
    });
  });
}
