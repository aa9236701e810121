// `letterbox store migrate` (issue 17 item 5), the copy itself: a SQLite store with every
// kind of data a client or an administrator sees, copied to PostgreSQL and back to a new
// SQLite store, each time read through the MailStore API and compared whole (ids, UIDs,
// flags, modseqs, object ids, expunged UIDs, bytes, queue); then an interrupted copy that a
// rerun completes, the refusals, and the final check catching a difference.
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import pgDriver from 'pg';
import { indexMessage } from '../../src/delivery/local.js';
import { migrateStore } from '../../src/store/migrate/copy.js';
import { MigrateError } from '../../src/store/migrate/endpoint.js';
import { PostgresEndpoint } from '../../src/store/migrate/postgres-endpoint.js';
import { SqliteEndpoint } from '../../src/store/migrate/sqlite-endpoint.js';
import { NOT_COPIED, TABLES } from '../../src/store/migrate/tables.js';
import { verifyCopy } from '../../src/store/migrate/verify.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { MailboxSummary, MailStore, NewMessage } from '../../src/store/types.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

let pg: TestPostgres;
const dirs: string[] = [];
before(async () => {
  pg = await startPostgres();
});
after(async () => {
  await pg?.stop();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'lb-migrate-'));
  dirs.push(d);
  return d;
}

function message(subject: string, body: string, extra = ''): NewMessage {
  const raw = Buffer.from(
    `From: Carol <carol@example.net>\r\nTo: alice@example.test\r\nSubject: ${subject}\r\n` +
      `Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@t>\r\n` +
      `${extra}\r\n${body}`,
  );
  return {
    raw,
    index: indexMessage(raw),
    internalDate: new Date(Date.UTC(2026, 10, 24, 9)),
    internalZone: 120,
  };
}

/** A store with something of everything. */
async function fill(store: MailStore): Promise<void> {
  await store.addDomain('example.test');
  await store.addDomain('other.test');
  const alice = await store.createAccount({
    address: 'alice@example.test',
    passwordHash: '$scrypt$alice-hash',
    quotaBytes: 50_000_000,
    admin: true,
  });
  await store.createAccount({ address: 'bob@other.test', passwordHash: '{SHA512-CRYPT}$6$x$y' });
  await store.setDisabled('bob@other.test', true);
  await store.setPop3Policy('alice@example.test', 'keep');
  await store.unlockAccount('alice@example.test');
  await store.addAppPassword('alice@example.test', { id: 'apone', name: 'phone', hash: 'h1' });
  await store.addAppPassword('alice@example.test', { id: 'aptwo', name: 'laptop', hash: 'h2' });
  await store.touchAppPassword(alice.id, 'apone', new Date(Date.UTC(2026, 11, 1)));
  await store.addAlias('sales@example.test', ['alice@example.test', 'x@remote.example']);
  await store.addAlias('@other.test', ['bob@other.test']);
  const inbox = (await store.getMailbox(alice.id, 'INBOX'))!;
  const archive =
    (await store.getMailbox(alice.id, 'Archive')) ??
    (await store.createMailbox(alice.id, 'Archive'));
  await store.createMailbox(alice.id, 'Projects/Été');
  await store.setSubscribed(alice.id, 'Archive', true);
  await store.setSubscribed(alice.id, 'Gone', true);
  for (let i = 1; i <= 12; i++) {
    const flags = i % 3 === 0 ? ['\\Seen', '$Label1'] : i % 2 === 0 ? ['\\Flagged'] : [];
    await store.append(message(`note ${i}`, `Body number ${i} zebra${i}\r\n`), [
      { mailboxId: inbox.id, flags },
    ]);
  }
  // Above INLINE_MAX (a blob file in SQLite) and above 256 KiB (three chunks in PostgreSQL).
  await store.append(message('large', `${'x'.repeat(100)}\r\n`.repeat(6000)), [
    { mailboxId: inbox.id, flags: ['\\Answered'] },
  ]);
  await store.append(
    message('reply', 'In reply.\r\n', 'In-Reply-To: <note1@t>\r\nReferences: <note1@t>\r\n'),
    [{ mailboxId: inbox.id }],
  );
  await store.setFlags(inbox.id, [2, 4], 'add', ['\\Seen', 'Custom']);
  await store.setFlags(inbox.id, [5], 'remove', ['Nothing']);
  await store.copyMessages(inbox.id, [1, 2, 3], archive.id);
  await store.setFlags(inbox.id, [7, 8], 'add', ['\\Deleted']);
  await store.expunge(inbox.id, { uids: [7, 8], onlyDeleted: true });
  await store.moveMessages(inbox.id, [9], archive.id);
  const [rec] = await store.listMessages(inbox.id);
  await store.setPreview(rec!.messageId, 'Body number 1');
  await store.setMetadata(alice.id, null, [{ name: '/private/comment', value: Buffer.from('hi') }]);
  await store.setMetadata(alice.id, inbox.id, [
    { name: '/shared/vendor/x', value: Buffer.from([0, 1, 2, 255]) },
  ]);
  const q = await store.enqueueOutbound({
    sender: 'alice@example.test',
    recipients: [
      { address: 'a@remote.example', notify: ['SUCCESS', 'FAILURE'] },
      { address: 'b@remote.example', orcpt: 'rfc822;b@remote.example' },
    ],
    raw: message('outgoing', 'Out.\r\n').raw,
    envid: 'env-1',
    ret: 'HDRS',
    accountId: alice.id,
  });
  await store.updateOutbound(q, {
    recipients: [{ address: 'a@remote.example', state: 'sent', lastError: null, status: '2.0.0' }],
    nextAttemptAt: new Date(Date.now() + 3600_000),
    attempted: true,
  });
  const held = await store.enqueueOutbound({
    sender: '',
    recipients: [{ address: 'c@remote.example' }],
    raw: message('bounce', `${'y'.repeat(99)}\r\n`.repeat(800)).raw,
  });
  await store.holdOutbound(held, true);
}

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
/** The summary's UIDs as an array: each store may keep them in its own form (UidList). */
const summaryOf = (s: MailboxSummary) => ({ ...s, uids: s.uids.toArray() });

