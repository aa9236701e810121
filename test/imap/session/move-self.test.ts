// MOVE and COPY into the selected mailbox itself (RFC 6851 §3.1, §3.3, §4.3, §4.4; RFC 4315
// COPYUID; RFC 9051 §6.4.7): the messages get new UIDs, announced as EXPUNGE (or VANISHED)
// and EXISTS, never NO [CANNOT].
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, type ImapTestEnv, last, message, type RawClient, startImap } from './client.js';

/**
 * The lines without `\Recent` and `* n RECENT`: which session a moved message is recent in
 * is RFC 3501 §2.3.2's business, not this test's.
 */
function withoutRecent(lines: string[]): string[] {
  return lines
    .filter((l) => !/^\* \d+ RECENT$/.test(l))
    .map((l) => l.replace(/ \\Recent\b|\\Recent ?/g, ''));
}

describe('IMAP session: MOVE and COPY into the selected mailbox', () => {
  let env: ImapTestEnv;
  let box = 0;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  /** A new mailbox with `n` messages (UIDs 1..n), selected; returns its name and UIDVALIDITY. */
  async function fresh(c: RawClient, n: number, flags = ''): Promise<[string, number]> {
    const name = `S${++box}`;
    assert.match(last(await c.cmd('cr', `CREATE ${name}`)), /OK/);
    for (let i = 1; i <= n; i++) await append(c, name, message(`m${i}`), i === 1 ? flags : '');
    const sel = await c.cmd('se', `SELECT ${name}`);
    assert.match(last(sel), /OK/);
    return [name, Number(/UIDVALIDITY (\d+)/.exec(sel.join('\n'))?.[1])];
  }

  test('MOVE: COPYUID, EXPUNGE, then EXISTS; new UID, flags kept, no \\Deleted (§3.1)', async () => {
    const c = await env.login();
    const [name, v] = await fresh(c, 3, '\\Flagged $Label');
    const other = await env.login();
    assert.match(last(await other.cmd('o', `SELECT ${name}`)), /OK/);
    const mv = withoutRecent(await c.cmd('a', `MOVE 1 ${name}`));
    assert.deepEqual(mv, [
      `* OK [COPYUID ${v} 1 4] Moved`,
      '* 1 EXPUNGE',
      '* 3 EXISTS',
      'a OK MOVE completed',
    ]);
    assert.deepEqual(withoutRecent(await c.cmd('b', 'FETCH 1:* (UID FLAGS)')), [
      '* 1 FETCH (UID 2 FLAGS ())',
      '* 2 FETCH (UID 3 FLAGS ())',
      '* 3 FETCH (UID 4 FLAGS (\\Flagged $Label))',
      'b OK FETCH completed',
    ]);
    // Another session with the mailbox selected sees the same change (the new message may be
    // announced before the command runs, RFC 9051 §7.4.1, the EXPUNGE only after it).
    const seen = withoutRecent(await other.cmd('p', 'NOOP'));
    assert.ok(seen.includes('* 1 EXPUNGE'), seen.join('\n'));
    assert.ok(
      seen.some((l) => /^\* [34] EXISTS$/.test(l)),
      seen.join('\n'),
    );
    assert.deepEqual(await other.cmd('q', 'FETCH 1:* (UID)'), [
      '* 1 FETCH (UID 2)',
      '* 2 FETCH (UID 3)',
      '* 3 FETCH (UID 4)',
      'q OK FETCH completed',
    ]);
    const st = await c.cmd('c', `STATUS ${name} (MESSAGES UIDNEXT)`);
    assert.equal(st[0], `* STATUS ${name} (MESSAGES 3 UIDNEXT 5)`);
    other.close();
    c.close();
  });

  test('MOVE of every message into itself; UID MOVE with QRESYNC answers VANISHED (§4.4)', async () => {
    const c = await env.login();
    const [name, v] = await fresh(c, 2);
    assert.deepEqual(withoutRecent(await c.cmd('a', `MOVE 1:* ${name}`)), [
      `* OK [COPYUID ${v} 1:2 3:4] Moved`,
      '* 2 EXPUNGE',
      '* 1 EXPUNGE',
      '* 2 EXISTS',
      'a OK MOVE completed',
    ]);
    c.close();

    const q = await env.login();
    assert.match(last(await q.cmd('e', 'ENABLE QRESYNC')), /OK/);
    const [name2, v2] = await fresh(q, 3);
    const before = await q.cmd('h', `STATUS ${name2} (HIGHESTMODSEQ)`);
    const hms = Number(/HIGHESTMODSEQ (\d+)/.exec(before[0])?.[1]);
    assert.deepEqual(withoutRecent(await q.cmd('b', `UID MOVE 2:3 ${name2}`)), [
      `* OK [COPYUID ${v2} 2:3 4:5] Moved`,
      '* VANISHED 2:3',
      '* 3 EXISTS',
      'b OK UID MOVE completed',
    ]);
    // RFC 6851 §4.4 via RFC 7162: the moved messages get modseqs above every earlier one.
    const f = await q.cmd('c', 'FETCH 2:3 (UID MODSEQ)');
    for (const l of f.slice(0, -1)) {
      const m = /^\* [23] FETCH \(UID ([45]) MODSEQ \((\d+)\)\)$/.exec(l);
      assert.ok(m, f.join('\n'));
      assert.ok(Number(m[2]) > hms, l);
    }
    assert.equal(f.length, 3, f.join('\n'));
    q.close();
  });

  test('COPY into itself: EXISTS before the tagged OK with COPYUID; EXAMINE refuses MOVE', async () => {
    const c = await env.login();
    const [name, v] = await fresh(c, 3, '\\Seen');
    assert.deepEqual(withoutRecent(await c.cmd('a', `COPY 1:2 ${name}`)), [
      '* 5 EXISTS',
      `a OK [COPYUID ${v} 1:2 4:5] COPY completed`,
    ]);
    assert.deepEqual(withoutRecent(await c.cmd('b', 'UID FETCH 4:5 (FLAGS)')), [
      '* 4 FETCH (UID 4 FLAGS (\\Seen))',
      '* 5 FETCH (UID 5 FLAGS ())',
      'b OK UID FETCH completed',
    ]);
    assert.match(last(await c.cmd('e', `EXAMINE ${name}`)), /OK/);
    assert.match(last(await c.cmd('f', `MOVE 1 ${name}`)), /^f NO \[READ-ONLY\]/);
    c.close();
  });
});
