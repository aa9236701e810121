// Issue 17: the lease on an account's row (accounts.listened_until, src/store/postgres/events.ts).
// A node that listens to an account holds a lease on it, taken with its LISTEN and renewed at
// half its life; the appends send no notice while no lease runs, so that a delivery to an
// account nobody reads wakes no listening backend. Notices are counted here by a LISTEN
// connection of the test's own, which holds no lease: it hears only what the nodes' leases
// make the writers send. Notices arrive in commit order, so an append's missing notice is seen
// as the absence of it before the next notice of a write that always sends one (a STORE).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { accountChannel } from '../../src/store/postgres/events.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { ChangeEvent } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { hearAccount } from '../helpers/hear-account.js';
import { newMessage } from '../helpers/messages.js';
import { eventsOf } from '../helpers/pg-events.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

/**
 * The leases of these tests' node a: short, so that one runs out within a test, and long
 * enough that a renewal (sent with at least half of it left) is never late on a loaded machine
 * (a late one is a break of the LISTEN connection, which the renewal test asserts never came).
 */
const LEASE_MS = 6000;

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

/** The kinds of the notices heard on the account's channel by a plain LISTEN connection. */
async function counter(
  url: string,
  account: number,
): Promise<{ kinds: string[]; end: () => Promise<void> }> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const kinds: string[] = [];
  c.on('notification', (msg) => {
    if (msg.channel !== accountChannel(account) || !msg.payload) return;
    kinds.push((JSON.parse(msg.payload) as { e: ChangeEvent }).e.kind);
  });
  await c.query(`LISTEN ${accountChannel(account)}`);
  return { kinds, end: () => c.end() };
}

async function sql<R extends pg.QueryResultRow>(url: string, text: string, values: unknown[] = []) {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return (await c.query<R>(text, values)).rows;
  } finally {
    await c.end();
  }
}

/**
 * A notice of the test's own on the account's channel, committed after every write that
 * returned before it (so after their notices, commit order), and waited for: what `heard`
 * holds before it is all those writes sent.
 */
async function mark(url: string, account: number, heard: { kinds: string[] }): Promise<void> {
  const n = heard.kinds.filter((k) => k === 'mark').length;
  await sql(url, 'SELECT pg_notify($1, $2)', [
    accountChannel(account),
    JSON.stringify({ o: 'test', s: 0, e: { kind: 'mark', accountId: account, modseq: 0 } }),
  ]);
  await eventually(
    () => heard.kinds.filter((k) => k === 'mark').length > n,
    'the mark notice',
    20_000,
  );
}

/** Whether some node's lease on the account runs now (PostgreSQL's clock). */
async function leased(url: string, account: number): Promise<boolean> {
  const [r] = await sql<{ on: boolean | null }>(
    url,
    'SELECT listened_until > now() AS on FROM accounts WHERE id = $1',
    [account],
  );
  return r?.on === true;
}

/** Nodes a and b over a new database, an account and its INBOX; a's leases run `leaseMs`. */
async function withNodes(
  fn: (
    url: string,
    a: PostgresStore,
    b: PostgresStore,
    account: number,
    inbox: number,
  ) => Promise<void>,
  opts: { lingerMs?: number; leaseMs?: number } = {},
): Promise<void> {
  const url = await server.createDatabase();
  const a = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'node-a', ...opts });
  const b = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'node-b' });
  try {
    await a.addDomain('example.test');
    const acct = await a.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    await fn(url, a, b, acct.id, (await a.getMailbox(acct.id, 'INBOX'))!.id);
  } finally {
    await a.close();
    await b.close();
    await server.dropDatabase(url);
  }
}

