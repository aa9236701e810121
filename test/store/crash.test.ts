// Durability: SIGKILL the process in the middle of a stream of appends, reopen the store, and
// check that every append it acknowledged is there, byte for byte, and nothing is half-written.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const here = new URL('.', import.meta.url).pathname;

test('acknowledged appends survive SIGKILL; nothing is half-written', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-crash-'));
  try {
    const child = spawn(process.execPath, ['--import', 'tsx', join(here, 'crash-writer.ts'), dir], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const acked = new Map<number, string>();
    /** UID -> the word only that message's text has. */
    const words = new Map<number, string>();
    let buf = '';
    await new Promise<void>((resolve, reject) => {
      child.stdout.on('data', (d: Buffer) => {
        buf += d.toString();
        let nl = buf.indexOf('\n');
        while (nl >= 0) {
          const line = buf.slice(0, nl);
          buf = buf.slice(nl + 1);
          const m = /^ACK (\d+) ([0-9a-f]{64}) (\d+)$/.exec(line);
          if (m) {
            acked.set(Number(m[1]), m[2]!);
            words.set(Number(m[1]), `w${m[3]}q`);
          }
          nl = buf.indexOf('\n');
        }
        // Kill while writes are certainly in flight (8 concurrent writers).
        if (acked.size >= 120) child.kill('SIGKILL');
      });
      child.on('exit', () => resolve());
      child.on('error', reject);
    });
    assert.ok(acked.size >= 120, `child acknowledged only ${acked.size} appends`);
    // The index worker wrote fts.db unsynced (fts-marks.ts): the killed process left its mark,
    // of this boot, and its writes are whole in the page cache, its last transaction rolled
    // back from the journal.
    const marks = (await readdir(dir)).filter((n) => n.startsWith('fts.db-open-'));
    assert.equal(marks.length, 1);
    assert.match(await readFile(join(dir, marks[0]!), 'latin1'), /^[0-9a-f-]{36}\n\d+\n$/);

    const store = await SqliteStore.open({ dir });
    try {
      const account = (await store.getAccount('alice@example.test'))!;
      const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
      const rows = await store.listMessages(inbox.id);
      const byUid = new Map(rows.map((r) => [r.uid, r]));
      for (const [uid, hash] of acked) {
        const row = byUid.get(uid);
        assert.ok(row, `acknowledged UID ${uid} is missing after the crash`);
        assert.equal(row.blobHash, hash);
      }
      let total = 0;
      for (const r of rows) {
        const bytes = await store.readMessage(r.blobHash);
        assert.equal(createHash('sha256').update(bytes).digest('hex'), r.blobHash);
        assert.equal(bytes.length, r.size);
        total += r.size;
      }
      assert.equal((await store.getAccount('alice@example.test'))!.usedBytes, total);
      const status = await store.mailboxStatus(inbox.id);
      assert.ok(status.uidNext > Math.max(...rows.map((r) => r.uid)));
      // SEARCH after the crash: each message found by its own word, and by nothing else's.
      for (const [uid, word] of words) {
        assert.deepEqual(await store.searchText(inbox.id, word), [uid], word);
      }
      // Interrupted blob writes are cleaned from tmp/ at open.
      assert.deepEqual(await readdir(join(dir, 'blobs', 'tmp')), []);
    } finally {
      await store.close();
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
