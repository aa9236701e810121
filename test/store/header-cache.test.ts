// The header blocks a SqliteStore keeps for FETCH of header fields (issue 19): HeaderCache cuts
// and bounds them; SqliteStore.readHeaders answers from it, reading only what it lacks.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { headerBounds } from '../../src/mime/header-scan.js';
import { HeaderCache } from '../../src/store/header-cache.js';
import { INLINE_MAX } from '../../src/store/sqlite/messages.js';
import { newMessage } from '../helpers/messages.js';
import { openAliceStore } from '../helpers/store.js';
import { tempDirEachTest } from '../helpers/temp-dir.js';

const msg = (subject: string, body = 'body\r\n') =>
  Buffer.from(`Subject: ${subject}\r\nFrom: a@example.test\r\n\r\n${body}`);

test('HeaderCache: the header block with its empty line, a copy, the whole message without one', () => {
  const cache = new HeaderCache(1 << 20);
  const raw = msg('one');
  const block = cache.put('a', raw);
  assert.equal(block.toString(), 'Subject: one\r\nFrom: a@example.test\r\n\r\n');
  assert.notEqual(block.buffer, raw.buffer, 'the message is not held');
  assert.equal(cache.get('a'), block);
  const headerOnly = Buffer.from('Subject: no body\r\n');
  assert.deepEqual(cache.put('b', headerOnly), headerOnly);
  const lf = Buffer.from('Subject: lf\n\nbody\n');
  assert.equal(cache.put('c', lf).toString(), 'Subject: lf\n\n');
  assert.equal(cache.get('missing'), undefined);
});

test('HeaderCache: bounded in bytes, the least recently used dropped first', () => {
  // Room for three entries (each counted with its overhead), not four.
  const cost = new HeaderCache(1 << 20);
  cost.put('probe', msg('x'));
  const cache = new HeaderCache(cost.size * 3 + 1);
  for (const h of ['a', 'b', 'c']) cache.put(h, msg('x'));
  assert.ok(cache.get('a'), 'a is now the most recent');
  cache.put('d', msg('x'));
  assert.equal(cache.get('b'), undefined, 'b, the least recently used, went');
  for (const h of ['a', 'c', 'd']) assert.ok(cache.get(h), h);
  assert.ok(cache.size <= cost.size * 3 + 1);
  // A block larger than the whole bound is returned, not kept.
  const huge = Buffer.from(`Subject: ${'y'.repeat(cost.size * 4)}\r\n\r\nbody`);
  assert.equal(cache.put('huge', huge).length, huge.length - 4);
  assert.equal(cache.get('huge'), undefined);
  for (const h of ['a', 'c', 'd']) assert.ok(cache.get(h), h);
});

const dir = tempDirEachTest('lb-headers-');

test('readHeaders: the header blocks of the small messages, then from memory; large ones left out', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    assert.ok(store.readHeaders, 'the SQLite store reads headers');
    for (let i = 0; i < 4; i++)
      await store.append(newMessage(`small ${i}`), [{ mailboxId: inbox }]);
    const big = newMessage('big', `${'large body line\r\n'.repeat(INLINE_MAX / 16)}`);
    await store.append(big, [{ mailboxId: inbox }]);
    const rows = await store.listMessages(inbox);
    const small = rows.filter((r) => r.size <= INLINE_MAX);
    assert.equal(small.length, 4);
    const got = await store.readHeaders(rows);
    // By position: the i-th is rows[i]'s block, the large one left out.
    assert.equal(got.length, rows.length);
    for (const [i, r] of rows.entries()) {
      if (r.size > INLINE_MAX) {
        assert.equal(got[i], undefined);
        continue;
      }
      const raw = await store.readMessage(r.blobHash, r.size);
      assert.deepEqual(got[i], raw.subarray(0, headerBounds(raw).bodyStart));
    }
    // Their bytes overwritten behind the store's back: what it answers now comes from memory.
    const db = new Database(join(dir(), 'letterbox.db'));
    try {
      db.prepare('UPDATE message_bytes SET data = ?').run(Buffer.from('Subject: other\r\n\r\n'));
    } finally {
      db.close();
    }
    const again = await store.readHeaders(rows);
    assert.deepEqual(again, got);
    // Reversed, and with a row twice: each answer at its row's place.
    const mixed = [...rows].reverse();
    mixed.push(rows[0]!);
    const back = await store.readHeaders(mixed);
    assert.deepEqual(back, [...got].reverse().concat([got[0]]));
    assert.deepEqual(await store.readHeaders([]), []);
  } finally {
    await store.close();
  }
});

test('append: the header block of a small message stored is kept at once, a large one is not', async () => {
  const { store, inbox } = await openAliceStore(dir());
  try {
    assert.ok(store.readHeaders);
    const small = newMessage('kept at append');
    await store.append(small, [{ mailboxId: inbox }]);
    const big = newMessage('big', `${'large body line\r\n'.repeat(INLINE_MAX / 16)}`);
    await store.append(big, [{ mailboxId: inbox }]);
    // Their bytes overwritten behind the store's back before any read: the small one's header
    // block comes from what the append kept.
    const db = new Database(join(dir(), 'letterbox.db'));
    try {
      db.prepare('UPDATE message_bytes SET data = ?').run(Buffer.from('Subject: other\r\n\r\n'));
    } finally {
      db.close();
    }
    const rows = await store.listMessages(inbox);
    const got = await store.readHeaders(rows);
    assert.deepEqual(got, [small.raw.subarray(0, headerBounds(small.raw).bodyStart), undefined]);
  } finally {
    await store.close();
  }
});