test('an append to an account no node listens to sends no notice; one a node listens to does', () =>
  withNodes(
    async (url, a, b, account, inbox) => {
      const heard = await counter(url, account);
      try {
        await b.append(newMessage('nobody listens'), [{ mailboxId: inbox }]);
        // The append's notice would have come before the mark (commit order).
        await mark(url, account, heard);
        assert.deepEqual(heard.kinds, ['mark']);

        // A session on a: its LISTEN and its lease, then b's append is heard (by a too).
        const onA: ChangeEvent[] = [];
        const off = await hearAccount(a, account, (ev) => onA.push(ev));
        assert.equal(await leased(url, account), true);
        const [r] = await b.append(newMessage('a listens'), [{ mailboxId: inbox }]);
        await eventually(
          () => onA.some((e) => e.kind === 'append' && e.uids.includes(r!.uid)),
          'a to hear the append',
          20_000,
        );
        await eventually(() => heard.kinds.length === 2, 'the append notice', 20_000);
        assert.deepEqual(heard.kinds, ['mark', 'append']);

        // The session ends: a lets the account go after lingerMs, and its lease runs out.
        off();
        await eventually(() => !eventsOf(a).listensTo(account), 'a to stop listening', 20_000);
        await eventually(async () => !(await leased(url, account)), 'the lease to run out', 40_000);
        // Three appends in one group, and one alone (append-batch.ts, append-one.ts).
        await Promise.all(
          ['g1', 'g2', 'g3'].map((s) => b.append(newMessage(s), [{ mailboxId: inbox }])),
        );
        await b.append(newMessage('alone'), [{ mailboxId: inbox }]);
        // And a STORE and an EXPUNGE: no lease, no notice either (set-flag-one.ts,
        // expunge-one.ts).
        await b.setFlags(inbox, [1], 'add', ['\\Deleted']);
        await b.expunge(inbox, { onlyDeleted: true });
        await mark(url, account, heard);
        assert.deepEqual(heard.kinds, ['mark', 'append', 'mark']);
        // b had its own appends' events at once, without waiting for an echo in vain.
        assert.deepEqual(
          (await b.listMessages(inbox)).map((m) => m.uid),
          [2, 3, 4, 5, 6],
        );
      } finally {
        await heard.end();
      }
    },
    { lingerMs: 100, leaseMs: LEASE_MS },
  ));

test("a node renews its lease while it listens: the notices go on past the first lease's life", () =>
  withNodes(
    async (url, a, b, account, inbox) => {
      const onA: ChangeEvent[] = [];
      await hearAccount(a, account, (ev) => onA.push(ev));
      const epoch = eventsOf(a).epoch;
      const [first] = await sql<{ until: Date }>(
        url,
        'SELECT listened_until AS until FROM accounts WHERE id = $1',
        [account],
      );
      // Renewed at least twice past the first lease's end, as PostgreSQL's clock tells it.
      await eventually(
        async () => {
          const [r] = await sql<{ ok: boolean }>(
            url,
            `SELECT now() > $2::timestamptz + interval '600 milliseconds'
               AND listened_until > now() AS ok FROM accounts WHERE id = $1`,
            [account, first!.until],
          );
          return r?.ok === true;
        },
        'the lease renewed past its first end',
        40_000,
      );
      const heard = await counter(url, account);
      try {
        const [r] = await b.append(newMessage('later'), [{ mailboxId: inbox }]);
        await eventually(
          () => onA.some((e) => e.kind === 'append' && e.uids.includes(r!.uid)),
          'a to hear the append',
          20_000,
        );
        await eventually(() => heard.kinds.includes('append'), 'the append notice', 20_000);
      } finally {
        await heard.end();
      }
      // Renewed in time all along: no break of the LISTEN connection.
      assert.equal(eventsOf(a).epoch, epoch);
    },
    { leaseMs: LEASE_MS },
  ));

test('a lease renewed late is a break: the node listens again and takes its lease again', () =>
  withNodes(async (url, a, _b, account) => {
    await hearAccount(a, account);
    const epoch = eventsOf(a).epoch;
    // As after a stall longer than the lease: its count on this node has run out.
    const entry = (
      eventsOf(a) as unknown as { accounts: Map<number, { leaseUntil: number }> }
    ).accounts.get(account)!;
    entry.leaseUntil = performance.now() - 1;
    await eventually(() => eventsOf(a).epoch > epoch, 'a to drop its LISTEN connection', 20_000);
    await eventually(() => eventsOf(a).listensTo(account), 'a to listen again', 20_000);
    assert.equal(await leased(url, account), true);
  }));

test('a session whose lease waits behind a writer holding the account sees the write', () =>
  withNodes(async (url, a, b, account, inbox) => {
    // A transaction of the test's holds the account's row, as a writer does.
    const holder = new pg.Client({ connectionString: url });
    await holder.connect();
    try {
      await holder.query('BEGIN');
      await holder.query('SELECT id FROM accounts WHERE id = $1 FOR NO KEY UPDATE', [account]);
      const waiting = async () =>
        Number(
          (
            await sql<{ n: string }>(
              url,
              "SELECT count(*) AS n FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
            )
          )[0]!.n,
        );
      // b's append waits for the row first, then a's LISTEN and lease behind it.
      const appended = b.append(newMessage('first in line'), [{ mailboxId: inbox }]);
      await eventually(async () => (await waiting()) >= 1, 'the append to wait', 20_000);
      const off = a.subscribeAccount(account, () => {});
      await eventually(async () => (await waiting()) >= 2, 'the lease to wait', 20_000);
      assert.equal(eventsOf(a).listensTo(account), false);
      await holder.query('COMMIT');
      const [r] = await appended;
      await eventually(() => eventsOf(a).listensTo(account), 'a to listen', 20_000);
      assert.deepEqual(
        (await a.listMessages(inbox)).map((m) => m.uid),
        [r!.uid],
      );
      off();
    } finally {
      await holder.end();
    }
  }));

