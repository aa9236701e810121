// Issue 17: appends to one mailbox that arrive together on one node share one statement and
// one commit (src/store/postgres/append-batch.ts), and each still gets what it would have got
// alone: its own UID and modseq in arrival order (RFC 9051 §2.3.1.1, RFC 7162 §3), its own
// event, the quota checked per message, the same stored message for the same bytes.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { sha256 } from '../../src/store/blobs/file-blobs.js';
import { StoreError } from '../../src/store/errors.js';
import { APPEND_ONE } from '../../src/store/postgres/append-one.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { ChangeEvent } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { hearAccount } from '../helpers/hear-account.js';
import { newMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

interface Node {
  store: PostgresStore;
  inbox: number;
  account: number;
  /** The transactions that wrote the mailbox's rows (their xmin): one per commit. */
  commits(): Promise<number>;
}

async function withNodes(
  n: number,
  fn: (nodes: Node[], sql: pg.Client) => Promise<void>,
  hear = true,
) {
  const url = await server.createDatabase();
  const stores: PostgresStore[] = [];
  const sql = new pg.Client({ connectionString: url });
  try {
    for (let i = 0; i < n; i++) stores.push(await PostgresStore.open({ connectionString: url }));
    await sql.connect();
    await stores[0]!.addDomain('example.test');
    const acct = await stores[0]!.createAccount({
      address: 'alice@example.test',
      passwordHash: 'h',
    });
    const inbox = (await stores[0]!.getMailbox(acct.id, 'INBOX'))!.id;
    // Every node hears the account's changes, as with a session of it on each.
    if (hear) for (const s of stores) await hearAccount(s, acct.id);
    const commits = async () => {
      const r = await sql.query<{ n: number }>(
        'SELECT count(DISTINCT xmin::text)::integer AS n FROM mailbox_messages WHERE mailbox_id = $1',
        [inbox],
      );
      return r.rows[0]!.n;
    };
    await fn(
      stores.map((store) => ({ store, inbox, account: acct.id, commits })),
      sql,
    );
  } finally {
    await sql.end().catch(() => {});
    for (const s of stores) await s.close();
    await server.dropDatabase(url);
  }
}

/**
 * Appends to `box` on `node` while `sql` holds the account's lock as deleteMailbox takes it
 * (its modseq moved first), deletes the mailbox once the append's group waits for that lock,
 * and commits: the append's outcome (the error, or null), and the account's usage and modseq
 * just after the deletion and after the append's end.
 */
async function appendWhileDeleted(node: Node, sql: pg.Client, box: number) {
  const usage = async () =>
    (
      await sql.query<{ used: number; modseq: number }>(
        'SELECT used_bytes::integer AS used, modseq::integer AS modseq FROM accounts WHERE id = $1',
        [node.account],
      )
    ).rows[0]!;
  await sql.query('BEGIN');
  await sql.query('UPDATE accounts SET modseq = modseq + 1 WHERE id = $1', [node.account]);
  const outcome = node.store.append(newMessage('doomed'), [{ mailboxId: box }]).then(
    () => null,
    (err: unknown) => err,
  );
  await eventually(
    async () =>
      (
        await sql.query<{ n: number }>(
          `SELECT count(*)::integer AS n FROM pg_stat_activity
           WHERE wait_event_type = 'Lock' AND datname = current_database()`,
        )
      ).rows[0]!.n >= 1,
    'the append waiting for the account lock',
    30_000,
  );
  await sql.query('DELETE FROM mailboxes WHERE id = $1', [box]);
  await sql.query('COMMIT');
  const before = await usage();
  const err = await outcome;
  return { err, before, after: await usage() };
}

describe('postgres: appends grouped per node (group commit)', () => {
  test('40 appends at once: at most two commits, UIDs and modseqs in call order, one event each', () =>
    withNodes(1, async ([a]) => {
      const events: ChangeEvent[] = [];
      const off = a!.store.subscribe((e) => events.push(e));
      const n = 40;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          a!.store.append(newMessage(`m${i}`, `body ${i}\r\n`), [{ mailboxId: a!.inbox }]),
        ),
      );
      off();
      assert.deepEqual(
        results.map((r) => r[0]!.uid),
        Array.from({ length: n }, (_, i) => i + 1),
      );
      for (let i = 1; i < n; i++) assert.ok(results[i]![0]!.modseq > results[i - 1]![0]!.modseq);
      // Without grouping each append is a commit of its own (40).
      assert.ok((await a!.commits()) <= 2, `commits: ${await a!.commits()}`);
      // Each caller had its own event by the time it was answered, in UID order.
      const appends = events.filter((e) => e.kind === 'append');
      assert.deepEqual(
        appends.map((e) => [e.uids, e.modseq]),
        results.map((r) => [[r[0]!.uid], r[0]!.modseq]),
      );
      const status = await a!.store.mailboxStatus(a!.inbox);
      assert.equal(status.messages, n);
      assert.equal(status.uidNext, n + 1);
      assert.equal(status.highestModseq, results[n - 1]![0]!.modseq);
      const rows = await a!.store.listMessages(a!.inbox);
      assert.deepEqual(
        rows.map((r) => [r.uid, r.modseq, r.size]),
        results.map((r, i) => [
          r[0]!.uid,
          r[0]!.modseq,
          newMessage(`m${i}`, `body ${i}\r\n`).raw.length,
        ]),
      );
      // Every message's bytes are there, each its own.
      for (const [i, r] of rows.entries()) {
        assert.deepEqual(
          await a!.store.readMessage(r.blobHash),
          newMessage(`m${i}`, `body ${i}\r\n`).raw,
        );
      }
    }));

  test('flags and keywords of each append in a group; the events carry the keywords', () =>
    withNodes(1, async ([a]) => {
      const events: ChangeEvent[] = [];
      const off = a!.store.subscribe((e) => events.push(e));
      const flags = [['\\Seen'], ['$Label1', '\\Flagged'], [], ['$Label2']];
      const results = await Promise.all(
        flags.map((f, i) =>
          a!.store.append(newMessage(`f${i}`), [{ mailboxId: a!.inbox, flags: f }]),
        ),
      );
      off();
      const rows = await a!.store.listMessages(a!.inbox);
      assert.deepEqual(
        rows.map((r) => [...r.flags].sort()),
        [['\\Seen'], ['$Label1', '\\Flagged'], [], ['$Label2']],
      );
      const byUid = new Map(events.map((e) => [e.uids[0], e]));
      assert.deepEqual(byUid.get(results[1]![0]!.uid)?.keywords, ['$Label1']);
      assert.equal(byUid.get(results[0]![0]!.uid)?.keywords, undefined);
      assert.deepEqual(byUid.get(results[3]![0]!.uid)?.keywords, ['$Label2']);
      const summary = await a!.store.mailboxSummary(a!.inbox);
      assert.deepEqual([...summary.keywords].sort(), ['$Label1', '$Label2']);
    }));

  test('the same bytes twice in one group: two rows, one stored message', () =>
    withNodes(1, async ([a], sql) => {
      const m = newMessage('same');
      const results = await Promise.all([
        a!.store.append(m, [{ mailboxId: a!.inbox }]),
        a!.store.append(newMessage('other'), [{ mailboxId: a!.inbox }]),
        a!.store.append(m, [{ mailboxId: a!.inbox }]),
      ]);
      assert.deepEqual(results.map((r) => r[0]!.uid).sort(), [1, 2, 3]);
      const rows = await a!.store.listMessages(a!.inbox);
      assert.equal(rows.length, 3);
      const stored = await sql.query('SELECT id FROM messages');
      assert.equal(stored.rowCount, 2);
    }));

  test('a reply arriving with its parent gets the parent’s THREADID (RFC 8474)', () =>
    withNodes(1, async ([a]) => {
      const msg = (subject: string, id: string, references?: string[]) => {
        const m = newMessage(subject);
        m.index.search.messageId = id;
        if (references) m.index.search.references = references;
        return m;
      };
      const results = await Promise.all([
        a!.store.append(msg('other', '<o@x>'), [{ mailboxId: a!.inbox }]),
        a!.store.append(msg('parent', '<p@x>'), [{ mailboxId: a!.inbox }]),
        a!.store.append(msg('reply', '<r@x>', ['<p@x>']), [{ mailboxId: a!.inbox }]),
        a!.store.append(msg('reply 2', '<r2@x>', ['<p@x>', '<r@x>']), [{ mailboxId: a!.inbox }]),
      ]);
      const extras = await a!.store.getMessageExtras(
        a!.inbox,
        results.map((r) => r[0]!.uid),
      );
      const thread = (i: number) => extras.get(results[i]![0]!.uid)!.threadId;
      assert.equal(thread(2), thread(1));
      assert.equal(thread(3), thread(1));
      assert.notEqual(thread(0), thread(1));
    }));

  test('quota: of five appends at once with room for three, three are stored', () =>
    withNodes(1, async ([a], sql) => {
      const size = newMessage('q0').raw.length;
      await a!.store.setQuota('alice@example.test', size * 3 + 2);
      const outcomes = await Promise.allSettled(
        Array.from({ length: 5 }, (_, i) =>
          a!.store.append(newMessage(`q${i}`), [{ mailboxId: a!.inbox }]),
        ),
      );
      const ok = outcomes.filter((o) => o.status === 'fulfilled');
      const refused = outcomes.filter((o) => o.status === 'rejected');
      assert.equal(ok.length, 3);
      assert.equal(refused.length, 2);
      for (const r of refused) {
        const err = (r as PromiseRejectedResult).reason;
        assert.ok(err instanceof StoreError && err.code === 'OVERQUOTA', String(err));
      }
      const rows = await a!.store.listMessages(a!.inbox);
      assert.deepEqual(
        rows.map((r) => r.uid),
        [1, 2, 3],
      );
      const used = await sql.query<{ used: number }>(
        'SELECT used_bytes::integer AS used FROM accounts WHERE id = $1',
        [a!.account],
      );
      assert.equal(
        used.rows[0]!.used,
        rows.reduce((s, r) => s + r.size, 0),
      );
      // Nothing stored for the refused ones.
      assert.equal((await sql.query('SELECT id FROM messages')).rowCount, 3);
    }));

  test('a mailbox that is gone: each append of the group gets NOT_FOUND', () =>
    withNodes(1, async ([a]) => {
      const outcomes = await Promise.allSettled(
        Array.from({ length: 3 }, (_, i) =>
          a!.store.append(newMessage(`g${i}`), [{ mailboxId: a!.inbox + 1000 }]),
        ),
      );
      for (const o of outcomes) {
        assert.equal(o.status, 'rejected');
        const err = (o as PromiseRejectedResult).reason;
        assert.ok(err instanceof StoreError && err.code === 'NOT_FOUND', String(err));
      }
    }));

  test('three nodes at once into one mailbox: UIDs 1..n, distinct modseqs in UID order', () =>
    withNodes(3, async (nodes) => {
      const n = 90;
      const results = await Promise.all(
        Array.from({ length: n }, (_, i) =>
          nodes[i % 3]!.store.append(newMessage(`n${i}`), [{ mailboxId: nodes[0]!.inbox }]),
        ),
      );
      assert.deepEqual(
        results.map((r) => r[0]!.uid).sort((x, y) => x - y),
        Array.from({ length: n }, (_, i) => i + 1),
      );
      // On each node, its own appends got UIDs in the order they were made.
      for (let k = 0; k < 3; k++) {
        const own = results.filter((_, i) => i % 3 === k).map((r) => r[0]!.uid);
        assert.deepEqual(
          own,
          [...own].sort((x, y) => x - y),
        );
      }
      const rows = await nodes[1]!.store.listMessages(nodes[0]!.inbox);
      assert.equal(rows.length, n);
      for (let i = 1; i < rows.length; i++) assert.ok(rows[i]!.modseq > rows[i - 1]!.modseq);
      assert.ok((await nodes[0]!.commits()) < n);
    }));

  // Two nodes deliver into one mailbox, each having heard the other's appends: while the
  // account's lock is held elsewhere (here by a transaction of the test, as by a third node's
  // writer), each node's appends that arrive meanwhile wait on the node and go as one group
  // once the node has the lock, however they were spread in time: not a group of the first
  // and one of the rest. UIDs stay unique, and in call order per node.
  test('nodes contending for an account: the appends arriving while the lock is held go as one group per node', () =>
    withNodes(2, async (nodes, sql) => {
      const [a, b] = nodes as [Node, Node];
      const heard = nodes.map(({ store }) => {
        const uids: number[] = [];
        store.subscribe((e) => {
          if (e.kind === 'append') uids.push(...e.uids);
        });
        return uids;
      });
      await a.store.append(newMessage('x'), [{ mailboxId: a.inbox }]);
      await b.store.append(newMessage('y'), [{ mailboxId: a.inbox }]);
      await eventually(
        () => heard[0]!.includes(2) && heard[1]!.includes(1),
        'each node heard the other',
        20_000,
      );
      const waiters = async () =>
        (
          await sql.query<{ n: number }>(
            `SELECT count(*)::integer AS n FROM pg_stat_activity
             WHERE wait_event_type = 'Lock' AND datname = current_database()`,
          )
        ).rows[0]!.n;
      await sql.query('BEGIN');
      await sql.query('SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE', [a.account]);
      const calls: Array<{ node: number; done: Promise<Array<{ uid: number }>> }> = [];
      const send = (node: number, tag: string) =>
        calls.push({
          node,
          done: nodes[node]!.store.append(newMessage(tag), [{ mailboxId: a.inbox }]),
        });
      send(0, 'a0');
      send(1, 'b0');
      await eventually(async () => (await waiters()) >= 2, 'both nodes waiting', 30_000);
      for (let i = 1; i <= 4; i++) {
        send(0, `a${i}`);
        send(1, `b${i}`);
        // Apart in time, as SMTP sessions' deliveries arrive.
        await new Promise((r) => setImmediate(r));
      }
      await sql.query('COMMIT');
      const uids = await Promise.all(calls.map((c) => c.done.then((r) => r[0]!.uid)));
      assert.deepEqual(
        [...uids].sort((x, y) => x - y),
        Array.from({ length: 10 }, (_, i) => i + 3),
      );
      for (const node of [0, 1]) {
        const own = uids.filter((_, i) => calls[i]!.node === node);
        assert.deepEqual(
          own,
          [...own].sort((x, y) => x - y),
        );
      }
      // x, y, and a group per node. Taken before the lock was had, each node's first append
      // would have been a commit alone (6).
      assert.equal(await b.commits(), 4);
    }));

  // The same deletion under a contended mailbox's group, which waits for the account's lock
  // before it takes its appends: once it has the lock the mailbox is gone.
  test('a contended mailbox deleted while its group waits for the account lock: NOT_FOUND', () =>
    withNodes(2, async ([a, b], sql) => {
      const box = await b!.store.createMailbox(b!.account, 'Doomed');
      let heard = false;
      const off = a!.store.subscribe((e) => {
        if (e.kind === 'append' && e.mailboxId === box.id) heard = true;
      });
      await b!.store.append(newMessage('first'), [{ mailboxId: box.id }]);
      await eventually(() => heard, 'node a heard node b append', 20_000);
      off();
      const { err, before, after } = await appendWhileDeleted(a!, sql, box.id);
      assert.ok(err instanceof StoreError && err.code === 'NOT_FOUND', String(err));
      assert.deepEqual(after, before);
      const stored = await sql.query('SELECT 1 FROM messages');
      assert.equal(stored.rowCount, 1, 'only the first message is stored');
    }));

  // A node with no session of the account does not hear the other nodes' appends (events.ts):
  // its groups' modseqs show them instead, and its mailbox's groups then wait for the lock.
  test("a node that does not hear the account learns of another node's writes from its modseqs", () =>
    withNodes(
      2,
      async ([a, b]) => {
        const contended = (node: Node) =>
          (
            node.store as unknown as {
              messages: { batches: { contended: { until: Map<number, number> } } };
            }
          ).messages.batches.contended.until.has(node.inbox);
        await b!.store.append(newMessage('b1'), [{ mailboxId: b!.inbox }]);
        await b!.store.append(newMessage('b2'), [{ mailboxId: b!.inbox }]);
        // Its own appends one after another leave no gap.
        assert.equal(contended(b!), false);
        await a!.store.append(newMessage('a1'), [{ mailboxId: a!.inbox }]);
        // a had no group before: nothing to compare with.
        assert.equal(contended(a!), false);
        const [r] = await b!.store.append(newMessage('b3'), [{ mailboxId: b!.inbox }]);
        assert.equal(r!.uid, 4);
        assert.equal(contended(b!), true);
        for (const node of [a!, b!]) {
          assert.equal(
            (
              node.store as unknown as { events: { listensTo(id: number): boolean } }
            ).events.listensTo(node.account),
            false,
          );
        }
        // The contended path's transaction places the next one after it, as a group would.
        const [r2] = await b!.store.append(newMessage('b4'), [{ mailboxId: b!.inbox }]);
        assert.equal(r2!.uid, 5);
      },
      false,
    ));

  test('APPENDs claiming Recent go in one group; each claimant gets what it would one at a time', () =>
    withNodes(1, async ([a], sql) => {
      // Sessions' APPENDs (claim) and deliveries (no claim), all at once, in this order.
      const claims = [false, true, false, false, true, true, false];
      const results = await Promise.all(
        claims.map((claimRecent, i) =>
          a!.store.append(newMessage(`r${i}`), [{ mailboxId: a!.inbox, claimRecent }]),
        ),
      );
      assert.deepEqual(
        results.map((r) => r[0]!.uid),
        [1, 2, 3, 4, 5, 6, 7],
      );
      // Without grouping each claimant's append is a commit of its own (at least 4).
      assert.ok((await a!.commits()) <= 2, `commits: ${await a!.commits()}`);
      // One at a time: the first claimant takes UIDs 1-2, the next 3-5, the last 6 alone.
      assert.deepEqual(
        results.map((r) => r[0]!.recentFrom),
        [undefined, 1, undefined, undefined, 3, 6, undefined],
      );
      const mb = await sql.query<{ f: number }>(
        'SELECT first_recent_uid::integer AS f FROM mailboxes WHERE id = $1',
        [a!.inbox],
      );
      assert.equal(mb.rows[0]!.f, 7);
      assert.equal((await a!.store.mailboxStatus(a!.inbox)).recent, 1);
      // Another claim finds only UID 7 left.
      assert.equal(await a!.store.claimRecent(a!.inbox, 7, true), 7);
    }));

  // A mailbox deleted by a transaction that holds the account's lock while an append to it
  // waits for that lock: the append's statement read the mailbox before, finds its row gone
  // after, and must not have moved the account's usage (quota) or modseq meanwhile.
  test('a mailbox deleted while a group waits for the account lock: NOT_FOUND, usage unmoved', () =>
    withNodes(1, async ([a], sql) => {
      const box = await a!.store.createMailbox(a!.account, 'Doomed');
      const { err, before, after } = await appendWhileDeleted(a!, sql, box.id);
      assert.ok(err instanceof StoreError && err.code === 'NOT_FOUND', String(err));
      assert.equal(after.used, 0);
      assert.equal(after.modseq, before.modseq);
      assert.equal((await sql.query('SELECT id FROM messages')).rowCount, 0);
    }));
});

