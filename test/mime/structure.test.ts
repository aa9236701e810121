import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  decodeTransfer,
  MAX_DEPTH,
  MAX_PARTS,
  parseMessage,
  splitMultipart,
} from '../../src/mime/structure.js';
import type { PartNode } from '../../src/mime/types.js';

const crlf = (...lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');
const body = (raw: Buffer, p: PartNode) => raw.subarray(p.bodyStart, p.bodyEnd).toString('utf8');
const header = (raw: Buffer, p: PartNode) =>
  raw.subarray(p.headerStart, p.headerEnd).toString('utf8');

describe('single part', () => {
  test('non-MIME message defaults to text/plain us-ascii', () => {
    const raw = crlf('Subject: hi', '', 'line one', 'line two', '');
    const { root } = parseMessage(raw);
    assert.equal(root.type, 'text');
    assert.equal(root.subtype, 'plain');
    assert.deepEqual(root.params, { charset: 'us-ascii' });
    assert.equal(root.encoding, '7BIT');
    assert.equal(header(raw, root), 'Subject: hi\r\n\r\n');
    assert.equal(body(raw, root), 'line one\r\nline two\r\n');
    assert.equal(root.headerEnd, root.bodyStart);
    assert.equal(root.size, 20);
    assert.equal(root.lines, 2);
    assert.deepEqual(root.children, []);
    assert.equal(root.message, null);
  });

  test('last line without line break counts', () => {
    const { root } = parseMessage(crlf('A: b', '', 'x', 'y'));
    assert.equal(root.lines, 2);
  });

  test('LF-only header end', () => {
    const raw = Buffer.from('A: b\nC: d\n\nbody\n');
    const { root } = parseMessage(raw);
    assert.equal(header(raw, root), 'A: b\nC: d\n\n');
    assert.equal(body(raw, root), 'body\n');
  });

  test('no blank line: all header, empty body at the end', () => {
    const raw = crlf('A: b', 'C: d');
    const { root } = parseMessage(raw);
    assert.equal(root.bodyStart, raw.length);
    assert.equal(root.size, 0);
    assert.equal(root.lines, 0);
  });

  test('message starting with a blank line has an empty header', () => {
    const raw = crlf('', 'just body');
    const { root } = parseMessage(raw);
    assert.equal(root.headerEnd, 2);
    assert.equal(body(raw, root), 'just body');
  });

  test('content headers', () => {
    const raw = crlf(
      'Content-Type: Application/PDF; name="a.pdf"',
      'Content-Transfer-Encoding: Base64',
      'Content-ID: <id@x>',
      'Content-Description: a file',
      'Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==',
      'Content-Disposition: ATTACHMENT; filename="a.pdf"; size=3',
      'Content-Language: en, (comment) de',
      'Content-Location: http://example.com/a.pdf',
      '',
      'AAAA',
    );
    const { root } = parseMessage(raw);
    assert.equal(root.type, 'application');
    assert.equal(root.subtype, 'pdf');
    assert.deepEqual(root.params, { name: 'a.pdf' });
    assert.equal(root.encoding, 'BASE64');
    assert.equal(root.id, '<id@x>');
    assert.equal(root.description, 'a file');
    assert.equal(root.md5, 'Q2hlY2sgSW50ZWdyaXR5IQ==');
    assert.deepEqual(root.disposition, {
      type: 'attachment',
      params: { filename: 'a.pdf', size: '3' },
    });
    assert.deepEqual(root.language, ['en', 'de']);
    assert.equal(root.location, 'http://example.com/a.pdf');
    assert.equal(root.lines, null, 'lines only for text and message');
  });

  test('invalid content-type falls back to the default', () => {
    for (const ct of ['text', 'garbage', '/plain', 'text/', 'te xt/plain', '']) {
      const { root } = parseMessage(crlf(`Content-Type: ${ct}`, '', 'x'));
      assert.equal(`${root.type}/${root.subtype}`, 'text/plain', ct);
      assert.deepEqual(root.params, { charset: 'us-ascii' });
    }
  });
});

describe('multipart', () => {
  test('boundaries, preamble, epilogue, transport padding', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary="b"',
      '',
      'preamble --b not a boundary',
      '--b \t',
      'Content-Type: text/plain',
      '',
      'one',
      '--bx',
      'still one',
      '--b',
      '',
      'two',
      '--b--  ',
      'epilogue',
      '--b',
      'ignored',
    );
    const { root } = parseMessage(raw);
    assert.equal(root.children.length, 2);
    const [p1, p2] = root.children;
    assert.equal(header(raw, p1), 'Content-Type: text/plain\r\n\r\n');
    assert.equal(body(raw, p1), 'one\r\n--bx\r\nstill one');
    assert.equal(p1.lines, 3);
    assert.equal(header(raw, p2), '\r\n');
    assert.equal(body(raw, p2), 'two');
    assert.deepEqual(p2.params, { charset: 'us-ascii' });
  });

  test('LF-only boundaries', () => {
    const raw = Buffer.from(
      'Content-Type: multipart/mixed; boundary=b\n\n--b\n\none\n--b\n\ntwo\n--b--\n',
    );
    const { root } = parseMessage(raw);
    assert.deepEqual(
      root.children.map((p) => body(raw, p)),
      ['one', 'two'],
    );
  });

  test('empty parts and adjacent delimiters', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      '--b',
      '',
      '',
      '--b--',
    );
    const { root } = parseMessage(raw);
    assert.equal(root.children.length, 2);
    for (const p of root.children) {
      assert.equal(p.size, 0);
      assert.ok(p.headerStart <= p.bodyStart && p.bodyStart === p.bodyEnd);
    }
  });

  test('an empty part before a bare-LF delimiter line stays inside its range', () => {
    // The part is [49, 49); its header end used to be read from the LF after it (size -1).
    const raw = Buffer.from('Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\n\n--b--\r\n');
    const [p] = parseMessage(raw).root.children;
    assert.deepEqual([p!.headerStart, p!.bodyStart, p!.bodyEnd, p!.size], [49, 49, 49, 0]);
  });

  test('missing closing delimiter ends at the end of the enclosing body', () => {
    const raw = crlf(
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      '',
      'one',
      '--b',
      '',
      'two',
      'more',
      '',
    );
    const { root } = parseMessage(raw);
    assert.deepEqual(
      root.children.map((p) => body(raw, p)),
      ['one', 'two\r\nmore\r\n'],
    );
  });

  test('no boundary parameter or no delimiter: no children', () => {
    assert.deepEqual(
      parseMessage(crlf('Content-Type: multipart/mixed', '', '--b', '', 'x')).root.children,
      [],
    );
    assert.deepEqual(
      parseMessage(crlf('Content-Type: multipart/mixed; boundary=q', '', '--b', 'x')).root.children,
      [],
    );
  });

  test('digest children default to message/rfc822', () => {
    const raw = crlf(
      'Content-Type: multipart/digest; boundary=d',
      '',
      '--d',
      '',
      'Subject: s',
      '',
      'x',
      '--d--',
    );
    const [child] = parseMessage(raw).root.children;
    assert.equal(`${child.type}/${child.subtype}`, 'message/rfc822');
    assert.equal(child.message?.envelope.subject, 's');
    assert.equal(child.message?.root.type, 'text');
  });

  test('depth limit keeps the deepest multipart a leaf', () => {
    const levels = MAX_DEPTH + 10;
    const lines: string[] = [];
    for (let i = 0; i < levels; i++)
      lines.push(`Content-Type: multipart/mixed; boundary=b${i}`, '', `--b${i}`);
    lines.push('', 'leaf');
    const { root } = parseMessage(crlf(...lines));
    let node = root;
    let depth = 0;
    while (node.children.length > 0) {
      node = node.children[0];
      depth++;
    }
    assert.equal(depth, MAX_DEPTH);
    assert.equal(node.type, 'multipart');
  });

  test('part count is capped', () => {
    const n = MAX_PARTS + 50;
    const raw = Buffer.from(
      `Content-Type: multipart/mixed; boundary=b\r\n\r\n${'--b\r\n\r\nx\r\n'.repeat(n)}--b--`,
    );
    const { root } = parseMessage(raw);
    assert.equal(root.children.length, MAX_PARTS - 1);
  });
});