/** Everything a client or an administrator can read of the store, in a comparable form. */
async function snapshot(store: MailStore): Promise<unknown> {
  const accounts = await store.listAccounts();
  const out: Record<string, unknown> = {
    domains: await store.listDomains(),
    accounts,
    aliases: await store.listAliases(),
  };
  for (const a of accounts) {
    const boxes = await store.listMailboxes(a.id);
    const mailboxes = [];
    for (const mb of boxes) {
      const records = await store.listMessages(mb.id);
      const uids = records.map((r) => r.uid);
      const extras = await store.getMessageExtras(mb.id, uids);
      const details = await store.getMessages(mb.id, uids);
      const bytes = [];
      for (const r of records) bytes.push(sha(await store.readMessage(r.blobHash, r.size)));
      mailboxes.push({
        mb,
        status: await store.mailboxStatus(mb.id),
        summary: summaryOf(await store.mailboxSummary(mb.id)),
        // By field (toJSON): SQLite's cached records read some fields from its columns.
        records: JSON.parse(JSON.stringify(records)),
        extras: [...extras.entries()],
        index: details.map((d) => [
          d.uid,
          {
            structure: d.index.structure,
            envelope: d.index.envelope,
            search: { ...d.index.search },
          },
        ]),
        bytes,
        expunged: await store.expungedSince(mb.id, 0),
        search: await store.searchText(mb.id, 'zebra1'),
        metadata: await store.getMetadata(a.id, mb.id, ['/private', '/shared'], 'infinity'),
      });
    }
    out[a.address] = {
      mailboxes,
      subscriptions: await store.listSubscriptions(a.id),
      appPasswords: await store.listAppPasswords(a.address),
      appPassword: await store.getAppPassword(a.id, 'apone'),
      server: await store.getMetadata(a.id, null, ['/private', '/shared'], 'infinity'),
    };
  }
  const queue = await store.listOutbound();
  out.queue = queue;
  out.queueBytes = await Promise.all(queue.map(async (q) => sha(await store.readOutbound(q))));
  return out;
}

async function sqliteStore(dir: string): Promise<SqliteStore> {
  return SqliteStore.open({ dir, onFtsError: () => {} });
}

async function pgDatabase(): Promise<string> {
  return pg.createDatabase();
}

