// The in-memory rows of recently used mailboxes (src/store/sqlite/record-cache.ts): after any
// sequence of appends, flag changes, expunges, copies, moves and mailbox deletions, what
// listMessages and mailboxSummary answer is exactly what the database holds (read through a second
// connection), also when the cache is small enough that lists are evicted and reloaded.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import fc from 'fast-check';
import { listRecords } from '../../src/store/sqlite/message-reads.js';
import { RecordCache } from '../../src/store/sqlite/record-cache.js';
import { FlagSets, Rows } from '../../src/store/sqlite/record-rows.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { MessageRecord } from '../../src/store/types.js';
import { newMessage } from '../helpers/messages.js';

type Op =
  | { k: 'append'; box: number; n: number }
  | { k: 'appendAt'; box: number; gap: number; flags: string[] }
  | { k: 'flags'; box: number; pick: number; mode: 'add' | 'remove'; flag: string }
  | { k: 'expunge'; box: number; pick: number }
  | { k: 'copy' | 'move'; box: number; pick: number; to: number }
  | { k: 'recreate'; box: number }
  | { k: 'list'; box: number };

const box = fc.integer({ min: 0, max: 2 });
const pick = fc.integer({ min: 0, max: 1000 });
const op: fc.Arbitrary<Op> = fc.oneof(
  fc.record({ k: fc.constant('append' as const), box, n: fc.integer({ min: 1, max: 3 }) }),
  // An import that keeps UIDs (RFC 9051 §2.3.1.1 only asks them to ascend): a hole in the
  // UIDs that no expunge made.
  fc.record({
    k: fc.constant('appendAt' as const),
    box,
    gap: fc.integer({ min: 0, max: 3 }),
    flags: fc.subarray(['\\Seen', 'Imported']),
  }),
  fc.record({
    k: fc.constant('flags' as const),
    box,
    pick,
    mode: fc.constantFrom('add' as const, 'remove' as const),
    flag: fc.constantFrom('\\Seen', '\\Flagged', 'Work'),
  }),
  fc.record({ k: fc.constant('expunge' as const), box, pick }),
  fc.record({ k: fc.constantFrom('copy' as const, 'move' as const), box, pick, to: box }),
  fc.record({ k: fc.constant('recreate' as const), box }),
  fc.record({ k: fc.constant('list' as const), box }),
);

/** Every field by name: the cache's records read some from its columns (record-rows.ts). */
function plain(records: MessageRecord[]) {
  return records.map((r) => ({
    uid: r.uid,
    messageId: r.messageId,
    flags: [...r.flags],
    modseq: r.modseq,
    size: r.size,
    internalDate: r.internalDate.getTime(),
    internalZone: r.internalZone ?? 0,
    blobHash: r.blobHash,
  }));
}