describe('postgres: groups of several mailboxes in one transaction', () => {
  /** n accounts (each its INBOX) on `nodes` stores over one new database. */
  async function withAccounts(
    nodes: number,
    n: number,
    fn: (stores: PostgresStore[], inboxes: number[], sql: pg.Client) => Promise<void>,
  ) {
    const url = await server.createDatabase();
    const stores: PostgresStore[] = [];
    const sql = new pg.Client({ connectionString: url });
    try {
      for (let i = 0; i < nodes; i++) {
        stores.push(await PostgresStore.open({ connectionString: url }));
      }
      await sql.connect();
      await stores[0]!.addDomain('example.test');
      const inboxes: number[] = [];
      for (let i = 0; i < n; i++) {
        const acct = await stores[0]!.createAccount({
          address: `u${i}@example.test`,
          passwordHash: 'h',
        });
        inboxes.push((await stores[0]!.getMailbox(acct.id, 'INBOX'))!.id);
      }
      await fn(stores, inboxes, sql);
    } finally {
      await sql.end().catch(() => {});
      for (const s of stores) await s.close();
      await server.dropDatabase(url);
    }
  }

  test('ten appends to ten accounts at once: fewer commits than appends, each its own UID 1', () =>
    withAccounts(1, 10, async ([a], inboxes, sql) => {
      const events: ChangeEvent[] = [];
      const off = a!.subscribe((e) => events.push(e));
      const results = await Promise.all(
        inboxes.map((id, i) => a!.append(newMessage(`s${i}`), [{ mailboxId: id }])),
      );
      off();
      for (const [i, r] of results.entries()) {
        assert.equal(r[0]!.mailboxId, inboxes[i]);
        assert.equal(r[0]!.uid, 1);
      }
      // Each append's event, heard before its caller was answered.
      for (const [i, r] of results.entries()) {
        assert.ok(
          events.some(
            (e) => e.kind === 'append' && e.mailboxId === inboxes[i] && e.modseq === r[0]!.modseq,
          ),
          `event of ${i}`,
        );
      }
      // Without sharing, each mailbox's group is a commit of its own (10); a second
      // transaction may start while the first is out.
      const commits = (
        await sql.query<{ n: number }>(
          'SELECT count(DISTINCT xmin::text)::integer AS n FROM mailbox_messages',
        )
      ).rows[0]!.n;
      assert.ok(commits <= 3, `commits: ${commits}`);
      for (const [i, id] of inboxes.entries()) {
        const rows = await a!.listMessages(id);
        assert.equal(rows.length, 1);
        assert.deepEqual(await a!.readMessage(rows[0]!.blobHash), newMessage(`s${i}`).raw);
        assert.equal((await a!.mailboxStatus(id)).highestModseq, results[i]![0]!.modseq);
      }
    }));

  test('a mailbox gone among the groups: its appends get NOT_FOUND, the others are stored', () =>
    withAccounts(1, 4, async ([a], inboxes) => {
      const targets = [...inboxes, inboxes[3]! + 1000];
      const outcomes = await Promise.allSettled(
        targets.map((id, i) => a!.append(newMessage(`x${i}`), [{ mailboxId: id }])),
      );
      for (const o of outcomes.slice(0, 4)) assert.equal(o.status, 'fulfilled');
      const gone = outcomes[4]!;
      assert.equal(gone.status, 'rejected');
      const err = (gone as PromiseRejectedResult).reason;
      assert.ok(err instanceof StoreError && err.code === 'NOT_FOUND', String(err));
      for (const id of inboxes) assert.equal((await a!.listMessages(id)).length, 1);
    }));

  test('two nodes writing the same accounts in opposite orders: no deadlock, UIDs 1..n each', () =>
    withAccounts(2, 4, async ([a, b], inboxes) => {
      const rounds = 15;
      const calls: Array<Promise<unknown>> = [];
      for (let r = 0; r < rounds; r++) {
        for (const [i, id] of inboxes.entries()) {
          calls.push(a!.append(newMessage(`a${r}-${i}`), [{ mailboxId: id }]));
          const back = inboxes[inboxes.length - 1 - i]!;
          calls.push(b!.append(newMessage(`b${r}-${i}`), [{ mailboxId: back }]));
        }
      }
      await Promise.all(calls);
      for (const id of inboxes) {
        const rows = await a!.listMessages(id);
        assert.deepEqual(
          rows.map((x) => x.uid),
          Array.from({ length: 2 * rounds }, (_, k) => k + 1),
        );
        for (let k = 1; k < rows.length; k++) assert.ok(rows[k]!.modseq > rows[k - 1]!.modseq);
      }
    }));
});

