// Issue 17 item 4: a node whose LISTEN connection drops misses the notifications of changes
// other nodes commit meanwhile. Listening again, it reads what changed in the mailboxes its
// sessions hold (src/store/postgres/catch-up.ts) and emits it before what it hears next.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { ChangeEvent } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

/** Ends the node's LISTEN connection from the server side, as a dropped connection would. */
async function dropListener(url: string, node: string): Promise<number> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    const r = await c.query(
      'SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity WHERE application_name = $1',
      [`letterbox events ${node}`],
    );
    return r.rows.filter((x) => x.ok === true).length;
  } finally {
    await c.end();
  }
}

test('changes committed on A while B was not listening reach B when it listens again', async () => {
  const url = await server.createDatabase();
  const a = await PostgresStore.open({ connectionString: url, max: 4, nodeId: 'node-a' });
  const b = await PostgresStore.open({ connectionString: url, max: 4, nodeId: 'node-b' });
  try {
    await a.addDomain('example.test');
    const acct = await a.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    const inbox = (await a.getMailbox(acct.id, 'INBOX'))!;
    const other = (await a.getMailbox(acct.id, 'Archive'))!;
    for (const s of ['one', 'two', 'three']) {
      await a.append(newMessage(s), [{ mailboxId: inbox.id }]);
    }
    // A session on B selected INBOX and Archive, having read them up to now.
    const read = await b.mailboxStatus(inbox.id);
    b.holdMailbox(inbox.id, { accountId: acct.id, modseq: read.highestModseq });
    b.holdMailbox(other.id, { accountId: acct.id, modseq: 0 });
    const seen: ChangeEvent[] = [];
    b.subscribe((ev) => seen.push(ev));

    assert.equal(await dropListener(url, 'node-b'), 1);
    // Node B listens again half a second after it noticed: these commit before that (on a
    // machine too slow for that, B hears some of them live, and the test shows less).
    await a.append(newMessage('four'), [{ mailboxId: inbox.id }]);
    await a.setFlags(inbox.id, [1], 'add', ['\\Flagged', 'urgent']);
    await a.expunge(inbox.id, { uids: [2], onlyDeleted: false });
    await a.deleteMailbox(other.id);

    await eventually(
      () =>
        seen.some((e) => e.kind === 'append' && e.uids.includes(4)) &&
        seen.some((e) => e.kind === 'flags' && e.uids.includes(1)) &&
        seen.some((e) => e.kind === 'expunge' && e.uids.includes(2)) &&
        seen.some((e) => e.kind === 'mailbox-delete' && e.mailboxId === other.id),
      'B to catch up',
      10_000,
    );
    const flags = seen.find((e) => e.kind === 'flags' && e.uids.includes(1))!;
    assert.equal(flags.accountId, acct.id);
    assert.deepEqual(flags.keywords, ['urgent']);
    // Caught up, B hears what follows as before, after what it read.
    await a.append(newMessage('five'), [{ mailboxId: inbox.id }]);
    await eventually(
      () => seen.some((e) => e.kind === 'append' && e.uids.includes(5)),
      'B to hear a change after catching up',
      10_000,
    );
    const order = seen.filter((e) => e.mailboxId === inbox.id).map((e) => e.kind);
    assert.equal(order.at(-1), 'append');
  } finally {
    await a.close();
    await b.close();
    await server.dropDatabase(url);
  }
});