test('a node started again takes its leases again and sees what was written meanwhile', async () => {
  const url = await server.createDatabase();
  const b = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'node-b' });
  let a = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'node-a' });
  try {
    await b.addDomain('example.test');
    const acct = await b.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    const inbox = (await b.getMailbox(acct.id, 'INBOX'))!.id;
    await hearAccount(a, acct.id);
    await b.append(newMessage('one'), [{ mailboxId: inbox }]);
    await a.close();
    await b.append(newMessage('two'), [{ mailboxId: inbox }]);
    a = await PostgresStore.open({ connectionString: url, max: 2, nodeId: 'node-a' });
    const onA: ChangeEvent[] = [];
    await hearAccount(a, acct.id, (ev) => onA.push(ev));
    assert.equal(await leased(url, acct.id), true);
    assert.deepEqual(
      (await a.listMessages(inbox)).map((m) => m.uid),
      [1, 2],
    );
    const [r] = await b.append(newMessage('three'), [{ mailboxId: inbox }]);
    await eventually(
      () => onA.some((e) => e.kind === 'append' && e.uids.includes(r!.uid)),
      'a to hear the append',
      20_000,
    );
  } finally {
    await a.close();
    await b.close();
    await server.dropDatabase(url);
  }
});

test("accounts' first LISTENs asked while one is out go together: their LISTENs and leases in one query", () =>
  withNodes(async (url, a, b, account) => {
    // The node's LISTEN connection is up (a session of one account).
    const offFirst = await hearAccount(a, account);
    const ids: number[] = [];
    for (let i = 0; i < 6; i++) {
      ids.push((await a.createAccount({ address: `u${i}@example.test`, passwordHash: 'h' })).id);
    }
    const client = (eventsOf(a) as unknown as { client: pg.Client }).client;
    const asked: string[] = [];
    const query = client.query.bind(client) as (...args: unknown[]) => unknown;
    client.query = ((...args: unknown[]) => {
      const text = args[0];
      if (typeof text === 'string' && text.includes('listened_until')) asked.push(text);
      return query(...args);
    }) as pg.Client['query'];
    // Six sessions of six accounts start in one turn: the first ask goes alone, the other
    // five wait for it and go in one query (events.ts ask).
    const heard: ChangeEvent[] = [];
    const offs = ids.map((id) => a.subscribeAccount(id, (ev) => heard.push(ev)));
    await Promise.all(ids.map((id) => a.listening?.(id)));
    assert.equal(asked.length, 2, asked.join('\n'));
    assert.equal((asked[1]!.match(/LISTEN /g) ?? []).length, 5, asked[1]);
    // Each is leased and listened to: b's append to the last is heard on a.
    for (const id of ids) assert.equal(await leased(url, id), true, `account ${id} leased`);
    const last = ids[ids.length - 1]!;
    const inbox = (await b.getMailbox(last, 'INBOX'))!.id;
    const [r] = await b.append(newMessage('to the last'), [{ mailboxId: inbox }]);
    await eventually(
      () => heard.some((e) => e.accountId === last && e.uids.includes(r!.uid)),
      "a to hear b's append",
      20_000,
    );
    for (const off of offs) off();
    offFirst();
  }));

