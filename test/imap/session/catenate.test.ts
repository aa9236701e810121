// CATENATE (RFC 4469): APPEND built from literal text and IMAP URLs (RFC 5092) naming messages
// and message parts of the account; exact tagged answers for BADURL, TOOBIG and limits.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { append, type ImapTestEnv, last, type RawClient, startImap } from './client.js';

const BOUNDARY = '------------030308070208000400050907';
const HEADER =
  'From: Bob <bob@example.test>\r\nTo: alice@example.test\r\nSubject: Holiday trip\r\n' +
  `MIME-Version: 1.0\r\nContent-Type: multipart/mixed;\r\n boundary="${BOUNDARY}"\r\n\r\n`;
const PART1_MIME = 'Content-Type: text/plain; charset=us-ascii\r\n\r\n';
const PART1 = 'Our travel agent has sent the updated schedule.\r\n';
const PART2_MIME =
  'Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\n';
const PART2 = 'AAECAwQFBgcICQ==\r\n';
const ORIGINAL = Buffer.from(
  `${HEADER}--${BOUNDARY}\r\n${PART1_MIME}${PART1}\r\n--${BOUNDARY}\r\n${PART2_MIME}${PART2}\r\n--${BOUNDARY}--\r\n`,
);

/** `TEXT {n+}\r\n<bytes>` */
/** `{n+}\r\n<bytes>` */
const lit = (s: string | Buffer): Buffer => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return Buffer.concat([Buffer.from(`{${b.length}+}\r\n`), b]);
};

const text = (s: string | Buffer): Buffer => {
  const b = Buffer.isBuffer(s) ? s : Buffer.from(s);
  return Buffer.concat([Buffer.from(`TEXT {${b.length}+}\r\n`), b]);
};

/** The stored bytes of a message of mailbox Cat (leaves Cat selected read-only). */
async function fetchBody(c: RawClient, uid: number): Promise<string> {
  await c.cmd('fe', 'EXAMINE Cat');
  const r = await c.cmd('fb', `UID FETCH ${uid} BODY.PEEK[]`);
  const joined = Buffer.from(r.join('\r\n'));
  const m = /BODY\[\] \{(\d+)\}\r\n/.exec(joined.toString('latin1'));
  assert.ok(m, joined.toString());
  const start = m.index + m[0].length;
  return joined.subarray(start, start + Number(m[1])).toString();
}

function appendUid(line: string): number {
  const m = /^\S+ OK \[APPENDUID \d+ (\d+)\] /.exec(line);
  assert.ok(m, line);
  return Number(m[1]);
}

