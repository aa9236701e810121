// A store writing beside another (shareChanges: `letterbox import` beside the server): the
// other store hears of each change as an event of its own, and its row cache, read before,
// shows the new rows; a store without shareChanges logs nothing.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { indexMessage } from '../../src/delivery/local.js';
import { ChangeLogReader } from '../../src/store/sqlite/change-log.js';
import { openDatabase } from '../../src/store/sqlite/db.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { ChangeEvent } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { openAliceStore } from '../helpers/store.js';

test('changes of a sharing store reach the other store on the same directory', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-change-log-'));
  const { store: server, inbox } = await openAliceStore(dir);
  const importer = await SqliteStore.open({ dir, shareChanges: true });
  const plain = await SqliteStore.open({ dir });
  try {
    const heard: ChangeEvent[] = [];
    server.subscribe((ev) => heard.push(ev));
    assert.deepEqual(await server.listMessages(inbox), []);
    const raw = (s: string) => Buffer.from(`Subject: ${s}\r\n\r\n${s}\r\n`);
    const add = (store: SqliteStore, s: string, flags: string[]) =>
      store.append({ raw: raw(s), index: indexMessage(raw(s)) }, [{ mailboxId: inbox, flags }]);
    const [a] = await add(importer, 'a', ['$Imported']);
    await eventually(() => heard.length > 0, 'the append event', 10_000);
    assert.deepEqual(heard, [
      {
        accountId: (await server.getAccount('alice@example.test'))!.id,
        mailboxId: inbox,
        modseq: a!.modseq,
        kind: 'append',
        uids: [a!.uid],
        keywords: ['$Imported'],
      },
    ]);
    assert.deepEqual(
      (await server.listMessages(inbox)).map((r) => [r.uid, r.flags]),
      [[1, ['$Imported']]],
    );
    assert.deepEqual((await server.mailboxSummary(inbox)).keywords, ['$Imported']);
    // A store that does not share logs nothing: nobody else is told (the server's own writes).
    await add(plain, 'b', []);
    await add(importer, 'c', []);
    await eventually(() => heard.length === 2, 'the second logged event', 10_000);
    assert.deepEqual(heard[1]?.uids, [3]);
  } finally {
    await importer.close();
    await plain.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test("another process's retry of a queued item tells the server store's queue listeners", async () => {
  // `letterbox queue retry` beside a running server: the server's worker sweeps the queue
  // only rarely (queue/worker.ts pollMs), so another connection's commit, seen through
  // PRAGMA data_version, must wake it.
  const dir = await mkdtemp(join(tmpdir(), 'lb-change-log-'));
  const { store: server } = await openAliceStore(dir);
  const cli = await SqliteStore.open({ dir });
  try {
    const id = await server.enqueueOutbound({
      sender: 'alice@example.test',
      recipients: [{ address: 'bob@remote.test' }],
      raw: Buffer.from('Subject: q\r\n\r\nq\r\n'),
    });
    let told = 0;
    server.onOutboundQueued(() => told++);
    assert.equal(await cli.retryOutbound(id), 1);
    await eventually(() => told > 0, "the server store's queue listeners", 10_000);
  } finally {
    await cli.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a quiet reader watches the WAL instead of looking, and still hears the next commit at once', async () => {
  // The reader stops its timer once the WAL has not changed for quietMs (change-log.ts): what
  // another process commits after that must still reach it, through the watch.
  const dir = await mkdtemp(join(tmpdir(), 'lb-change-log-'));
  const { store: server, inbox } = await openAliceStore(dir);
  const db = openDatabase(join(dir, 'letterbox.db'));
  const heard: ChangeEvent[] = [];
  let committed = 0;
  const reader = new ChangeLogReader(
    db,
    (ev) => heard.push(ev),
    () => committed++,
    20,
    100,
  );
  const importer = await SqliteStore.open({ dir, shareChanges: true });
  try {
    const raw = (s: string) => Buffer.from(`Subject: ${s}\r\n\r\n${s}\r\n`);
    for (const s of ['a', 'b']) {
      await eventually(() => reader.watching, 'the reader watching the quiet WAL', 10_000);
      const seen = heard.length;
      const [m] = await importer.append({ raw: raw(s), index: indexMessage(raw(s)) }, [
        { mailboxId: inbox, flags: [] },
      ]);
      await eventually(() => heard.length > seen, `the append of ${s}`, 10_000);
      assert.deepEqual(heard.at(-1)?.uids, [m!.uid]);
      assert.ok(committed > 0);
    }
  } finally {
    reader.close();
    db.close();
    await importer.close();
    await server.close();
    await rm(dir, { recursive: true, force: true });
  }
});
