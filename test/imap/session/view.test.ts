import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MailboxView } from '../../../src/imap/view.js';
import type { SeqRange } from '../../../src/imap/wire/sequence.js';
import type { ChangeEvent } from '../../../src/store/types.js';
import { UidList } from '../../../src/store/uid-list.js';

const ev = (kind: ChangeEvent['kind'], uids: number[], modseq = 10): ChangeEvent => ({
  accountId: 1,
  mailboxId: 7,
  modseq,
  kind,
  uids,
});

describe('MailboxView', () => {
  test('sequence numbers and UID sets, with * and 559:*', () => {
    const v = new MailboxView(7, [3, 5, 9, 12], 1);
    assert.equal(v.exists, 4);
    assert.equal(v.uidAt(2), 5);
    assert.equal(v.seqOf(9), 3);
    assert.equal(v.seqOf(4), 0);
    assert.deepEqual(v.uidsForSeqSet([[2, '*']]), [5, 9, 12]);
    assert.deepEqual(v.uidsForSeqSet([[3, 99]]), [9, 12]);
    assert.deepEqual(v.uidsForUidSet([[4, 10]]), [5, 9]);
    assert.deepEqual(v.uidsForUidSet([[559, '*']]), [12]);
    assert.deepEqual(new MailboxView(7, [], 1).uidsForUidSet([[1, '*']]), []);
  });

  test('expunges wait until allowed, then come highest first; EXISTS any time', () => {
    const v = new MailboxView(7, [1, 2, 3, 4], 1);
    v.onEvent(ev('expunge', [2, 4]));
    v.onEvent(ev('append', [5, 6]));
    v.onEvent(ev('append', [5])); // reported twice
    v.onEvent({ ...ev('append', [99]), mailboxId: 8 }); // another mailbox
    let u = v.takeUpdates({ allowExpunge: false });
    assert.deepEqual(u.expunged.seqs, []);
    assert.equal(u.exists, 6);
    assert.equal(v.isLive(2), false);
    assert.equal(v.seqOf(2), 2, 'numbering unchanged until EXPUNGE is sent');
    u = v.takeUpdates({ allowExpunge: true });
    assert.deepEqual(u.expunged.seqs, [4, 2]);
    assert.deepEqual(u.expunged.uids, [2, 4]);
    assert.deepEqual(v.allUids(), [1, 3, 5, 6]);
  });

  test('a message added and expunged before being announced is never mentioned', () => {
    const v = new MailboxView(7, [1], 1);
    v.onEvent(ev('append', [2]));
    v.onEvent(ev('expunge', [2]));
    const u = v.takeUpdates({ allowExpunge: true });
    assert.equal(u.exists, null);
    assert.deepEqual(u.expunged.uids, []);
    assert.equal(v.hasPending, false);
  });

  test('flag changes: own STORE acknowledged, later foreign change kept', () => {
    const v = new MailboxView(7, [1, 2], 1);
    v.onEvent(ev('flags', [1, 2], 5));
    v.ackFlags([{ uid: 1, modseq: 5 }]);
    v.onEvent(ev('flags', [2], 8));
    v.ackFlags([{ uid: 2, modseq: 5 }]);
    assert.deepEqual(v.takeUpdates({ allowExpunge: true }).flags, [{ uid: 2, modseq: 8 }]);
    v.onEvent(ev('mailbox-delete', []));
    assert.equal(v.gone, true);
  });

  test('property: after any events and a full take, the view equals the model', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(
            fc.constant<'append'>('append'),
            fc.record({ expunge: fc.integer({ min: 1, max: 40 }) }),
            fc.constant<'take'>('take'),
          ),
          { maxLength: 60 },
        ),
        (ops) => {
          const v = new MailboxView(7, [1, 2, 3], 1);
          const model = new Set([1, 2, 3]);
          let next = 4;
          for (const op of ops) {
            if (op === 'append') {
              model.add(next);
              v.onEvent(ev('append', [next++]));
            } else if (op === 'take') {
              v.takeUpdates({ allowExpunge: false });
            } else if (model.has(op.expunge)) {
              model.delete(op.expunge);
              v.onEvent(ev('expunge', [op.expunge]));
            }
          }
          const before = v.allUids();
          const u = v.takeUpdates({ allowExpunge: true });
          // Each announced sequence number is valid at the time it is sent.
          const replay = [...before];
          for (const seq of u.expunged.seqs) {
            assert.ok(seq >= 1 && seq <= replay.length);
            replay.splice(seq - 1, 1);
          }
          assert.deepEqual(
            v.allUids(),
            [...model].sort((a, b) => a - b),
          );
        },
      ),
    );
  });

  test('property: a view of a UID range (SELECT of a large mailbox) answers as one of its array', () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 30 }),
        fc.integer({ min: 1, max: 40 }),
        fc.uniqueArray(fc.nat(39)),
        fc.array(
          fc.oneof(
            fc.record({ append: fc.integer({ min: 1, max: 3 }) }),
            fc.record({ expunge: fc.integer({ min: 0, max: 80 }) }),
            fc.record({ flags: fc.integer({ min: 0, max: 80 }) }),
            fc.record({ take: fc.boolean() }),
          ),
          { maxLength: 40 },
        ),
        (lo, span, goneRaw, ops) => {
          const hi = lo + span - 1;
          const gone = goneRaw.map((g) => lo + (g % span)).sort((a, b) => a - b);
          const gone1 = [...new Set(gone)];
          const arr: number[] = [];
          for (let u = lo; u <= hi; u++) if (!gone1.includes(u)) arr.push(u);
          const a = new MailboxView(7, UidList.range(lo, hi, gone1), 1);
          const b = new MailboxView(7, arr, 1);
          let next = hi + 1;
          let modseq = 2;
          const check = () => {
            assert.equal(a.exists, b.exists);
            assert.deepEqual(a.allUids(), b.allUids());
            for (let seq = 0; seq <= b.exists + 1; seq++) assert.equal(a.uidAt(seq), b.uidAt(seq));
            for (let u = 0; u <= next + 1; u++) {
              assert.equal(a.seqOf(u), b.seqOf(u));
              assert.equal(a.isLive(u), b.isLive(u));
            }
            assert.deepEqual(a.uidsForSeqSet([[2, '*']]), b.uidsForSeqSet([[2, '*']]));
            assert.deepEqual(
              a.uidsForUidSet([
                [lo + 1, lo + 3],
                [hi, '*'],
                [1, 2],
              ]),
              b.uidsForUidSet([
                [lo + 1, lo + 3],
                [hi, '*'],
                [1, 2],
              ]),
            );
            assert.deepEqual(
              a.uidsForUidSet([[next + 5, '*']]),
              b.uidsForUidSet([[next + 5, '*']]),
            );
            // seqRuns (FETCH from the columns): the runs name the very UIDs of the set.
            const sets: SeqRange[][] = [
              [[1, '*']],
              [
                [lo + 1, lo + 3],
                [hi, '*'],
                [1, 2],
              ],
              [[next + 5, '*']],
              [
                [2, 4],
                [lo + span - 2, next + 1],
                ['*', '*'],
              ],
            ];
            for (const v of [a, b]) {
              for (const set of sets) {
                for (const byUid of [true, false]) {
                  const named: number[] = [];
                  for (const [first, last] of v.seqRuns(set, byUid))
                    for (let q = first; q <= last; q++) named.push(v.uidAt(q)!);
                  assert.deepEqual(named, byUid ? v.uidsForUidSet(set) : v.uidsForSeqSet(set));
                }
              }
            }
          };
          check();
          for (const op of ops) {
            let e: ChangeEvent | null = null;
            if ('append' in op) {
              const uids: number[] = [];
              for (let k = 0; k < op.append; k++) uids.push(next++);
              e = ev('append', uids, modseq++);
            } else if ('expunge' in op) e = ev('expunge', [op.expunge], modseq++);
            else if ('flags' in op) e = ev('flags', [op.flags], modseq++);
            if (e) {
              a.onEvent(e);
              b.onEvent(e);
            } else if ('take' in op) {
              const opts = { allowExpunge: op.take };
              assert.deepEqual(a.takeUpdates(opts), b.takeUpdates(opts));
            }
            check();
          }
        },
      ),
      { numRuns: 300 },
    );
  });
});
