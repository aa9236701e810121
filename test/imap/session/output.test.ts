// A command's queued output goes out as one write (ImapSession.flush): short output and many
// small pieces are copied into one buffer (joinOutput), large pieces go as a writev. The
// bytes must be the same whichever way.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { READ_AHEAD_COUNT } from '../../../src/imap/fetch/read-ahead.js';
import { joinOutput } from '../../../src/imap/session.js';
import { append, type ImapTestEnv, last, message, startImap } from './client.js';

describe('IMAP output', () => {
  test('joinOutput: strings as UTF-8 and buffers, in order, nothing past them', () => {
    const pieces = [
      '* 1 FETCH (',
      Buffer.from([0, 1, 2, 255]),
      'Grüße, 日本 \r\n',
      Buffer.alloc(0),
      ')',
    ];
    const bytes = pieces.reduce<number>((n, p) => n + Buffer.byteLength(p), 0);
    const want = Buffer.concat(pieces.map((p) => (typeof p === 'string' ? Buffer.from(p) : p)));
    assert.deepEqual(joinOutput(pieces, bytes), want);
    assert.equal(joinOutput(pieces, bytes).length, want.length);
  });

  describe('in a session', () => {
    let env: ImapTestEnv;
    before(async () => {
      env = await startImap();
    });
    after(async () => {
      await env.ts.stop();
    });

    test('a FETCH of 60 messages (many small pieces, over 4 KiB) arrives byte for byte', async () => {
      const c = await env.login();
      await c.cmd('cr', 'CREATE Many');
      const subjects: Buffer[] = [];
      for (let i = 1; i <= 60; i++) {
        const m = message(`caf\u00e9 ${i}`, `Body ${i}\r\n`);
        subjects.push(Buffer.from(`Subject: caf\u00e9 ${i}\r\n\r\n`));
        await append(c, 'Many', m);
      }
      await c.cmd('se', 'EXAMINE Many');
      const lines = await c.cmd('f', 'FETCH 1:* (UID BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
      assert.match(last(lines), /^f OK/);
      // The literal's size counts the UTF-8 bytes; the client decodes the text as UTF-8.
      const text = lines.join('\r\n');
      for (let i = 1; i <= 60; i++) {
        const lit = subjects[i - 1]!;
        const want = `* ${i} FETCH (UID ${i} BODY[HEADER.FIELDS (SUBJECT)] {${lit.length}}\r\n${lit.toString('utf8')})`;
        assert.ok(text.includes(want), `message ${i}: ${want}`);
      }
      c.close();
    });

    test('FETCH of header fields over more than a read-ahead chunk, with a large message: byte for byte, the small ones read in chunks', async () => {
      const c = await env.login();
      await c.cmd('cr', 'CREATE Ahead');
      const n = READ_AHEAD_COUNT + 6;
      const large = 40; // over INLINE_MAX: a file, read alone
      for (let i = 1; i <= n; i++) {
        const body = i === large ? 'x'.repeat(100 * 1024) + '\r\n' : `Body ${i}\r\n`;
        await append(c, 'Ahead', message(`ahead ${i}`, body));
      }
      await c.cmd('se', 'EXAMINE Ahead');
      const store = env.ts.server.ctx.store;
      const calls = { one: 0, many: 0, headers: 0 };
      const readMessage = store.readMessage;
      const readMessages = store.readMessages;
      const readHeaders = store.readHeaders;
      store.readMessage = (hash, size) => {
        calls.one++;
        return readMessage.call(store, hash, size);
      };
      if (readMessages)
        store.readMessages = (rows) => {
          calls.many++;
          return readMessages.call(store, rows);
        };
      if (readHeaders)
        store.readHeaders = (rows) => {
          calls.headers++;
          return readHeaders.call(store, rows);
        };
      const fetch = async (tag: string, items: string) => {
        const lines = await c.cmd(tag, `FETCH 1:* (${items})`);
        assert.match(last(lines), new RegExp(`^${tag} OK`));
        assert.equal(lines.filter((l) => / FETCH \(/.test(l)).length, n);
        return lines.join('\r\n');
      };
      const want = (i: number, label: string, lit: string) =>
        `* ${i} FETCH (UID ${i} ${label} {${lit.length}}\r\n${lit})`;
      try {
        // Twice: the second time nothing is read, the lines kept (imap/fetch/line-cache.ts).
        const counts: Array<typeof calls> = [];
        for (const tag of ['f1', 'f2']) {
          const text = await fetch(tag, 'UID BODY.PEEK[HEADER.FIELDS (SUBJECT)]');
          for (let i = 1; i <= n; i++) {
            const w = want(i, 'BODY[HEADER.FIELDS (SUBJECT)]', `Subject: ahead ${i}\r\n\r\n`);
            assert.ok(text.includes(w), `message ${i}: ${w}`);
          }
          counts.push({ ...calls });
        }
        assert.deepEqual(counts[1], counts[0], 'the second FETCH read nothing');
        // Other items: no lines kept for them, the header blocks from the store's memory.
        const sized = await fetch('f2s', 'UID RFC822.SIZE BODY.PEEK[HEADER.FIELDS (SUBJECT)]');
        for (let i = 1; i <= n; i++) {
          const lit = `Subject: ahead ${i}\r\n\r\n`;
          const w = `BODY[HEADER.FIELDS (SUBJECT)] {${lit.length}}\r\n${lit})`;
          assert.ok(sized.includes(`* ${i} FETCH (UID ${i} RFC822.SIZE `), `message ${i}'s size`);
          assert.ok(sized.includes(w), `message ${i}: ${w}`);
        }
        // SQLite reads the small ones' headers two chunks at a time, the large one alone;
        // PostgreSQL's readHeaders reads the large one in its chunk too (one blob chunk of 256
        // KiB), and keeps its header as the small ones'; a store that cannot read many reads
        // each.
        assert.deepEqual(
          calls,
          readHeaders
            ? { one: process.env.LETTERBOX_TEST_STORE === 'postgres' ? 0 : 2, many: 0, headers: 4 }
            : readMessages
              ? { one: 0, many: 4, headers: 0 }
              : { one: 2 * n, many: 0, headers: 0 },
        );
        // Whole messages and their text: never from the header blocks.
        const whole = await fetch('f3', 'UID BODY.PEEK[HEADER.FIELDS (SUBJECT)] BODY.PEEK[TEXT]');
        const text = await fetch('f4', 'UID BODY.PEEK[TEXT]');
        for (let i = 1; i <= n; i++) {
          const body = i === large ? `${'x'.repeat(100 * 1024)}\r\n` : `Body ${i}\r\n`;
          assert.ok(text.includes(want(i, 'BODY[TEXT]', body)), `message ${i}'s text`);
          assert.ok(whole.includes(`BODY[TEXT] {${body.length}}\r\n`), `message ${i}'s text`);
        }
      } finally {
        store.readMessage = readMessage;
        if (readMessages) store.readMessages = readMessages;
        if (readHeaders) store.readHeaders = readHeaders;
      }
      c.close();
    });

    test('FETCH of headers past the output high-water mark (written mid-command): byte for byte', async () => {
      const c = await env.login();
      await c.cmd('cr', 'CREATE Tall');
      // Headers of ~60 KB (under INLINE_MAX: header blocks from the store), six of them:
      // more than the 256 KiB after which a FETCH writes what it has queued.
      const n = 6;
      const headers: string[] = [];
      for (let i = 1; i <= n; i++) {
        const fields = Array.from(
          { length: 600 },
          (_, j) => `X-Pad-${j}: ${i} ${'p'.repeat(80)}\r\n`,
        );
        const head = `Subject: tall ${i}\r\n${fields.join('')}\r\n`;
        headers.push(head);
        await append(c, 'Tall', Buffer.from(`${head}Body ${i}\r\n`));
      }
      await c.cmd('se', 'EXAMINE Tall');
      const lines = await c.cmd('f', 'FETCH 1:* (UID BODY.PEEK[HEADER])', 10_000);
      assert.match(last(lines), /^f OK/);
      const text = lines.join('\r\n');
      let at = 0;
      for (let i = 1; i <= n; i++) {
        const h = headers[i - 1]!;
        const want = `* ${i} FETCH (UID ${i} BODY[HEADER] {${h.length}}\r\n${h})`;
        const found = text.indexOf(want, at);
        assert.ok(found >= at, `message ${i} in order, byte for byte`);
        at = found + want.length;
      }
      c.close();
    });
  });
});
