// A header FETCH's lines are kept by message (fetch/line-cache.ts) and written again once the
// message's flags or modseq moved: another session's STORE, this session's own, a \Recent
// that is this session's alone (RFC 9051 §2.3.2), CONDSTORE's MODSEQ (RFC 7162 §3.2.4), and
// sequence numbers that moved with an expunge (RFC 9051 §7.5.1) are all in the next answer.
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

const FETCH = 'FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)])';

/** The FETCH lines' text by sequence number: `UID u FLAGS (...) subject`. */
async function lines(
  c: Awaited<ReturnType<ImapTestEnv['login']>>,
  tag: string,
  cmd = FETCH,
): Promise<string[]> {
  const r = await c.cmd(tag, cmd);
  assert.match(last(r), new RegExp(`^${tag} OK`), r.join('\n'));
  const text = r.slice(0, -1).join('\n');
  const out: string[] = [];
  const re =
    /\* (\d+) FETCH \(UID (\d+) FLAGS \(([^)]*)\) BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r?\n?Subject: (\S+)\r?\n?\r?\n?\s*(MODSEQ \(\d+\))?\)?/g;
  for (const m of text.matchAll(re))
    out[Number(m[1])] = `${m[2]} (${m[3]}) ${m[4]}${m[5] ? ` ${m[5]}` : ''}`;
  return out;
}

test('kept FETCH lines follow flags, \\Recent, MODSEQ and expunges', async () => {
  const a = await env.login();
  const b = await env.login();
  try {
    await a.cmd('c', 'CREATE Lines');
    const u1 = await append(a, 'Lines', message('one'));
    const u2 = await append(a, 'Lines', message('two'));
    const u3 = await append(a, 'Lines', message('three'));
    // a selects first: its messages are \Recent to it alone.
    await a.cmd('s', 'SELECT Lines');
    const first = await lines(a, 'f1');
    assert.deepEqual(first.slice(1), [
      `${u1} (\\Recent) one`,
      `${u2} (\\Recent) two`,
      `${u3} (\\Recent) three`,
    ]);
    assert.deepEqual(await lines(a, 'f2'), first, 'the same lines again');
    // b sees the same messages without \Recent.
    await b.cmd('s', 'SELECT Lines');
    assert.deepEqual((await lines(b, 'g1')).slice(1), [
      `${u1} () one`,
      `${u2} () two`,
      `${u3} () three`,
    ]);
    // b's STORE: a's next FETCH (after the update reaches it) shows it.
    await b.cmd('st', 'STORE 2 +FLAGS (\\Flagged)');
    assert.deepEqual((await lines(b, 'g2')).slice(1), [
      `${u1} () one`,
      `${u2} (\\Flagged) two`,
      `${u3} () three`,
    ]);
    const seenByA = await lines(a, 'f3');
    assert.equal(seenByA[2], `${u2} (\\Flagged \\Recent) two`, seenByA.join('\n'));
    // a's own STORE, then an expunge of the first: sequence numbers move, lines follow.
    await a.cmd('st', 'STORE 3 +FLAGS.SILENT (\\Seen)');
    await a.cmd('d', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    assert.match(last(await a.cmd('x', 'EXPUNGE')), /^x OK/);
    assert.deepEqual((await lines(a, 'f4')).slice(1), [
      `${u2} (\\Flagged \\Recent) two`,
      `${u3} (\\Seen \\Recent) three`,
    ]);
    // CONDSTORE on in b: MODSEQ in every line (RFC 7162 §3.2.4), and a new one after a STORE.
    await b.cmd('n', 'NOOP');
    const before = await lines(
      b,
      'g4',
      'FETCH 1:* (UID FLAGS BODY.PEEK[HEADER.FIELDS (SUBJECT)] MODSEQ)',
    );
    assert.match(before[1]!, / MODSEQ \(\d+\)$/, before.join('\n'));
    const again = await lines(b, 'g5');
    assert.match(again[1]!, / MODSEQ \(\d+\)$/, again.join('\n'));
    await a.cmd('st2', 'STORE 1 -FLAGS.SILENT (\\Flagged)');
    await b.cmd('n2', 'NOOP');
    const after = await lines(b, 'g6');
    assert.equal(after[1]!.replace(/ MODSEQ.*/, ''), `${u2} () two`, after.join('\n'));
    const modseq = (l: string) => Number(/MODSEQ \((\d+)\)/.exec(l)![1]);
    assert.ok(modseq(after[1]!) > modseq(again[1]!), `${again[1]} -> ${after[1]}`);
  } finally {
    a.close();
    b.close();
  }
});
