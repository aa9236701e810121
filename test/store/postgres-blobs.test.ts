// Issue 17 item 3: message bytes in PostgreSQL in chunks (src/store/postgres/blobs.ts).
// Migration 6 moves the bytes of an older database out of their rows; a large message is
// written and read with its bytes held in memory once, as measured by the peak resident memory
// of a process doing only that (blob-memory-child.ts).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import pg from 'pg';
import { CHUNK_BYTES } from '../../src/store/postgres/blobs.js';
import { PG_MIGRATIONS } from '../../src/store/postgres/migrations.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { rawMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const here = new URL('.', import.meta.url).pathname;
const run = promisify(execFile);

let server: TestPostgres;
before(async () => {
  server = await startPostgres();
});
after(async () => {
  await server?.stop();
});

const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

describe('postgres blobs', () => {
  test('migration 6 moves bytes stored in their rows into chunks, shared, exact', async () => {
    const url = await server.createDatabase();
    const c = new pg.Client({ connectionString: url });
    await c.connect();
    // A database as the releases before migration 6 left it.
    await c.query(
      'CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_at BIGINT NOT NULL)',
    );
    for (const m of PG_MIGRATIONS.filter((x) => x.version < 6)) {
      await c.query(m.sql);
      await c.query('INSERT INTO schema_migrations VALUES ($1, 0)', [m.version]);
    }
    // Three chunks and a bit; one byte; none; one queued twice and stored once.
    const large = rawMessage('large', `${'x'.repeat(1000)}\r\n`.repeat(800));
    const tiny = Buffer.from('a');
    const empty = Buffer.alloc(0);
    const put = (table: string, b: Buffer) =>
      table === 'messages'
        ? c.query(
            `INSERT INTO messages (blob_hash, size, data, structure, envelope, s_from, s_to, s_cc,
               s_bcc, s_subject, s_message_id, e_from, e_to, e_cc, e_bcc, email_id, thread_id,
               body_text, text_truncated)
             VALUES ($1, $2, $3, 'null', 'null', '', '', '', '', '', '', '', '', '', '', $1, 't',
               '', false)`,
            [sha(b), b.length, b],
          )
        : c.query(
            `INSERT INTO outbound (blob_hash, size, data, sender, created_at, next_attempt_at)
             VALUES ($1, $2, $3, 's@x.test', 0, 0)`,
            [sha(b), b.length, b],
          );
    await put('messages', large);
    await put('messages', empty);
    await put('outbound', tiny);
    await put('outbound', large);
    await put('outbound', tiny);
    await c.end();
    const store = await PostgresStore.open({ connectionString: url, max: 2 });
    try {
      for (const b of [large, tiny, empty]) assert.deepEqual(await store.readMessage(sha(b)), b);
      const check = new pg.Client({ connectionString: url });
      await check.connect();
      const chunks = await check.query(
        'SELECT hash, count(*)::int AS n, max(length(data)) AS longest FROM blob_chunks GROUP BY hash',
      );
      await check.end();
      const byHash = new Map(chunks.rows.map((r) => [r.hash, r]));
      assert.equal(byHash.get(sha(large))?.n, Math.ceil(large.length / CHUNK_BYTES));
      assert.equal(byHash.get(sha(large))?.longest, CHUNK_BYTES);
      assert.equal(byHash.get(sha(tiny))?.n, 1);
      assert.equal(byHash.has(sha(empty)), false);
      // The queued copies go; the stored message keeps the shared bytes, the tiny ones go.
      for (const item of await store.listOutbound()) await store.deleteOutbound(item.id);
      assert.deepEqual(await store.readMessage(sha(large)), large);
      await assert.rejects(store.readMessage(sha(tiny)), { code: 'NOT_FOUND' });
    } finally {
      await store.close();
      await server.dropDatabase(url);
    }
  });

  test('a 96 MiB message: append and read each hold its bytes once (peak RSS)', async () => {
    const url = await server.createDatabase();
    const store = await PostgresStore.open({ connectionString: url, max: 2 });
    await store.addDomain('example.test');
    const acct = await store.createAccount({ address: 'big@example.test', passwordHash: 'h' });
    const inbox = (await store.getMailbox(acct.id, 'INBOX'))!;
    await store.close();
    const child = async (mode: 'append' | 'read') => {
      const { stdout } = await run(
        process.execPath,
        [
          '--expose-gc',
          '--import',
          'tsx',
          join(here, 'blob-memory-child.ts'),
          url,
          mode,
          String(inbox.id),
          '96',
        ],
        { maxBuffer: 1 << 20 },
      );
      return JSON.parse(stdout.trim().split('\n').pop()!) as {
        before: number;
        peak: number;
        size: number;
        hash: string;
      };
    };
    try {
      const MiB = 1024 * 1024;
      const wrote = await child('append');
      // The bytes are built before the measure starts. The append sends each chunk in a
      // message the driver builds (garbage until the next collection, which V8 runs once
      // some 32 MiB of such buffers piled up, whatever the message's size), never another
      // copy of the message (a BYTEA parameter of it whole was copied into the driver's
      // buffer, which grows by half again: +48 to +97 MiB for 48 MiB).
      const appendRise = wrote.peak - wrote.before;
      assert.ok(
        appendRise < wrote.size * 0.6,
        `append raised the peak RSS by ${(appendRise / MiB).toFixed(1)} MiB`,
      );
      const read = await child('read');
      assert.equal(read.hash, wrote.hash);
      // Reading builds the one Buffer of the message; beside it, a batch of chunks in flight
      // and the garbage of batches read (their hex text) until the next collection (about
      // 32 MiB, as above). Whole, one BYTEA row came as hex text twice its size, then as a
      // string of it, then as the bytes: +450 MiB for 48 MiB.
      const readRise = read.peak - read.before;
      assert.ok(
        readRise < read.size * 2,
        `reading raised the peak RSS by ${(readRise / MiB).toFixed(1)} MiB for ${(read.size / MiB).toFixed(1)} MiB`,
      );
      console.log(
        `96 MiB message: append +${(appendRise / MiB).toFixed(1)} MiB, read +${(readRise / MiB).toFixed(1)} MiB peak RSS`,
      );
    } finally {
      await server.dropDatabase(url);
    }
  });
});
