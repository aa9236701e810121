// ReadAhead (fetch/read-ahead.ts): the bytes of a FETCH's next messages in one store call,
// chunks bounded in count and bytes, what a chunk lacks read alone, and the per-message read
// when the store cannot read many.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  READ_AHEAD_BYTES,
  READ_AHEAD_COUNT,
  ReadAhead,
} from '../../../src/imap/fetch/read-ahead.js';
import { needsBytes } from '../../../src/imap/fetch/render.js';
import { parseFetchItems } from '../../../src/imap/wire/fetch-items.js';
import { argsFrom } from '../../../src/imap/wire/parser.js';
import type { BlobStore } from '../../../src/store/types.js';

const bytesOf = (hash: string) => Buffer.from(`bytes of ${hash}`);

/** A store whose readMessages leaves out the hashes in `lacks`; it logs every call. */
function fakeStore(many: boolean, lacks: ReadonlySet<string> = new Set()) {
  const calls: string[] = [];
  const store: BlobStore = {
    async readMessage(hash) {
      calls.push(`one ${hash}`);
      return bytesOf(hash);
    },
  };
  if (many) {
    store.readMessages = async (rows) => {
      calls.push(`many ${rows.map((r) => r.blobHash).join(',')}`);
      return new Map(
        rows.filter((r) => !lacks.has(r.blobHash)).map((r) => [r.blobHash, bytesOf(r.blobHash)]),
      );
    };
  }
  return { store, calls };
}

const rowsOf = (sizes: number[]) => sizes.map((size, i) => ({ blobHash: `h${i}`, size }));

test('chunks of at most READ_AHEAD_COUNT messages, read in order, one call each', async () => {
  const rows = rowsOf(Array.from({ length: READ_AHEAD_COUNT * 2 + 3 }, () => 100));
  const { store, calls } = fakeStore(true);
  const ahead = new ReadAhead(store, rows);
  for (let i = 0; i < rows.length; i++) assert.deepEqual(await ahead.read(i), bytesOf(`h${i}`));
  assert.deepEqual(
    calls.map((c) => c.split(',').length),
    [READ_AHEAD_COUNT, READ_AHEAD_COUNT, 3],
  );
  assert.ok(calls.every((c) => c.startsWith('many ')));
});

test('a chunk ends before the message that would take it past READ_AHEAD_BYTES', async () => {
  const third = READ_AHEAD_BYTES / 3;
  // 0+1+2 fit exactly; 3 starts the next chunk; 4 is larger than the bound: a chunk of its own.
  const rows = rowsOf([third, third, third, 10, READ_AHEAD_BYTES + 1, 10]);
  const { store, calls } = fakeStore(true);
  const ahead = new ReadAhead(store, rows);
  for (let i = 0; i < rows.length; i++) await ahead.read(i);
  assert.deepEqual(calls, ['many h0,h1,h2', 'many h3', 'many h4', 'many h5']);
});

test('what the chunk lacks (large, gone) is read alone', async () => {
  const rows = rowsOf([10, 10, 10]);
  const { store, calls } = fakeStore(true, new Set(['h1']));
  const ahead = new ReadAhead(store, rows);
  for (let i = 0; i < rows.length; i++) assert.deepEqual(await ahead.read(i), bytesOf(`h${i}`));
  assert.deepEqual(calls, ['many h0,h1,h2', 'one h1']);
});

test('a store without readMessages is asked for each message', async () => {
  const rows = rowsOf([10, 10]);
  const { store, calls } = fakeStore(false);
  const ahead = new ReadAhead(store, rows);
  for (let i = 0; i < rows.length; i++) await ahead.read(i);
  assert.deepEqual(calls, ['one h0', 'one h1']);
});

test('needsBytes: sections, RFC822 names and BINARY read the bytes; rows, index, PREVIEW not', () => {
  const cases: Array<[string, boolean]> = [
    ['(UID FLAGS)', false],
    ['(ENVELOPE BODYSTRUCTURE)', false],
    ['(PREVIEW)', false],
    ['(UID BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])', true],
    ['(BODY[])', true],
    ['(BODY[1.MIME])', true],
    ['(RFC822.HEADER)', true],
    ['(RFC822)', true],
    ['(RFC822.TEXT)', true],
    ['(RFC822.SIZE)', false],
    ['(BINARY.PEEK[1])', true],
    ['(BINARY.SIZE[1])', true],
  ];
  for (const [text, want] of cases)
    assert.equal(needsBytes(parseFetchItems(argsFrom(text))), want, text);
});

test('headersOnly: the chunk from readHeaders where the store has it, else readMessages', async () => {
  const rows = rowsOf([10, 10]);
  const { store, calls } = fakeStore(true);
  store.readHeaders = async (rs) => {
    calls.push(`headers ${rs.map((r) => r.blobHash).join(',')}`);
    return rs.map((r) => bytesOf(r.blobHash));
  };
  for (let i = 0; i < rows.length; i++) await new ReadAhead(store, rows, true).read(i);
  for (let i = 0; i < rows.length; i++) await new ReadAhead(store, rows, false).read(i);
  assert.deepEqual(calls, ['headers h0,h1', 'headers h1', 'many h0,h1', 'many h1']);
  const plain = fakeStore(true);
  await new ReadAhead(plain.store, rows, true).read(0);
  assert.deepEqual(plain.calls, ['many h0,h1']);
});
