// The record cache's rows keep their room across an expunge (record-rows.ts `without`): the
// login mix's mailbox takes one message and loses one at every iteration (issue 19), and its
// arrays were copied into larger ones at every append when an expunge left no room.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { FlagSets, Rows } from '../../src/store/sqlite/record-rows.js';
import type { MessageRecord } from '../../src/store/types.js';

function record(uid: number): MessageRecord {
  return {
    uid,
    messageId: uid,
    flags: uid % 2 ? ['\\Seen'] : [],
    modseq: uid,
    size: 100 + uid,
    internalDate: new Date(1_700_000_000_000 + uid),
    blobHash: uid.toString(16).padStart(64, '0'),
  } as MessageRecord;
}

test('an expunge keeps the room an append left, so the next append copies nothing', () => {
  let rows = new Rows(new FlagSets());
  for (let uid = 1; uid <= 30; uid++) rows.push(record(uid));
  rows.trim();
  assert.equal(rows.capacity, 30);
  rows.push(record(31)); // grows: 30 had no room
  const room = rows.capacity;
  assert.ok(room > 31);
  for (let uid = 32; uid < 60; uid++) {
    rows = rows.without(new Set([uid - 31]));
    assert.equal(rows.capacity, room, `after the expunge of ${uid - 31}`);
    const arrays = rows.uid;
    rows.push(record(uid));
    assert.equal(rows.uid, arrays, `the append of ${uid} kept the arrays`);
    assert.deepEqual(
      [...rows.uid.subarray(0, rows.n)],
      Array.from({ length: 31 }, (_, i) => uid - 30 + i),
    );
    assert.equal(rows.record(rows.n - 1).size, 100 + uid);
  }
});

test('rows that lose most of their messages let go of the room', () => {
  let rows = new Rows(new FlagSets());
  for (let uid = 1; uid <= 1000; uid++) rows.push(record(uid));
  rows = rows.without(new Set(Array.from({ length: 990 }, (_, i) => i + 1)));
  assert.equal(rows.n, 10);
  assert.ok(rows.capacity <= 2 * 10 + 16, String(rows.capacity));
  assert.deepEqual(
    [...rows.uid.subarray(0, 10)],
    Array.from({ length: 10 }, (_, i) => 991 + i),
  );
});
