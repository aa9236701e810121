// A message expunged by another session whose blob is already gone when this session FETCHes
// it (the window before it hears of the expunge): the others are answered, the command ends
// OK [EXPUNGEISSUED] (RFC 2180 §4.1.2, RFC 5530), and the session goes on. Never SERVERBUG.
import assert from 'node:assert/strict';
import { unlink } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import { append, type ImapTestEnv, last, message, startImap } from './client.js';

let env: ImapTestEnv;
before(async () => {
  env = await startImap();
});
after(() => env.ts.stop());

// It removes a message file of the SQLite store's blobs/ directly; PostgreSQL keeps bytes in rows.
const sqliteFiles = process.env.LETTERBOX_TEST_STORE === 'postgres' ? 'SQLite store only' : false;

test('FETCH of a message whose bytes vanished answers the rest with OK [EXPUNGEISSUED]', {
  skip: sqliteFiles,
}, async () => {
  const c = await env.login();
  try {
    await append(c, 'INBOX', message('keep'));
    // Over INLINE_MAX (64 KB), so its bytes are a file that can vanish.
    await append(c, 'INBOX', message('vanishing', `${'x'.repeat(76)}\r\n`.repeat(1000)));
    await c.cmd('S', 'SELECT INBOX');
    const store = env.ts.server.ctx.store;
    const inbox = (await store.getMailbox(env.accountId, 'INBOX'))!;
    const [, gone] = await store.listMessages(inbox.id);
    // The blob path layout is the store's: blobs/ab/cd/<hash>.
    const h = gone!.blobHash;
    await unlink(join(env.ts.dir, 'blobs', h.slice(0, 2), h.slice(2, 4), h));
    const r = await c.cmd('F', 'FETCH 1:2 (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    assert.match(last(r), /^F OK \[EXPUNGEISSUED\]/);
    assert.equal(r.filter((l) => /^\* \d+ FETCH /.test(l)).length, 1);
    assert.match(r.join('\n'), /Subject: keep/);
    assert.match(last(await c.cmd('N', 'NOOP')), /^N OK/);
  } finally {
    c.socket.destroy();
  }
});
