// An import that filled a large mailbox keeps the copy of its columns when it ends
// (migrate-io/import.ts, store/sqlite/column-snapshot.ts keepNow; issue 18 item 6), so the
// first start after it loads through the copy instead of reading every row. The copy is only
// a cache: whatever happens after it (a rerun that adds messages or none, an import killed
// before its end, flag changes, expunges, restarts), a load through it equals the database,
// and a copy that does not fit is refused.
import assert from 'node:assert/strict';
import { appendFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { importFolders } from '../../src/migrate-io/import.js';
import { mboxFolders } from '../../src/migrate-io/mbox-source.js';
import { ColumnSnapshots } from '../../src/store/sqlite/column-snapshot.js';
import { listRecords } from '../../src/store/sqlite/message-reads.js';
import { FlagSets, type Rows } from '../../src/store/sqlite/record-rows.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { ofColumns, plainRecord } from '../helpers/columns.js';
import { newMessage } from '../helpers/messages.js';
import { openAliceStore } from '../helpers/store.js';

const MAX = 1024 * 1024;
/** The server keeps copies from 10,000 rows; these stores from 4. */
const FROM = 4;

/** mboxrd text of messages [from, to): Status / X-Status give them a few flag lists. */
function mbox(from: number, to: number): string {
  let out = '';
  for (let i = from; i < to; i++) {
    const status = i % 3 === 0 ? 'Status: RO\n' : '';
    const x = i % 5 === 0 ? 'X-Status: F\n' : '';
    out += `From a@b Sat Jan  3 01:05:${String(i % 60).padStart(2, '0')} 1996\nSubject: m${i}\nMessage-ID: <m${i}@x>\n${status}${x}\nbody ${i}\n\n`;
  }
  return out;
}

type Op =
  | { k: 'import'; add: number }
  | { k: 'killed'; add: number }
  | { k: 'flags'; pick: number }
  | { k: 'expunge'; pick: number }
  | { k: 'restart' };

const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('import' as const), add: fc.integer({ min: 0, max: 8 }) }),
  fc.record({ k: fc.constant('killed' as const), add: fc.integer({ min: 1, max: 6 }) }),
  fc.record({ k: fc.constant('flags' as const), pick: fc.integer({ min: 0, max: 1023 }) }),
  fc.record({ k: fc.constant('expunge' as const), pick: fc.integer({ min: 0, max: 1023 }) }),
  fc.constant({ k: 'restart' as const }),
);

test('the copy an import keeps equals the database, through reruns, kills and changes', async () => {
  let round = 0;
  let kept = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 1, max: 12 }),
      fc.array(op, { minLength: 1, maxLength: 10 }),
      async (initial, ops) => {
        const dir = await mkdtemp(join(tmpdir(), 'lb-import-cols-'));
        const data = join(dir, 'data');
        const file = join(dir, 'in.mbox');
        let store: SqliteStore | null = null;
        const open = async () => (await openAliceStore(data, { keepColumnsFrom: FROM })).store;
        let db: Database.Database | null = null;
        try {
          store = await open();
          db = new Database(join(data, 'letterbox.db'), { readonly: true });
          const account = (await store.getAccount('alice@example.test'))!;
          const inbox = async () => (await store!.getMailbox(account.id, 'INBOX'))!;
          let n = initial;
          await writeFile(file, mbox(0, n));
          const run = async () =>
            importFolders(store!, account, await mboxFolders(file, 'mboxrd', MAX, 'INBOX'), {
              maxMessageSize: MAX,
            });
          const copy = () =>
            db!.prepare('SELECT modseq, n FROM mailbox_columns').get() as
              | { modseq: number; n: number }
              | undefined;
          const check = async (what: string, imported: number) => {
            const mb = await inbox();
            const truth = listRecords(db!, mb.id).map(plainRecord);
            if (imported > 0 && truth.length >= FROM) {
              // The import's copy is of the mailbox as the import left it: nothing to catch up.
              assert.deepEqual(copy(), { modseq: mb.highestModseq, n: truth.length }, what);
              kept++;
            }
            const read = new ColumnSnapshots(db!, 1).read(mb.id, mb.uidValidity, new FlagSets());
            if (read) assert.deepEqual(ofColumns(read), truth, `${what}: the copy`);
            // A start now loads through it (or reads the rows whole if it is refused).
            await store!.close();
            store = await open();
            assert.deepEqual(
              ofColumns((await store.flagColumns(mb.id)) as Rows),
              truth,
              `${what}: after a start`,
            );
          };
          await check('first import', (await run()).imported);
          for (const o of ops) {
            const mb = await inbox();
            const uids = listRecords(db, mb.id).map((r) => r.uid);
            const chosen = (pick: number) => uids.filter((_, i) => (pick >> (i % 10)) & 1);
            let imported = 0;
            switch (o.k) {
              case 'import':
                // A rerun with `add` more messages in the file: the rest is skipped.
                await appendFile(file, mbox(n, n + o.add));
                n += o.add;
                imported = (await run()).imported;
                break;
              case 'killed':
                // An import killed before its end: messages stored, no copy kept.
                for (let i = 0; i < o.add; i++)
                  await store.append(newMessage(`killed${round}-${n}-${i}`), [
                    { mailboxId: mb.id },
                  ]);
                break;
              case 'flags':
                await store.setFlags(mb.id, chosen(o.pick), 'add', ['$Changed']);
                break;
              case 'expunge':
                await store.expunge(mb.id, { uids: chosen(o.pick), onlyDeleted: false });
                break;
              case 'restart':
                break;
            }
            await check(o.k, imported);
          }
        } finally {
          round++;
          db?.close();
          await store?.close();
          await rm(dir, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 15 },
  );
  assert.ok(kept > 5, `copies kept by imports: ${kept}`);
});

test('a copy kept by an import that no longer fits the mailbox is refused', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-import-cols-'));
  const data = join(dir, 'data');
  const file = join(dir, 'in.mbox');
  let { store } = await openAliceStore(data, { keepColumnsFrom: FROM });
  try {
    const account = (await store.getAccount('alice@example.test'))!;
    await writeFile(file, mbox(0, 10));
    await importFolders(store, account, await mboxFolders(file, 'mboxrd', MAX, 'INBOX'), {
      maxMessageSize: MAX,
    });
    const mb = (await store.getMailbox(account.id, 'INBOX'))!;
    await store.close();
    const rw = new Database(join(data, 'letterbox.db'));
    try {
      const read = () => new ColumnSnapshots(rw, 1).read(mb.id, mb.uidValidity, new FlagSets());
      assert.ok(read(), 'the import kept a usable copy');
      // A row gone with no expunge recorded (a database older or edited): refused.
      rw.prepare('DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid = 4').run(mb.id);
      assert.equal(read(), null);
    } finally {
      rw.close();
    }
    ({ store } = await openAliceStore(data, { keepColumnsFrom: FROM }));
    assert.deepEqual(
      (await store.listMessages(mb.id)).map((r) => r.uid),
      [1, 2, 3, 5, 6, 7, 8, 9, 10],
    );
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
