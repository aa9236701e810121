import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { parseMessage } from '../../src/mime/index.js';
import { decodeTransfer } from '../../src/mime/transfer.js';
import type { PartNode } from '../../src/mime/types.js';
import {
  downgrade8bit,
  encodeBase64,
  encodeQuotedPrintable,
  has8bit,
  header8bit,
} from '../../src/queue/eightbit.js';

const crlf = (s: string) => Buffer.from(s.replace(/\n/g, '\r\n'), 'utf8');

/** The decoded body of every leaf part, in order. */
function leaves(raw: Buffer): { type: string; body: Buffer; encoding: string }[] {
  const out: { type: string; body: Buffer; encoding: string }[] = [];
  const walk = (p: PartNode) => {
    if (p.children.length > 0) for (const c of p.children) walk(c);
    else if (p.message) walk(p.message.root);
    else {
      out.push({
        type: `${p.type}/${p.subtype}`,
        encoding: p.encoding,
        body: decodeTransfer(raw.subarray(p.bodyStart, p.bodyEnd), p.encoding),
      });
    }
  };
  walk(parseMessage(raw).root);
  return out;
}

function converted(raw: Buffer): Buffer {
  const r = downgrade8bit(raw);
  assert.ok(r.ok, r.ok ? '' : r.reason);
  assert.equal(has8bit(r.message), false, 'still 8-bit');
  return r.message;
}

describe('encodeQuotedPrintable', () => {
  test('decodes back to the same bytes (property)', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const data = Buffer.from(bytes);
        const qp = encodeQuotedPrintable(data);
        assert.equal(has8bit(qp), false);
        for (const line of qp.toString('latin1').split('\r\n')) assert.ok(line.length <= 76);
        assert.ok(decodeTransfer(qp, 'quoted-printable').equals(data));
      }),
      { numRuns: 500, seed: 13 },
    );
  });

  test('text with CRLF lines, trailing space and =', () => {
    const qp = encodeQuotedPrintable(Buffer.from('café = 1 \r\nnext\t\r\n', 'utf8'));
    assert.equal(qp.toString('latin1'), 'caf=C3=A9 =3D 1=20\r\nnext=09\r\n');
  });

  test('base64 in 76-character lines', () => {
    const b = encodeBase64(Buffer.alloc(100, 0xff));
    assert.match(b.toString('latin1'), /^[A-Za-z0-9+/=]{76}\r\n[A-Za-z0-9+/=]+\r\n$/);
    assert.ok(decodeTransfer(b, 'base64').equals(Buffer.alloc(100, 0xff)));
  });
});

describe('downgrade8bit (RFC 6152 §3)', () => {
  test('a 7-bit message is returned as it is', () => {
    const raw = crlf('Subject: x\n\nplain ascii\n');
    const r = downgrade8bit(raw);
    assert.ok(r.ok && !r.changed && r.message === raw);
  });

  test('single 8-bit text part: quoted-printable, same text, other headers untouched', () => {
    const raw = crlf(
      'From: a@x.test\nContent-Type: text/plain; charset=utf-8\n' +
        'Content-Transfer-Encoding: 8bit\nSubject: hi\n\nGrüße aus Köln\n.dot line\n',
    );
    const out = converted(raw);
    const text = out.toString('latin1');
    assert.match(
      text,
      /^From: a@x\.test\r\nContent-Type: text\/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\nSubject: hi\r\n\r\n/,
    );
    assert.equal(text.match(/Content-Transfer-Encoding/g)?.length, 1);
    const [leaf] = leaves(out);
    assert.equal(leaf.body.toString('utf8'), 'Grüße aus Köln\r\n.dot line\r\n');
  });

  test('no Content-Transfer-Encoding field: one is added before the blank line', () => {
    const out = converted(crlf('Subject: hi\n\nnaïve\n'));
    assert.equal(
      out.toString('latin1'),
      'Subject: hi\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\nna=C3=AFve\r\n',
    );
  });

  test('multipart: text as QP, binary as base64, 7-bit parts and structure byte for byte', () => {
    const bin = Buffer.from([0x00, 0xff, 0x80, 0x41, 0x0d, 0x0a, 0xfe]);
    const raw = Buffer.concat([
      crlf(
        'Subject: m\nMIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="b1"\n' +
          'Content-Transfer-Encoding: 8bit\n\npreamble\n--b1\n' +
          'Content-Type: text/plain; charset=utf-8\nContent-Transfer-Encoding: 8bit\n\n' +
          'ünïcödé text\n--b1\nContent-Type: text/plain\n\nascii part\n--b1\n' +
          'Content-Type: application/octet-stream\nContent-Transfer-Encoding: binary\n\n',
      ),
      bin,
      crlf('\n--b1\nContent-Type: message/rfc822\n\nSubject: inner\n\ninnér body\n--b1--\n'),
    ]);
    const out = converted(raw);
    const parts = leaves(out);
    assert.deepEqual(
      parts.map((p) => [p.type, p.encoding]),
      [
        ['text/plain', 'QUOTED-PRINTABLE'],
        ['text/plain', '7BIT'],
        ['application/octet-stream', 'BASE64'],
        ['text/plain', 'QUOTED-PRINTABLE'],
      ],
    );
    assert.equal(parts[0].body.toString('utf8'), 'ünïcödé text');
    assert.equal(parts[1].body.toString('utf8'), 'ascii part');
    assert.ok(parts[2].body.equals(bin));
    assert.equal(parts[3].body.toString('utf8'), 'innér body');
    // The outer multipart now says 7bit; the 7-bit part is unchanged.
    assert.match(out.toString('latin1'), /boundary="b1"\r\nContent-Transfer-Encoding: 7bit\r\n/);
    assert.ok(out.includes(crlf('--b1\nContent-Type: text/plain\n\nascii part\n--b1\n')));
  });

  test('8-bit header: cannot be converted (needs SMTPUTF8)', () => {
    const raw = crlf('Subject: Grüße\n\nbody ü\n');
    assert.equal(header8bit(raw), true);
    const r = downgrade8bit(raw);
    assert.ok(!r.ok);
    assert.match(r.reason, /header field.*SMTPUTF8/);
  });

  test('8-bit header of an inner part: cannot be converted', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=b\n\n--b\n' +
        'Content-Type: text/plain; name="ü.txt"\n\nx\n--b--\n',
    );
    assert.equal(header8bit(raw), false);
    const r = downgrade8bit(raw);
    assert.ok(!r.ok && /header field/.test(r.reason));
  });

  test('8-bit preamble: cannot be converted', () => {
    const raw = crlf('Content-Type: multipart/mixed; boundary=b\n\nprëamble\n--b\n\nx\n--b--\n');
    const r = downgrade8bit(raw);
    assert.ok(!r.ok && /outside any MIME part/.test(r.reason));
  });

  test('converting twice changes nothing more', () => {
    const once = converted(crlf('Subject: a\n\nà\n'));
    const twice = downgrade8bit(once);
    assert.ok(twice.ok && !twice.changed && twice.message === once);
  });
});
