// THREAD=REFERENCES (RFC 5256), step by step: each row is a mailbox (in sequence order) and
// the exact THREAD response. Dates are minutes; `seq` differs from `uid` where the tie-break
// by sequence number is what the row checks.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import {
  type ThreadInput,
  threadReferences,
  threadResponse,
} from '../../../src/imap/search/thread.js';

interface Row {
  name: string;
  msgs: [seq: number, subject: string, date: number, id: string | null, refs?: string[]][];
  want: string;
}

const rows: Row[] = [
  {
    // The issue's example: 3's link to 2 would make a loop (2 already hangs under 3 through
    // 2's own References), so 1.B leaves 3 without a parent, after breaking the link 1.A of
    // message 2 made from <a> to <c>.
    name: '1.B: the old parent link is broken first, and a looping link is not made',
    msgs: [
      [1, 'a', 17 * 60 + 6, '<a>'],
      [2, 'b', 16 * 60 + 30, '<b>', ['<a>', '<c>']],
      [3, 'c', 16 * 60 + 6, '<c>', ['<b>']],
    ],
    want: 'THREAD (3 2)(1)',
  },
  {
    name: '1.B: a link made by 1.A from a truncated References is replaced by the last reference',
    msgs: [
      [1, 'x', 1, '<m3>', ['<m1>', '<m2>']],
      [2, 'y', 2, '<m2>', ['<m0>']],
      [3, 'z', 3, '<m1>'],
      [4, 'w', 4, '<m0>'],
    ],
    want: 'THREAD (3)(4 2 1)',
  },
  {
    name: '1.A: an existing parent is kept (the reply names a different grandparent)',
    msgs: [
      [1, 'x', 1, '<1>'],
      [2, 'y', 2, '<2>', ['<1>']],
      [3, 'z', 3, '<3>', ['<other>', '<2>']],
    ],
    want: 'THREAD (1 2 3)',
  },
  {
    name: '1.A: no loop within one References line; 1.B: no references, no parent',
    msgs: [
      [1, 'x', 1, '<1>'],
      [2, 'y', 2, '<2>', ['<1>', '<3>', '<1>']],
      [3, 'z', 3, '<3>'],
    ],
    // 2's References made 1 the parent of 3; 3 has no references, so 1.B takes it away.
    want: 'THREAD (1 2)(3)',
  },
  {
    name: 'a message referring to itself has no parent',
    msgs: [[1, 'x', 1, '<1>', ['<1>']]],
    want: 'THREAD (1)',
  },
  {
    name: 'two messages naming each other: the later one is left a root',
    msgs: [
      [1, 'x', 1, '<1>', ['<2>']],
      [2, 'y', 2, '<2>', ['<1>']],
    ],
    want: 'THREAD (2 1)',
  },
  {
    name: 'In-Reply-To stands in for References (the caller passes its first id)',
    msgs: [
      [1, 'x', 1, '<1>'],
      [2, 'y', 2, '<2>', ['<1>']],
    ],
    want: 'THREAD (1 2)',
  },
  {
    name: 'missing and duplicate Message-IDs get unique ids',
    msgs: [
      [1, 'x', 1, null],
      [2, 'y', 2, '<d>'],
      [3, 'z', 3, '<d>'],
      [4, 'w', 4, '<4>', ['<d>']],
    ],
    // <d> is the first message holding it (2); the duplicate (3) stands alone.
    want: 'THREAD (1)(2 4)(3)',
  },
  {
    name: '4: a dummy at the root with one child is replaced by the child',
    msgs: [[1, 'x', 1, '<1>', ['<gone>']]],
    want: 'THREAD (1)',
  },
  {
    name: '4: a dummy at the root with several children stays',
    msgs: [
      [1, 'x', 2, '<1>', ['<gone>']],
      [2, 'y', 1, '<2>', ['<gone>']],
    ],
    want: 'THREAD ((2)(1))',
  },
  {
    name: '4: a dummy below the root gives its children to its parent',
    msgs: [
      [1, 'x', 1, '<r>'],
      [2, 'y', 3, '<c1>', ['<r>', '<gone>']],
      [3, 'z', 2, '<c2>', ['<r>', '<gone>']],
    ],
    want: 'THREAD (1 (3)(2))',
  },
  {
    name: '4: chains of dummies vanish',
    msgs: [[1, 'x', 1, '<1>', ['<g1>', '<g2>', '<g3>']]],
    want: 'THREAD (1)',
  },
  {
    name: '5: a reply without References joins the original by subject',
    msgs: [
      [1, 'Lunch', 1, '<1>'],
      [2, 'Re: lunch', 2, '<2>'],
    ],
    want: 'THREAD (1 2)',
  },
  {
    name: '5: the original replaces a reply in the subject table, the reply goes under it',
    msgs: [
      [1, 'Re: Lunch', 1, '<1>'],
      [2, 'Lunch', 2, '<2>'],
    ],
    want: 'THREAD (2 1)',
  },
  {
    name: '5: neither a reply: both under a new dummy',
    msgs: [
      [1, 'Lunch', 1, '<1>'],
      [2, 'Lunch', 2, '<2>'],
    ],
    want: 'THREAD ((1)(2))',
  },
  {
    name: '5: both replies or forwards: both under a new dummy',
    msgs: [
      [1, 'Re: Lunch', 1, '<1>'],
      [2, 'Fwd: Lunch', 2, '<2>'],
      [3, '[fwd: Lunch]', 3, '<3>'],
    ],
    want: 'THREAD ((1)(2)(3))',
  },
  {
    name: '5: [fwd: ...] and (fwd) count as forwards',
    msgs: [
      [1, 'Lunch', 1, '<1>'],
      [2, '[fwd: Lunch]', 2, '<2>'],
      [3, 'Lunch (fwd)', 3, '<3>'],
    ],
    want: 'THREAD (1 (2)(3))',
  },
  {
    name: '5: a message joins a dummy of the same subject as its sibling',
    msgs: [
      [1, 'Lunch', 1, '<1>', ['<gone>']],
      [2, 'Re: Lunch', 2, '<2>', ['<gone>']],
      [3, 'Lunch', 3, '<3>'],
    ],
    want: 'THREAD ((1)(2)(3))',
  },
  {
    name: '5: two dummies of the same subject become one',
    msgs: [
      [1, 'Lunch', 1, '<1>', ['<g1>']],
      [2, 'Re: Lunch', 3, '<2>', ['<g1>']],
      [3, 'Re: Lunch', 2, '<3>', ['<g2>']],
      [4, 'Re: Lunch', 4, '<4>', ['<g2>']],
    ],
    want: 'THREAD ((1)(3)(2)(4))',
  },
  {
    name: '5: empty base subjects are never merged',
    msgs: [
      [1, '', 1, '<1>'],
      [2, 'Re:', 2, '<2>'],
    ],
    want: 'THREAD (1)(2)',
  },
  {
    name: '5: subjects compare case-insensitively, [blobs] and Re[2]: removed',
    msgs: [
      [1, '[list] HELLO', 1, '<1>'],
      [2, 'Re[2]: hello', 2, '<2>'],
    ],
    want: 'THREAD (1 2)',
  },
  {
    name: '5: only roots merge; a reply deeper in a thread stays where it is',
    msgs: [
      [1, 'Lunch', 1, '<1>'],
      [2, 'Other', 2, '<2>'],
      [3, 'Re: Lunch', 3, '<3>', ['<2>']],
    ],
    want: 'THREAD (1)(2 3)',
  },
  {
    name: '6: siblings by sent date, children sorted before their parents',
    msgs: [
      [1, 'x', 10, '<1>'],
      [2, 'y', 40, '<2>', ['<1>']],
      [3, 'y', 20, '<3>', ['<1>']],
      [4, 'y', 30, '<4>', ['<1>', '<2>']],
      [5, 'y', 5, '<5>', ['<1>', '<2>']],
    ],
    want: 'THREAD (1 (3)(2 (5)(4)))',
  },
  {
    name: '6: a dummy sorts by its first child (after that child set is sorted)',
    msgs: [
      [1, 'a', 5, '<1>'],
      [2, 'b', 9, '<2>', ['<gone>']],
      [3, 'c', 3, '<3>', ['<gone>']],
    ],
    want: 'THREAD ((3)(2))(1)',
  },
];