test('listMessages always equals the database, whatever the history', async () => {
  let round = 0;
  await fc.assert(
    fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 30 }), async (ops) => {
      const dir = await mkdtemp(join(tmpdir(), 'lb-cache-'));
      const store = await SqliteStore.open({ dir });
      const db = new Database(join(dir, 'letterbox.db'), { readonly: true });
      try {
        await store.addDomain('example.test');
        const a = await store.createAccount({ address: 'a@example.test', passwordHash: 'h' });
        const names = ['INBOX', 'Archive', 'Trash'];
        const ids = async () =>
          Promise.all(names.map(async (n) => (await store.getMailbox(a.id, n))!.id));
        let n = 0;
        for (const o of ops) {
          const boxes = await ids();
          const from = boxes[o.box]!;
          const uidsOf = async () => (await store.listMessages(from)).map((r) => r.uid);
          const choose = async () => {
            const uids = await uidsOf();
            return uids.filter((_, i) => ((o as { pick: number }).pick >> (i % 10)) & 1);
          };
          switch (o.k) {
            case 'append':
              for (let i = 0; i < o.n; i++)
                await store.append(newMessage(`m${round}-${n++}`), [{ mailboxId: from }]);
              break;
            case 'appendAt': {
              const mb = (await store.listMailboxes(a.id)).find((m) => m.id === from)!;
              await store.append(newMessage(`m${round}-${n++}`), [
                { mailboxId: from, uid: mb.uidNext + o.gap, flags: o.flags },
              ]);
              break;
            }
            case 'flags':
              await store.setFlags(from, await choose(), o.mode, [o.flag]);
              break;
            case 'expunge':
              await store.expunge(from, { uids: await choose(), onlyDeleted: false });
              break;
            case 'copy':
            case 'move': {
              const to = boxes[o.to]!;
              if (to === from) break;
              const uids = await choose();
              if (o.k === 'copy') await store.copyMessages(from, uids, to);
              else await store.moveMessages(from, uids, to);
              break;
            }
            case 'recreate':
              if (names[o.box] === 'INBOX') break;
              await store.deleteMailbox(from);
              await store.createMailbox(a.id, names[o.box]!);
              break;
            case 'list':
              break;
          }
          for (const id of await ids()) {
            const rows = listRecords(db, id);
            assert.deepEqual(plain(await store.listMessages(id)), plain(rows));
            // CHANGEDSINCE / QRESYNC: the rows above a modseq, found through the modseq index
            // while few (record-cache.ts changedSince), by a walk when many: the database's.
            const modseqs = [...new Set(rows.map((r) => r.modseq))].sort((x, y) => x - y);
            for (const since of [0, ...modseqs.slice(-3), modseqs[modseqs.length >> 1] ?? 1]) {
              assert.deepEqual(
                plain(await store.listMessages(id, { changedSince: since })),
                plain(listRecords(db, id, since)),
                `changedSince ${since}`,
              );
            }
            // SELECT's summary comes from the mailbox's row and indexes (mailbox-summary.ts),
            // not the rows: it must say exactly what the rows say.
            const summary = await store.mailboxSummary(id);
            assert.deepEqual(
              summary.uids.toArray(),
              rows.map((r) => r.uid),
            );
            assert.equal(
              db.prepare('SELECT message_count FROM mailboxes WHERE id = ?').pluck().get(id),
              rows.length,
            );
            // The keywords messages have now, and those the mailbox keeps after the last
            // message lost them (RFC 3501 §7.2.6; mailbox_keywords).
            const kept = db
              .prepare('SELECT keyword FROM mailbox_keywords WHERE mailbox_id = ?')
              .pluck()
              .all(id) as string[];
            assert.deepEqual(
              [...summary.keywords].sort(),
              [
                ...new Set([
                  ...rows.flatMap((r) => r.flags.filter((f) => !f.startsWith('\\'))),
                  ...kept,
                ]),
              ].sort(),
            );
            assert.equal(
              summary.firstUnseen,
              rows.findIndex((r) => !r.flags.includes('\\Seen')) + 1,
            );
            const subjects = await store.getSearchField(
              id,
              'subject',
              rows.map((r) => r.uid),
            );
            const want = db
              .prepare(
                `SELECT mm.uid, m.s_subject AS v FROM mailbox_messages mm
                 JOIN messages m ON m.id = mm.message_id WHERE mm.mailbox_id = ?`,
              )
              .all(id) as { uid: number; v: string }[];
            for (const w of want) assert.equal(subjects.get(w.uid), w.v);
          }
        }
      } finally {
        round++;
        db.close();
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    }),
    { numRuns: 25 },
  );
});

const rows = (mailboxId: number, count: number): MessageRecord[] =>
  Array.from({ length: count }, (_, i) => ({
    uid: i + 1,
    messageId: mailboxId * 1000 + i,
    flags: [],
    modseq: 1,
    size: 10,
    internalDate: new Date(0),
    blobHash: 'h',
  }));