describe('message/rfc822', () => {
  test('embedded message has its own envelope and absolute offsets', () => {
    const raw = crlf(
      'Content-Type: message/rfc822',
      '',
      'From: In <in@x>',
      'Subject: inner',
      '',
      'inner body',
    );
    const { root } = parseMessage(raw);
    assert.equal(root.lines, 4);
    const m = root.message!;
    assert.equal(m.envelope.subject, 'inner');
    assert.deepEqual(m.envelope.from, [{ name: 'In', mailbox: 'in', host: 'x' }]);
    assert.equal(m.root.headerStart, root.bodyStart);
    assert.equal(body(raw, m.root), 'inner body');
  });

  test('message/global is embedded too', () => {
    const { root } = parseMessage(crlf('Content-Type: message/global', '', 'Subject: ü', '', 'x'));
    assert.equal(root.message?.envelope.subject, 'ü');
  });

  test('base64-encoded message/rfc822 stays a leaf', () => {
    const { root } = parseMessage(
      crlf(
        'Content-Type: message/rfc822',
        'Content-Transfer-Encoding: base64',
        '',
        'U3ViamVjdDogeA0KDQp5',
      ),
    );
    assert.equal(root.message, null);
  });
});

describe('text and search', () => {
  test('decoded text of plain and html parts, attachments skipped', () => {
    const raw = crlf(
      'Subject: =?utf-8?q?s=C3=BCbject?=',
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      'Content-Type: text/plain; charset=iso-8859-1',
      'Content-Transfer-Encoding: quoted-printable',
      '',
      'caf=E9 au=',
      ' lait',
      '--b',
      'Content-Type: text/html; charset=utf-8',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('<p>Gr&uuml;&szlig;e <b>bold</b></p>').toString('base64'),
      '--b',
      'Content-Type: application/octet-stream',
      'Content-Transfer-Encoding: base64',
      '',
      Buffer.from('secret attachment words').toString('base64'),
      '--b',
      'Content-Type: message/rfc822',
      '',
      'Subject: fwd',
      '',
      'forwarded words',
      '--b--',
    );
    const p = parseMessage(raw);
    assert.equal(p.text, 'café au lait\nGrüße bold\nforwarded words');
    assert.equal(p.search.subject, 'sübject');
  });

  test('output survives a JSON round trip unchanged', () => {
    const raw = crlf(
      'From: a@b',
      'Content-Type: multipart/mixed; boundary=b',
      '',
      '--b',
      '',
      'x',
      '--b--',
    );
    const p = parseMessage(raw);
    assert.deepEqual(JSON.parse(JSON.stringify(p)), p);
  });

  test('decodeTransfer is exported beside parseMessage', () => {
    assert.equal(decodeTransfer(Buffer.from('aGk='), 'base64').toString(), 'hi');
  });
});

test('splitMultipart stops at maxParts', () => {
  const raw = Buffer.from('--b\r\na\r\n--b\r\nb\r\n--b\r\nc\r\n--b--');
  assert.equal(splitMultipart(raw, 0, raw.length, 'b').length, 3);
  assert.equal(splitMultipart(raw, 0, raw.length, 'b', 2).length, 2);
});
