// Issue 17 item 6: nothing acknowledged is lost when PostgreSQL itself crashes. A write that
// sends change notices commits without waiting for its WAL flush and is made durable by the
// flush transaction sent behind it on its connection, before the write answers
// (src/store/postgres/db.ts, UNFLUSHED_COMMIT). Here PostgreSQL is ended at once (immediate
// shutdown: WAL that only its shared memory held is lost) while appends and flag changes are
// being acknowledged; after it starts again every acknowledged one is there. Answered without
// waiting for the flush, the last of them (up to the WAL writer's next round, 200 ms) go.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const external = process.env.LETTERBOX_TEST_PG_URL ? 'needs the test cluster of its own' : false;
let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

test('appends and flag changes acknowledged before a crash of PostgreSQL are there after it', {
  skip: external,
}, async () => {
  const url = await server.createDatabase();
  const store = await PostgresStore.open({ connectionString: url, max: 6 });
  await store.addDomain('example.test');
  const acct = await store.createAccount({ address: 'a@example.test', passwordHash: 'h' });
  const inbox = (await store.getMailbox(acct.id, 'INBOX'))!.id;
  const SEEDED = 20;
  for (let i = 0; i < SEEDED; i++)
    await store.append(newMessage(`seed${i}`), [{ mailboxId: inbox }]);

  const appended = new Set<string>();
  const flagged: Array<{ uid: number; keyword: string }> = [];
  let running = true;
  let n = 0;
  // Every call after the crash fails (no answer: nothing promised), which ends the loops.
  const appender = async () => {
    while (running) {
      const subject = `m${n++}`;
      try {
        await store.append(newMessage(subject), [{ mailboxId: inbox }]);
        appended.add(subject);
      } catch {
        return;
      }
    }
  };
  const flagger = async (first: number) => {
    for (let k = first; running; k += 2) {
      const uid = (k % SEEDED) + 1;
      const keyword = `$k${k}`;
      try {
        await store.setFlags(inbox, [uid], 'add', [keyword]);
        flagged.push({ uid, keyword });
      } catch {
        return;
      }
    }
  };
  const loops = [appender(), appender(), appender(), appender(), flagger(0), flagger(1)];
  await eventually(
    () => appended.size >= 60 && flagged.length >= 30,
    'acknowledged writes before the crash',
    60_000,
  );
  server.crash();
  running = false;
  await Promise.all(loops);
  await store.close().catch(() => {});
  server.resume();

  const after = await PostgresStore.open({ connectionString: url, max: 2 });
  try {
    const rows = await after.listMessages(inbox);
    const subjects = new Set(
      (
        await after.getSearchField(
          inbox,
          'subject',
          rows.map((r) => r.uid),
        )
      ).values(),
    );
    const lost = [...appended].filter((s) => !subjects.has(s));
    assert.deepEqual(lost, [], `${lost.length} of ${appended.size} acknowledged appends lost`);
    const flagsOf = new Map(rows.map((r) => [r.uid, new Set(r.flags)]));
    const unflagged = flagged.filter((f) => !flagsOf.get(f.uid)?.has(f.keyword));
    assert.deepEqual(
      unflagged,
      [],
      `${unflagged.length} of ${flagged.length} acknowledged flag changes lost`,
    );
  } finally {
    await after.close();
    await server.dropDatabase(url);
  }
});