test('the least recently used lists are evicted; a list larger than the cache is not kept', () => {
  const loads: number[] = [];
  const sizes: Record<number, number> = { 1: 4, 2: 4, 3: 4, 4: 20 };
  const cache = new RecordCache(
    {
      all: (id) => {
        loads.push(id);
        return rows(id, sizes[id]!);
      },
      after: () => [],
      some: () => [],
    },
    10,
  );
  cache.list(1, 7);
  cache.list(2, 7);
  cache.list(1, 7); // 1 is now the most recent
  cache.list(3, 7); // 12 > 10: 2 goes
  cache.list(1, 7);
  cache.list(2, 7);
  assert.deepEqual(loads, [1, 2, 3, 2]);
  // Too big to keep at all: read every time, and nothing else is pushed out for it.
  assert.equal(cache.list(4, 7).length, 20);
  assert.equal(cache.list(4, 7).length, 20);
  cache.list(2, 7);
  assert.deepEqual(loads, [1, 2, 3, 2, 4, 4]);
  // Another UIDVALIDITY under the same id (a mailbox deleted and created again): reloaded.
  cache.list(2, 8);
  assert.deepEqual(loads, [1, 2, 3, 2, 4, 4, 2]);
  // A caller's list is its own: changing it does not change the cache.
  cache.list(2, 8).pop();
  assert.equal(cache.list(2, 8).length, 4);
});

test('a large list goes after its last holder leaves (with a grace); small ones stay', async () => {
  const sizes: Record<number, number> = { 1: 4, 2: 2, 3: 4 };
  const loads: number[] = [];
  // Lists of more than 3 rows are large here; 50 ms of grace. Each large list let go is
  // reported (the store then asks for a collection, heap-release.ts).
  let dropped = 0;
  const cache = new RecordCache(
    {
      all: (id) => {
        loads.push(id);
        return rows(id, sizes[id]!);
      },
      after: () => [],
      some: () => [],
    },
    100,
    50,
    3,
    () => dropped++,
  );
  const gone = async (id: number) => {
    const deadline = Date.now() + 10_000;
    while (cache.has(id)) {
      if (Date.now() > deadline) throw new Error(`list ${id} was kept`);
      await new Promise((r) => setTimeout(r, 5));
    }
  };
  // Two sessions on the large mailbox 1; the small mailbox 2 is held too.
  cache.list(1, 7);
  cache.hold(1);
  cache.hold(1);
  cache.list(2, 7);
  cache.hold(2);
  cache.release(1);
  // Held by the other session: still there when the last one selects it again at once.
  cache.release(1);
  cache.hold(1);
  cache.list(1, 7);
  assert.deepEqual(loads, [1, 2]);
  // The small list is released first: had it been scheduled to go, it would go first.
  cache.release(2);
  cache.release(1);
  await gone(1);
  assert.equal(dropped, 1);
  assert.ok(cache.has(2), 'a small list stays, by recency');
  cache.list(1, 7);
  assert.deepEqual(loads, [1, 2, 1]);
  // A list read by no holder at all (never selected) is kept by recency, as before.
  cache.list(3, 7);
  assert.ok(cache.has(3));
  // Released with nothing cached, or more often than held: no harm.
  cache.release(9);
  cache.hold(1);
  cache.release(1);
  await gone(1);
  assert.equal(dropped, 2);
});