test("a node that alone holds the account's lease sends no notice for its own writes; a second node's lease makes them notify again", () =>
  withNodes(async (url, a, b, account, inbox) => {
    const onA: ChangeEvent[] = [];
    const offA = await hearAccount(a, account, (ev) => onA.push(ev));
    const heard = await counter(url, account);
    try {
      // a's append, one-row STOREs and EXPUNGE (append-one.ts / append-batch.ts,
      // set-flag-one.ts, expunge-one.ts): a alone listens, so none sends a notice.
      const [r] = await a.append(newMessage('mine'), [{ mailboxId: inbox }]);
      await a.setFlags(inbox, [r!.uid], 'add', ['\\Seen']);
      await a.setFlags(inbox, [r!.uid], 'add', ['\\Deleted']);
      await a.expunge(inbox, { onlyDeleted: true });
      await mark(url, account, heard);
      assert.deepEqual(heard.kinds, ['mark']);
      // a's own sessions had them all, in modseq order.
      const own = onA.filter((e) => e.mailboxId === inbox);
      assert.deepEqual(
        own.map((e) => e.kind),
        ['append', 'flags', 'flags', 'expunge'],
      );
      for (let i = 1; i < own.length; i++) assert.ok(own[i]!.modseq > own[i - 1]!.modseq);

      // b takes a lease too: from then on a's writes notify, and b hears them.
      const onB: ChangeEvent[] = [];
      const offB = await hearAccount(b, account, (ev) => onB.push(ev));
      const [s] = await a.append(newMessage('b listens'), [{ mailboxId: inbox }]);
      await a.setFlags(inbox, [s!.uid], 'add', ['\\Flagged']);
      await eventually(
        () => onB.some((e) => e.kind === 'flags' && e.uids.includes(s!.uid)),
        "b to hear a's STORE",
        20_000,
      );
      assert.ok(onB.some((e) => e.kind === 'append' && e.uids.includes(s!.uid)));
      await mark(url, account, heard);
      assert.deepEqual(heard.kinds, ['mark', 'append', 'flags', 'mark']);
      // And b's writes reach a.
      const [t] = await b.append(newMessage('from b'), [{ mailboxId: inbox }]);
      await eventually(
        () => onA.some((e) => e.kind === 'append' && e.uids.includes(t!.uid)),
        "a to hear b's append",
        20_000,
      );
      offB();
    } finally {
      offA();
      await heard.end();
    }
  }));

test("the holder's own writes unnotified and another node's notified ones reach the holder's sessions in commit order", () =>
  withNodes(async (_url, a, b, account, inbox) => {
    const onA: ChangeEvent[] = [];
    const offA = await hearAccount(a, account, (ev) => onA.push(ev));
    try {
      // b has no session of the account (an SMTP delivery there): its appends notify, for a;
      // a's own send nothing and are emitted by a once the modseqs before theirs were heard.
      const writes: Array<Promise<unknown>> = [];
      for (let i = 0; i < 12; i++) {
        writes.push(a.append(newMessage(`a${i}`), [{ mailboxId: inbox }]));
        writes.push(b.append(newMessage(`b${i}`), [{ mailboxId: inbox }]));
      }
      await Promise.all(writes);
      await eventually(
        () => onA.filter((e) => e.kind === 'append' && e.mailboxId === inbox).length === 24,
        'a to have all 24 appends',
        20_000,
      );
      const uids = onA
        .filter((e) => e.kind === 'append' && e.mailboxId === inbox)
        .flatMap((e) => e.uids);
      assert.deepEqual(
        uids,
        Array.from({ length: 24 }, (_, i) => i + 1),
      );
      assert.equal(eventsOf(a).listensTo(account), true);
    } finally {
      offA();
    }
  }));

test("the holder's own write waits for another node's notice committed before it (the order check)", () =>
  withNodes(async (_url, a, b, account, inbox) => {
    const onA: ChangeEvent[] = [];
    const offA = await hearAccount(a, account, (ev) => onA.push(ev));
    const events = eventsOf(a) as unknown as {
      client: { connection: { stream: { pause(): void; resume(): void } } };
      accounts: Map<number, { queued: unknown[] }>;
    };
    const stream = events.client.connection.stream;
    try {
      // a's LISTEN connection is slow to pass on what it heard: b's notice waits there.
      stream.pause();
      const [first] = await b.append(newMessage('from b'), [{ mailboxId: inbox }]);
      // a's own append after it sends no notice; a must not tell its sessions of it first.
      const mine = a.append(newMessage('from a'), [{ mailboxId: inbox }]);
      await eventually(
        () =>
          (events.accounts.get(account)?.queued.length ?? 0) > 0 ||
          onA.some((e) => e.kind === 'append'),
        "a's append to be answered",
        20_000,
      );
      stream.resume();
      const [second] = await mine;
      await eventually(
        () => onA.filter((e) => e.kind === 'append').length === 2,
        'a to have both appends',
        20_000,
      );
      assert.deepEqual(
        onA.filter((e) => e.kind === 'append').flatMap((e) => e.uids),
        [first!.uid, second!.uid],
      );
    } finally {
      stream.resume();
      offA();
    }
  }));