describe('store migrate: SQLite -> PostgreSQL -> SQLite', () => {
  test('every table comes across; clients see the same mailboxes, UIDs, flags, modseqs, ids', async () => {
    const dir = await tempDir();
    const a = await sqliteStore(dir);
    await fill(a);
    const before = await snapshot(a);
    await a.close();

    // To PostgreSQL.
    const url = await pgDatabase();
    {
      const source = await SqliteEndpoint.open(dir, 'source');
      const target = await PostgresEndpoint.open({ connectionString: url });
      const seen: string[] = [];
      const s = await migrateStore(source, target, {
        begin() {},
        copied(table) {
          if (!seen.includes(table)) seen.push(table);
        },
        verifying() {},
      });
      await source.close();
      await target.close();
      assert.deepEqual(s.verify.problems, []);
      assert.equal(s.verify.ok, true);
      assert.equal(s.resumed, false);
      assert.ok(s.verify.mailboxes >= 2);
      assert.equal(s.tables.find((t) => t.name === 'mailbox_messages')?.rows, 15);
      assert.ok(seen.includes('outbound') && seen.includes('expunged'));
    }
    const b = await PostgresStore.open({ connectionString: url, max: 4 });
    try {
      assert.deepEqual(await snapshot(b), before);
      // New things get new ids, UIDs, modseqs and UIDVALIDITY past the copied ones.
      const alice = (await b.getAccount('alice@example.test'))!;
      const inbox = (await b.getMailbox(alice.id, 'INBOX'))!;
      const [r] = await b.append(message('after', 'New.\r\n'), [{ mailboxId: inbox.id }]);
      assert.equal(r!.uid, inbox.uidNext);
      assert.ok(r!.modseq > inbox.highestModseq);
      const boxes = await b.listMailboxes(alice.id);
      const fresh = await b.createMailbox(alice.id, 'Fresh');
      assert.ok(fresh.id > Math.max(...boxes.map((m) => m.id)));
      assert.ok(fresh.uidValidity > Math.max(...boxes.map((m) => m.uidValidity)));
      const carol = await b.createAccount({ address: 'carol@example.test', passwordHash: 'h' });
      assert.ok(carol.id > alice.id);
      await b.expunge(inbox.id, { uids: [r!.uid], onlyDeleted: false });
      await b.deleteMailbox(fresh.id);
      await b.removeAccount('carol@example.test');
    } finally {
      await b.close();
    }
    const onPg = await (async () => {
      const s = await PostgresStore.open({ connectionString: url, max: 4 });
      try {
        return await snapshot(s);
      } finally {
        await s.close();
      }
    })();

    // And back, into a new data directory.
    const dir2 = await tempDir();
    {
      const source = await PostgresEndpoint.open({ connectionString: url });
      const target = await SqliteEndpoint.open(dir2, 'target');
      const s = await migrateStore(source, target);
      await source.close();
      await target.close();
      assert.deepEqual(s.verify.problems, []);
    }
    const c = await sqliteStore(dir2);
    try {
      assert.deepEqual(await snapshot(c), onPg);
      const alice = (await c.getAccount('alice@example.test'))!;
      const boxes = await c.listMailboxes(alice.id);
      const fresh = await c.createMailbox(alice.id, 'Fresh again');
      assert.ok(fresh.uidValidity > Math.max(...boxes.map((m) => m.uidValidity)));
    } finally {
      await c.close();
    }
    await pg.dropDatabase(url);
  });
});

