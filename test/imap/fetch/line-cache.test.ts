// The header FETCH lines kept by message (fetch/line-cache.ts): a line is given back only for
// the same writer, mailbox, UIDVALIDITY, UID, flags and modseq; the bytes held stay bounded.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { HeaderLine } from '../../../src/imap/fetch/header-line.js';
import { FetchLineCache } from '../../../src/imap/fetch/line-cache.js';

const writer = (): HeaderLine => () => null;
const SEEN = ['\\Seen'];

test('a kept line is given for the same flags and modseq only', () => {
  const cache = new FetchLineCache(1 << 20);
  const w = writer();
  const lines = cache.mailbox(w, 1, 100);
  const body = Buffer.from('FLAGS (\\Seen))\r\n');
  lines.put(7, SEEN, 5, body, 10);
  assert.equal(cache.mailbox(w, 1, 100).get(7, SEEN, 5), body);
  // The same flags in another array (a record of another list): the same line.
  assert.equal(lines.get(7, ['\\Seen'], 5), body);
  assert.equal(lines.get(7, [], 5), undefined, 'flags changed');
  assert.equal(lines.get(7, ['\\Seen', '\\Recent'], 5), undefined, '\\Recent of this session');
  assert.equal(lines.get(7, SEEN, 6), undefined, 'modseq changed');
  assert.equal(lines.get(8, SEEN, 5), undefined, 'another UID');
  assert.equal(cache.mailbox(writer(), 1, 100).get(7, SEEN, 5), undefined, 'another writer');
  assert.equal(cache.mailbox(w, 2, 100).get(7, SEEN, 5), undefined, 'another mailbox');
});

test('a mailbox id under another UIDVALIDITY (deleted and made again) keeps none of the old lines', () => {
  const cache = new FetchLineCache(1 << 20);
  const w = writer();
  cache.mailbox(w, 1, 100).put(7, SEEN, 5, Buffer.from('x\r\n'), 10);
  assert.equal(cache.mailbox(w, 1, 101).get(7, SEEN, 5), undefined);
  assert.equal(cache.mailbox(w, 1, 100).get(7, SEEN, 5), undefined, 'dropped, not kept aside');
});

test('the bytes held stay under the bound; a mailbox that was taken before the start-over keeps nothing', () => {
  const max = 64 * 1024;
  const cache = new FetchLineCache(max);
  const line = Buffer.alloc(1000, 0x61);
  const ws = [writer(), writer(), writer()];
  let taken = cache.mailbox(ws[0]!, 1, 1);
  for (let i = 0; i < 1000; i++) {
    const lines = cache.mailbox(ws[i % 3]!, i % 7, 1);
    lines.put(i, SEEN, 1, line, 10_000);
    assert.ok(cache.size <= max, `${cache.size}`);
    if (i === 10) taken = lines;
  }
  // Started over since `taken` was made: what it is given is not kept.
  taken.put(5000, SEEN, 1, line, 10_000);
  assert.equal(taken.get(5000, SEEN, 1), undefined);
  // Writers with no lines count too: many item sets do not grow it without bound.
  for (let i = 0; i < 10_000; i++) cache.mailbox(writer(), 1, 1);
  assert.ok(cache.size <= max, `${cache.size}`);
});

test("a mailbox's lines of expunged messages go once they are more than twice the messages", () => {
  const cache = new FetchLineCache(1 << 20);
  const w = writer();
  const lines = cache.mailbox(w, 1, 1);
  const line = Buffer.from('x\r\n');
  // 30 messages, each login's APPEND and EXPUNGE a new UID: bounded by 2 * 30 + 64 (+1).
  for (let uid = 1; uid <= 1000; uid++) lines.put(uid, SEEN, 1, line, 30);
  assert.ok(lines.byUid.size <= 2 * 30 + 65, `${lines.byUid.size}`);
  assert.equal(lines.get(1000, SEEN, 1), line);
});
