// The copy of a mailbox's columns kept in the database (src/store/sqlite/column-snapshot.ts,
// issue 18 item 6): whatever happened since the copy was kept (appends, flag changes,
// expunges, by the store or by another process beside it, a mailbox deleted and made again,
// restarts), a load through it gives exactly the rows the database holds: UIDs in order,
// flags, modseqs and the unchanging fields, so FETCH FLAGS, SEARCH on flags and CHANGEDSINCE
// (which read these columns) answer as from the rows.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { ColumnSnapshots } from '../../src/store/sqlite/column-snapshot.js';
import { listRecords } from '../../src/store/sqlite/message-reads.js';
import { FlagSets, type Rows } from '../../src/store/sqlite/record-rows.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { MessageRecord } from '../../src/store/types.js';
import { ofColumns, plainRecord } from '../helpers/columns.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';

type Op =
  | { k: 'append'; n: number; flags: string[] }
  | { k: 'flags'; pick: number; mode: 'add' | 'remove'; flag: string }
  | { k: 'expunge'; pick: number }
  | { k: 'load' }
  | { k: 'restart' }
  | { k: 'recreate' }
  | { k: 'other'; pick: number; n: number };

const pick = fc.integer({ min: 0, max: 1023 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({
    k: fc.constant('append' as const),
    n: fc.integer({ min: 1, max: 6 }),
    flags: fc.subarray(['\\Seen', '\\Flagged', 'Work']),
  }),
  fc.record({
    k: fc.constant('flags' as const),
    pick,
    mode: fc.constantFrom('add' as const, 'remove' as const),
    flag: fc.constantFrom('\\Seen', '\\Flagged', '\\Deleted', 'Work', '$Later'),
  }),
  fc.record({ k: fc.constant('expunge' as const), pick }),
  fc.constant({ k: 'load' as const }),
  fc.constant({ k: 'restart' as const }),
  fc.constant({ k: 'recreate' as const }),
  fc.record({ k: fc.constant('other' as const), pick, n: fc.integer({ min: 0, max: 3 }) }),
);

function ofRecords(records: MessageRecord[]) {
  return records.map(plainRecord);
}

/** Loads that went through a kept copy, over all runs: the property must have exercised it. */
let throughCopy = 0;

test('a load through the kept copy equals the database, whatever happened since', async () => {
  let round = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.integer({ min: 0, max: 12 }),
      fc.array(op, { minLength: 1, maxLength: 20 }),
      async (initial, ops) => {
        const dir = await mkdtemp(join(tmpdir(), 'lb-colsnap-'));
        // Every mailbox keeps a copy here (the server: from 10,000 rows).
        const open = () => SqliteStore.open({ dir, keepColumnsFrom: 1 });
        let store = await open();
        const db = new Database(join(dir, 'letterbox.db'), { readonly: true });
        // Another process writing beside it (`letterbox import`): its changes reach the store
        // through change_log, and it loads and keeps copies of its own.
        const other = await SqliteStore.open({ dir, shareChanges: true, keepColumnsFrom: 1 });
        try {
          await store.addDomain('example.test');
          const a = await store.createAccount({ address: 'a@example.test', passwordHash: 'h' });
          await store.createMailbox(a.id, 'Big');
          const box = async () => (await store.getMailbox(a.id, 'Big'))!;
          let n = 0;
          const append = async (count: number, flags: string[]) => {
            const id = (await box()).id;
            for (let i = 0; i < count; i++)
              await store.append(newMessage(`m${round}-${n++}`), [{ mailboxId: id, flags }]);
          };
          await append(initial, []);
          await store.flagColumns((await box()).id);
          for (const o of ops) {
            const mb = await box();
            const choose = async () =>
              (await store.listMessages(mb.id))
                .map((r) => r.uid)
                .filter((_, i) => ((o as { pick: number }).pick >> (i % 10)) & 1);
            switch (o.k) {
              case 'append':
                await append(o.n, o.flags);
                break;
              case 'flags':
                await store.setFlags(mb.id, await choose(), o.mode, [o.flag]);
                break;
              case 'expunge':
                await store.expunge(mb.id, { uids: await choose(), onlyDeleted: false });
                break;
              case 'load':
                await store.flagColumns(mb.id);
                break;
              case 'restart':
                await store.close();
                store = await open();
                break;
              case 'recreate':
                await store.deleteMailbox(mb.id);
                await store.createMailbox(a.id, 'Big');
                break;
              case 'other': {
                const uids = listRecords(db, mb.id)
                  .map((r) => r.uid)
                  .filter((_, i) => (o.pick >> (i % 10)) & 1);
                for (let i = 0; i < o.n; i++)
                  await other.append(newMessage(`o${round}-${n++}`), [{ mailboxId: mb.id }]);
                await other.setFlags(mb.id, uids, 'add', ['\\Answered']);
                await other.flagColumns(mb.id);
                await other.expunge(mb.id, { uids: uids.slice(0, 2), onlyDeleted: false });
                break;
              }
            }
            // What a start would load now: the copy brought up to date, as the database is.
            const now = await box();
            const truth = listRecords(db, now.id);
            // The other process's changes are heard within a poll (change-log.ts).
            if (o.k === 'other') {
              const want = JSON.stringify(ofRecords(truth));
              await eventually(
                async () => JSON.stringify(ofRecords(await store.listMessages(now.id))) === want,
                "the other process's changes",
                10_000,
              );
            }
            const fresh = new ColumnSnapshots(db, 1).read(now.id, now.uidValidity, new FlagSets());
            if (fresh) {
              throughCopy++;
              assert.deepEqual(ofColumns(fresh), ofRecords(truth), `${o.k}: the copy`);
            }
            // And the store's own view of the rows (loaded through the copy after a restart).
            assert.deepEqual(
              ofColumns((await store.flagColumns(now.id)) as Rows),
              ofRecords(truth),
              `${o.k}: flagColumns`,
            );
            const listed = await store.listMessages(now.id);
            assert.deepEqual(ofRecords(listed), ofRecords(truth), `${o.k}: list`);
            assert.deepEqual(
              listed.map((r) => r.blobHash),
              truth.map((r) => r.blobHash),
            );
            const since = truth[truth.length >> 1]?.modseq ?? 0;
            assert.deepEqual(
              ofRecords(await store.listMessages(now.id, { changedSince: since })),
              ofRecords(listRecords(db, now.id, since)),
            );
          }
        } finally {
          round++;
          db.close();
          await other.close();
          await store.close();
          await rm(dir, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 20 },
  );
  assert.ok(throughCopy > 10, `loads through a kept copy: ${throughCopy}`);
});

test('a copy that does not fit the mailbox is not used, and the rows are read whole', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-colsnap-'));
  let store = await SqliteStore.open({ dir, keepColumnsFrom: 1 });
  try {
    await store.addDomain('example.test');
    const a = await store.createAccount({ address: 'a@example.test', passwordHash: 'h' });
    const mb = (await store.getMailbox(a.id, 'INBOX'))!;
    for (let i = 0; i < 5; i++) await store.append(newMessage(`x${i}`), [{ mailboxId: mb.id }]);
    await store.flagColumns(mb.id);
    await store.close();
    const rw = new Database(join(dir, 'letterbox.db'));
    const kept = () =>
      new ColumnSnapshots(rw, 1).read(mb.id, mb.uidValidity, new FlagSets()) !== null;
    try {
      assert.equal(kept(), true);
      assert.equal(
        new ColumnSnapshots(rw, 1).read(mb.id, mb.uidValidity + 1, new FlagSets()),
        null,
      );
      // Each spoiling is undone before the next.
      const highest = rw
        .prepare('SELECT highest_modseq FROM mailboxes WHERE id = ?')
        .pluck()
        .get(mb.id) as number;
      rw.exec('CREATE TEMP TABLE saved AS SELECT * FROM mailbox_messages WHERE uid = 3');
      rw.exec('CREATE TEMP TABLE saved_copy AS SELECT * FROM mailbox_columns');
      const spoil: [string, string, unknown[]][] = [
        // A row of the copy that the database no longer has, with no expunge recorded.
        [
          'DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid = 3',
          'INSERT INTO mailbox_messages SELECT * FROM saved',
          [],
        ],
        // The database is older than the copy (a restore of a backup).
        [
          'UPDATE mailboxes SET highest_modseq = 1 WHERE id = ?',
          'UPDATE mailboxes SET highest_modseq = ? WHERE id = ?',
          [highest],
        ],
        // Bytes that are not a copy.
        [
          'UPDATE mailbox_columns SET data = substr(data, 2) WHERE mailbox_id = ?',
          'UPDATE mailbox_columns SET data = (SELECT data FROM saved_copy) WHERE mailbox_id = ?',
          [],
        ],
        [
          "UPDATE mailbox_columns SET lists = '[' WHERE mailbox_id = ?",
          'UPDATE mailbox_columns SET lists = (SELECT lists FROM saved_copy) WHERE mailbox_id = ?',
          [],
        ],
      ];
      for (const [bad, undo, args] of spoil) {
        rw.prepare(bad).run(mb.id);
        assert.equal(kept(), false, bad);
        const params = undo.includes('?') ? [...args, mb.id] : [];
        rw.prepare(undo).run(...params);
        assert.equal(kept(), true, undo);
      }
      // A deleted row with its expunge recorded is caught up on, not refused.
      rw.prepare(
        `INSERT INTO expunged (mailbox_id, uid, modseq)
         VALUES (?, 3, (SELECT highest_modseq + 1 FROM mailboxes WHERE id = ?))`,
      ).run(mb.id, mb.id);
      rw.prepare('DELETE FROM mailbox_messages WHERE mailbox_id = ? AND uid = 3').run(mb.id);
      const rows = new ColumnSnapshots(rw, 1).read(mb.id, mb.uidValidity, new FlagSets());
      assert.deepEqual([...rows!.uid.subarray(0, rows!.n)], [1, 2, 4, 5]);
    } finally {
      rw.close();
    }
    // The store still loads the right rows (whole) from a copy refused.
    store = await SqliteStore.open({ dir, keepColumnsFrom: 1 });
    const db = new Database(join(dir, 'letterbox.db'));
    db.prepare("UPDATE mailbox_columns SET lists = '[]' WHERE mailbox_id = ?").run(mb.id);
    db.close();
    assert.deepEqual(
      (await store.listMessages(mb.id)).map((r) => r.uid),
      [1, 2, 4, 5],
    );
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
