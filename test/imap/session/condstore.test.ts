// RFC 7162 §3.1 details: the first CONDSTORE enabling command after SELECT gets
// `OK [HIGHESTMODSEQ n]`; from then on every untagged FETCH a STORE (or an implicit \Seen)
// causes carries UID and MODSEQ; SEARCH MODSEQ with an entry name and type (§3.1.5).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, type ImapTestEnv, last, message, type RawClient, startImap } from './client.js';

describe('IMAP session: CONDSTORE (RFC 7162 §3.1)', () => {
  let env: ImapTestEnv;
  let box = 0;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  /** A fresh mailbox with n messages, selected (plain SELECT); its HIGHESTMODSEQ. */
  async function fresh(c: RawClient, n: number, select = 'SELECT'): Promise<[string, number]> {
    const name = `C${++box}`;
    await c.cmd('c', `CREATE ${name}`);
    for (let i = 1; i <= n; i++) await append(c, name, message(`m${i}`));
    // A first SELECT takes the messages' \Recent, so the responses below have plain flags.
    await c.cmd('r', `SELECT ${name}`);
    await c.cmd('u', 'UNSELECT');
    const sel = await c.cmd('s', `${select} ${name}`);
    const hms = Number(/^\* OK \[HIGHESTMODSEQ (\d+)\]/m.exec(sel.join('\n'))?.[1]);
    assert.ok(hms > 0, sel.join('\n'));
    return [name, hms];
  }

  // Each CONDSTORE enabling command of §3.1, issued first after a plain SELECT: the first
  // response is the untagged OK with the HIGHESTMODSEQ the SELECT reported.
  const enabling: Array<[string, (hms: number) => string, RegExp]> = [
    ['FETCH MODSEQ', () => 'FETCH 1 (MODSEQ)', /^\* 1 FETCH \(MODSEQ \(\d+\)\)$/],
    [
      'FETCH CHANGEDSINCE',
      (hms) => `FETCH 1:* (FLAGS) (CHANGEDSINCE ${hms - 1})`,
      /^\* 2 FETCH \(FLAGS \(\) MODSEQ \(\d+\)\)$/,
    ],
    ['SEARCH MODSEQ', () => 'SEARCH MODSEQ 1', /^\* SEARCH 1 2 \(MODSEQ \d+\)$/],
    ['SORT MODSEQ', () => 'SORT (ARRIVAL) UTF-8 MODSEQ 1', /^\* SORT 1 2 \(MODSEQ \d+\)$/],
    [
      'STORE UNCHANGEDSINCE',
      (hms) => `STORE 2 (UNCHANGEDSINCE ${hms}) +FLAGS (\\Seen)`,
      /^\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/,
    ],
    [
      'STATUS HIGHESTMODSEQ',
      () => 'STATUS INBOX (HIGHESTMODSEQ)',
      /^\* STATUS INBOX \(HIGHESTMODSEQ \d+\)$/,
    ],
  ];
  for (const [what, command, response] of enabling) {
    test(`${what} after SELECT: OK [HIGHESTMODSEQ] first, once`, async () => {
      const c = await env.login();
      const [, hms] = await fresh(c, 2);
      const r = await c.cmd('a', command(hms));
      assert.equal(r[0], `* OK [HIGHESTMODSEQ ${hms}] Highest`, r.join('\n'));
      assert.match(r[1], response);
      assert.match(last(r), /^a OK/);
      assert.equal(r.length, 3, r.join('\n'));
      // Only the first enabling command: CONDSTORE stays on for the connection.
      const again = await c.cmd('b', 'FETCH 1 (MODSEQ)');
      assert.deepEqual(again.length, 2, again.join('\n'));
      assert.match(again[0], /^\* 1 FETCH \(MODSEQ \(\d+\)\)$/);
      c.close();
    });
  }

  test('SELECT (CONDSTORE) and ENABLE CONDSTORE: no second HIGHESTMODSEQ', async () => {
    const c = await env.login();
    const [name] = await fresh(c, 1);
    await c.cmd('u', 'UNSELECT');
    await c.cmd('s', `SELECT ${name} (CONDSTORE)`);
    assert.deepEqual((await c.cmd('a', 'FETCH 1 (MODSEQ)')).length, 2);
    const d = await env.login();
    await d.cmd('e', 'ENABLE CONDSTORE');
    await d.cmd('s', `SELECT ${name}`);
    assert.deepEqual((await d.cmd('a', 'FETCH 1 (MODSEQ)')).length, 2);
    c.close();
    d.close();
  });

  test('no mailbox selected: STATUS HIGHESTMODSEQ enables without an untagged OK', async () => {
    const c = await env.login();
    const r = await c.cmd('a', 'STATUS INBOX (HIGHESTMODSEQ)');
    assert.equal(r.length, 2, r.join('\n'));
    const [, hms] = await fresh(c, 1);
    // Enabled already: a STORE now reports UID and MODSEQ, and no OK [HIGHESTMODSEQ] comes.
    const st = await c.cmd('b', 'STORE 1 +FLAGS (\\Answered)');
    assert.match(st[0], /^\* 1 FETCH \(UID 1 FLAGS \(\\Answered\) MODSEQ \((\d+)\)\)$/);
    assert.ok(Number(/MODSEQ \((\d+)\)/.exec(st[0])?.[1]) > hms);
    c.close();
  });

  test('after enabling, STORE and STORE.SILENT report UID and MODSEQ; plain STORE before does not', async () => {
    const c = await env.login();
    await fresh(c, 2);
    assert.deepEqual((await c.cmd('a', 'STORE 1 +FLAGS (\\Flagged)')).slice(0, -1), [
      '* 1 FETCH (FLAGS (\\Flagged))',
    ]);
    await c.cmd('b', 'FETCH 1 (MODSEQ)');
    const st = await c.cmd('c', 'STORE 1:2 +FLAGS (\\Seen)');
    assert.match(st[0], /^\* 1 FETCH \(UID 1 FLAGS \(\\Flagged \\Seen\) MODSEQ \(\d+\)\)$/);
    assert.match(st[1], /^\* 2 FETCH \(UID 2 FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/);
    const silent = await c.cmd('d', 'STORE 2 -FLAGS.SILENT (\\Seen)');
    assert.match(silent[0], /^\* 2 FETCH \(UID 2 MODSEQ \(\d+\)\)$/);
    const uid = await c.cmd('e', 'UID STORE 2 +FLAGS (\\Draft)');
    assert.match(uid[0], /^\* 2 FETCH \(UID 2 FLAGS \(\\Draft\) MODSEQ \(\d+\)\)$/);
    c.close();
  });

  test('a FETCH that sets \\Seen reports UID and MODSEQ once CONDSTORE is on', async () => {
    const c = await env.login();
    await fresh(c, 1);
    await c.cmd('a', 'FETCH 1 (MODSEQ)');
    const r = await c.cmd('b', 'FETCH 1 (BODY[TEXT])');
    assert.match(r[0], /^\* 1 FETCH \(BODY\[TEXT\] \{\d+\}$/);
    const tail = r.join('\n');
    assert.match(tail, /FLAGS \(\\Seen\)/);
    assert.match(tail, /UID 1/);
    assert.match(tail, /MODSEQ \(\d+\)/);
    c.close();
  });

  test('SEARCH MODSEQ with entry name and type (§3.1.5)', async () => {
    const c = await env.login();
    const [, hms] = await fresh(c, 3, 'SELECT');
    await c.cmd('a', 'STORE 2 +FLAGS (\\Seen)');
    const r = await c.cmd('b', `SEARCH MODSEQ "/flags/\\\\seen" all ${hms + 1}`);
    assert.equal(r[0], `* OK [HIGHESTMODSEQ ${hms + 1}] Highest`, r.join('\n'));
    assert.equal(r[1], `* SEARCH 2 (MODSEQ ${hms + 1})`);
    const u = await c.cmd('c', `UID SEARCH MODSEQ "/flags/$label" priv ${hms + 1}`);
    assert.equal(u[0], `* SEARCH 2 (MODSEQ ${hms + 1})`);
    assert.equal((await c.cmd('d', `SEARCH MODSEQ ${hms + 5}`))[0], '* SEARCH');
    assert.match(last(await c.cmd('e', 'SEARCH MODSEQ "/flags/\\\\seen" nosuch 1')), /^e BAD/);
    assert.match(last(await c.cmd('f', 'SEARCH MODSEQ "/annotate" all 1')), /^f BAD/);
    // SORT answers the same way (RFC 7162 §7 sort-data); nothing matched: no MODSEQ.
    const so = await c.cmd(
      'g',
      `UID SORT (REVERSE ARRIVAL) UTF-8 MODSEQ "/flags/\\\\seen" all ${hms + 1}`,
    );
    assert.equal(so[0], `* SORT 2 (MODSEQ ${hms + 1})`);
    assert.equal((await c.cmd('h', `SORT (ARRIVAL) UTF-8 MODSEQ ${hms + 5}`))[0], '* SORT');
    c.close();
  });
});
