// An import's memory does not grow with the number of messages (issue 18, bench/import): the
// main thread's heap and Buffer memory, measured after a full collection at checkpoints of an
// import of 20,000 small messages from memory into a store opened as `letterbox import` opens
// it, stays within a few MB of what it was after the first 2,000. Nothing is timed. A leak of
// 300 bytes a message (a record or a string kept per message) would add 5.4 MB between the
// checkpoints; the allowance is for the runtime's noise (code compiled as the import warms up).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { IMPORT_STORE } from '../../src/cli/commands/import.js';
import { type ImportFolder, type ImportItem, importFolders } from '../../src/migrate-io/import.js';
import { openAliceStore } from '../helpers/store.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const COUNT = 20_000;
const FIRST = 2_000;
const EVERY = 2_000;
const ALLOWANCE = 3 * 1024 * 1024;

function used(): number {
  gc();
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

/** A folder of `count` distinct small messages (about 1 KB, LF line ends as in a Maildir). */
function folder(count: number): ImportFolder {
  const start = Date.UTC(2024, 0, 1);
  return {
    name: 'INBOX',
    source: 'memory',
    async *items(): AsyncIterable<ImportItem> {
      for (let n = 0; n < count; n++) {
        const text =
          `From: Bob <bob@example.test>\nTo: alice@example.test\nSubject: message ${n}\n` +
          `Message-ID: <m${n}@example.test>\nDate: Mon, 1 Jan 2024 00:00:00 +0000\n\n` +
          `${`line ${n} of a body that the full-text index gets as well\n`.repeat(16)}`;
        yield {
          source: `memory/${n}`,
          flags: n % 3 === 0 ? ['\\Seen'] : [],
          internalDate: new Date(start + n * 1000),
          size: text.length,
          read: async () => Buffer.from(text, 'latin1'),
        };
      }
    },
  };
}

test('the heap after 20,000 imported messages is that after 2,000, within 3 MB', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-import-mem-'));
  const { store } = await openAliceStore(join(dir, 'data'), IMPORT_STORE);
  try {
    const account = (await store.getAccount('alice@example.test'))!;
    const marks: Array<{ at: number; bytes: number }> = [];
    let imported = 0;
    const summary = await importFolders(store, account, [folder(COUNT)], {
      maxMessageSize: 1024 * 1024,
      progress: {
        folderStart() {},
        failure() {},
        folderDone() {},
        tick(result) {
          if (result !== 'imported') return;
          imported++;
          if (imported >= FIRST && imported % EVERY === 0) {
            marks.push({ at: imported, bytes: used() });
          }
        },
      },
    });
    assert.equal(summary.imported, COUNT);
    assert.equal(summary.failed, 0);
    const base = marks[0]!.bytes;
    const grown = marks.map((m) => ({ at: m.at, mb: ((m.bytes - base) / 1048576).toFixed(2) }));
    const worst = Math.max(...marks.map((m) => m.bytes)) - base;
    assert.ok(worst < ALLOWANCE, `heap grew by ${JSON.stringify(grown)} MB`);
  } finally {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
