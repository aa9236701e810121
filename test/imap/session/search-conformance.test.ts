// SEARCH / SORT / THREAD responses over a session, exactly as a client sees them: SORT by
// the ENVELOPE's first address (RFC 5256 §3), SORT=DISPLAY (RFC 5957), THREAD=REFERENCES
// (RFC 5256, step 1.B), and what CAPABILITY advertises for them.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, type ImapTestEnv, last, type RawClient, startImap } from './client.js';

const raw = (headers: string, body = 'body\r\n') =>
  Buffer.from(`${headers.replace(/\n/g, '\r\n')}\r\n\r\n${body}`);

describe('IMAP session: SEARCH, SORT and THREAD conformance', () => {
  let env: ImapTestEnv;
  let box = 0;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  /** A new mailbox holding these messages (in this order), selected. */
  async function mailbox(c: RawClient, messages: Buffer[]): Promise<string> {
    const name = `S${++box}`;
    await c.cmd('c', `CREATE ${name}`);
    for (const m of messages) await append(c, name, m);
    assert.match(last(await c.cmd('s', `SELECT ${name}`)), /^s OK/);
    return name;
  }

  test('CAPABILITY advertises SORT=DISPLAY', async () => {
    const c = await env.login();
    const caps = (await c.cmd('a', 'CAPABILITY'))[0].split(' ');
    for (const cap of ['SORT', 'SORT=DISPLAY', 'THREAD=REFERENCES', 'WITHIN']) {
      assert.ok(caps.includes(cap), cap);
    }
    c.close();
  });

  test('SORT FROM / TO / CC / DISPLAYFROM / DISPLAYTO', async () => {
    const c = await env.login();
    await mailbox(c, [
      raw('From: "Zoe Q" <bob@b.example>\nTo: carol@c.example\nCc: user2: blah@domain1.org;'),
      raw('From: =?utf-8?q?Andr=C3=A9?= <al@z.example>\nTo: "" <Zed@z.example>\nCc: a@a'),
      raw('From: BOB@a.example\nTo: Mallory <m@m.example>, x@y'),
      raw('Subject: no addresses'),
      raw('From: bob (the builder) @q.example\nTo: undisclosed-recipients:;\nCc: User1@x'),
    ]);
    const table: [string, string][] = [
      ['SORT (FROM) UTF-8 ALL', '* SORT 4 2 1 3 5'],
      ['SORT (REVERSE FROM) UTF-8 ALL', '* SORT 1 3 5 2 4'],
      ['SORT (TO) UTF-8 ALL', '* SORT 4 1 3 5 2'],
      ['SORT (CC) UTF-8 ALL', '* SORT 3 4 2 5 1'],
      ['SORT (CC) UTF-8 NOT 3', '* SORT 4 2 5 1'],
      ['SORT (DISPLAYFROM) UTF-8 ALL', '* SORT 4 2 3 5 1'],
      ['SORT (REVERSE DISPLAYFROM) UTF-8 ALL', '* SORT 1 5 3 2 4'],
      ['SORT (DISPLAYTO) UTF-8 ALL', '* SORT 4 1 3 5 2'],
      ['UID SORT (DISPLAYTO) UTF-8 2:5', '* SORT 4 3 5 2'],
    ];
    for (const [cmd, want] of table) {
      const r = await c.cmd('t', cmd);
      assert.deepEqual(r, [want, 't OK SORT completed'.replace('SORT', cmd.split(' (')[0])], cmd);
    }
    assert.match(last(await c.cmd('b', 'SORT (DISPLAYCC) UTF-8 ALL')), /^b BAD/);
    c.close();
  });

  test('WITHIN: OLDER / YOUNGER count back from now over INTERNALDATE (RFC 5032)', async () => {
    const c = await env.login();
    const name = await mailbox(c, []);
    const m = raw('Subject: old');
    const r = await c.cmd(
      'p',
      Buffer.concat([
        Buffer.from(`APPEND ${name} "01-Jan-2020 00:00:00 +0000" {${m.length}+}\r\n`),
        m,
        Buffer.from('\r\n'),
      ]),
    );
    assert.match(last(r), /^p OK/);
    await append(c, name, raw('Subject: new'));
    await c.cmd('n', 'NOOP');
    const table: [string, string[]][] = [
      ['SEARCH YOUNGER 3600', ['* SEARCH 2', 'a OK SEARCH completed']],
      ['SEARCH OLDER 3600', ['* SEARCH 1', 'a OK SEARCH completed']],
      ['SEARCH NOT YOUNGER 3600', ['* SEARCH 1', 'a OK SEARCH completed']],
      ['UID SEARCH YOUNGER 4294967295', ['* SEARCH 1 2', 'a OK UID SEARCH completed']],
      [
        'SEARCH RETURN (COUNT) OLDER 3600',
        ['* ESEARCH (TAG "a") COUNT 1', 'a OK SEARCH completed'],
      ],
      ['SORT (ARRIVAL) UTF-8 YOUNGER 3600', ['* SORT 2', 'a OK SORT completed']],
    ];
    for (const [cmd, want] of table) assert.deepEqual(await c.cmd('a', cmd), want, cmd);
    for (const bad of ['SEARCH OLDER 0', 'SEARCH YOUNGER', 'SEARCH OLDER 1d']) {
      assert.match(last(await c.cmd('b', bad)), /^b BAD/, bad);
    }
    // Still usable after the BADs.
    assert.deepEqual(await c.cmd('d', 'SEARCH YOUNGER 3600'), [
      '* SEARCH 2',
      'd OK SEARCH completed',
    ]);
    c.close();
  });

  test('SEARCH FROM/TO/CC/BCC match the ENVELOPE, HEADER x "" the field (issue 14 items 4, 5)', async () => {
    const c = await env.login();
    await mailbox(c, [
      raw(
        'From: user-from@domain.org\nTo: user-to@domain.org\nCc: user-cc@domain.org\nBcc: user-bcc@domain.org',
      ),
      raw('From: Real From <user-from@domain.org>\nTo: "Real, To" <user-to@domain.org>'),
      raw('From: <user-from (comment)@ (comment) domain.org>\nTo: <user-to@domain.org>'),
      raw('From: user-from@domain.org (Real From)\nSubject: hello world'),
      raw('From: one@domain.org, two@domain.org\nCc: user-cc@domain.org'),
      raw('To: grp: g1@domain.org, g2@domain.org;, grp2: g3@domain.org;\nX-Extra:'),
    ]);
    const table: [string, string][] = [
      ['SEARCH FROM user-from@domain.org', '* SEARCH 1 2 3 4'],
      ['SEARCH FROM comment', '* SEARCH'],
      ['SEARCH HEADER FROM comment', '* SEARCH 3'],
      ['SEARCH FROM "real from"', '* SEARCH 2 4'],
      ['SEARCH TO "real, to"', '* SEARCH 2'],
      ['SEARCH CC user-cc', '* SEARCH 1 5'],
      ['SEARCH BCC user-bcc@domain.org', '* SEARCH 1'],
      ['SEARCH FROM two', '* SEARCH 5'],
      ['SEARCH TO grp2', '* SEARCH 6'],
      ['SEARCH TO g2@domain.org', '* SEARCH 6'],
      ['SEARCH TO g4', '* SEARCH'],
      ['SEARCH HEADER FROM ""', '* SEARCH 1 2 3 4 5'],
      ['SEARCH HEADER TO ""', '* SEARCH 1 2 3 6'],
      ['SEARCH NOT HEADER TO ""', '* SEARCH 4 5'],
      ['SEARCH HEADER SUBJECT ""', '* SEARCH 4'],
      ['SEARCH NOT HEADER SUBJECT ""', '* SEARCH 1 2 3 5 6'],
      ['SEARCH HEADER X-Extra ""', '* SEARCH 6'],
      ['SEARCH NOT HEADER X-Extra ""', '* SEARCH 1 2 3 4 5'],
      ['UID SEARCH OR FROM two HEADER x-extra ""', '* SEARCH 5 6'],
    ];
    for (const [cmd, want] of table) {
      const ok = `a OK ${cmd.startsWith('UID') ? 'UID SEARCH' : 'SEARCH'} completed`;
      assert.deepEqual(await c.cmd('a', cmd), [want, ok], cmd);
    }
    c.close();
  });

  test("INTERNALDATE keeps APPEND's zone: FETCH shows it, BEFORE / ON / SINCE count days in it", async () => {
    const c = await env.login();
    const name = await mailbox(c, []);
    // Around midnight in +0200 / +0300, where the UTC day differs.
    const dates = [
      '24-Mar-2007 23:00:00 +0200',
      '25-Mar-2007 00:00:00 +0200',
      '25-Mar-2007 01:30:00 +0300',
      '25-Mar-2007 23:59:59 +0300',
      '26-Mar-2007 00:00:00 +0300',
      '25-Mar-2007 21:00:00 -0500',
    ];
    for (const d of dates) {
      const m = raw(`Subject: ${d}`);
      const r = await c.cmd(
        'p',
        Buffer.concat([
          Buffer.from(`APPEND ${name} "${d}" {${m.length}+}\r\n`),
          m,
          Buffer.from('\r\n'),
        ]),
      );
      assert.match(last(r), /^p OK/);
    }
    await c.cmd('n', 'NOOP');
    const f = await c.cmd('f', 'FETCH 1:* (INTERNALDATE)');
    assert.deepEqual(
      f.slice(0, -1),
      dates.map((d, i) => `* ${i + 1} FETCH (INTERNALDATE "${d}")`),
    );
    const table: [string, string][] = [
      ['SEARCH ON 24-Mar-2007', '* SEARCH 1'],
      ['SEARCH ON 25-Mar-2007', '* SEARCH 2 3 4 6'],
      ['SEARCH ON 26-Mar-2007', '* SEARCH 5'],
      ['SEARCH BEFORE 25-Mar-2007', '* SEARCH 1'],
      ['SEARCH BEFORE 26-Mar-2007', '* SEARCH 1 2 3 4 6'],
      ['SEARCH SINCE 25-Mar-2007', '* SEARCH 2 3 4 5 6'],
      ['SEARCH SINCE 26-Mar-2007', '* SEARCH 5'],
    ];
    for (const [cmd, want] of table) {
      assert.deepEqual(await c.cmd('a', cmd), [want, 'a OK SEARCH completed'], cmd);
    }
    // COPY keeps the internal date and its zone (RFC 3501 §2.3.3).
    await c.cmd('c', `CREATE ${name}c`);
    await c.cmd('k', `COPY 2 ${name}c`);
    await c.cmd('s', `EXAMINE ${name}c`);
    assert.deepEqual(await c.cmd('g', 'FETCH 1 (INTERNALDATE)'), [
      '* 1 FETCH (INTERNALDATE "25-Mar-2007 00:00:00 +0200")',
      'g OK FETCH completed',
    ]);
    assert.deepEqual(await c.cmd('h', 'SEARCH ON 25-Mar-2007'), [
      '* SEARCH 1',
      'h OK SEARCH completed',
    ]);
    c.close();
  });

  test('THREAD=REFERENCES: 1.B breaks the old parent link first (issue 14 example)', async () => {
    const c = await env.login();
    await mailbox(c, [
      raw('Message-ID: <a@x>\nSubject: a\nDate: Mon, 1 Jan 2024 17:06:00 +0000'),
      raw('Message-ID: <b@x>\nSubject: b\nReferences: <a@x> <c@x>'),
      raw('Message-ID: <c@x>\nSubject: c\nReferences: <b@x>\nDate: Mon, 1 Jan 2024 16:06:00 +0000'),
    ]);
    assert.deepEqual(await c.cmd('a', 'THREAD REFERENCES UTF-8 ALL'), [
      '* THREAD (3 2)(1)',
      'a OK THREAD completed',
    ]);
    c.close();
  });
});
