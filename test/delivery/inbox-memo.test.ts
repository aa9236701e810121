// Local delivery remembers each account's INBOX (delivery/local.ts) instead of reading the
// mailbox row before every append; the append checks that the mailbox is still that INBOX,
// so a delivery after the account or its INBOX went never lands in whatever mailbox took the
// old id (SQLite reuses a deleted row's id, for any account).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { deliverLocal } from '../../src/delivery/local.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { openAliceStore } from '../helpers/store.js';

let dir: string;
let store: SqliteStore;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lb-inbox-memo-'));
  ({ store } = await openAliceStore(dir));
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const message = (n: number) =>
  Buffer.from(`From: a@remote.test\r\nTo: x@example.test\r\nSubject: m${n}\r\n\r\nbody ${n}\r\n`);

async function subjects(address: string): Promise<string[]> {
  const a = (await store.getAccount(address))!;
  const box = (await store.getMailbox(a.id, 'INBOX'))!;
  const out: string[] = [];
  for (const r of await store.listMessages(box.id)) {
    const raw = (await store.readMessage(r.blobHash)).toString();
    out.push(/Subject: (\S+)/.exec(raw)![1]!);
  }
  return out;
}

test('a second delivery to an account does not look its INBOX up again', async () => {
  const alice = (await store.getAccount('alice@example.test'))!;
  await deliverLocal(store, { raw: message(1), accounts: [alice] });
  let lookups = 0;
  const counting = new Proxy(store, {
    get(target, prop, receiver) {
      if (prop === 'getMailbox') {
        return (...args: Parameters<SqliteStore['getMailbox']>) => {
          lookups++;
          return target.getMailbox(...args);
        };
      }
      const v = Reflect.get(target, prop, receiver);
      return typeof v === 'function' ? v.bind(target) : v;
    },
  });
  // The proxy is another store object to the memo: its first delivery looks up, once.
  await deliverLocal(counting, { raw: message(2), accounts: [alice] });
  await deliverLocal(counting, { raw: message(3), accounts: [alice] });
  assert.equal(lookups, 1); // fails without the memo: 2
  assert.deepEqual(await subjects('alice@example.test'), ['m1', 'm2', 'm3']);
});

test("a remembered INBOX whose id another account's mailbox took: the account's INBOX now", async () => {
  await store.addDomain('memo.test');
  const alice = (await store.getAccount('alice@example.test'))!;
  const carol = await store.createAccount({ address: 'carol@memo.test', passwordHash: 'h' });
  await deliverLocal(store, { raw: message(10), accounts: [carol] });
  const oldInbox = (await store.getMailbox(carol.id, 'INBOX'))!;
  await store.removeAccount('carol@memo.test');
  // Made next, alice's new mailbox takes the old INBOX's id (the largest ones were carol's),
  // and dave's account takes carol's account id.
  const other = await store.createMailbox(alice.id, 'Other');
  assert.equal(other.id, oldInbox.id, 'the mailbox id was reused');
  const dave = await store.createAccount({ address: 'dave@memo.test', passwordHash: 'h' });
  assert.equal(dave.id, carol.id, 'the account id was reused');
  // The memo holds carol's INBOX under dave's account id: the append refuses it (its owner
  // and UIDVALIDITY differ), and the delivery looks dave's INBOX up.
  await deliverLocal(store, { raw: message(11), accounts: [dave] });
  assert.deepEqual(await subjects('dave@memo.test'), ['m11']);
  assert.equal((await store.listMessages(other.id)).length, 0); // without the check: m11
});
