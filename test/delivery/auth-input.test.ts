// authInput: mailauth gets the body only when a body hash needs it (DKIM, ARC).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { authInput } from '../../src/delivery/inbound-auth.js';

const body = 'Hello.\r\n'.repeat(1000);

test('without DKIM or ARC signatures only the header and the empty line go', () => {
  const raw = Buffer.from(`From: a@example.net\r\nSubject: hi\r\n\r\n${body}`);
  assert.equal(authInput(raw).toString(), 'From: a@example.net\r\nSubject: hi\r\n\r\n');
});

test('a DKIM-Signature, ARC-Message-Signature or ARC-Seal keeps the whole message', () => {
  for (const field of ['DKIM-Signature', 'dkim-signature', 'ARC-Message-Signature', 'ARC-Seal']) {
    const raw = Buffer.from(`From: a@example.net\r\n${field}: v=1; x\r\n\r\n${body}`);
    assert.equal(authInput(raw), raw, field);
  }
});

test('a signature named only in the body does not count; no header end: unchanged', () => {
  const raw = Buffer.from(`From: a@example.net\r\n\r\nDKIM-Signature: quoted\r\n`);
  assert.equal(authInput(raw).length, 'From: a@example.net\r\n\r\n'.length);
  const headless = Buffer.from('From: a@example.net\r\n');
  assert.equal(authInput(headless), headless);
});