describe('store migrate: resuming, refusing, checking', () => {
  test('an interrupted copy goes on where it stopped when run again', async () => {
    const dir = await tempDir();
    const a = await sqliteStore(dir);
    await fill(a);
    const before = await snapshot(a);
    await a.close();
    const url = await pgDatabase();
    const source = await SqliteEndpoint.open(dir, 'source');
    let target = await PostgresEndpoint.open({ connectionString: url });
    let batches = 0;
    await assert.rejects(
      migrateStore(
        source,
        target,
        {
          begin() {},
          copied(table) {
            if (table === 'mailbox_messages' && ++batches === 3) throw new Error('interrupted');
          },
          verifying() {},
        },
        { page: 2 },
      ),
      /interrupted/,
    );
    await target.close();
    target = await PostgresEndpoint.open({ connectionString: url });
    let begun: Array<{ name: string; total: number; done: number }> = [];
    const s = await migrateStore(
      source,
      target,
      {
        begin(t) {
          begun = [...t];
        },
        copied() {},
        verifying() {},
      },
      { page: 3 },
    );
    assert.equal(s.resumed, true);
    assert.deepEqual(s.verify.problems, []);
    const mm = begun.find((t) => t.name === 'mailbox_messages')!;
    assert.equal(mm.done, 6, 'three batches of two were in the target already');
    assert.equal(begun.find((t) => t.name === 'messages')!.done, 12);

    // Done: the marker is gone, so a rerun finds a target that holds data.
    await assert.rejects(migrateStore(source, target), (e) => {
      assert.ok(e instanceof MigrateError);
      assert.match(e.message, /already holds mail data/);
      return true;
    });
    await source.close();
    await target.close();
    const b = await PostgresStore.open({ connectionString: url, max: 4 });
    try {
      assert.deepEqual(await snapshot(b), before);
    } finally {
      await b.close();
    }
    await pg.dropDatabase(url);
  });

  test('a partial target of another source, or of a source changed since, is refused', async () => {
    const dir = await tempDir();
    const a = await sqliteStore(dir);
    await fill(a);
    await a.close();
    const url = await pgDatabase();
    let source = await SqliteEndpoint.open(dir, 'source');
    const target = await PostgresEndpoint.open({ connectionString: url });
    const stop = {
      begin() {},
      copied(table: string) {
        if (table === 'accounts') throw new Error('stop');
      },
      verifying() {},
    };
    await assert.rejects(migrateStore(source, target, stop), /stop/);

    const other = await tempDir();
    const o = await sqliteStore(other);
    await o.addDomain('example.test');
    await o.close();
    const otherSource = await SqliteEndpoint.open(other, 'source');
    await assert.rejects(migrateStore(otherSource, target), /unfinished migration from sqlite:/);
    await otherSource.close();

    await source.close();
    const s = await sqliteStore(dir);
    const alice = (await s.getAccount('alice@example.test'))!;
    const inbox = (await s.getMailbox(alice.id, 'INBOX'))!;
    await s.setFlags(inbox.id, [1], 'add', ['\\Flagged']);
    await s.close();
    source = await SqliteEndpoint.open(dir, 'source');
    await assert.rejects(migrateStore(source, target), /changed since this migration began/);
    await source.close();
    await target.close();
    await pg.dropDatabase(url);
  });

  test('a message whose decoded subject and text hold NUL comes across and is found', async () => {
    const dir = await tempDir();
    const a = await sqliteStore(dir);
    await a.addDomain('example.test');
    const alice = await a.createAccount({ address: 'alice@example.test', passwordHash: 'x' });
    const inbox = (await a.getMailbox(alice.id, 'INBOX'))!;
    // An encoded word and a base64 text part that decode to U+0000 (PostgreSQL's text has none).
    const m = message(
      '=?utf-8?q?zero=00here?=',
      `${Buffer.from('before\u0000after nul\r\n').toString('base64')}\r\n`,
      'MIME-Version: 1.0\r\nContent-Type: text/plain; charset=utf-8\r\n' +
        'Content-Transfer-Encoding: base64\r\n',
    );
    assert.ok(m.index.text.includes('\u0000') && m.index.search.subject.includes('\u0000'));
    await a.append(m, [{ mailboxId: inbox.id }]);
    await a.close();
    const url = await pgDatabase();
    const source = await SqliteEndpoint.open(dir, 'source');
    const target = await PostgresEndpoint.open({ connectionString: url });
    const s = await migrateStore(source, target);
    await source.close();
    await target.close();
    assert.deepEqual(s.verify.problems, []);
    const b = await PostgresStore.open({ connectionString: url, max: 2 });
    try {
      const box = (await b.getMailbox((await b.getAccount('alice@example.test'))!.id, 'INBOX'))!;
      assert.deepEqual(await b.searchText(box.id, 'after nul'), [1]);
      const [rec] = await b.getRecords(box.id, [1]);
      assert.deepEqual(await b.readMessage(rec!.blobHash), m.raw);
    } finally {
      await b.close();
    }
    await pg.dropDatabase(url);
  });

  test('messages a PostgreSQL store holds without their search text yet come across and are found', async () => {
    // full_text_index = "on-search": nothing searched yet, so no message has its text made.
    const url = await pgDatabase();
    const a = await PostgresStore.open({
      connectionString: url,
      max: 2,
      fullTextIndex: 'on-search',
    });
    try {
      await a.addDomain('example.test');
      const alice = await a.createAccount({ address: 'alice@example.test', passwordHash: 'x' });
      const inbox = (await a.getMailbox(alice.id, 'INBOX'))!;
      await a.append(message('one', 'the zebra1 is here\r\n'), [{ mailboxId: inbox.id }]);
      await a.append(message('two', 'no stripes\r\n'), [{ mailboxId: inbox.id }]);
    } finally {
      await a.close();
    }
    const c = new pgDriver.Client({ connectionString: url });
    await c.connect();
    const made = await c.query('SELECT 1 FROM messages WHERE body_text IS NOT NULL');
    await c.end();
    assert.equal(made.rowCount, 0);
    // To SQLite, and from there to a new PostgreSQL database.
    const dir = await tempDir();
    {
      const source = await PostgresEndpoint.open({ connectionString: url });
      const target = await SqliteEndpoint.open(dir, 'target');
      const s = await migrateStore(source, target);
      await source.close();
      await target.close();
      assert.deepEqual(s.verify.problems, []);
    }
    const b = await sqliteStore(dir);
    try {
      const box = (await b.getMailbox((await b.getAccount('alice@example.test'))!.id, 'INBOX'))!;
      assert.deepEqual(await b.searchText(box.id, 'ZEBRA1'), [1]);
    } finally {
      await b.close();
    }
    const url2 = await pgDatabase();
    {
      const source = await SqliteEndpoint.open(dir, 'source');
      const target = await PostgresEndpoint.open({ connectionString: url2 });
      const s = await migrateStore(source, target);
      await source.close();
      await target.close();
      assert.deepEqual(s.verify.problems, []);
    }
    for (const fullTextIndex of ['on-search', 'on-delivery'] as const) {
      const d = await PostgresStore.open({ connectionString: url2, max: 2, fullTextIndex });
      try {
        const box = (await d.getMailbox((await d.getAccount('alice@example.test'))!.id, 'INBOX'))!;
        assert.deepEqual(await d.searchText(box.id, 'zebra1 is'), [1], fullTextIndex);
        assert.deepEqual(await d.searchText(box.id, 'stripes'), [2], fullTextIndex);
      } finally {
        await d.close();
      }
    }
    await pg.dropDatabase(url);
    await pg.dropDatabase(url2);
  });

  test('the final check names a mailbox whose messages differ', async () => {
    const dir = await tempDir();
    const a = await sqliteStore(dir);
    await fill(a);
    await a.close();
    const url = await pgDatabase();
    const source = await SqliteEndpoint.open(dir, 'source');
    let target = await PostgresEndpoint.open({ connectionString: url });
    assert.equal((await migrateStore(source, target)).verify.ok, true);
    await target.close();
    const b = await PostgresStore.open({ connectionString: url, max: 4 });
    const alice = (await b.getAccount('alice@example.test'))!;
    const archive = (await b.getMailbox(alice.id, 'Archive'))!;
    await b.setFlags(archive.id, [1], 'add', ['\\Seen']);
    await b.close();
    target = await PostgresEndpoint.open({ connectionString: url });
    const v = await verifyCopy(source, target);
    assert.equal(v.ok, false);
    assert.ok(
      v.problems.some(
        (p) =>
          p ===
          `mailbox "Archive" of alice@example.test (id ${archive.id}): 4 messages in the source, 4 in the target, with different UIDs, flags or modseqs`,
      ),
      v.problems.join('\n'),
    );
    assert.ok(
      v.problems.some((p) => p.startsWith('accounts: the rows differ')),
      'the modseq moved',
    );
    await source.close();
    await target.close();
    await pg.dropDatabase(url);
  });
});

