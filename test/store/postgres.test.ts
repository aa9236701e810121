// The role contract suites on the PostgreSQL backend, against a real PostgreSQL started for
// this file (test/helpers/postgres.ts), a fresh database for each test; and what only several
// nodes over one database can show.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { FullTextIndex } from '../../src/store/postgres/text-catch-up.js';
import type { Account, ChangeEvent, Mailbox } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { hearAccount } from '../helpers/hear-account.js';
import { newMessage, rawMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { storeContracts } from './contract/index.js';
import { messageContract } from './contract/messages.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

/** A store over a new database (full_text_index: the store's default, "on-search"). */
async function fresh(fullTextIndex?: FullTextIndex) {
  const url = await server.createDatabase();
  const store = await PostgresStore.open({
    connectionString: url,
    max: 4,
    ...(fullTextIndex ? { fullTextIndex } : {}),
  });
  return {
    store,
    async cleanup() {
      await store.close();
      await server.dropDatabase(url);
    },
  };
}

storeContracts('postgres', () => fresh());
// The message role again with each message's search text made at its delivery.
messageContract('postgres, full_text_index = "on-delivery"', () => fresh('on-delivery'));

/** Two nodes over a new database, with alice's INBOX; both closed and the database dropped after. */
async function twoNodes(
  fn: (a: PostgresStore, b: PostgresStore, inbox: Mailbox, account: Account) => Promise<void>,
): Promise<void> {
  const url = await server.createDatabase();
  const a = await PostgresStore.open({ connectionString: url, max: 4 });
  const b = await PostgresStore.open({ connectionString: url, max: 4 });
  try {
    await a.addDomain('example.test');
    const acct = await a.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    // Both nodes hear the account's changes, as with a session of it on each.
    await hearAccount(a, acct.id);
    await hearAccount(b, acct.id);
    await fn(a, b, (await a.getMailbox(acct.id, 'INBOX'))!, acct);
  } finally {
    await a.close();
    await b.close();
    await server.dropDatabase(url);
  }
}

// Issue 17 item 4: several nodes over one database. Two stores opened at once on a fresh
// database (both migrate), then deliveries into one mailbox from both at once.
describe('postgres: two nodes over one database', () => {
  test('migrate together; concurrent appends get distinct UIDs 1..n and distinct modseqs', async () => {
    const url = await server.createDatabase();
    const [a, b] = await Promise.all([
      PostgresStore.open({ connectionString: url, max: 4 }),
      PostgresStore.open({ connectionString: url, max: 4 }),
    ]);
    try {
      await a.addDomain('example.test');
      const acct = await b.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
      const inbox = (await a.getMailbox(acct.id, 'INBOX'))!;
      const n = 40;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          (i % 2 ? a : b).append(newMessage(`node ${i}`), [{ mailboxId: inbox.id }]),
        ),
      );
      const uids = results.map((r) => r[0]!.uid).sort((x, y) => x - y);
      assert.deepEqual(
        uids,
        Array.from({ length: n }, (_, i) => i + 1),
      );
      const modseqs = new Set(results.map((r) => r[0]!.modseq));
      assert.equal(modseqs.size, n);
      const status = await b.mailboxStatus(inbox.id);
      assert.equal(status.messages, n);
      assert.equal(status.uidNext, n + 1);
      assert.equal(status.highestModseq, Math.max(...modseqs));
      // Each stored row's modseq order follows its UID order (CONDSTORE clients rely on it).
      const rows = await a.listMessages(inbox.id);
      for (let i = 1; i < rows.length; i++) assert.ok(rows[i]!.modseq > rows[i - 1]!.modseq);
    } finally {
      await a.close();
      await b.close();
      await server.dropDatabase(url);
    }
  });
  test("row cache: one node's list has another node's commit once its notice is heard", () =>
    twoNodes(async (a, b, inbox, acct) => {
      for (let i = 0; i < 4; i++) await a.append(newMessage(`m${i}`), [{ mailboxId: inbox.id }]);
      const uidsOf = async () => (await a.listMessages(inbox.id)).map((r) => r.uid);
      // Node b's change reaches a's sessions as its notice (LISTEN/NOTIFY) some time after b's
      // commit; from then on a's reads have it (postgres/record-cache.ts: the rule), with no
      // wait for anything more. Each step below runs b's call, waits until a heard of it,
      // then reads at once.
      const onA = async (kind: ChangeEvent['kind'], change: () => Promise<unknown>) => {
        let heard = false;
        const off = a.subscribe((ev) => {
          if (ev.kind === kind) heard = true;
        });
        try {
          await change();
          await eventually(() => heard, `a to hear ${kind}`);
        } finally {
          off();
        }
      };
      assert.deepEqual(await uidsOf(), [1, 2, 3, 4]);
      assert.deepEqual((await a.mailboxSummary(inbox.id)).uids.toArray(), [1, 2, 3, 4]);
      const from = await a.getSearchField(inbox.id, 'from', [1, 2, 3, 4]);
      assert.equal(from.size, 4);
      await onA('append', () =>
        b.append(newMessage('from b'), [{ mailboxId: inbox.id, flags: ['$Later'] }]),
      );
      assert.deepEqual(await uidsOf(), [1, 2, 3, 4, 5]);
      const s1 = await a.mailboxSummary(inbox.id);
      assert.deepEqual(s1.uids.toArray(), [1, 2, 3, 4, 5]);
      assert.deepEqual(s1.keywords, ['$Later']);
      await onA('flags', () => b.setFlags(inbox.id, [2], 'add', ['\\Seen', '$Todo']));
      const r2 = (await a.listMessages(inbox.id)).find((r) => r.uid === 2)!;
      assert.deepEqual([...r2.flags].sort(), ['$Todo', '\\Seen']);
      assert.deepEqual(
        (await a.listMessages(inbox.id, { changedSince: r2.modseq - 1 })).map((r) => r.uid),
        [2],
      );
      // getRecords answers from the cached list: as current.
      const [g2] = await a.getRecords(inbox.id, [2]);
      assert.deepEqual([...g2!.flags].sort(), ['$Todo', '\\Seen']);
      await b.setFlags(inbox.id, [1, 3], 'add', ['\\Deleted']);
      await onA('expunge', () => b.expunge(inbox.id, { onlyDeleted: true }));
      assert.deepEqual(
        (await a.getRecords(inbox.id, [3, 1, 2, 2])).map((r) => r.uid),
        [2],
      );
      assert.deepEqual(await uidsOf(), [2, 4, 5]);
      const s2 = await a.mailboxSummary(inbox.id);
      assert.deepEqual(s2.uids.toArray(), [2, 4, 5]);
      // $Todo left no message but stays a keyword of the mailbox (RFC 3501 §7.2.6).
      await onA('flags', () => b.setFlags(inbox.id, [2], 'remove', ['$Todo']));
      assert.deepEqual([...(await a.mailboxSummary(inbox.id)).keywords].sort(), [
        '$Later',
        '$Todo',
      ]);
      assert.deepEqual(
        [...(await a.getSearchField(inbox.id, 'from', [2, 4, 5])).keys()],
        [2, 4, 5],
      );
      // A mailbox deleted on b is gone on a.
      const other = await b.createMailbox(acct.id, 'Other');
      await onA('append', () => b.append(newMessage('other'), [{ mailboxId: other.id }]));
      assert.equal((await a.listMessages(other.id)).length, 1);
      await onA('mailbox-delete', () => b.deleteMailbox(other.id));
      assert.deepEqual(await a.listMessages(other.id), []);
    }));
  test('STORE: concurrent flag changes of one message from two nodes lose none', () =>
    twoNodes(async (a, b, inbox) => {
      await a.append(newMessage('one'), [{ mailboxId: inbox.id }]);
      await a.append(newMessage('two'), [{ mailboxId: inbox.id }]);
      const n = 24;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          (i % 2 ? a : b).setFlags(inbox.id, [1, 2], 'add', [`$K${i}`]),
        ),
      );
      // Each call changed both messages, with a modseq of its own.
      for (const r of results) assert.equal(r.updated.length, 2);
      assert.equal(new Set(results.map((r) => r.updated[0]!.modseq)).size, n);
      for (const m of await b.listMessages(inbox.id)) {
        assert.equal(m.flags.length, n, `uid ${m.uid}: ${m.flags.join(' ')}`);
        assert.equal(m.modseq, Math.max(...results.map((r) => r.updated[0]!.modseq)));
      }
      const status = await a.mailboxStatus(inbox.id);
      assert.equal(status.highestModseq, Math.max(...results.map((r) => r.updated[0]!.modseq)));
    }));
  test('queue: claimants on two nodes never get one item twice; a restart ends only its own leases', async () => {
    const url = await server.createDatabase();
    const a = await PostgresStore.open({ connectionString: url, max: 4, nodeId: 'node-a' });
    const b = await PostgresStore.open({ connectionString: url, max: 4, nodeId: 'node-b' });
    try {
      const ids: number[] = [];
      for (let i = 0; i < 30; i++) {
        ids.push(
          await a.enqueueOutbound({
            sender: 'alice@example.test',
            recipients: [{ address: `r${i}@remote.test` }],
            raw: rawMessage(`q${i}`),
          }),
        );
      }
      const now = new Date(Date.now() + 1000);
      const lease = { now, limit: 4, leaseMs: 3600_000 };
      const claims = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? a : b).claimOutbound(lease)),
      );
      const got = claims.flat().map((x) => x.id);
      assert.equal(new Set(got).size, got.length, 'no item claimed twice');
      assert.deepEqual(
        got.sort((x, y) => x - y),
        ids,
      );
      // Node b starts again: its leases end, node a's stand.
      const byB = claims
        .filter((_, i) => i % 2 === 0)
        .flat()
        .map((x) => x.id);
      await b.resetOutboundLeases();
      const again = await a.claimOutbound({ ...lease, limit: 100 });
      assert.deepEqual(
        again.map((x) => x.id).sort((x, y) => x - y),
        byB.sort((x, y) => x - y),
      );
    } finally {
      await a.close();
      await b.close();
      await server.dropDatabase(url);
    }
  });
  test("queue: a retry or release on one node wakes the other node's worker (its queue listeners)", async () => {
    // The workers sweep the queue only rarely (queue/worker.ts pollMs): `letterbox queue
    // retry` run against one node (or from any process) is announced on the queue channel.
    const url = await server.createDatabase();
    const a = await PostgresStore.open({ connectionString: url, max: 4, nodeId: 'node-a' });
    const b = await PostgresStore.open({ connectionString: url, max: 4, nodeId: 'node-b' });
    try {
      const id = await a.enqueueOutbound({
        sender: 'alice@example.test',
        recipients: [{ address: 'r@remote.test' }],
        raw: rawMessage('q'),
      });
      let told = 0;
      a.onOutboundQueued(() => told++);
      assert.equal(await b.retryOutbound(id), 1);
      await eventually(() => told > 0, "node a's queue listeners after b's retry", 10_000);
      await b.holdOutbound(id, true);
      const before = told;
      await b.holdOutbound(id, false);
      await eventually(() => told > before, "node a's queue listeners after b's release", 10_000);
    } finally {
      await a.close();
      await b.close();
      await server.dropDatabase(url);
    }
  });
  test('events: a change on one node reaches the other within 200 ms, all in commit order', () =>
    twoNodes(async (a, b, inbox) => {
      const seenOnB: Array<{ ev: ChangeEvent; at: number }> = [];
      const off = b.subscribe((ev) => {
        if (ev.mailboxId === inbox.id) seenOnB.push({ ev, at: Date.now() });
      });
      // The bound (issue 17: 200 ms from a write on one node to the other hearing it) holds
      // for the best of up to five tries: a single try on a loaded machine may wait for a CPU.
      const heardAfter = async (kind: string, write: () => Promise<number[]>) => {
        const times: number[] = [];
        for (let i = 0; i < 5 && !times.some((ms) => ms < 200); i++) {
          const n = seenOnB.length;
          const t0 = Date.now();
          const uids = await write();
          await eventually(() => seenOnB.length > n, `the ${kind} on b`, 30_000);
          assert.deepEqual([seenOnB[n]!.ev.kind, seenOnB[n]!.ev.uids], [kind, uids]);
          times.push(seenOnB[n]!.at - t0);
        }
        assert.ok(Math.min(...times) < 200, `${kind} seen after ${times.join(', ')} ms`);
        return times.length;
      };
      let last = 0;
      const appends = await heardAfter('append', async () => {
        const [r] = await a.append(newMessage('cross'), [{ mailboxId: inbox.id }]);
        last = r!.uid;
        return [r!.uid];
      });
      let on = false;
      await heardAfter('flags', async () => {
        on = !on;
        await a.setFlags(inbox.id, [last], on ? 'add' : 'remove', ['\\Seen']);
        return [last];
      });
      // Concurrent deliveries from both nodes: every node hears the appends in UID order.
      const seenOnA: number[] = [];
      a.subscribe((ev) => {
        if (ev.mailboxId === inbox.id && ev.kind === 'append') seenOnA.push(...ev.uids);
      });
      await Promise.all(
        Array.from({ length: 30 }, (_, i) =>
          (i % 2 ? a : b).append(newMessage(`c${i}`), [{ mailboxId: inbox.id }]),
        ),
      );
      const appendsOnB = () =>
        seenOnB.filter((x) => x.ev.kind === 'append').flatMap((x) => x.ev.uids);
      await eventually(
        () => appendsOnB().length === appends + 30 && seenOnA.length === 30,
        'all appends',
      );
      const ascending = (xs: number[]) => xs.every((u, i) => i === 0 || u > xs[i - 1]!);
      assert.ok(ascending(appendsOnB()), `b heard ${appendsOnB().join(',')}`);
      assert.ok(ascending(seenOnA), `a heard ${seenOnA.join(',')}`);
      off();
    }));
  test('POP3 maildrop lock (RFC 1939 §8): held against the other node until released', async () => {
    const url = await server.createDatabase();
    const a = await PostgresStore.open({ connectionString: url, max: 2 });
    const b = await PostgresStore.open({ connectionString: url, max: 2 });
    try {
      const onA = await a.lockMaildrop(7);
      assert.ok(onA);
      assert.equal(await b.lockMaildrop(7), null, 'node b must not get a maildrop node a has');
      const other = await b.lockMaildrop(8);
      assert.ok(other, 'other maildrops are independent');
      onA();
      let onB: (() => void) | null = null;
      await eventually(async () => {
        onB = await b.lockMaildrop(7);
        return onB !== null;
      }, 'node b to get the maildrop node a let go');
      assert.equal(await a.lockMaildrop(7), null);
      // A node that goes away lets go of its maildrops.
      await b.close();
      await eventually(async () => {
        const r = await a.lockMaildrop(7);
        r?.();
        return r !== null;
      }, 'the maildrop of a node that closed');
    } finally {
      await a.close();
      await b.close();
      await server.dropDatabase(url);
    }
  });
});
