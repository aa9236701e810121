// The items of a FETCH text are parsed once and shared (wire/fetch-items.ts), and the header
// line writer made from them is kept by the items object and the options it reads
// (commands/fetch.ts keptHeaderLine): the same text in FETCH and UID FETCH (RFC 9051 §6.4.9:
// UID always in the answer), and before and after CONDSTORE is enabled (RFC 7162 §3.2.4:
// MODSEQ in every FETCH answer), in one session and in another, each gets its own lines.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { append, type ImapTestEnv, last, message, startImap } from './client.js';

let env: ImapTestEnv;
before(async () => {
  env = await startImap();
});
after(async () => {
  await env.ts.stop();
});

const ITEMS = '(FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])';
const SUBJECT = 'BODY[HEADER.FIELDS (SUBJECT)] {17}';

test('one FETCH text in FETCH, UID FETCH and with CONDSTORE: each its own lines', async () => {
  const c = await env.login();
  try {
    await c.cmd('c', 'CREATE Kept');
    const uid = await append(c, 'Kept', message('kept'));
    await c.cmd('s', 'SELECT Kept');
    const plain = await c.cmd('f1', `FETCH 1 ${ITEMS}`);
    assert.equal(plain[0], `* 1 FETCH (FLAGS (\\Recent) ${SUBJECT}`, plain.join('\n'));
    const byUid = await c.cmd('f2', `UID FETCH 1:* ${ITEMS}`);
    assert.equal(byUid[0], `* 1 FETCH (UID ${uid} FLAGS (\\Recent) ${SUBJECT}`, byUid.join('\n'));
    const again = await c.cmd('f3', `FETCH 1 ${ITEMS}`);
    assert.equal(again[0], plain[0]);
    // RFC 7162 §3.1: FETCH of MODSEQ enables CONDSTORE.
    assert.match(last(await c.cmd('e', 'FETCH 1 (MODSEQ)')), /^e OK/);
    const cond = await c.cmd('f4', `FETCH 1 ${ITEMS}`);
    const line = cond.find((l) => l.startsWith('* 1 FETCH'));
    assert.equal(line, `* 1 FETCH (FLAGS (\\Recent) ${SUBJECT}`, cond.join('\n'));
    assert.match(cond.join('\n'), / MODSEQ \(\d+\)\)$/m);
    assert.ok(!plain.join('\n').includes('MODSEQ'), plain.join('\n'));
  } finally {
    c.close();
  }
  // Another session, the same text: no CONDSTORE there.
  const d = await env.login();
  try {
    await d.cmd('s', 'EXAMINE Kept');
    const r = await d.cmd('f', `FETCH 1 ${ITEMS}`);
    assert.ok(!r.join('\n').includes('MODSEQ'), r.join('\n'));
  } finally {
    d.close();
  }
});
