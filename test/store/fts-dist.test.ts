// The compiled build (dist/, what bin/letterbox.js runs) starts the full-text index worker
// from its .js file: append, search, close, reopen after losing fts.db, search again.
// `npm test` builds before running the tests.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';

const STORE = fileURLToPath(
  new URL('../../dist/src/store/sqlite/sqlite-store.js', import.meta.url),
);

const SCRIPT = `
import { rmSync } from 'node:fs';
import { join } from 'node:path';
const { SqliteStore } = await import(process.argv[1]);
const dir = process.argv[2];
const raw = Buffer.from('From: a@example.net\\r\\nSubject: s\\r\\n\\r\\nCompiled Worker works\\r\\n');
const index = {
  structure: null, envelope: null, text: 'Compiled Worker works',
  search: { from: '', to: '', cc: '', bcc: '', subject: 's', messageId: '', sentAt: null },
};
let store = await SqliteStore.open({ dir, onFtsError: (e) => { console.error(e); process.exit(3); } });
await store.addDomain('example.test');
const a = await store.createAccount({ address: 'a@example.test', passwordHash: 'h' });
const inbox = (await store.getMailbox(a.id, 'INBOX')).id;
await store.append({ raw, index }, [{ mailboxId: inbox }]);
const first = await store.searchText(inbox, 'WORKER');
await store.close();
for (const s of ['', '-wal', '-shm']) rmSync(join(dir, 'fts.db' + s), { force: true });
store = await SqliteStore.open({ dir });
const again = await store.searchText(inbox, 'worker WORKS');
await store.close();
console.log(JSON.stringify({ first, again }));
`;

test('the compiled store indexes and searches through its worker', async () => {
  assert.ok(existsSync(STORE), `${STORE} is missing: run npm run build first`);
  const dir = await mkdtemp(join(tmpdir(), 'lb-fts-dist-'));
  try {
    const r = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', SCRIPT, STORE, dir],
      // No tsx here: the worker must load dist's fts-worker.js on its own.
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout.trim()), { first: [1], again: [1] });
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
