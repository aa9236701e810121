// Issue 17: a channel per account (src/store/postgres/events.ts). A message's changes go on
// its account's channel, which a node listens to only while it has a use for the account (a
// session, a held mailbox, a read of its rows; not a write); the rare events stay on the channel
// every node hears. What a node read while it did not listen is not trusted later.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { ChangeEvent } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { hearAccount } from '../helpers/hear-account.js';
import { newMessage } from '../helpers/messages.js';
import { eventsOf } from '../helpers/pg-events.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

/** The accounts whose channels the node listens to or has asked for (events.ts). */
function accountsOf(store: PostgresStore): Map<number, unknown> {
  return (eventsOf(store) as unknown as { accounts: Map<number, unknown> }).accounts;
}

/** Node a and node b (b lets an account go `lingerMs` after its last use) over a new database. */
async function withNodes(
  fn: (a: PostgresStore, b: PostgresStore, account: number, inbox: number) => Promise<void>,
  lingerMs = 30_000,
): Promise<void> {
  const url = await server.createDatabase();
  const a = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'node-a' });
  const b = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'node-b', lingerMs });
  try {
    await a.addDomain('example.test');
    const acct = await a.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    await hearAccount(a, acct.id);
    await fn(a, b, acct.id, (await a.getMailbox(acct.id, 'INBOX'))!.id);
  } finally {
    await a.close();
    await b.close();
    await server.dropDatabase(url);
  }
}

test("a node with no use for an account does not hear its messages' changes; the rare events it does", () =>
  withNodes(async (a, b, account, inbox) => {
    const seen: ChangeEvent[] = [];
    b.subscribe((ev) => seen.push(ev));
    await a.append(newMessage('one'), [{ mailboxId: inbox }]);
    // STORE and EXPUNGE send their notices from SQL functions (migration 19's channel).
    await a.setFlags(inbox, [1], 'add', ['\\Seen']);
    await a.expunge(inbox, { uids: [1], onlyDeleted: false });
    const made = await a.createMailbox(account, 'Later');
    // Heard in commit order: had b heard the append, it would have come before this.
    await eventually(
      () => seen.some((e) => e.kind === 'mailbox-create' && e.mailboxId === made.id),
      'b to hear the mailbox made',
      20_000,
    );
    assert.deepEqual(
      seen.map((e) => e.kind),
      ['mailbox-create'],
    );
    assert.equal(eventsOf(b).listensTo(account), false);
  }));

test('a node that starts listening to an account after a change sees it, and hears the next', () =>
  withNodes(async (a, b, account, inbox) => {
    await a.append(newMessage('before'), [{ mailboxId: inbox }]);
    const seen: ChangeEvent[] = [];
    await hearAccount(b, account, (ev) => seen.push(ev));
    assert.equal(eventsOf(b).listensTo(account), true);
    assert.deepEqual(
      (await b.listMessages(inbox)).map((m) => m.uid),
      [1],
    );
    await a.append(newMessage('after'), [{ mailboxId: inbox }]);
    await eventually(
      () => seen.some((e) => e.kind === 'append' && e.uids.includes(2)),
      'b to hear the next append',
      20_000,
    );
    assert.deepEqual(
      (await b.listMessages(inbox)).map((m) => m.uid),
      [1, 2],
    );
  }));

test('a node that stopped listening and comes back does not trust the list it read before', () =>
  withNodes(async (a, b, account, inbox) => {
    await a.append(newMessage('one'), [{ mailboxId: inbox }]);
    const off = await hearAccount(b, account);
    // Read while listening: b's list of the mailbox is trusted while b listens.
    assert.deepEqual(
      (await b.listMessages(inbox)).map((m) => m.uid),
      [1],
    );
    off();
    // No use left: b lets the account's channel go (lingerMs after its last use).
    await eventually(() => !eventsOf(b).listensTo(account), 'b to stop listening', 20_000);
    const epoch = eventsOf(b).epoch;
    // Not heard by b.
    await a.append(newMessage('two'), [{ mailboxId: inbox }]);
    await a.setFlags(inbox, [1], 'add', ['\\Seen']);
    await hearAccount(b, account);
    // The LISTEN connection never broke (one epoch): only the account's channel went.
    assert.equal(eventsOf(b).epoch, epoch);
    const list = await b.listMessages(inbox);
    assert.deepEqual(
      list.map((m) => [m.uid, m.flags]),
      [
        [1, ['\\Seen']],
        [2, []],
      ],
    );
    const status = await b.mailboxStatus(inbox);
    assert.equal(status.messages, 2);
  }, 100));

test('a write on a node not listening to the account: emitted there at once, heard by the others', () =>
  withNodes(async (a, b, account, inbox) => {
    const onA: ChangeEvent[] = [];
    a.subscribe((ev) => onA.push(ev));
    const onB: ChangeEvent[] = [];
    b.subscribe((ev) => onB.push(ev));
    assert.equal(eventsOf(b).listensTo(account), false);
    const epoch = eventsOf(b).epoch;
    const [r] = await b.append(newMessage('from b'), [{ mailboxId: inbox }]);
    // Its own node had it when the call returned, once, without waiting in vain for an echo
    // (which would have marked a notice perhaps missed: a new epoch).
    assert.deepEqual(
      onB.filter((e) => e.kind === 'append').map((e) => e.uids),
      [[r!.uid]],
    );
    assert.equal(eventsOf(b).epoch, epoch);
    await eventually(
      () => onA.some((e) => e.kind === 'append' && e.uids.includes(r!.uid)),
      'a to hear b append',
      20_000,
    );
    // A write is no use of the account: b did not ask for its channel (an SMTP delivery on a
    // node without a session of the account is not woken by the account's later changes).
    assert.equal(accountsOf(b).has(account), false);
    assert.equal(eventsOf(b).listensTo(account), false);
    // A read of its rows is: b listens to the account from then and hears a's changes.
    assert.deepEqual(
      (await b.listMessages(inbox)).map((m) => m.uid),
      [r!.uid],
    );
    await eventually(() => eventsOf(b).listensTo(account), 'b to listen', 20_000);
    await a.setFlags(inbox, [r!.uid], 'add', ['\\Flagged']);
    await eventually(
      () => onB.some((e) => e.kind === 'flags' && e.uids.includes(r!.uid)),
      'b to hear a STORE',
      20_000,
    );
    assert.deepEqual(
      (await b.listMessages(inbox)).map((m) => [m.uid, m.flags]),
      [[r!.uid, ['\\Flagged']]],
    );
    // Its write's event is not emitted twice on b, should the echo have come after all.
    assert.equal(onB.filter((e) => e.kind === 'append').length, 1);
  }));

test("a session's wait for its account's LISTEN is bounded: with the LISTEN connection down a LOGIN goes on", async () => {
  const url = await server.createDatabase();
  const store = await PostgresStore.open({ connectionString: url, max: 2, listenWaitMs: 200 });
  try {
    await store.addDomain('example.test');
    const acct = await store.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
    // As while the LISTEN connection is down: the account's LISTEN never takes effect.
    eventsOf(store).ready = () => new Promise<void>(() => {});
    const waiting = store.listening(acct.id);
    assert.ok(waiting, 'the account is not listened to');
    let done = false;
    void waiting.then(() => {
      done = true;
    });
    await eventually(() => done, 'the wait to end without the LISTEN', 20_000);
  } finally {
    await store.close();
    await server.dropDatabase(url);
  }
});
