import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { MailboxView } from '../../../src/imap/view.js';
import type { ChangeEvent } from '../../../src/store/types.js';

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
});
