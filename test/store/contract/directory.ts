// The directory role (DirectoryStore): domains, accounts and their credentials, app
// passwords, aliases and how a recipient address resolves.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { DirectoryStore } from '../../../src/store/types.js';
import { alice, freshStore, rejectsWith, type StoreFactory } from './fixture.js';

export function directoryContract(name: string, make: StoreFactory<DirectoryStore>): void {
  describe(`directory contract: ${name}`, () => {
    const store = freshStore(make);

    test('accounts: lower-case, found in any case, by id and by domain', async () => {
      const s = store();
      const a = await alice(s);
      assert.equal(a.address, 'alice@example.test');
      assert.equal(a.usedBytes, 0);
      assert.equal(a.quotaBytes, null);
      assert.equal(a.pop3Policy, 'delete');
      assert.equal(a.passwordHash, 'h');
      assert.ok(a.createdAt instanceof Date);
      assert.equal((await s.getAccount('ALICE@example.test'))?.id, a.id);
      assert.equal((await s.getAccountById(a.id))?.address, 'alice@example.test');
      assert.equal(await s.getAccountById(a.id + 1000), null);
      await s.addDomain('other.test');
      const b = await s.createAccount({
        address: 'bob@other.test',
        passwordHash: 'h',
        quotaBytes: 5000,
      });
      assert.equal(b.quotaBytes, 5000);
      assert.deepEqual(
        (await s.listAccounts()).map((x) => x.address),
        ['alice@example.test', 'bob@other.test'],
      );
      assert.deepEqual(
        (await s.listAccounts('OTHER.test')).map((x) => x.address),
        ['bob@other.test'],
      );
      assert.deepEqual(await s.listAccounts('none.test'), []);
    });

    test('domains: add, list, duplicate, invalid, remove', async () => {
      const s = store();
      await s.addDomain('Example.Test');
      await rejectsWith(s.addDomain('example.test'), 'EXISTS');
      await rejectsWith(s.addDomain('bad domain'), 'INVALID');
      assert.deepEqual(
        (await s.listDomains()).map((d) => d.name),
        ['example.test'],
      );
      assert.equal(await s.isLocalDomain('EXAMPLE.test'), true);
      assert.equal(await s.isLocalDomain('other.test'), false);
      await s.removeDomain('example.test');
      assert.deepEqual(await s.listDomains(), []);
      await rejectsWith(s.removeDomain('example.test'), 'NOT_FOUND');
    });

    test('accounts: domain must exist, no duplicates, domain removal refused while in use', async () => {
      const s = store();
      await rejectsWith(
        s.createAccount({ address: 'x@nowhere.test', passwordHash: 'h' }),
        'NOT_FOUND',
      );
      await alice(s);
      await rejectsWith(
        s.createAccount({ address: 'alice@example.test', passwordHash: 'h' }),
        'EXISTS',
      );
      await rejectsWith(
        s.createAccount({ address: 'not-an-address', passwordHash: 'h' }),
        'INVALID',
      );
      await rejectsWith(s.removeDomain('example.test'), 'IN_USE');
      await s.removeDomain('example.test', { force: true });
      assert.equal(await s.getAccount('alice@example.test'), null);
    });

    test('accounts: password, quota, pop3 policy, remove', async () => {
      const s = store();
      await alice(s);
      await s.setPassword('alice@example.test', 'h2');
      await s.setQuota('alice@example.test', 1000);
      await s.setPop3Policy('alice@example.test', 'keep');
      const a = await s.getAccount('alice@example.test');
      assert.equal(a?.passwordHash, 'h2');
      assert.equal(a?.quotaBytes, 1000);
      assert.equal(a?.pop3Policy, 'keep');
      await rejectsWith(s.setQuota('alice@example.test', -1), 'INVALID');
      await rejectsWith(s.setPassword('bob@example.test', 'x'), 'NOT_FOUND');
      // The upgrade after a login is a compare and set: a password set meanwhile wins.
      const id = (await s.getAccount('alice@example.test'))!.id;
      assert.equal(await s.replacePasswordHash(id, 'stale', 'h3'), false);
      assert.equal((await s.getAccount('alice@example.test'))?.passwordHash, 'h2');
      assert.equal(await s.replacePasswordHash(id, 'h2', 'h3'), true);
      assert.equal((await s.getAccount('alice@example.test'))?.passwordHash, 'h3');
      await s.removeAccount('alice@example.test');
      assert.equal(await s.getAccount('alice@example.test'), null);
      assert.deepEqual(await s.listAccounts(), []);
    });

    test('accounts: disable, enable, unlock time', async () => {
      const s = store();
      const a = await alice(s);
      assert.equal(a.disabled, false);
      assert.equal(a.unlockedAt, null);
      await s.setDisabled('ALICE@example.test', true);
      assert.equal((await s.getAccount('alice@example.test'))?.disabled, true);
      await s.setDisabled('alice@example.test', false);
      assert.equal((await s.getAccount('alice@example.test'))?.disabled, false);
      const before = Date.now();
      await s.unlockAccount('alice@example.test');
      const at = (await s.getAccountById(a.id))?.unlockedAt;
      assert.ok(at instanceof Date && at.getTime() >= before && at.getTime() <= Date.now());
      await rejectsWith(s.setDisabled('nobody@example.test', true), 'NOT_FOUND');
      await rejectsWith(s.unlockAccount('nobody@example.test'), 'NOT_FOUND');
    });

    test('accounts: the admin role, given at creation or later', async () => {
      const s = store();
      const a = await alice(s);
      assert.equal(a.admin, false);
      await s.setAdmin('ALICE@example.test', true);
      assert.equal((await s.getAccount('alice@example.test'))?.admin, true);
      assert.equal((await s.listAccounts('example.test'))[0]?.admin, true);
      await s.setAdmin('alice@example.test', false);
      assert.equal((await s.getAccountById(a.id))?.admin, false);
      const boss = await s.createAccount({
        address: 'boss@example.test',
        passwordHash: 'h',
        admin: true,
      });
      assert.equal(boss.admin, true);
      assert.equal((await s.getAccount('boss@example.test'))?.admin, true);
      await rejectsWith(s.setAdmin('nobody@example.test', true), 'NOT_FOUND');
    });

    test('app passwords: add, unique names and ids, list without hashes, remove, dropped with the account', async () => {
      const s = store();
      const a = await alice(s);
      const p = await s.addAppPassword('alice@example.test', {
        id: 'abcdefgh',
        name: ' phone ',
        hash: '$sha256$x',
      });
      assert.equal(p.name, 'phone');
      assert.equal(p.lastUsedAt, null);
      await rejectsWith(
        s.addAppPassword('alice@example.test', { id: 'bbbbbbbb', name: 'phone', hash: 'h' }),
        'EXISTS',
      );
      await rejectsWith(
        s.addAppPassword('alice@example.test', { id: 'abcdefgh', name: 'laptop', hash: 'h' }),
        'EXISTS',
      );
      await rejectsWith(
        s.addAppPassword('alice@example.test', { id: 'cccccccc', name: 'a\nb', hash: 'h' }),
        'INVALID',
      );
      await rejectsWith(
        s.addAppPassword('nobody@example.test', { id: 'cccccccc', name: 'x', hash: 'h' }),
        'NOT_FOUND',
      );
      await s.addAppPassword('alice@example.test', {
        id: 'laptop22',
        name: 'laptop',
        hash: 'h2',
      });
      const list = await s.listAppPasswords('alice@example.test');
      assert.deepEqual(
        list.map((x) => x.name),
        ['phone', 'laptop'],
      );
      assert.ok(
        list.every((x) => !('hash' in x)),
        'list never carries the hashes',
      );
      const rec = await s.getAppPassword(a.id, 'abcdefgh');
      assert.equal(rec?.hash, '$sha256$x');
      assert.equal(await s.getAppPassword(a.id, 'zzzzzzzz'), null);
      const used = new Date(Date.now() - 5000);
      await s.touchAppPassword(a.id, 'abcdefgh', used);
      assert.equal(
        (await s.getAppPassword(a.id, 'abcdefgh'))?.lastUsedAt?.getTime(),
        used.getTime(),
      );
      await s.removeAppPassword('alice@example.test', 'phone');
      await rejectsWith(s.removeAppPassword('alice@example.test', 'phone'), 'NOT_FOUND');
      assert.equal(await s.getAppPassword(a.id, 'abcdefgh'), null);
      await s.removeAccount('alice@example.test');
      assert.equal(await s.getAppPassword(a.id, 'laptop22'), null);
    });

    test('aliases: exact, multiple targets, remote, catch-all, loops', async () => {
      const s = store();
      const a = await alice(s);
      const b = await s.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
      await s.addAlias('team@example.test', [
        'alice@example.test',
        'Bob@example.test',
        'x@remote.test',
      ]);
      await s.addAlias('loop1@example.test', ['loop2@example.test']);
      await s.addAlias('loop2@example.test', ['loop1@example.test', 'alice@example.test']);
      await rejectsWith(s.addAlias('alice@example.test', ['bob@example.test']), 'EXISTS');
      await rejectsWith(s.addAlias('z@nowhere.test', ['bob@example.test']), 'NOT_FOUND');

      const team = await s.resolveRecipient('TEAM@example.test');
      assert.deepEqual(team?.accounts.map((x) => x.id).sort(), [a.id, b.id].sort());
      assert.deepEqual(team?.remote, ['x@remote.test']);
      assert.deepEqual(
        (await s.resolveRecipient('alice@example.test'))?.accounts.map((x) => x.id),
        [a.id],
      );
      assert.equal(await s.resolveRecipient('nobody@example.test'), null);
      assert.equal(await s.resolveRecipient('alice@remote.test'), null);
      assert.deepEqual(
        (await s.resolveRecipient('loop1@example.test'))?.accounts.map((x) => x.id),
        [a.id],
      );

      await s.addAlias('@example.test', ['bob@example.test']);
      assert.deepEqual(
        (await s.resolveRecipient('anyone@example.test'))?.accounts.map((x) => x.id),
        [b.id],
      );
      assert.deepEqual(
        (await s.listAliases()).map((x) => x.address),
        ['@example.test', 'loop1@example.test', 'loop2@example.test', 'team@example.test'],
      );
      await s.removeAlias('@example.test');
      assert.equal(await s.resolveRecipient('anyone@example.test'), null);
      await rejectsWith(s.removeAlias('@example.test'), 'NOT_FOUND');
    });

    test('aliases: a catch-all into its own domain, chains and their depth', async () => {
      const s = store();
      const a = await alice(s);
      // A catch-all's target in its own domain is not caught again: no one there, no one at all.
      await s.addAlias('@example.test', ['ghost@example.test', 'x@remote.test']);
      assert.deepEqual(await s.resolveRecipient('anyone@example.test'), {
        accounts: [],
        remote: ['x@remote.test'],
      });
      // A chain of aliases reaches the account at its end, up to eight steps on.
      const chain = (n: number) => `hop${n}@example.test`;
      for (let i = 0; i < 9; i++) await s.addAlias(chain(i), [chain(i + 1)]);
      await s.addAlias(chain(9), ['alice@example.test', 'y@remote.test']);
      assert.deepEqual(await s.resolveRecipient(chain(2)), {
        accounts: [a],
        remote: ['y@remote.test'],
      });
      // From hop0 the account is ten steps on: past the limit, nothing is found.
      assert.equal(await s.resolveRecipient(chain(0)), null);
      // An account outside the local domains is never one: the domain goes, its mail with it.
      assert.equal(await s.resolveRecipient('alice@remote.test'), null);
    });
  });
}