describe('store migrate: every table and column of both schemas is decided on', () => {
  /** `table` and `table.column` names the copy does not cover. */
  const uncovered = (side: 'sqlite' | 'postgres', columns: Array<[string, string]>) => {
    const copied = new Set(
      TABLES.flatMap((t) => [t.name, ...t.columns.map((c) => `${t.name}.${c.name}`)]),
    );
    const skipped = new Set(Object.keys(NOT_COPIED[side]));
    const out = new Set<string>();
    for (const [table, column] of columns) {
      if (skipped.has(table) || skipped.has(`${table}.${column}`)) continue;
      if (!copied.has(table)) out.add(table);
      else if (!copied.has(`${table}.${column}`)) out.add(`${table}.${column}`);
    }
    return [...out];
  };

  test('SQLite', async () => {
    const dir = await tempDir();
    (await SqliteEndpoint.open(dir, 'target')).close();
    const db = new Database(join(dir, 'letterbox.db'), { readonly: true });
    const cols = db
      .prepare(
        `SELECT m.name AS t, p.name AS c FROM sqlite_master m, pragma_table_info(m.name) p
         WHERE m.type = 'table'`,
      )
      .all() as Array<{ t: string; c: string }>;
    db.close();
    assert.deepEqual(
      uncovered(
        'sqlite',
        cols.map((r) => [r.t, r.c]),
      ),
      [],
    );
  });

  test('PostgreSQL', async () => {
    const url = await pgDatabase();
    await (await PostgresEndpoint.open({ connectionString: url })).close();
    const client = new pgDriver.Client({ connectionString: url });
    await client.connect();
    const r = await client.query<{ t: string; c: string }>(
      `SELECT table_name AS t, column_name AS c FROM information_schema.columns
       WHERE table_schema = 'public'`,
    );
    await client.end();
    await pg.dropDatabase(url);
    assert.deepEqual(
      uncovered(
        'postgres',
        r.rows.map((x) => [x.t, x.c]),
      ),
      [],
    );
  });
});