test('rows from column texts: exact values, and refused (nothing stored) when a text is off', () => {
  const texts = {
    n: 3,
    highestModseq: 9007199254740991,
    uid: '1,5,9',
    messageId: '10,11,12',
    flags: '\\Seen\n\n\\Seen $Work',
    modseq: '7,8,9007199254740991',
    size: '100,200,300',
    date: '1700000000123,0,-5',
    zone: '0,-480,60',
  };
  const rows = new Rows(new FlagSets());
  assert.equal(rows.pushColumns(texts), true);
  assert.equal(rows.n, 3);
  assert.deepEqual([...rows.uid.subarray(0, 3)], [1, 5, 9]);
  assert.deepEqual([...rows.modseq.subarray(0, 3)], [7, 8, 9007199254740991]);
  assert.deepEqual([...rows.date.subarray(0, 3)], [1700000000123, 0, -5]);
  assert.deepEqual([...rows.zone.subarray(0, 3)], [0, -480, 60]);
  assert.deepEqual(
    [0, 1, 2].map((i) => rows.lists[rows.flags[i]!]),
    [['\\Seen'], [], ['\\Seen', '$Work']],
  );
  for (const bad of [
    { uid: '1,5' },
    { uid: '1,5,9,10' },
    { uid: '5,1,9' },
    { size: '100,2.5,300' },
    { modseq: '7,,9' },
    { flags: '\\Seen\n' },
    { flags: '\\Seen\n\n\n' },
  ]) {
    const r = new Rows(new FlagSets());
    assert.equal(r.pushColumns({ ...texts, ...bad }), false, JSON.stringify(bad));
    assert.equal(r.n, 0);
  }
});

test('changedSince: through the index while few rows changed, by a walk when many; the same rows', () => {
  const all = rows(1, 300).map((r, i) => ({ ...r, modseq: 1 + (i % 100) }));
  const asked: number[] = [];
  const source = {
    all: () => all.map((r) => ({ ...r })),
    after: () => [],
    some: () => [],
    changed: (_id: number, modseq: number, limit: number) => {
      asked.push(limit);
      // In index order (by modseq), not by UID.
      const uids = all
        .filter((r) => r.modseq > modseq)
        .sort((x, y) => x.modseq - y.modseq)
        .map((r) => r.uid);
      return uids.length > limit ? null : uids;
    },
  };
  const withIndex = new RecordCache(source, 1000);
  const walkOnly = new RecordCache({ ...source, changed: undefined }, 1000);
  for (const since of [0, 50, 97, 99, 100, 200]) {
    const want = all.filter((r) => r.modseq > since).map((r) => r.uid);
    const a = withIndex.changedSince(1, 7, since);
    const b = walkOnly.changedSince(1, 7, since);
    assert.deepEqual(
      a.map((r) => [r.uid, r.modseq]),
      b.map((r) => [r.uid, r.modseq]),
    );
    assert.deepEqual(
      a.map((r) => r.uid),
      want,
    );
  }
  // At most 64 UIDs (or one per 256 rows) are asked of the index.
  assert.deepEqual(asked, [64, 64, 64, 64, 64, 64]);
});

type DeletedOp =
  | { k: 'append'; deleted: boolean }
  | { k: 'flags'; pick: number; mode: 'add' | 'remove' }
  | { k: 'expunge' }
  | { k: 'uidExpunge'; pick: number }
  | { k: 'list' };