describe('postgres: a group of one', () => {
  test('goes in the one-message statement (append-one.ts): UID, THREADID, keywords as a group', () =>
    withNodes(1, async ([a]) => {
      // The statements the pool's connections send, by their text.
      const sent: string[] = [];
      const proto = pg.Client.prototype as unknown as { query: (...a: unknown[]) => unknown };
      const query = proto.query;
      proto.query = function (this: unknown, ...args: unknown[]) {
        const c = args[0] as { text?: unknown } | string;
        if (typeof c === 'object' && typeof c.text === 'string') sent.push(c.text);
        return query.apply(this, args);
      };
      const one = new Set(APPEND_ONE.flat());
      try {
        const msg = (subject: string, id: string, references?: string[]) => {
          const m = newMessage(subject);
          m.index.search.messageId = id;
          if (references) m.index.search.references = references;
          return m;
        };
        const parent = await a!.store.append(msg('parent', '<p@x>'), [{ mailboxId: a!.inbox }]);
        const other = await a!.store.append(msg('other', '<o@x>'), [{ mailboxId: a!.inbox }]);
        // Its first key that names a stored message decides (RFC 8474), not the oldest one.
        const reply = await a!.store.append(msg('reply', '<r@x>', ['<o@x>', '<p@x>']), [
          { mailboxId: a!.inbox, flags: ['\\Seen', '$Important'] },
        ]);
        assert.deepEqual(
          [parent, other, reply].map((r) => r[0]!.uid),
          [1, 2, 3],
        );
        const extras = await a!.store.getMessageExtras(a!.inbox, [1, 2, 3]);
        assert.notEqual(extras.get(1)!.threadId, extras.get(2)!.threadId);
        assert.equal(extras.get(3)!.threadId, extras.get(2)!.threadId);
        const rows = await a!.store.listMessages(a!.inbox);
        assert.deepEqual([...rows[2]!.flags].sort(), ['$Important', '\\Seen']);
        // Three appends, each alone: three statements of append-one.ts, none of the group's.
        const appends = sent.filter((t) => /INSERT INTO mailbox_messages/.test(t));
        assert.equal(appends.length, 3);
        for (const t of appends) assert.ok(one.has(t), t.slice(0, 80));
      } finally {
        proto.query = query;
      }
    }));

  test('its blob is written before it waits for the account’s lock', () =>
    withNodes(1, async ([a], sql) => {
      // Another writer holds the account's row: the append's statement waits for it, having
      // written the stored message and its blob first (so that writers to the account wait
      // only for the counters, the row and the commit).
      const msg = newMessage('held');
      const hash = sha256(msg.raw);
      await sql.query('BEGIN');
      await sql.query('SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE', [a!.account]);
      const done = a!.store.append(msg, [{ mailboxId: a!.inbox }]);
      const other = new pg.Client({
        host: sql.host,
        port: sql.port,
        user: sql.user,
        database: sql.database,
      });
      try {
        await other.connect();
        await eventually(
          async () =>
            (
              await other.query<{ n: number }>(
                `SELECT count(*)::integer AS n FROM pg_stat_activity
                 WHERE wait_event_type = 'Lock' AND datname = current_database()`,
              )
            ).rows[0]!.n >= 1,
          'the append waiting for the account',
          30_000,
        );
        // Its blob row is there, not committed: inserting the same hash waits for its
        // transaction, which waits for ours (lock_timeout ends that wait with 55P03).
        await other.query('BEGIN');
        await other.query("SET LOCAL lock_timeout = '200ms'");
        await assert.rejects(
          other.query('INSERT INTO blobs (hash, size) VALUES ($1, 0) ON CONFLICT DO NOTHING', [
            hash,
          ]),
          (err: { code?: string }) => err.code === '55P03',
        );
        await other.query('ROLLBACK');
      } finally {
        await other.end().catch(() => {});
        await sql.query('COMMIT');
      }
      assert.equal((await done)[0]!.uid, 1);
      assert.deepEqual(await a!.store.readMessage(hash), msg.raw);
    }));

  test('its plan made for any parameters finds stored messages by index, not by a scan', async () => {
    // The statement keeps a generic plan, made while `messages` may be nearly empty: a lookup
    // planned then as a scan of the table grows with it at every append.
    const url = await server.createDatabase();
    const store = await PostgresStore.open({ connectionString: url });
    const sql = new pg.Client({ connectionString: url });
    try {
      await sql.connect();
      await sql.query('SET plan_cache_mode = force_generic_plan');
      for (const [i, text] of APPEND_ONE.flat().entries()) {
        await sql.query(`PREPARE one${i} AS ${text}`);
        const r = await sql.query<{ 'QUERY PLAN': unknown }>(
          `EXPLAIN (FORMAT JSON) EXECUTE one${i}(${Array(35).fill('NULL').join(', ')})`,
        );
        const scans: string[] = [];
        const walk = (n: Record<string, unknown>) => {
          if (n['Node Type'] === 'Seq Scan') scans.push(String(n['Relation Name']));
          for (const c of (n.Plans as Array<Record<string, unknown>>) ?? []) walk(c);
        };
        walk((r.rows[0]!['QUERY PLAN'] as Array<{ Plan: Record<string, unknown> }>)[0]!.Plan);
        assert.deepEqual(
          scans.filter((t) => t === 'messages'),
          [],
        );
      }
    } finally {
      await sql.end().catch(() => {});
      await store.close();
      await server.dropDatabase(url);
    }
  });
});
