// Header surgery at delivery (src/delivery/headers.ts) over the one scanner.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { appendFields, hasField, stripForgedAuthResults } from '../../src/delivery/headers.js';

const s = (b: Buffer) => b.toString('latin1');

test('appendFields: at the end of the header block, before the empty line', () => {
  const raw = Buffer.from('From: a@b\r\nSubject: x\r\n\r\nbody\r\n');
  assert.equal(
    s(appendFields(raw, 'Date: d\r\n')),
    'From: a@b\r\nSubject: x\r\nDate: d\r\n\r\nbody\r\n',
  );
  assert.equal(appendFields(raw, ''), raw);
  // An empty header: the fields come first, the empty line stays.
  assert.equal(s(appendFields(Buffer.from('\r\nbody'), 'Date: d\r\n')), 'Date: d\r\n\r\nbody');
});

test('appendFields: a message that is all header keeps its last field whole', () => {
  // The old splice cut before the last CRLF: "Subject: xDate: d" (the Subject was corrupted).
  assert.equal(
    s(appendFields(Buffer.from('From: a@b\r\nSubject: x\r\n'), 'Date: d\r\n')),
    'From: a@b\r\nSubject: x\r\nDate: d\r\n',
  );
  assert.equal(
    s(appendFields(Buffer.from('From: a@b\r\nSubject: x'), 'Date: d\r\n')),
    'From: a@b\r\nSubject: x\r\nDate: d\r\n',
  );
});

test('stripForgedAuthResults: ours go, folded ones too; others and the body stay', () => {
  const raw = Buffer.from(
    'Authentication-Results: mx.example.org;\r\n spf=pass\r\n' +
      'Authentication-Results: other.example; dkim=pass\r\n' +
      'authentication-results : (c) MX.example.org; dmarc=pass\r\n' +
      'Subject: x\r\n\r\nAuthentication-Results: mx.example.org; in the body\r\n',
  );
  assert.equal(
    s(stripForgedAuthResults(raw, 'mx.example.org')),
    'Authentication-Results: other.example; dkim=pass\r\n' +
      'Subject: x\r\n\r\nAuthentication-Results: mx.example.org; in the body\r\n',
  );
});

test('stripForgedAuthResults: a bare LF does not end the header early', () => {
  // A reader that takes only CRLF CRLF as the end sees the forged field as a header field.
  const raw = Buffer.from(
    'Subject: x\n\nAuthentication-Results: mx.example.org; spf=pass\r\n\r\nb',
  );
  assert.equal(s(stripForgedAuthResults(raw, 'mx.example.org')), 'Subject: x\n\n\r\nb');
  assert.equal(hasField(raw, 'AUTHENTICATION-RESULTS'), true);
});