test("EXPUNGE removes exactly the database's \\Deleted rows, the cached rows current or behind", async () => {
  // EXPUNGE finds its candidates in the cached rows as they are (RecordCache.flagged), with
  // the rows changed and appended since, without catching up first; no list() between the
  // writes leaves the cache behind.
  const deletedOp: fc.Arbitrary<DeletedOp> = fc.oneof(
    fc.record({ k: fc.constant('append' as const), deleted: fc.boolean() }),
    fc.record({
      k: fc.constant('flags' as const),
      pick,
      mode: fc.constantFrom('add' as const, 'remove' as const),
    }),
    fc.record({ k: fc.constant('expunge' as const) }),
    fc.record({ k: fc.constant('uidExpunge' as const), pick }),
    fc.record({ k: fc.constant('list' as const) }),
  );
  let round = 0;
  await fc.assert(
    fc.asyncProperty(
      fc.array(deletedOp, { minLength: 10, maxLength: 40, size: 'max' }),
      async (ops) => {
        const dir = await mkdtemp(join(tmpdir(), 'lb-cache-deleted-'));
        const store = await SqliteStore.open({ dir });
        const db = new Database(join(dir, 'letterbox.db'), { readonly: true });
        try {
          await store.addDomain('example.test');
          const a = await store.createAccount({ address: 'a@example.test', passwordHash: 'h' });
          const inbox = (await store.getMailbox(a.id, 'INBOX'))!.id;
          const deletedNow = () =>
            listRecords(db, inbox)
              .filter((r) => r.flags.includes('\\Deleted'))
              .map((r) => r.uid);
          const choose = (p: number) =>
            listRecords(db, inbox)
              .map((r) => r.uid)
              .filter((_, i) => (p >> (i % 10)) & 1);
          let n = 0;
          for (const o of ops) {
            switch (o.k) {
              case 'append':
                await store.append(newMessage(`d${round}-${n++}`), [
                  { mailboxId: inbox, flags: o.deleted ? ['\\Deleted', '\\Seen'] : ['\\Seen'] },
                ]);
                break;
              case 'flags':
                await store.setFlags(inbox, choose(o.pick), o.mode, ['\\Deleted']);
                break;
              case 'expunge': {
                const want = deletedNow();
                assert.deepEqual(await store.expunge(inbox, { onlyDeleted: true }), want);
                assert.deepEqual(deletedNow(), []);
                break;
              }
              case 'uidExpunge': {
                const uids = choose(o.pick);
                const want = deletedNow().filter((u) => uids.includes(u));
                assert.deepEqual(await store.expunge(inbox, { uids, onlyDeleted: true }), want);
                break;
              }
              case 'list':
                assert.deepEqual(
                  plain(await store.listMessages(inbox)),
                  plain(listRecords(db, inbox)),
                );
                break;
            }
          }
          assert.deepEqual(plain(await store.listMessages(inbox)), plain(listRecords(db, inbox)));
        } finally {
          round++;
          db.close();
          await store.close();
          await rm(dir, { recursive: true, force: true });
        }
      },
    ),
    { numRuns: 25 },
  );
});

/** The store's cached lists' source, its reads counted (a read is a method called). */
function countReads(store: SqliteStore): string[] {
  const cache = (store as unknown as { messages: { cache: { source: Record<string, unknown> } } })
    .messages.cache;
  const reads: string[] = [];
  for (const [name, f] of Object.entries(cache.source)) {
    if (typeof f !== 'function') continue;
    cache.source[name] = (...args: unknown[]) => {
      reads.push(name);
      return (f as (...a: unknown[]) => unknown)(...args);
    };
  }
  return reads;
}