const toInputs = (r: Row): ThreadInput[] =>
  r.msgs.map(([seq, subject, date, messageId, references = []]) => ({
    uid: seq,
    seq,
    date: date * 60_000,
    subject,
    messageId,
    references,
  }));

describe('THREAD=REFERENCES step by step (RFC 5256)', () => {
  for (const r of rows) {
    test(r.name, () => assert.equal(threadResponse(threadReferences(toInputs(r))), r.want));
  }

  test('6: identical dates fall back to the sequence number, not the UID', () => {
    const msgs: ThreadInput[] = [
      { uid: 30, seq: 1, date: 0, subject: 'x', messageId: '<p>', references: [] },
      { uid: 10, seq: 2, date: 7, subject: 'y', messageId: '<a>', references: ['<p>'] },
      { uid: 20, seq: 3, date: 7, subject: 'z', messageId: '<b>', references: ['<p>'] },
      { uid: 5, seq: 4, date: 0, subject: 'w', messageId: '<q>', references: [] },
    ];
    assert.equal(threadResponse(threadReferences(msgs)), 'THREAD (30 (10)(20))(5)');
  });

  test('the result does not depend on a long chain (no recursion limit in linking)', () => {
    const n = 5000;
    const msgs: ThreadInput[] = [];
    for (let i = 1; i <= n; i++) {
      const refs = i === 1 ? [] : [`<${i - 1}>`];
      msgs.push({ uid: i, seq: i, date: i, subject: 's', messageId: `<${i}>`, references: refs });
    }
    const text = threadResponse(threadReferences(msgs));
    assert.ok(text.startsWith('THREAD (1 2 3 '));
    assert.ok(text.endsWith(` ${n})`));
  });
});