describe('IMAP CATENATE (RFC 4469)', () => {
  let env: ImapTestEnv;
  let c: RawClient;
  let uidValidity = 0;
  let src = 0;
  before(async () => {
    env = await startImap();
    c = await env.login();
    await c.cmd('c1', 'CREATE Cat');
    src = await append(c, 'Cat', ORIGINAL, '\\Draft');
    const st = await c.cmd('s1', 'STATUS Cat (UIDVALIDITY)');
    uidValidity = Number(/UIDVALIDITY (\d+)/.exec(st[0])?.[1]);
  });
  after(async () => {
    c.close();
    await env.ts.stop();
  });

  const url = (section = '', extra = '') =>
    `"/Cat;UIDVALIDITY=${uidValidity}/;UID=${src}${section ? `/;SECTION=${section}` : ''}${extra}"`;

  test('advertised after login', async () => {
    const caps = await c.cmd('a', 'CAPABILITY');
    assert.match(caps[0], / CATENATE( |$)/);
  });

  test('RFC 4469 example 1: header, new text, parts copied byte for byte', async () => {
    const newText = `\r\n--${BOUNDARY}\r\nContent-Type: text/plain\r\n\r\nReplacement attachment.\r\n--${BOUNDARY}--\r\n`;
    const cmd = Buffer.concat([
      Buffer.from(`APPEND Cat (\\Seen \\Draft $MDNSent) CATENATE (URL ${url('HEADER')} `),
      text(`--${BOUNDARY}\r\n`),
      Buffer.from(` URL ${url('1.MIME')} URL ${url('1')} `),
      text(newText),
      Buffer.from(')\r\n'),
    ]);
    const r = await c.cmd('b', cmd);
    assert.equal(r.length, 1, r.join('\n'));
    const uid = appendUid(last(r));
    assert.match(
      last(r),
      new RegExp(`^b OK \\[APPENDUID ${uidValidity} ${uid}\\] APPEND completed$`),
    );
    const expected = `${HEADER}--${BOUNDARY}\r\n${PART1_MIME}${PART1}${newText}`;
    assert.equal(await fetchBody(c, uid), expected);
    const flags = await c.cmd('f', `UID FETCH ${uid} FLAGS`);
    // EXAMINE (in fetchBody) sees the new message as \Recent without taking it (RFC 3501 §6.3.2).
    assert.match(flags[0], /FLAGS \(\\Seen \\Draft \$MDNSent \\Recent\)/);
  });

  test('whole message, PARTIAL, HEADER.FIELDS (%-encoded), TEXT; the source stays unseen', async () => {
    const cmd = Buffer.concat([
      Buffer.from(
        `APPEND Cat CATENATE (URL ${url('HEADER.FIELDS%20(SUBJECT%20TO)')} URL "/Cat/;UID=${src}/;SECTION=1/;PARTIAL=4.6" `,
      ),
      text('\r\n'),
      Buffer.from(` URL "/Cat/;UID=${src}")\r\n`),
    ]);
    const uid = appendUid(last(await c.cmd('c', cmd)));
    const expected = `To: alice@example.test\r\nSubject: Holiday trip\r\n\r\ntravel\r\n${ORIGINAL.toString()}`;
    assert.equal(await fetchBody(c, uid), expected);
    await c.cmd('s', 'SELECT Cat');
    const f = await c.cmd('f', `UID FETCH ${src} FLAGS`);
    // The first SELECT since the source was appended takes its \Recent (RFC 3501 §2.3.2).
    assert.equal(f[0], `* 1 FETCH (UID ${src} FLAGS (\\Draft \\Recent))`);
    await c.cmd('u', 'UNSELECT');
  });

  test('relative URLs resolve against the selected mailbox (RFC 4469 §3 base URL)', async () => {
    await c.cmd('s', 'SELECT Cat');
    const r0 = await c.cmd(
      'd',
      `APPEND Cat CATENATE (URL ";UID=${src}/;SECTION=2.MIME" URL "Cat/;UID=${src}/;SECTION=2")`,
    );
    // The new message in the selected mailbox is announced before the tagged OK.
    assert.match(r0[0], /^\* \d+ EXISTS$/);
    assert.equal(await fetchBody(c, appendUid(last(r0))), `${PART2_MIME}${PART2}`);
    await c.cmd('u', 'UNSELECT');
    // In the authenticated state there is no mailbox to resolve ";UID=" against.
    const r = await c.cmd('e', `APPEND Cat CATENATE (URL ";UID=${src}")`);
    assert.equal(
      last(r),
      `e NO [BADURL ;UID=${src}] No mailbox is selected to resolve the URL against`,
    );
  });

  test('BADURL names the first failing URL; nothing is stored', async () => {
    const before = (await c.cmd('s', 'STATUS Cat (MESSAGES)'))[0];
    const cases: Array<[string, RegExp]> = [
      [`/Cat;UIDVALIDITY=${uidValidity + 1}/;UID=${src}`, /UIDVALIDITY does not match/],
      [`/Cat/;UID=999999`, /No such message/],
      [`/Cat/;UID=${src}/;SECTION=1.5.9`, /No such body part/],
      [`/Cat/;UID=${src}/;SECTION=BOGUS`, /Bad section/],
      [`/Nowhere/;UID=1`, /No such mailbox/],
      [`imap://alice@localhost/Cat/;UID=${src}`, /Only relative IMAP URLs/],
      [`/Cat`, /names no message/],
      [`/Cat/;UID=${src};URLAUTH=anonymous:internal:0123`, /URLAUTH/],
    ];
    for (const [u, why] of cases) {
      const r = await c.cmd(
        'g',
        `APPEND Cat CATENATE (URL "/Cat/;UID=${src}" URL "${u}" URL "/Nowhere/;UID=2")`,
      );
      assert.equal(r.length, 1, r.join('\n'));
      assert.ok(last(r).startsWith(`g NO [BADURL ${u}] `), `${u}: ${last(r)}`);
      assert.match(last(r), why);
    }
    assert.equal((await c.cmd('s', 'STATUS Cat (MESSAGES)'))[0], before);
  });

  test('TEXT literal8 and RFC 6855 UTF8 parts; MULTIAPPEND mixing a literal and CATENATE', async () => {
    const utf = Buffer.from('Subject: Grüße\r\n\r\n');
    const cmd = Buffer.concat([
      Buffer.from(`APPEND Cat (\\Flagged) CATENATE (UTF8 (~{${utf.length}+}\r\n`),
      utf,
      Buffer.from(`) TEXT ~{5+}\r\nBody.) (\\Seen) {12+}\r\nSubject: x\r\n\r\n`),
    ]);
    const r = await c.cmd('h', cmd);
    const m = /^h OK \[APPENDUID \d+ (\d+):(\d+)\] APPEND completed$/.exec(last(r));
    assert.ok(m, last(r));
    assert.equal(await fetchBody(c, Number(m[1])), 'Subject: Grüße\r\n\r\nBody.');
    assert.equal(await fetchBody(c, Number(m[2])), 'Subject: x\r\n');
  });

  test('syntax errors are BAD and the connection stays usable', async () => {
    assert.match(last(await c.cmd('i1', 'APPEND Cat CATENATE ()')), /^i1 BAD /);
    assert.match(last(await c.cmd('i2', 'APPEND Cat CATENATE (FOO "x")')), /^i2 BAD /);
    assert.match(last(await c.cmd('i3', 'APPEND Cat CATENATE (URL)')), /^i3 BAD /);
    assert.match(
      last(await c.cmd('i4', `APPEND Cat CATENATE (URL "/Cat/;UID=${src}"`)),
      /^i4 BAD /,
    );
    assert.match(last(await c.cmd('i5', 'NOOP')), /^i5 OK/);
  });

  test('an empty result is refused; too many parts get NO [LIMIT]', async () => {
    const r = await c.cmd('j', `APPEND Cat CATENATE (URL "/Cat/;UID=${src}/;PARTIAL=999999")`);
    assert.equal(last(r), 'j NO [CANNOT] Empty message');
    const many = Array.from({ length: 257 }, () => `URL "/Cat/;UID=${src}"`).join(' ');
    assert.equal(
      last(await c.cmd('k', `APPEND Cat CATENATE (${many})`)),
      'k NO [LIMIT] At most 256 CATENATE parts per message',
    );
  });
});

