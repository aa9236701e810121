// OBJECTID (RFC 8474), SAVEDATE (RFC 8514) and PREVIEW (RFC 8970): the exact responses.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, type ImapTestEnv, last, message, type RawClient, startImap } from './client.js';

const ID = '[A-Za-z0-9_-]{1,255}';

/** APPENDs raw bytes with an optional date-time; returns the UID. */
async function appendRaw(c: RawClient, box: string, raw: string, date = ''): Promise<number> {
  const bytes = Buffer.from(raw, 'utf8');
  const r = await c.cmd(
    'ap',
    Buffer.concat([
      Buffer.from(`APPEND ${box} ()${date ? ` "${date}"` : ''} {${bytes.length}+}\r\n`),
      bytes,
      Buffer.from('\r\n'),
    ]),
  );
  const m = /APPENDUID \d+ (\d+)/.exec(last(r));
  if (!m) throw new Error(`append failed: ${r.join('\n')}`);
  return Number(m[1]);
}

function createdId(lines: string[], tag: string): string {
  const m = new RegExp(`^${tag} OK \\[MAILBOXID \\((${ID})\\)\\] CREATE completed$`).exec(
    last(lines),
  );
  assert.ok(m, lines.join('\n'));
  return m[1]!;
}

describe('IMAP session: OBJECTID, SAVEDATE, PREVIEW', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  test('CAPABILITY advertises OBJECTID, PREVIEW and SAVEDATE once logged in', async () => {
    const c = await env.login();
    const caps = (await c.cmd('a', 'CAPABILITY'))[0]!.split(' ');
    for (const cap of ['OBJECTID', 'PREVIEW', 'SAVEDATE']) assert.ok(caps.includes(cap), cap);
    c.close();
  });

  test('MAILBOXID: CREATE tagged OK, SELECT / EXAMINE untagged OK, STATUS; RENAME keeps it, a re-created mailbox gets a new one', async () => {
    const c = await env.login();
    const id = createdId(await c.cmd('a', 'CREATE Ob1'), 'a');
    const sel = await c.cmd('b', 'SELECT Ob1');
    assert.ok(sel.includes(`* OK [MAILBOXID (${id})] Ok`), sel.join('\n'));
    assert.match(last(sel), /^b OK \[READ-WRITE\]/);
    const ex = await c.cmd('c', 'EXAMINE Ob1');
    assert.ok(ex.includes(`* OK [MAILBOXID (${id})] Ok`), ex.join('\n'));
    assert.deepEqual(await c.cmd('d', 'STATUS Ob1 (MAILBOXID)'), [
      `* STATUS Ob1 (MAILBOXID (${id}))`,
      'd OK STATUS completed',
    ]);
    assert.equal(
      (await c.cmd('e', 'STATUS Ob1 (MESSAGES MAILBOXID UIDNEXT)'))[0],
      `* STATUS Ob1 (MESSAGES 0 MAILBOXID (${id}) UIDNEXT 1)`,
    );
    await c.cmd('f', 'UNSELECT');
    assert.match(last(await c.cmd('g', 'RENAME Ob1 Ob1r')), /^g OK/);
    assert.equal(
      (await c.cmd('h', 'STATUS Ob1r (MAILBOXID)'))[0],
      `* STATUS Ob1r (MAILBOXID (${id}))`,
    );
    await c.cmd('i', 'DELETE Ob1r');
    const again = createdId(await c.cmd('j', 'CREATE Ob1r'), 'j');
    assert.notEqual(again, id);
    // A CREATE that makes superiors names the mailbox asked for.
    const deep = createdId(await c.cmd('k', 'CREATE Ob2/child'), 'k');
    assert.equal(
      (await c.cmd('l', 'STATUS Ob2/child (MAILBOXID)'))[0],
      `* STATUS Ob2/child (MAILBOXID (${deep}))`,
    );
    assert.notEqual(
      (await c.cmd('m', 'STATUS Ob2 (MAILBOXID)'))[0],
      `* STATUS Ob2 (MAILBOXID (${deep}))`,
    );
    // INBOX has one too, and LIST-STATUS carries it.
    const list = await c.cmd('n', 'LIST "" INBOX RETURN (STATUS (MAILBOXID))');
    assert.match(list[1]!, new RegExp(`^\\* STATUS INBOX \\(MAILBOXID \\(${ID}\\)\\)$`));
    c.close();
  });

  test('EMAILID / THREADID: per message, kept by COPY and MOVE, threads by In-Reply-To / References; SEARCH', async () => {
    const c = await env.login();
    await c.cmd('a', 'CREATE Ob3');
    await c.cmd('b', 'CREATE Ob3dest');
    await appendRaw(c, 'Ob3', 'Message-ID: <t1@x>\r\nSubject: first\r\n\r\nroot\r\n');
    await appendRaw(
      c,
      'Ob3',
      'Message-ID: <t2@x>\r\nIn-Reply-To: <t1@x>\r\nSubject: Re: first\r\n\r\nreply\r\n',
    );
    await appendRaw(
      c,
      'Ob3',
      'Message-ID: <t3@x>\r\nReferences: <t1@x> <t2@x>\r\nSubject: Re: first\r\n\r\nreply 2\r\n',
    );
    await appendRaw(c, 'Ob3', 'Message-ID: <u1@x>\r\nSubject: other\r\n\r\nunrelated\r\n');
    await c.cmd('c', 'SELECT Ob3');
    const f = await c.cmd('d', 'FETCH 1:4 (EMAILID THREADID)');
    assert.equal(f.length, 5, f.join('\n'));
    const re = new RegExp(`^\\* (\\d) FETCH \\(EMAILID \\((${ID})\\) THREADID \\((${ID})\\)\\)$`);
    const rows = f.slice(0, 4).map((l) => re.exec(l) ?? assert.fail(l));
    const emailIds = rows.map((m) => m[2]!);
    const threads = rows.map((m) => m[3]!);
    assert.equal(new Set(emailIds).size, 4);
    assert.equal(threads[1], threads[0]);
    assert.equal(threads[2], threads[0]);
    assert.notEqual(threads[3], threads[0]);
    // Ids are object ids, never another kind's.
    assert.ok(!emailIds.includes(threads[0]!));

    const u = await c.cmd('e', 'UID FETCH 2 (THREADID)');
    assert.equal(u[0], `* 2 FETCH (UID 2 THREADID (${threads[0]}))`);

    assert.deepEqual(await c.cmd('f', `SEARCH EMAILID ${emailIds[1]}`), [
      '* SEARCH 2',
      'f OK SEARCH completed',
    ]);
    assert.deepEqual(await c.cmd('g', `SEARCH THREADID ${threads[0]}`), [
      '* SEARCH 1 2 3',
      'g OK SEARCH completed',
    ]);
    assert.deepEqual(await c.cmd('h', `UID SEARCH NOT THREADID ${threads[0]}`), [
      '* SEARCH 4',
      'h OK UID SEARCH completed',
    ]);
    assert.deepEqual(await c.cmd('i', 'SEARCH EMAILID Mnothing'), [
      '* SEARCH',
      'i OK SEARCH completed',
    ]);
    assert.match(last(await c.cmd('j', 'SEARCH EMAILID "a b"')), /^j BAD/);
    assert.match(last(await c.cmd('k', 'SEARCH THREADID')), /^k BAD/);
    assert.match(last(await c.cmd('l', `SEARCH EMAILID ${'x'.repeat(256)}`)), /^l BAD/);

    // COPY and MOVE keep EMAILID and THREADID (RFC 8474 §5.1).
    await c.cmd('m', 'COPY 1 Ob3dest');
    await c.cmd('n', 'MOVE 4 Ob3dest');
    await c.cmd('o', 'SELECT Ob3dest');
    const d = await c.cmd('p', 'FETCH 1:2 (EMAILID THREADID)');
    assert.equal(d[0], `* 1 FETCH (EMAILID (${emailIds[0]}) THREADID (${threads[0]}))`);
    assert.equal(d[1], `* 2 FETCH (EMAILID (${emailIds[3]}) THREADID (${threads[3]}))`);
    assert.match(last(await c.cmd('q', 'NOOP')), /^q OK/);
    c.close();
  });

  test('SAVEDATE: the time of APPEND / COPY, not the internal date; SAVEDBEFORE / SAVEDON / SAVEDSINCE / SAVEDATESUPPORTED', async () => {
    const c = await env.login();
    await c.cmd('a', 'CREATE Sd1');
    await c.cmd('a2', 'CREATE Sd2');
    await appendRaw(c, 'Sd1', 'Subject: old\r\n\r\nold\r\n', '05-Jan-2020 10:00:00 +0000');
    await appendRaw(c, 'Sd1', 'Subject: new\r\n\r\nnew\r\n');
    await c.cmd('b', 'SELECT Sd1');
    const f = await c.cmd('c', 'FETCH 1 (INTERNALDATE SAVEDATE)');
    const m =
      /^\* 1 FETCH \(INTERNALDATE " 5-Jan-2020 10:00:00 \+0000" SAVEDATE "([ \d]\d)-(\w{3})-(\d{4}) \d\d:\d\d:\d\d \+0000"\)$/.exec(
        f[0]!,
      );
    assert.ok(m, f[0]);
    const today = `${m[1]!.trim()}-${m[2]}-${m[3]}`;
    const saved = new Date(`${m[2]} ${m[1]!.trim()} ${m[3]} UTC`);
    assert.ok(Math.abs(saved.getTime() - Date.now()) < 2 * 86_400_000, f[0]);
    const day = 86_400_000;
    const fmt = (t: Date) =>
      `${t.getUTCDate()}-${'Jan Feb Mar Apr May Jun Jul Aug Sep Oct Nov Dec'.split(' ')[t.getUTCMonth()]}-${t.getUTCFullYear()}`;
    const tomorrow = fmt(new Date(saved.getTime() + day));
    const table: Array<[string, string]> = [
      [`SAVEDON ${today}`, '* SEARCH 1 2'],
      [`SAVEDSINCE ${today}`, '* SEARCH 1 2'],
      [`SAVEDBEFORE ${today}`, '* SEARCH'],
      [`SAVEDBEFORE ${tomorrow}`, '* SEARCH 1 2'],
      [`SAVEDSINCE ${tomorrow}`, '* SEARCH'],
      ['SAVEDBEFORE 1-Jan-2021', '* SEARCH'],
      ['BEFORE 1-Jan-2021', '* SEARCH 1'],
      ['SAVEDATESUPPORTED', '* SEARCH 1 2'],
      ['NOT SAVEDATESUPPORTED', '* SEARCH'],
    ];
    for (const [key, want] of table) {
      const r = await c.cmd('s', `SEARCH ${key}`);
      assert.deepEqual(r, [want, 's OK SEARCH completed'], key);
    }
    assert.match(last(await c.cmd('t', 'SEARCH SAVEDON yesterday')), /^t BAD/);
    assert.match(last(await c.cmd('u', 'SEARCH SAVEDSINCE')), /^u BAD/);
    // A copy is saved when it is made; the internal date travels with it.
    await c.cmd('v', 'COPY 1 Sd2');
    await c.cmd('w', 'SELECT Sd2');
    const cf = await c.cmd('x', 'UID FETCH 1 (SAVEDATE INTERNALDATE)');
    assert.match(
      cf[0]!,
      /^\* 1 FETCH \(UID 1 SAVEDATE "[ \d]\d-\w{3}-\d{4} \d\d:\d\d:\d\d \+0000" INTERNALDATE " 5-Jan-2020 10:00:00 \+0000"\)$/,
    );
    assert.doesNotMatch(cf[0]!, /SAVEDATE " 5-Jan-2020/);
    c.close();
  });

  test('PREVIEW: the first text part, decoded, flattened, at most 200 characters; LAZY answers NIL until worked out', async () => {
    const c = await env.login();
    await c.cmd('a', 'CREATE Pv1');
    const long = Array.from({ length: 100 }, (_, i) => `word${i}`).join(' \r\n');
    const cases: Array<[string, string]> = [
      [
        'Subject: plain\r\n\r\n  Hello   there,\r\n\r\n\tthis is\r\nthe body.\r\n',
        'Hello there, this is the body.',
      ],
      [
        'Content-Type: text/html; charset=utf-8\r\n\r\n<html><head><style>p { color: red }</style><title>T</title></head>' +
          '<body><p>Hello&nbsp;<b>world</b></p>\r\n<p>Fish &amp; chips &#x263A;</p></body></html>\r\n',
        'Hello world Fish & chips \u263a',
      ],
      [
        'Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nGr=FC=DFe aus K=F6ln=\r\n, bis bald\r\n',
        'Grüße aus Köln, bis bald',
      ],
      [
        'Content-Type: multipart/alternative; boundary=b\r\n\r\n--b\r\nContent-Type: text/html\r\n\r\n<p>html part</p>\r\n' +
          `--b\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${Buffer.from('plain part \u00e9t\u00e9').toString('base64')}\r\n--b--\r\n`,
        'plain part \u00e9t\u00e9',
      ],
      [
        'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n \r\n' +
          '--b\r\nContent-Type: application/pdf\r\nContent-Disposition: attachment\r\n\r\nJVBERi0=\r\n' +
          '--b\r\nContent-Type: text/plain\r\nContent-Disposition: attachment; filename=a.txt\r\n\r\nattached text\r\n' +
          '--b\r\nContent-Type: text/plain\r\n\r\nsecond inline part\r\n--b--\r\n',
        'second inline part',
      ],
      [
        'Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: image/png\r\n\r\niVBO\r\n--b--\r\n',
        '',
      ],
      [`Subject: long\r\n\r\n${long}\r\n`, long.replace(/\s+/g, ' ').slice(0, 200).trimEnd()],
    ];
    for (const [raw] of cases) await appendRaw(c, 'Pv1', raw);
    await c.cmd('b', 'SELECT Pv1');
    // Not worked out yet: LAZY answers NIL (RFC 8970 §3; Dovecot 2.3 does the same).
    assert.equal((await c.cmd('c', 'FETCH 1 (PREVIEW (LAZY))'))[0], '* 1 FETCH (PREVIEW NIL)');
    for (let i = 0; i < cases.length; i++) {
      const want = cases[i]![1];
      const r = await c.cmd('d', `FETCH ${i + 1} (PREVIEW)`);
      const bytes = Buffer.byteLength(want);
      const asText =
        /^[\x20-\x7e]*$/.test(want) && !/["\\]/.test(want) ? `"${want}"` : `{${bytes}}\r\n${want}`;
      assert.equal(
        r.slice(0, -1).join('\r\n'),
        `* ${i + 1} FETCH (PREVIEW ${asText})`,
        `case ${i + 1}`,
      );
      assert.ok([...want].length <= 200);
    }
    // Cut at 200 characters (here the 200th is a space, which goes too).
    assert.equal([...cases[6]![1]].length, 199);
    // Worked out once, LAZY has it; modifiers and other items keep their order.
    assert.equal(
      (await c.cmd('e', 'FETCH 1 (UID PREVIEW (LAZY) FLAGS)'))[0],
      // \Recent: this session's SELECT was the first since the APPEND (RFC 3501 §2.3.2).
      '* 1 FETCH (UID 1 PREVIEW "Hello there, this is the body." FLAGS (\\Recent))',
    );
    assert.equal(
      (await c.cmd('f', 'FETCH 1 PREVIEW (LAZY)'))[0],
      '* 1 FETCH (PREVIEW "Hello there, this is the body.")',
    );
    // ` (` after PREVIEW without a preview modifier is the FETCH modifier list.
    const cs = await c.cmd('g', 'FETCH 1 PREVIEW (CHANGEDSINCE 1)');
    assert.match(
      cs.find((l) => l.startsWith('* 1 FETCH')) ?? cs.join('\n'),
      /^\* 1 FETCH \(PREVIEW "Hello there, this is the body\." MODSEQ \(\d+\)\)$/,
    );
    for (const bad of [
      '(PREVIEW (FOO))',
      '(PREVIEW ())',
      '(PREVIEW (LAZY FOO))',
      'PREVIEW[]',
      '(PREVIEW (LAZY)',
    ]) {
      assert.match(last(await c.cmd('h', `FETCH 1 ${bad}`)), /^h BAD/, bad);
    }
    assert.match(last(await c.cmd('i', 'NOOP')), /^i OK/);
    c.close();
  });

  test('PREVIEW under UTF8=ACCEPT is a quoted string; a FETCH without the new items is unchanged', async () => {
    const c = await env.login();
    await c.cmd('a', 'ENABLE UTF8=ACCEPT');
    await c.cmd('b', 'CREATE Pv2');
    await append(c, 'Pv2', message('plain', 'caf\u00e9 au lait\r\n'));
    await c.cmd('c', 'SELECT Pv2');
    assert.equal(
      (await c.cmd('d', 'FETCH 1 (PREVIEW)'))[0],
      '* 1 FETCH (PREVIEW "caf\u00e9 au lait")',
    );
    assert.equal(
      (await c.cmd('e', 'FETCH 1 (FLAGS UID)'))[0],
      '* 1 FETCH (FLAGS (\\Recent) UID 1)', // the first SELECT since the APPEND
    );
    c.close();
  });

  test('NOTIFY MessageNew (EMAILID THREADID SAVEDATE PREVIEW): the pushed FETCH carries them', async () => {
    const a = await env.login();
    const b = await env.login();
    await a.cmd('c', 'CREATE Nt1');
    await a.cmd('s', 'SELECT Nt1');
    assert.deepEqual(
      await a.cmd(
        'n',
        'NOTIFY SET (selected (MessageNew (EMAILID THREADID SAVEDATE PREVIEW) MessageExpunge))',
      ),
      ['n OK NOTIFY completed'],
    );
    await append(b, 'Nt1', message('pushed', 'Pushed body.\r\n'));
    assert.equal(await a.line(), '* 1 EXISTS');
    assert.equal(await a.line(), '* 1 RECENT'); // RFC 3501 §7.3.2: a is the first told
    assert.match(
      await a.line(),
      new RegExp(
        `^\\* 1 FETCH \\(UID 1 EMAILID \\(${ID}\\) THREADID \\(${ID}\\) SAVEDATE "[ \\d]\\d-\\w{3}-\\d{4} \\d\\d:\\d\\d:\\d\\d \\+0000" PREVIEW "Pushed body\\."\\)$`,
      ),
    );
    a.close();
    b.close();
  });

  test('RENAME INBOX: the new mailbox gets a new MAILBOXID, INBOX keeps its own; the messages keep EMAILID', async () => {
    await env.ts.addUser('ren@example.test', 'secret-pw');
    const c = await env.login('ren@example.test');
    await appendRaw(c, 'INBOX', 'Message-ID: <ri@x>\r\nSubject: r\r\n\r\nmoved\r\n');
    await c.cmd('s', 'SELECT INBOX');
    const before = (await c.cmd('f', 'FETCH 1 (EMAILID)'))[0]!;
    const inboxId = (await c.cmd('a', 'STATUS INBOX (MAILBOXID)'))[0]!;
    await c.cmd('u', 'UNSELECT');
    assert.match(last(await c.cmd('r', 'RENAME INBOX Old')), /^r OK/);
    assert.equal((await c.cmd('b', 'STATUS INBOX (MAILBOXID)'))[0], inboxId);
    const old = (await c.cmd('c', 'STATUS Old (MAILBOXID MESSAGES)'))[0]!;
    assert.match(old, new RegExp(`^\\* STATUS Old \\(MAILBOXID \\((${ID})\\) MESSAGES 1\\)$`));
    assert.notEqual(old.replace('Old', 'INBOX').replace(' MESSAGES 1', ''), inboxId);
    await c.cmd('s2', 'SELECT Old');
    assert.equal((await c.cmd('g', 'FETCH 1 (EMAILID)'))[0], before);
    c.close();
  });

  test('UID FETCH 1:* (UID FLAGS EMAILID) over 250 messages, and with CHANGEDSINCE, as imapflow syncs', async () => {
    const c = await env.login();
    await c.cmd('a', 'CREATE Big1');
    const parts: Buffer[] = [Buffer.from('APPEND Big1')];
    for (let i = 0; i < 250; i++) {
      const m = message(`big ${i}`);
      parts.push(Buffer.from(` {${m.length}+}\r\n`), m);
    }
    parts.push(Buffer.from('\r\n'));
    assert.match(last(await c.cmd('b', Buffer.concat(parts), 20_000)), /^b OK/);
    await c.cmd('s', 'SELECT Big1');
    const all = await c.cmd('f', 'UID FETCH 1:* (UID FLAGS EMAILID)');
    assert.equal(all.length, 251);
    const re = new RegExp(
      `^\\* (\\d+) FETCH \\(UID (\\d+) FLAGS \\([^)]*\\) EMAILID \\((${ID})\\)\\)$`,
    );
    const ids = all.slice(0, -1).map((l, i) => {
      const m = re.exec(l) ?? assert.fail(l);
      assert.equal(m[1], String(i + 1));
      return m[3]!;
    });
    assert.equal(new Set(ids).size, 250);
    // The same ids as the full FETCH path gives.
    assert.equal(
      (await c.cmd('g', 'FETCH 7 (EMAILID ENVELOPE)'))[0]!.slice(0, 40),
      `* 7 FETCH (EMAILID (${ids[6]}) ENVELOPE`.slice(0, 40),
    );
    const m0 = /MODSEQ \((\d+)\)/.exec((await c.cmd('h', 'FETCH 250 (MODSEQ)')).join('\n'))!;
    await c.cmd('i', 'STORE 3,240 +FLAGS.SILENT (\\Seen)');
    const changed = await c.cmd(
      'j',
      `UID FETCH 1:* (UID FLAGS EMAILID SAVEDATE) (CHANGEDSINCE ${m0[1]})`,
    );
    const fetches = changed.filter((l) => l.startsWith('* ') && l.includes(' FETCH '));
    assert.equal(fetches.length, 2, changed.join('\n'));
    assert.match(
      fetches[0]!,
      new RegExp(
        `^\\* 3 FETCH \\(UID 3 FLAGS \\([^)]*\\\\Seen[^)]*\\) EMAILID \\(${ids[2]}\\) SAVEDATE "[^"]+" MODSEQ \\(\\d+\\)\\)$`,
      ),
    );
    assert.match(fetches[1]!, new RegExp(`^\\* 240 FETCH \\(UID 240 .*EMAILID \\(${ids[239]}\\)`));
    c.close();
  });
});
