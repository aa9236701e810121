import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { findPart, sectionRange } from '../../src/mime/sections.js';
import { parseMessage } from '../../src/mime/structure.js';

const crlf = (...lines: string[]) => Buffer.from(lines.join('\r\n'), 'utf8');

// RFC 9051 §6.4.5's example structure, abridged:
// 1 text/plain, 2 application/octet-stream, 3 message/rfc822 (3.1 text/plain, 3.2 multipart:
// 3.2.1, 3.2.2), 4 multipart/mixed (4.1 image/gif, 4.2 message/rfc822 with 4.2.1 text/plain)
const raw = crlf(
  'Subject: top',
  'Content-Type: multipart/mixed; boundary=o',
  '',
  '--o',
  '',
  'part 1',
  '--o',
  'Content-Type: application/octet-stream',
  '',
  'part 2',
  '--o',
  'Content-Type: message/rfc822',
  '',
  'Subject: three',
  'Content-Type: multipart/mixed; boundary=t',
  '',
  '--t',
  '',
  'part 3.1',
  '--t',
  'Content-Type: multipart/alternative; boundary=u',
  '',
  '--u',
  '',
  'part 3.2.1',
  '--u',
  'Content-Type: text/html',
  '',
  'part 3.2.2',
  '--u--',
  '--t--',
  '--o',
  'Content-Type: multipart/mixed; boundary=f',
  '',
  '--f',
  'Content-Type: image/gif',
  '',
  'part 4.1',
  '--f',
  'Content-Type: message/rfc822',
  '',
  'Subject: four-two',
  '',
  'part 4.2.1',
  '--f--',
  '--o--',
);
const parsed = parseMessage(raw);
const text = (r: [number, number] | null) =>
  r === null ? null : raw.subarray(r[0], r[1]).toString();
const partBody = (s: number[]) => {
  const p = findPart(parsed, s);
  return p === null ? null : raw.subarray(p.bodyStart, p.bodyEnd).toString();
};

describe('findPart', () => {
  const cases: [number[], string | null][] = [
    [[1], 'part 1'],
    [[2], 'part 2'],
    [[3, 1], 'part 3.1'],
    [[3, 2, 1], 'part 3.2.1'],
    [[3, 2, 2], 'part 3.2.2'],
    [[4, 1], 'part 4.1'],
    [[4, 2, 1], 'part 4.2.1'],
    [[5], null],
    [[1, 1], null],
    [[3, 3], null],
    [[4, 2, 2], null],
    [[0], null],
    [[-1], null],
    [[1.5], null],
  ];
  for (const [section, want] of cases) {
    test(section.join('.'), () => assert.equal(partBody(section), want));
  }
  test('[] is the message; parts of message/rfc822 and multipart have types', () => {
    assert.equal(findPart(parsed, []), parsed.root);
    assert.equal(findPart(parsed, [3])?.subtype, 'rfc822');
    assert.equal(findPart(parsed, [3, 2])?.subtype, 'alternative');
    assert.equal(findPart(parsed, [4])?.subtype, 'mixed');
  });
  test('a non-multipart message has only part 1, its body', () => {
    const single = parseMessage(crlf('Subject: s', '', 'only body'));
    assert.equal(findPart(single, [1]), single.root);
    assert.equal(findPart(single, [2]), null);
    assert.equal(findPart(single, [1, 1]), null);
  });
  test('a top-level message/rfc822 numbers into the encapsulated message', () => {
    const m = parseMessage(crlf('Content-Type: message/rfc822', '', 'Subject: in', '', 'inner'));
    assert.equal(findPart(m, [1]), m.root);
    assert.equal(findPart(m, [1, 1]), m.root.message?.root);
  });
});

describe('sectionRange', () => {
  test('top level', () => {
    assert.equal(text(sectionRange(parsed, [], null)), raw.toString());
    assert.equal(
      text(sectionRange(parsed, [], 'HEADER')),
      'Subject: top\r\nContent-Type: multipart/mixed; boundary=o\r\n\r\n',
    );
    assert.ok(text(sectionRange(parsed, [], 'TEXT'))?.startsWith('--o\r\n\r\npart 1'));
    assert.equal(sectionRange(parsed, [], 'MIME'), null);
  });
  test('parts', () => {
    assert.equal(
      text(sectionRange(parsed, [2], 'MIME')),
      'Content-Type: application/octet-stream\r\n\r\n',
    );
    assert.equal(text(sectionRange(parsed, [2], null)), 'part 2');
    assert.equal(sectionRange(parsed, [2], 'HEADER'), null, 'HEADER needs a message/rfc822 part');
    assert.equal(sectionRange(parsed, [9], null), null);
  });
  test('message/rfc822 parts', () => {
    assert.equal(text(sectionRange(parsed, [4, 2], 'HEADER')), 'Subject: four-two\r\n\r\n');
    assert.equal(text(sectionRange(parsed, [4, 2], 'TEXT')), 'part 4.2.1');
    assert.equal(text(sectionRange(parsed, [4, 2], null)), 'Subject: four-two\r\n\r\npart 4.2.1');
    assert.equal(
      text(sectionRange(parsed, [4, 2], 'MIME')),
      'Content-Type: message/rfc822\r\n\r\n',
    );
    assert.ok(text(sectionRange(parsed, [3], 'HEADER'))?.startsWith('Subject: three\r\n'));
  });
});