describe('IMAP CATENATE: the cases imaptest (Dovecot) runs', () => {
  test('text-only, header + text, partial past the end, TRYCREATE before any URL check', async () => {
    const env = await startImap();
    const c = await env.login();
    const crlf = (t: string) => t.replace(/\n/g, '\r\n');
    try {
      await c.cmd('c', 'CREATE it');
      await c.cmd('c2', 'CREATE it2');
      const a1 = await c.cmd(
        'a',
        Buffer.concat([
          Buffer.from('APPEND it (\\seen \\flagged) catenate (text '),
          lit(crlf('From: foo@example.com\n\nHello world body')),
          Buffer.from(')\r\n'),
        ]),
      );
      const a2 = await c.cmd(
        'b',
        Buffer.concat([
          Buffer.from('APPEND it catenate (text '),
          lit(crlf('From: foo2@example.com\n\nLookslike: header\n\nAnother body')),
          Buffer.from(')\r\n'),
        ]),
      );
      const u1 = appendUid(last(a1));
      const u2 = appendUid(last(a2));
      const cases: Array<[Buffer, string]> = [
        [
          Buffer.concat([
            Buffer.from(`catenate (url "/it/;uid=${u1}/;section=header" text `),
            lit(crlf('body1')),
            Buffer.from(')'),
          ]),
          'From: foo@example.com\n\nbody1',
        ],
        [
          Buffer.concat([
            Buffer.from(`catenate (url "/it/;uid=${u2}/;section=text" text `),
            lit(crlf('body3')),
            Buffer.from(')'),
          ]),
          'Lookslike: header\n\nAnother bodybody3',
        ],
        [
          Buffer.concat([
            Buffer.from(`catenate (url "/it/;uid=${u2}/;section=1" text `),
            lit(crlf('body4')),
            Buffer.from(')'),
          ]),
          'Lookslike: header\n\nAnother bodybody4',
        ],
        [
          Buffer.concat([
            Buffer.from('catenate (text '),
            lit(crlf('From: new@example.com\nSubject: test header\n\n')),
            Buffer.from(` url "/it/;uid=${u1}/;section=1" text `),
            lit(crlf('\nsuffix')),
            Buffer.from(')'),
          ]),
          'From: new@example.com\nSubject: test header\n\nHello world body\nsuffix',
        ],
        [
          Buffer.concat([
            Buffer.from(`catenate (url "/it/;uid=${u2}/;partial=100000.1" text `),
            lit(crlf('Hdr: foo\n\nbody7')),
            Buffer.from(')'),
          ]),
          'Hdr: foo\n\nbody7',
        ],
        [
          Buffer.from(`catenate (url "/it/;uid=${u1}/;section=header")`),
          'From: foo@example.com\n\n',
        ],
      ];
      const stored: string[] = [];
      for (const [args, want] of cases) {
        const r = await c.cmd(
          'd',
          Buffer.concat([Buffer.from('APPEND it2 (\\seen) '), args, Buffer.from('\r\n')]),
        );
        assert.match(last(r), /^d OK \[APPENDUID /);
        stored.push(crlf(want));
      }
      await c.cmd('s', 'EXAMINE it2');
      const f = (await c.cmd('f', 'FETCH 1:* BODY.PEEK[]')).join('\r\n');
      for (const want of stored)
        assert.ok(f.includes(`BODY[] {${Buffer.byteLength(want)}}\r\n${want})`), `${want}\n${f}`);
      // The target is checked first: a missing one is TRYCREATE even when a URL is bad too.
      const t = await c.cmd(
        't',
        Buffer.concat([
          Buffer.from('APPEND itnone catenate (text '),
          lit(crlf('hdr1: 1\n\n')),
          Buffer.from(` url "/it;uidvalidity=12345/;uid=${u1}/;section=header")\r\n`),
        ]),
      );
      assert.match(last(t), /^t NO \[TRYCREATE\]/);
      c.close();
    } finally {
      await env.ts.stop();
    }
  });
});

describe('IMAP CATENATE size limit (RFC 4469 §4.2 TOOBIG)', () => {
  test('a message over limits.max_message_size is refused before anything is stored', async () => {
    const env = await startImap({ extraToml: '[limits]\nmax_message_size = 2048\n' });
    try {
      const c = await env.login();
      await c.cmd('c', 'CREATE Big');
      const big = Buffer.from(`Subject: big\r\n\r\n${'x'.repeat(1500)}\r\n`);
      const uid = await append(c, 'Big', big);
      const ok = await c.cmd('a', `APPEND Big CATENATE (URL "/Big/;UID=${uid}")`);
      assert.match(last(ok), /^a OK \[APPENDUID /);
      const r = await c.cmd(
        'b',
        `APPEND Big CATENATE (URL "/Big/;UID=${uid}" URL "/Big/;UID=${uid}")`,
      );
      assert.equal(last(r), 'b NO [TOOBIG] The message would be over the limit of 2048 bytes');
      const t = await c.cmd(
        'd',
        Buffer.concat([
          Buffer.from(`APPEND Big CATENATE (URL "/Big/;UID=${uid}" `),
          text('y'.repeat(600)),
          Buffer.from(')\r\n'),
        ]),
      );
      assert.match(last(t), /^d NO \[TOOBIG\]/);
      assert.match((await c.cmd('s', 'STATUS Big (MESSAGES)'))[0], /MESSAGES 2\)/);
      assert.equal(env.ts.server.ctx.memory.inUse, 0);
      c.close();
    } finally {
      await env.ts.stop();
    }
  });
});
