// UpdateContexts (src/imap/contexts.ts) without a connection: what it keeps for a client that
// never reads, and how seq sets and `$` are frozen (RFC 5267 §4.3).
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { freezeKey, UpdateContexts } from '../../src/imap/contexts.js';
import type { ImapSession } from '../../src/imap/session.js';
import type { Selected } from '../../src/imap/state.js';
import { MailboxView } from '../../src/imap/view.js';
import type { SearchKey } from '../../src/imap/wire/search-keys.js';
import type { Mailbox } from '../../src/store/types.js';

function session(uids: number[]): ImapSession {
  const selected: Selected = {
    mailbox: { id: 7 } as Mailbox,
    view: new MailboxView(7, uids, 1),
    readOnly: false,
  };
  return { state: { kind: 'selected' }, selected, contexts: null } as unknown as ImapSession;
}

describe('UpdateContexts', () => {
  test('a client that never reads: pending changes stay one per message', () => {
    const s = session([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    const c = UpdateContexts.of(s, true)!;
    c.add({ tag: 'u', uid: true, key: { key: 'all' }, sort: null, result: [1, 2, 3], seenUid: 10 });
    for (let i = 0; i < 100_000; i++) {
      c.onEvent({ accountId: 1, mailboxId: 7, modseq: i, kind: 'flags', uids: [1 + (i % 10)] });
    }
    assert.equal(c.pending, 10);
    c.onEvent({ accountId: 1, mailboxId: 7, modseq: 1e6, kind: 'expunge', uids: [1, 2, 3] });
    assert.equal(c.pending, 10, '3 expunged, 7 flagged');
    // Events of other mailboxes are not kept.
    c.onEvent({ accountId: 1, mailboxId: 8, modseq: 1, kind: 'flags', uids: [99] });
    assert.equal(c.pending, 10);
  });

  test('contexts of a mailbox no longer selected are dropped; an empty set is released', () => {
    const s = session([1, 2]);
    const c = UpdateContexts.of(s, true)!;
    assert.equal(s.contexts, c);
    c.releaseIfEmpty(s);
    assert.equal(s.contexts, null);
    const d = UpdateContexts.of(s, true)!;
    (s as unknown as { selected: Selected }).selected = { ...d.selected };
    assert.equal(UpdateContexts.of(s, false), null);
  });

  test('freezeKey: sequence numbers and $ become the UIDs of the moment', () => {
    const view = new MailboxView(7, [3, 5, 8, 9], 1);
    const seq = freezeKey({ key: 'seq', set: { kind: 'ranges', ranges: [[2, '*']] } }, view, []);
    assert.deepEqual(seq, {
      key: 'uid',
      set: {
        kind: 'ranges',
        ranges: [
          [5, 5],
          [8, 9],
        ],
      },
    });
    const saved = freezeKey(
      { key: 'not', inner: { key: 'uid', set: { kind: 'saved' } } },
      view,
      [3, 4, 9],
    );
    assert.deepEqual(saved, {
      key: 'not',
      inner: {
        key: 'uid',
        set: {
          kind: 'ranges',
          ranges: [
            [3, 3],
            [9, 9],
          ],
        },
      },
    });
    const uidStar: SearchKey = {
      key: 'uid',
      set: {
        kind: 'ranges',
        ranges: [
          [4, '*'],
          [12, 14],
        ],
      },
    };
    assert.deepEqual(
      freezeKey(uidStar, view, []),
      {
        key: 'uid',
        set: {
          kind: 'ranges',
          ranges: [
            [4, 9],
            [12, 14],
          ],
        },
      },
      'the * of a UID set is the last UID of the moment; other ranges stay',
    );
    const uids: SearchKey = { key: 'uid', set: { kind: 'ranges', ranges: [[1, 100]] } };
    assert.equal(freezeKey(uids, view, []), uids);
  });
});
