// [search] full_text_index over PostgreSQL (src/store/postgres/text-catch-up.ts): with
// "on-search" a delivery writes no search text (body_text and body_words NULL) and the first
// SEARCH BODY / TEXT of a mailbox makes the text of its messages that have none, from their
// bytes, as "on-delivery" makes it at delivery; results are the same in both modes (RFC 9051
// §6.4.4: a substring of the decoded text, case-insensitively), on one node or several.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { indexMessage } from '../../src/delivery/local.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { FullTextIndex } from '../../src/store/postgres/text-catch-up.js';
import { FTS_TEXT_MAX, type NewMessage } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { rawMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { oracleFold } from '../helpers/search-oracle.js';

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

/** A message as delivery makes it: its bytes and the index of their parse. */
function delivered(subject: string, body: string): NewMessage {
  const raw = rawMessage(subject, body);
  return { raw, index: indexMessage(raw) };
}

interface Node {
  store: PostgresStore;
  inbox: number;
  account: number;
}

/**
 * Stores over one new database (one per mode given, in order, the first making alice and her
 * INBOX), a client of it, then everything closed and the database dropped.
 */
async function withStores(
  modes: FullTextIndex[],
  fn: (nodes: Node[], sql: pg.Client, url: string) => Promise<void>,
): Promise<void> {
  const url = await server.createDatabase();
  const sql = new pg.Client({ connectionString: url });
  await sql.connect();
  const stores: PostgresStore[] = [];
  try {
    for (const m of modes) {
      stores.push(await PostgresStore.open({ connectionString: url, max: 4, fullTextIndex: m }));
    }
    const first = stores[0]!;
    await first.addDomain('example.test');
    const acct = await first.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
    const inbox = (await first.getMailbox(acct.id, 'INBOX'))!.id;
    await fn(
      stores.map((store) => ({ store, inbox, account: acct.id })),
      sql,
      url,
    );
  } finally {
    for (const s of stores) await s.close();
    await sql.end();
    await server.dropDatabase(url);
  }
}

/** Each stored message's text state, by its Subject: null when not made. */
async function texts(sql: pg.Client): Promise<Map<string, string | null>> {
  const r = await sql.query<{
    s_subject: string;
    body_text: string | null;
    body_words: string | null;
  }>('SELECT s_subject, body_text, body_words FROM messages ORDER BY id');
  for (const row of r.rows) {
    assert.equal(row.body_text === null, row.body_words === null, 'text and words go together');
  }
  return new Map(r.rows.map((row) => [row.s_subject, row.body_text]));
}

/** Each stored message's row version (xmin): it changes when the row is written. */
async function versions(sql: pg.Client): Promise<string[]> {
  const r = await sql.query<{ xmin: string }>('SELECT xmin::text FROM messages ORDER BY id');
  return r.rows.map((row) => row.xmin);
}

async function mark(sql: pg.Client, mailboxId: number): Promise<number | null> {
  const r = await sql.query<{ uid: string }>('SELECT uid FROM text_marks WHERE mailbox_id = $1', [
    mailboxId,
  ]);
  return r.rows[0] ? Number(r.rows[0].uid) : null;
}

const BODIES = [
  'The Quarterly report, attached.\r\nThanks -- Carol\r\n',
  'Grüße aus München, 100% sicher\r\n',
  'ΣΟΦΟΣ ΣΟΦΟΣ and nothing else\r\n',
  'meeting moved to Thursday; the room is 4B\r\n',
];

describe('postgres full_text_index', () => {
  test('on-search: a delivery writes no text; the first search makes it, a second makes none', async () => {
    await withStores(['on-search'], async ([n], sql) => {
      const { store, inbox } = n!;
      for (const [i, b] of BODIES.entries()) {
        // One alone (appendOne's statement is the group's of one: both paths write NULL).
        await store.append(delivered(`m${i}`, b), [{ mailboxId: inbox }]);
      }
      // Two targets go through the transaction path (storedMessage).
      const other = await store.createMailbox(n!.account, 'Other');
      await store.append(delivered('both', 'in two mailboxes\r\n'), [
        { mailboxId: inbox },
        { mailboxId: other.id },
      ]);
      for (const [subject, text] of await texts(sql)) assert.equal(text, null, subject);
      assert.equal(await mark(sql, inbox), null);

      assert.deepEqual(await store.searchText(inbox, 'quarterly REPORT'), [1]);
      const made = await texts(sql);
      for (const [subject, text] of made) assert.notEqual(text, null, subject);
      assert.equal(made.get('m1'), 'grüße aus münchen, 100% sicher\r\n');
      assert.equal(await mark(sql, inbox), 5);
      // The message of both mailboxes has its text: the other mailbox's search makes nothing.
      const before = await versions(sql);
      assert.deepEqual(await store.searchText(other.id, 'two mailboxes'), [1]);
      assert.deepEqual(await store.searchText(inbox, 'thursday'), [4]);
      assert.deepEqual(await versions(sql), before);
      // A delivery a moment before a search is found by it.
      await store.append(delivered('late', 'just arrived\r\n'), [{ mailboxId: inbox }]);
      assert.deepEqual(await store.searchText(inbox, 'JUST ARRIVED'), [6]);
      assert.equal(await mark(sql, inbox), 6);
    });
  });

  test('on-delivery: the text is written with the delivery, as before', async () => {
    await withStores(['on-delivery'], async ([n], sql) => {
      for (const [i, b] of BODIES.entries()) {
        await n!.store.append(delivered(`m${i}`, b), [{ mailboxId: n!.inbox }]);
      }
      const made = await texts(sql);
      assert.equal(made.get('m0'), 'the quarterly report, attached.\r\nthanks -- carol\r\n');
      for (const [subject, text] of made) assert.notEqual(text, null, subject);
      const before = await versions(sql);
      assert.deepEqual(await n!.store.searchText(n!.inbox, 'σοφοσ σ'), [3]);
      assert.deepEqual(await versions(sql), before);
    });
  });

  test('both modes answer every needle as the substring oracle does', async () => {
    const words = ['a', 'the', 'The', 'bathe', 'café', 'CRÈME', 'σοφος', 'ΟΔΟΣ', 'x_y', '100%'];
    const seps = [' ', ', ', '.', '--', '\r\n', '_', ''];
    let seed = 11;
    const rnd = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 2 ** 32;
    };
    const pick = <T>(xs: readonly T[]) => xs[Math.floor(rnd() * xs.length)]!;
    const bodies = Array.from({ length: 40 }, () =>
      Array.from({ length: 1 + Math.floor(rnd() * 20) }, () => pick(words) + pick(seps)).join(''),
    );
    const messages = bodies.map((b, i) => delivered(`o${i}`, `${b}\r\n`));
    const folded = messages.map((m) => oracleFold(m.index.text));
    const needles = new Set<string>(['zzz', 'the the', 'é c']);
    for (const t of folded) {
      for (let k = 0; k < 6; k++) {
        const at = Math.floor(rnd() * t.length);
        const needle = t.slice(at, at + 1 + Math.floor(rnd() * 12));
        if (needle.trim() !== '') needles.add(rnd() < 0.5 ? needle.toUpperCase() : needle);
      }
    }
    await withStores(['on-search', 'on-delivery'], async ([lazy, eager]) => {
      // Two mailboxes, one per mode's node: the same messages in the same order.
      const eagerBox = await eager!.store.createMailbox(eager!.account, 'Eager');
      for (const m of messages) {
        await lazy!.store.append(m, [{ mailboxId: lazy!.inbox }]);
      }
      const wrong: string[] = [];
      for (const needle of needles) {
        const n = oracleFold(needle);
        const want = folded.flatMap((t, i) => (t.includes(n) ? [i + 1] : []));
        const got = await lazy!.store.searchText(lazy!.inbox, needle);
        if (JSON.stringify(got) !== JSON.stringify(want)) wrong.push(`${needle}: ${got} / ${want}`);
      }
      assert.deepEqual(wrong, []);
      // The same bytes delivered by an on-delivery node after: found as before, same answers.
      const fresh = messages.map((m) => ({ ...m, raw: Buffer.concat([m.raw, Buffer.from(' ')]) }));
      for (const m of fresh) await eager!.store.append(m, [{ mailboxId: eagerBox.id }]);
      for (const needle of needles) {
        assert.deepEqual(
          await eager!.store.searchText(eagerBox.id, needle),
          await lazy!.store.searchText(lazy!.inbox, needle),
          needle,
        );
      }
    });
  });

  test('on-search: a text past the cut is marked and found whole', async () => {
    await withStores(['on-search'], async ([n], sql) => {
      const long = `${'lorem ipsum '.repeat(Math.ceil(FTS_TEXT_MAX / 12) + 10)}needle at the end\r\n`;
      await n!.store.append(delivered('long', long), [{ mailboxId: n!.inbox }]);
      await n!.store.append(delivered('short', 'short\r\n'), [{ mailboxId: n!.inbox }]);
      assert.deepEqual(await n!.store.searchText(n!.inbox, 'NEEDLE at the'), [1]);
      const r = await sql.query<{ s_subject: string; text_truncated: boolean }>(
        'SELECT s_subject, text_truncated FROM messages ORDER BY id',
      );
      assert.deepEqual(
        r.rows.map((x) => [x.s_subject, x.text_truncated]),
        [
          ['long', true],
          ['short', false],
        ],
      );
    });
  });

  test('on-search: expunged messages are neither found nor kept; a mailbox deleted takes its mark', async () => {
    await withStores(['on-search'], async ([n], sql) => {
      const { store, inbox } = n!;
      const box = await store.createMailbox(n!.account, 'Box');
      for (const [i, b] of BODIES.entries()) {
        await store.append(delivered(`m${i}`, b), [{ mailboxId: box.id }]);
      }
      await store.expunge(box.id, { uids: [1], onlyDeleted: false });
      assert.deepEqual(await store.searchText(box.id, 'report'), []);
      assert.deepEqual(await store.searchText(box.id, 'münchen'), [2]);
      await store.expunge(box.id, { uids: [2], onlyDeleted: false });
      assert.deepEqual(await store.searchText(box.id, 'münchen'), []);
      assert.equal(await mark(sql, box.id), 4);
      await store.deleteMailbox(box.id);
      assert.equal(await mark(sql, box.id), null);
      assert.deepEqual(await store.searchText(inbox, 'report'), []);
    });
  });

  test('two nodes catch up the same rows at once: each message made, answers whole', async () => {
    await withStores(['on-search', 'on-search'], async ([a, b], sql) => {
      const count = 150;
      for (let i = 0; i < count; i++) {
        // Deliveries on both nodes.
        await (i % 2 ? a : b)!.store.append(delivered(`n${i}`, `number ${i} of the lot\r\n`), [
          { mailboxId: a!.inbox },
        ]);
      }
      const all = Array.from({ length: count }, (_, i) => i + 1);
      const [fromA, fromB, fromA2] = await Promise.all([
        a!.store.searchText(a!.inbox, 'OF THE LOT'),
        b!.store.searchText(b!.inbox, 'of the lot'),
        a!.store.searchText(a!.inbox, 'the lot'),
      ]);
      assert.deepEqual(fromA, all);
      assert.deepEqual(fromB, all);
      assert.deepEqual(fromA2, all);
      assert.deepEqual(await a!.store.searchText(a!.inbox, 'number 77 '), [78]);
      for (const [subject, text] of await texts(sql)) {
        assert.equal(text, `number ${subject.slice(1)} of the lot\r\n`, subject);
      }
      assert.equal(await mark(sql, a!.inbox), count);
      // Another node's delivery is found by this node's next search.
      await b!.store.append(delivered('other', 'from the other node\r\n'), [
        { mailboxId: a!.inbox },
      ]);
      assert.deepEqual(await a!.store.searchText(a!.inbox, 'OTHER NODE'), [count + 1]);
    });
  });

  test('a store switched to on-delivery makes at start what on-search left; and back', async () => {
    const url = await server.createDatabase();
    const sql = new pg.Client({ connectionString: url });
    await sql.connect();
    try {
      const lazy = await PostgresStore.open({ connectionString: url, max: 2 });
      let inbox: number;
      try {
        await lazy.addDomain('example.test');
        const acct = await lazy.createAccount({ address: 'a@example.test', passwordHash: 'h' });
        inbox = (await lazy.getMailbox(acct.id, 'INBOX'))!.id;
        for (const [i, b] of BODIES.entries()) {
          await lazy.append(delivered(`m${i}`, b), [{ mailboxId: inbox }]);
        }
        for (const [subject, text] of await texts(sql)) assert.equal(text, null, subject);
      } finally {
        await lazy.close();
      }
      const errors: unknown[] = [];
      const eager = await PostgresStore.open({
        connectionString: url,
        max: 2,
        fullTextIndex: 'on-delivery',
        onTextError: (err) => errors.push(err),
      });
      try {
        await eventually(
          async () => [...(await texts(sql)).values()].every((t) => t !== null),
          'the texts made at start',
          30_000,
        );
        await eventually(async () => (await mark(sql, inbox)) === 4, 'the mark', 30_000);
        assert.deepEqual(errors, []);
        assert.deepEqual(await eager.searchText(inbox, 'münchen'), [2]);
        await eager.append(delivered('eager', 'written at once\r\n'), [{ mailboxId: inbox }]);
        assert.notEqual((await texts(sql)).get('eager'), null);
      } finally {
        await eager.close();
      }
      const again = await PostgresStore.open({ connectionString: url, max: 2 });
      try {
        assert.deepEqual(await again.searchText(inbox, 'WRITTEN at'), [5]);
        assert.deepEqual(await again.searchText(inbox, 'thursday'), [4]);
      } finally {
        await again.close();
      }
    } finally {
      await sql.end();
      await server.dropDatabase(url);
    }
  });
});
