import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Maildrop } from '../../src/pop3/maildrop.js';

const drop = () =>
  new Maildrop(7, 1234, [
    { uid: 3, size: 100, blobHash: 'a' },
    { uid: 5, size: 200, blobHash: 'b' },
    { uid: 9, size: 300, blobHash: 'c' },
  ]);

describe('Maildrop', () => {
  test('numbers are fixed; deleted messages leave STAT and the listing but keep their number', () => {
    const d = drop();
    assert.deepEqual(d.stat(), { count: 3, size: 600 });
    d.markDeleted(2);
    assert.deepEqual(d.stat(), { count: 2, size: 400 });
    assert.deepEqual(d.lookup(2), { ok: false, reason: 'deleted' });
    assert.deepEqual(
      [...d.live()].map(([n, m]) => [n, m.uid]),
      [
        [1, 3],
        [3, 9],
      ],
    );
    assert.equal(d.count, 3);
    assert.deepEqual(d.lookup(0), { ok: false, reason: 'no-such-message' });
    assert.deepEqual(d.lookup(4), { ok: false, reason: 'no-such-message' });
  });

  test('deletedUids are ascending store UIDs; RSET clears them', () => {
    const d = drop();
    d.markDeleted(3);
    d.markDeleted(1);
    assert.deepEqual(d.deletedUids(), [3, 9]);
    d.reset();
    assert.deepEqual(d.deletedUids(), []);
    assert.deepEqual(d.stat(), { count: 3, size: 600 });
  });

  test('unique ids are UIDVALIDITY.UID, within RFC 1939 §7 syntax', () => {
    const d = drop();
    const found = d.lookup(2);
    assert.ok(found.ok);
    const id = d.uniqueId(found.message);
    assert.equal(id, '1234.5');
    assert.match(id, /^[\x21-\x7e]{1,70}$/);
  });
});