test("this process's appends and flag changes go into a cached list without a read back", async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-cache-wrote-'));
  const store = await SqliteStore.open({ dir });
  const db = new Database(join(dir, 'letterbox.db'), { readonly: true });
  try {
    await store.addDomain('example.test');
    const a = await store.createAccount({ address: 'a@example.test', passwordHash: 'h' });
    const inbox = (await store.getMailbox(a.id, 'INBOX'))!.id;
    for (let i = 0; i < 3; i++) await store.append(newMessage(`m${i}`), [{ mailboxId: inbox }]);
    await store.listMessages(inbox);
    // Not selected by any session: appends leave the list's tail to be read when it is next
    // listed (a list no one holds does not grow with an import).
    const unheld = countReads(store);
    await store.append(newMessage('unheld'), [{ mailboxId: inbox }]);
    assert.deepEqual(unheld, []);
    assert.deepEqual(plain(await store.listMessages(inbox)), plain(listRecords(db, inbox)));
    assert.ok(unheld.length > 0, 'the tail of a list no one holds is read, not taken');
    // Selected (an IMAP session's SELECT holds its mailbox's list).
    store.holdMailbox(inbox);
    const reads = countReads(store);
    // The login mix's iteration: APPEND, STORE \Deleted of the oldest, EXPUNGE.
    await store.append(newMessage('new'), [{ mailboxId: inbox, flags: ['\\Seen', 'Work'] }]);
    await store.setFlags(inbox, [1], 'add', ['\\Deleted']);
    await store.expunge(inbox, { uids: [1], onlyDeleted: true });
    await store.append(newMessage('newer'), [{ mailboxId: inbox }]);
    await store.setFlags(inbox, [2, 5], 'replace', ['\\Flagged']);
    assert.deepEqual(plain(await store.listMessages(inbox)), plain(listRecords(db, inbox)));
    assert.deepEqual(reads, []);
    // The next UID after an expunge of the last message: no UID can lie between.
    await store.expunge(inbox, { uids: [5], onlyDeleted: false });
    await store.listMessages(inbox);
    await store.append(newMessage('after'), [{ mailboxId: inbox }]);
    assert.deepEqual(plain(await store.listMessages(inbox)), plain(listRecords(db, inbox)));
    assert.deepEqual(reads, []);
    // A UID an import kept leaves a hole the list cannot know is empty: the tail is read.
    const mb = (await store.listMailboxes(a.id)).find((m) => m.id === inbox)!;
    await store.append(newMessage('kept'), [{ mailboxId: inbox, uid: mb.uidNext + 2 }]);
    assert.deepEqual(plain(await store.listMessages(inbox)), plain(listRecords(db, inbox)));
    assert.ok(reads.length > 0);
  } finally {
    db.close();
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('wrote: rows another writer may have changed are read, never overwritten', () => {
  const db: MessageRecord[] = rows(1, 3);
  const reads: string[] = [];
  const cache = new RecordCache({
    all: () => db.map((r) => ({ ...r })),
    after: (_id, uid) => {
      reads.push(`after ${uid}`);
      return db.filter((r) => r.uid > uid).map((r) => ({ ...r }));
    },
    some: (_id, uids) => {
      reads.push(`some ${uids.join(',')}`);
      return db.filter((r) => uids.includes(r.uid)).map((r) => ({ ...r }));
    },
  });
  const ev = (kind: 'append' | 'flags', modseq: number, uids: number[]) =>
    ({ accountId: 1, mailboxId: 1, kind, modseq, uids }) as const;
  cache.list(1, 7);
  cache.hold(1);
  // Another process appended UID 4 (its event not heard yet); this one's append got UID 5.
  db.push({ ...db[0]!, uid: 4, modseq: 2 }, { ...db[0]!, uid: 5, modseq: 3 });
  const e5 = { ...ev('append', 3, [5]) };
  cache.wrote(e5, 7, { appended: () => [db[4]!] });
  cache.onEvent(e5);
  assert.deepEqual(
    cache.list(1, 7).map((r) => r.uid),
    [1, 2, 3, 4, 5],
  );
  assert.deepEqual(reads, ['after 3']);
  // UID 2 marked by another writer's event: this write's value does not clear the mark.
  db[1] = { ...db[1]!, flags: ['\\Answered'], modseq: 5 };
  cache.onEvent(ev('flags', 5, [2]));
  const e4 = { ...ev('flags', 4, [2]) };
  cache.wrote(e4, 7, { flags: [{ uid: 2, flags: ['\\Seen'], modseq: 4 }] });
  cache.onEvent(e4);
  assert.deepEqual(cache.list(1, 7)[1]!.flags, ['\\Answered']);
  // A row read after a later change keeps it: an older write's value does not go in.
  const e3 = { ...ev('flags', 3, [2]) };
  cache.wrote(e3, 7, { flags: [{ uid: 2, flags: ['\\Draft'], modseq: 3 }] });
  cache.onEvent(e3);
  assert.deepEqual(cache.list(1, 7)[1]!.flags, ['\\Answered']);
  assert.deepEqual(reads, ['after 3', 'some 2']);
});
