// ESORT, CONTEXT=SEARCH / CONTEXT=SORT (RFC 5267) and PARTIAL (RFC 9394): exact responses,
// and live results across two sessions (session B changes the mailbox, session A is told).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { MAX_UPDATE_CONTEXTS } from '../../../src/imap/contexts.js';
import { append, type ImapTestEnv, last, message, type RawClient, startImap } from './client.js';

/** Generous: the machine running the tests may be loaded (the server answers in ms). */
const WAIT = 30_000;

// Arrival order m1..m5; by subject: alpha(2) bravo(4) charlie(5) delta(1) echo(3).
const SUBJECTS = ['delta', 'alpha', 'echo', 'bravo', 'charlie'];

describe('IMAP ESORT, CONTEXT and PARTIAL', () => {
  let env: ImapTestEnv;
  let box = 0;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  /** Two sessions with a fresh mailbox of the five SUBJECTS selected. */
  async function pair(): Promise<[RawClient, RawClient, string]> {
    const a = await env.login();
    const b = await env.login();
    const name = `C${++box}`;
    await a.cmd('c', `CREATE ${name}`, WAIT);
    for (const s of SUBJECTS) await append(a, name, message(s));
    // b selects first and so takes the messages' \Recent (RFC 3501 §2.3.2): a sees plain flags.
    await b.cmd('s', `SELECT ${name}`, WAIT);
    await a.cmd('s', `SELECT ${name}`, WAIT);
    return [a, b, name];
  }

  /** The untagged lines of a command, asserting it ended in OK. */
  async function untagged(c: RawClient, tag: string, text: string): Promise<string[]> {
    const r = await c.cmd(tag, text, WAIT);
    assert.match(last(r), new RegExp(`^${tag} OK`), r.join('\n'));
    return r.slice(0, -1);
  }

  test('CAPABILITY lists ESORT, CONTEXT=SEARCH, CONTEXT=SORT, PARTIAL', async () => {
    const a = await env.login();
    const caps = (await untagged(a, 'c', 'CAPABILITY'))[0]!.split(' ');
    for (const c of ['ESORT', 'CONTEXT=SEARCH', 'CONTEXT=SORT', 'PARTIAL']) {
      assert.ok(caps.includes(c), c);
    }
    a.close();
  });

  test('ESORT (RFC 5267 §3): ESEARCH in sort order, ranges only ascending', async () => {
    const [a, b] = await pair();
    const cases: Array<[string, string]> = [
      ['SORT (SUBJECT) UTF-8 ALL', '* SORT 2 4 5 1 3'],
      ['SORT RETURN () (SUBJECT) UTF-8 ALL', '* ESEARCH (TAG "t") ALL 2,4:5,1,3'],
      ['UID SORT RETURN () (REVERSE SUBJECT) UTF-8 ALL', '* ESEARCH (TAG "t") UID ALL 3,1,5,4,2'],
      [
        'SORT RETURN (MIN MAX COUNT) (SUBJECT) UTF-8 ALL',
        '* ESEARCH (TAG "t") MIN 2 MAX 3 COUNT 5',
      ],
      ['SORT RETURN (ALL) (SUBJECT) UTF-8 NOT ALL', '* ESEARCH (TAG "t")'],
      ['SORT RETURN (COUNT) (SUBJECT) UTF-8 NOT ALL', '* ESEARCH (TAG "t") COUNT 0'],
      ['SORT RETURN (CONTEXT) (SUBJECT) UTF-8 2:3', '* ESEARCH (TAG "t") ALL 2:3'],
      ['SORT RETURN (PARTIAL 2:4) (SUBJECT) UTF-8 ALL', '* ESEARCH (TAG "t") PARTIAL (2:4 4:5,1)'],
      [
        'SORT RETURN (PARTIAL -1:-2) (SUBJECT) UTF-8 ALL',
        '* ESEARCH (TAG "t") PARTIAL (-1:-2 1,3)',
      ],
    ];
    for (const [cmd, want] of cases) {
      assert.deepEqual(await untagged(a, 't', cmd), [want], cmd);
    }
    for (const bad of [
      'SORT RETURN (FOO) (SUBJECT) UTF-8 ALL',
      'SORT RETURN (SUBJECT) UTF-8 ALL',
    ]) {
      assert.match(last(await a.cmd('x', bad, WAIT)), /^x BAD/, bad);
    }
    a.close();
    b.close();
  });

  test('PARTIAL (RFC 9394 §3.1, §3.2): ranges from either end, NIL, BAD syntax', async () => {
    const [a, b] = await pair();
    const cases: Array<[string, string]> = [
      ['UID SEARCH RETURN (PARTIAL 2:3) ALL', '* ESEARCH (TAG "p") UID PARTIAL (2:3 2:3)'],
      ['SEARCH RETURN (PARTIAL 3:2) ALL', '* ESEARCH (TAG "p") PARTIAL (2:3 2:3)'],
      ['SEARCH RETURN (PARTIAL -2:-1) ALL', '* ESEARCH (TAG "p") PARTIAL (-1:-2 4:5)'],
      ['SEARCH RETURN (PARTIAL -1:-2) ALL', '* ESEARCH (TAG "p") PARTIAL (-1:-2 4:5)'],
      ['SEARCH RETURN (PARTIAL 4:100) ALL', '* ESEARCH (TAG "p") PARTIAL (4:100 4:5)'],
      ['SEARCH RETURN (PARTIAL 6:10) ALL', '* ESEARCH (TAG "p") PARTIAL (6:10 NIL)'],
      ['SEARCH RETURN (PARTIAL -6:-9) ALL', '* ESEARCH (TAG "p") PARTIAL (-6:-9 NIL)'],
      // MIN, MAX and COUNT describe the whole result (RFC 9394 §3.2).
      [
        'SEARCH RETURN (MIN MAX COUNT PARTIAL 2:2) ALL',
        '* ESEARCH (TAG "p") MIN 1 MAX 5 PARTIAL (2:2 2) COUNT 5',
      ],
      ['SEARCH RETURN (PARTIAL 1:2) 2,4,5', '* ESEARCH (TAG "p") PARTIAL (1:2 2,4)'],
    ];
    for (const [cmd, want] of cases) {
      assert.deepEqual(await untagged(a, 'p', cmd), [want], cmd);
    }
    for (const bad of [
      'SEARCH RETURN (PARTIAL 1:2 ALL) ALL', // RFC 5267 §4.4: not both
      'SEARCH RETURN (ALL PARTIAL 1:2) ALL',
      'SEARCH RETURN (PARTIAL 1:2 PARTIAL 3:4) ALL',
      'SEARCH RETURN (PARTIAL 0:2) ALL',
      'SEARCH RETURN (PARTIAL 1:*) ALL',
      'SEARCH RETURN (PARTIAL -1:2) ALL',
      'SEARCH RETURN (PARTIAL) ALL',
      'SEARCH RETURN (PARTIAL 5) ALL',
    ]) {
      assert.match(last(await a.cmd('x', bad, WAIT)), /^x BAD/, bad);
    }
    // RFC 9394 §3.2: SAVE with PARTIAL saves what PARTIAL returned (with MIN / MAX)...
    await untagged(a, 's1', 'SEARCH RETURN (SAVE PARTIAL 2:3) ALL');
    assert.deepEqual(await untagged(a, 'f1', 'UID SEARCH $'), ['* SEARCH 2 3']);
    await untagged(a, 's2', 'SEARCH RETURN (SAVE MIN PARTIAL -1:-1) ALL');
    assert.deepEqual(await untagged(a, 'f2', 'UID SEARCH $'), ['* SEARCH 1 5']);
    // ...and with COUNT, everything found.
    await untagged(a, 's3', 'SEARCH RETURN (SAVE COUNT PARTIAL 1:1) ALL');
    assert.deepEqual(await untagged(a, 'f3', 'UID SEARCH $'), ['* SEARCH 1 2 3 4 5']);
    // RFC 5267 §4.2: CONTEXT is a hint; alone it is ALL.
    assert.deepEqual(await untagged(a, 'h', 'SEARCH RETURN (CONTEXT COUNT) ALL'), [
      '* ESEARCH (TAG "h") COUNT 5',
    ]);
    assert.deepEqual(await untagged(a, 'h', 'SEARCH RETURN (CONTEXT) 2:3'), [
      '* ESEARCH (TAG "h") ALL 2:3',
    ]);
    a.close();
    b.close();
  });

  test('UID FETCH (PARTIAL) (RFC 9394 §3.3, §3.4): a page of what the command returns', async () => {
    const [a, b] = await pair();
    const cases: Array<[string, string[]]> = [
      [
        'UID FETCH 1:* (FLAGS) (PARTIAL -1:-2)',
        ['* 4 FETCH (UID 4 FLAGS ())', '* 5 FETCH (UID 5 FLAGS ())'],
      ],
      [
        'UID FETCH 2:* (FLAGS) (PARTIAL 2:1)',
        ['* 2 FETCH (UID 2 FLAGS ())', '* 3 FETCH (UID 3 FLAGS ())'],
      ],
      ['UID FETCH 1,3,5 (FLAGS) (PARTIAL 2:2)', ['* 3 FETCH (UID 3 FLAGS ())']],
      ['UID FETCH 1:* (FLAGS) (PARTIAL 6:9)', []],
    ];
    for (const [cmd, want] of cases) assert.deepEqual(await untagged(a, 'p', cmd), want, cmd);
    assert.match(last(await a.cmd('x', 'FETCH 1:* (FLAGS) (PARTIAL 1:2)', WAIT)), /^x BAD/);
    assert.match(last(await a.cmd('x', 'UID FETCH 1:* (FLAGS) (PARTIAL 1:*)', WAIT)), /^x BAD/);
    // With CHANGEDSINCE the positions count the changed messages.
    // (The first FETCH of MODSEQ enables CONDSTORE: an OK [HIGHESTMODSEQ] comes first.)
    const modseqs = (await untagged(a, 'm', 'UID FETCH 1:* (MODSEQ)'))
      .slice(1)
      .map((l) => Number(/MODSEQ \((\d+)\)/.exec(l)?.[1]));
    await untagged(b, 'f', 'UID STORE 2,4 +FLAGS.SILENT (\\Flagged)');
    await untagged(a, 'n', 'NOOP');
    const since = Math.max(...modseqs);
    const r = await untagged(a, 'c', `UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${since} PARTIAL -1:-1)`);
    assert.equal(r.length, 1, r.join('\n'));
    assert.match(r[0]!, /^\* 4 FETCH \(UID 4 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/);
    a.close();
    b.close();
  });

  test('SEARCH RETURN (UPDATE): another session adds, flags, unflags and expunges', async () => {
    const [a, b, name] = await pair();
    // RFC 5267 §4.3: UPDATE alone returns no result data; changes come as ADDTO / REMOVEFROM.
    assert.deepEqual(await untagged(a, 'u1', 'SEARCH RETURN (UPDATE) FLAGGED'), [
      '* ESEARCH (TAG "u1")',
    ]);
    await untagged(b, 'f', 'STORE 2,4 +FLAGS (\\Flagged)');
    assert.deepEqual(await untagged(a, 'n1', 'NOOP'), [
      '* 2 FETCH (UID 2 FLAGS (\\Flagged))',
      '* 4 FETCH (UID 4 FLAGS (\\Flagged))',
      '* ESEARCH (TAG "u1") ADDTO (0 2,4)',
    ]);
    // §4.3.3: the ADDTO of a new message follows its EXISTS.
    await append(b, name, message('new'), '\\Flagged');
    await append(b, name, message('other'));
    assert.deepEqual(await untagged(a, 'n2', 'NOOP'), [
      '* 7 EXISTS',
      '* 0 RECENT', // b, which appended, took the \Recent
      '* ESEARCH (TAG "u1") ADDTO (0 6)',
    ]);
    await untagged(b, 'g', 'STORE 2 -FLAGS (\\Flagged)');
    assert.deepEqual(await untagged(a, 'n3', 'NOOP'), [
      '* 2 FETCH (UID 2 FLAGS ())',
      '* ESEARCH (TAG "u1") REMOVEFROM (0 2)',
    ]);
    // A flag change that keeps the match says nothing more than the FETCH.
    await untagged(b, 'h', 'STORE 4 +FLAGS (\\Seen)');
    assert.deepEqual(await untagged(a, 'n4', 'NOOP'), [
      '* 4 FETCH (UID 4 FLAGS (\\Flagged \\Seen))',
    ]);
    // §4.3.4: the REMOVEFROM of an expunged result comes before its EXPUNGE.
    await untagged(b, 'd', 'STORE 6,7 +FLAGS.SILENT (\\Deleted)');
    await untagged(b, 'x', 'EXPUNGE');
    assert.deepEqual(await untagged(a, 'n5', 'NOOP'), [
      '* ESEARCH (TAG "u1") REMOVEFROM (0 6)',
      '* 7 EXPUNGE',
      '* 6 EXPUNGE',
    ]);
    // The numbers follow the renumbering: message 4 is still the one result.
    assert.deepEqual(await untagged(a, 'q', 'SEARCH FLAGGED'), ['* SEARCH 4']);
    a.close();
    b.close();
  });

  test('UID SEARCH RETURN (UPDATE COUNT): UIDs; REMOVEFROM even while EXPUNGE must wait', async () => {
    const [a, b] = await pair();
    assert.deepEqual(await untagged(a, 'u2', 'UID SEARCH RETURN (UPDATE COUNT) NOT DELETED'), [
      '* ESEARCH (TAG "u2") UID COUNT 5',
    ]);
    await untagged(b, 'd', 'STORE 3 +FLAGS.SILENT (\\Deleted)');
    await untagged(b, 'x', 'EXPUNGE');
    // RFC 9051 §7.5.1: no EXPUNGE during FETCH; RFC 5267 §4.3.2: ESEARCH may come any time.
    assert.deepEqual(await untagged(a, 'f', 'FETCH 3 (UID)'), [
      '* ESEARCH (TAG "u2") UID REMOVEFROM (0 3)',
    ]);
    assert.deepEqual(await untagged(a, 'n', 'NOOP'), ['* 3 EXPUNGE']);
    // The session's own changes update its contexts too.
    assert.deepEqual(await untagged(a, 's', 'STORE 1 +FLAGS (\\Deleted)'), [
      '* 1 FETCH (FLAGS (\\Deleted))',
      '* ESEARCH (TAG "u2") UID REMOVEFROM (0 1)',
    ]);
    a.close();
    b.close();
  });

  test('sequence numbers and $ in the program are fixed when the command is received', async () => {
    const [a, b] = await pair();
    await untagged(a, 'sv', 'SEARCH RETURN (SAVE) 4:5');
    assert.deepEqual(await untagged(a, 'u3', 'SEARCH RETURN (UPDATE ALL) 2:3 FLAGGED'), [
      '* ESEARCH (TAG "u3")',
    ]);
    assert.deepEqual(await untagged(a, 'u4', 'UID SEARCH RETURN (UPDATE) $ FLAGGED'), [
      '* ESEARCH (TAG "u4") UID',
    ]);
    await untagged(a, 'sv2', 'SEARCH RETURN (SAVE) 1'); // `$` changes; u4 keeps 4:5
    await untagged(b, 'd', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    await untagged(b, 'x', 'EXPUNGE');
    await untagged(a, 'n', 'NOOP'); // message 3 (UID 3) is now 2, UID 4 is 3
    await untagged(b, 'f', 'UID STORE 1:5 +FLAGS.SILENT (\\Flagged)');
    assert.deepEqual(await untagged(a, 'n2', 'NOOP'), [
      '* 1 FETCH (UID 2 FLAGS (\\Flagged))',
      '* 2 FETCH (UID 3 FLAGS (\\Flagged))',
      '* 3 FETCH (UID 4 FLAGS (\\Flagged))',
      '* 4 FETCH (UID 5 FLAGS (\\Flagged))',
      '* ESEARCH (TAG "u3") ADDTO (0 1:2)',
      '* ESEARCH (TAG "u4") UID ADDTO (0 4:5)',
    ]);
    a.close();
    b.close();
  });

  test('the * of a UID set is the last UID when the command is received (as Dovecot)', async () => {
    const [a, b, name] = await pair();
    assert.deepEqual(await untagged(a, 'v', 'UID SEARCH RETURN (UPDATE) UID 4:*'), [
      '* ESEARCH (TAG "v") UID',
    ]);
    assert.deepEqual(await untagged(a, 'w', 'UID SEARCH RETURN (UPDATE) UID 4:100'), [
      '* ESEARCH (TAG "w") UID',
    ]);
    await append(b, name, message('six'));
    const r = await untagged(a, 'n', 'NOOP');
    assert.deepEqual(
      r.filter((l) => l.includes('ESEARCH')),
      ['* ESEARCH (TAG "w") UID ADDTO (0 6)'],
    );
    assert.match(last(await a.cmd('x', 'SEARCH RETURN (UPDATE COUNT UPDATE) ALL', WAIT)), /^x BAD/);
    a.close();
    b.close();
  });

  test('UID SORT RETURN (UPDATE): ADDTO and REMOVEFROM at sort positions', async () => {
    const [a, b] = await pair();
    assert.deepEqual(await untagged(a, 's1', 'UID SORT RETURN (UPDATE) (SUBJECT) UTF-8 FLAGGED'), [
      '* ESEARCH (TAG "s1") UID',
    ]);
    const step = async (store: string, want: string) => {
      await untagged(b, 'f', `UID STORE ${store} (\\Flagged)`);
      const r = await untagged(a, 'n', 'NOOP');
      assert.deepEqual(
        r.filter((l) => l.includes('ESEARCH')),
        [`* ESEARCH (TAG "s1") UID ${want}`],
        store,
      );
    };
    await step('4 +FLAGS', 'ADDTO (1 4)'); // [bravo]
    await step('1 +FLAGS', 'ADDTO (2 1)'); // [bravo delta]
    await step('2 +FLAGS', 'ADDTO (1 2)'); // [alpha bravo delta]
    await step('4 -FLAGS', 'REMOVEFROM (2 4)'); // [alpha delta]
    await step('3,5 +FLAGS', 'ADDTO (2 5 4 3)'); // [alpha charlie delta echo]
    await step('2,5 -FLAGS', 'REMOVEFROM (1 2,5)'); // [delta echo]
    await step('1:5 +FLAGS', 'ADDTO (1 2,4:5)'); // [alpha bravo charlie delta echo]
    // Sequence-number SORT contexts and reverse order.
    assert.deepEqual(
      await untagged(a, 's2', 'SORT RETURN (UPDATE COUNT) (REVERSE SUBJECT) UTF-8 UNSEEN'),
      ['* ESEARCH (TAG "s2") COUNT 5'],
    );
    await untagged(b, 'f', 'STORE 5,1 +FLAGS (\\Seen)');
    const r = await untagged(a, 'n', 'NOOP');
    // [echo delta charlie bravo alpha] without charlie (5) and delta (1).
    assert.deepEqual(
      r.filter((l) => l.includes('ESEARCH')),
      ['* ESEARCH (TAG "s2") REMOVEFROM (2 1,5)'],
    );
    a.close();
    b.close();
  });

  test('a SORT context takes many messages at once (one sort instead of a search each)', async () => {
    const a = await env.login();
    const b = await env.login();
    const name = `C${++box}`;
    await a.cmd('c', `CREATE ${name}`, WAIT);
    // Sizes grow with the UID: REVERSE SIZE is descending UID order.
    for (let i = 1; i <= 40; i++) await append(a, name, message(`m${i}`, `${'x'.repeat(i)}\r\n`));
    // b takes the \Recent (RFC 3501 §2.3.2): a sees plain flags.
    await b.cmd('s', `SELECT ${name}`, WAIT);
    await a.cmd('s', `SELECT ${name}`, WAIT);
    await untagged(b, 'f', 'UID STORE 10,20,30 +FLAGS.SILENT (\\Flagged)');
    assert.deepEqual(
      await untagged(a, 'u', 'UID SORT RETURN (UPDATE ALL) (REVERSE SIZE) UTF-8 FLAGGED'),
      [
        '* 10 FETCH (UID 10 FLAGS (\\Flagged))',
        '* 20 FETCH (UID 20 FLAGS (\\Flagged))',
        '* 30 FETCH (UID 30 FLAGS (\\Flagged))',
        '* ESEARCH (TAG "u") UID ALL 30,20,10',
      ],
    );
    await untagged(b, 'g', 'UID STORE 1:40 +FLAGS.SILENT (\\Flagged)');
    const r = (await untagged(a, 'n', 'NOOP')).filter((l) => l.includes('ESEARCH'));
    const down = (hi: number, lo: number) =>
      Array.from({ length: hi - lo + 1 }, (_, i) => hi - i).join(',');
    assert.deepEqual(r, [
      `* ESEARCH (TAG "u") UID ADDTO (1 ${down(40, 31)} 12 ${down(29, 21)} 22 ${down(19, 11)} 32 ${down(9, 1)})`,
    ]);
    assert.deepEqual(await untagged(a, 'q', 'UID SORT RETURN () (REVERSE SIZE) UTF-8 FLAGGED'), [
      `* ESEARCH (TAG "q") UID ALL ${down(40, 1)}`,
    ]);
    a.close();
    b.close();
  });

  test('RFC 5032 OLDER / YOUNGER: the live result ages, pushed in IDLE', async () => {
    const [a, b] = await pair();
    assert.deepEqual(await untagged(a, 'y', 'UID SEARCH RETURN (UPDATE COUNT) YOUNGER 2'), [
      '* ESEARCH (TAG "y") UID COUNT 5',
    ]);
    assert.deepEqual(await untagged(a, 'o', 'SEARCH RETURN (UPDATE COUNT) OLDER 2'), [
      '* ESEARCH (TAG "o") COUNT 0',
    ]);
    a.write('i IDLE\r\n');
    assert.equal(await a.line(WAIT), '+ idling');
    // Collect until every message has left YOUNGER 2 and entered OLDER 2 (in one step or more).
    const left = new Set<number>();
    const entered = new Set<number>();
    const add = (into: Set<number>, set: string) => {
      for (const part of set.split(',')) {
        const [x, y = x] = part.split(':').map(Number);
        for (let n = x!; n <= y!; n++) into.add(n);
      }
    };
    while (left.size < 5 || entered.size < 5) {
      const l = await a.line(WAIT);
      const m = /^\* ESEARCH \(TAG "(y|o)"\)(?: UID)? (REMOVEFROM|ADDTO) \(0 ([\d,:]+)\)$/.exec(l);
      assert.ok(m, l);
      assert.equal(m[2], m[1] === 'y' ? 'REMOVEFROM' : 'ADDTO', l);
      add(m[1] === 'y' ? left : entered, m[3]!);
    }
    a.write('DONE\r\n');
    assert.match(last(await a.tagged('i', WAIT)), /^i OK/);
    assert.deepEqual(await untagged(a, 'c', 'SEARCH RETURN (COUNT) YOUNGER 2'), [
      '* ESEARCH (TAG "c") COUNT 0',
    ]);
    a.close();
    b.close();
  });

  test('RECENT / NEW in a live result: a message new in this session enters it', async () => {
    const [a, b, name] = await pair();
    await untagged(b, 'u', 'UNSELECT'); // only A has the mailbox selected
    const r = await untagged(a, 'n', 'SEARCH RETURN (UPDATE) NEW');
    assert.deepEqual(r, ['* ESEARCH (TAG "n")']);
    await append(b, name, message('fresh'));
    const n = await untagged(a, 'p', 'NOOP');
    assert.deepEqual(
      n.filter((l) => l.includes('ESEARCH')),
      ['* ESEARCH (TAG "n") ADDTO (0 6)'],
      n.join('\n'),
    );
    // NEW is RECENT UNSEEN: \\Seen takes it out, in the answer to the STORE itself.
    assert.deepEqual(await untagged(a, 's', 'STORE 6 +FLAGS.SILENT (\\Seen)'), [
      '* ESEARCH (TAG "n") REMOVEFROM (0 6)',
    ]);
    assert.deepEqual(await untagged(a, 'q', 'NOOP'), []);
    a.close();
    b.close();
  });

  test('IDLE pushes ADDTO; CANCELUPDATE and leaving the mailbox end updates', async () => {
    const [a, b, name] = await pair();
    await untagged(a, 'u5', 'UID SEARCH RETURN (UPDATE) SUBJECT news');
    a.write('i IDLE\r\n');
    assert.equal(await a.line(WAIT), '+ idling');
    await append(b, name, message('news'));
    assert.equal(await a.line(WAIT), '* 6 EXISTS');
    // RFC 3501 §7.3.2: RECENT with EXISTS; a (in IDLE) or b (which appended) takes it.
    assert.match(await a.line(WAIT), /^\* [01] RECENT$/);
    assert.equal(await a.line(WAIT), '* ESEARCH (TAG "u5") UID ADDTO (0 6)');
    a.write('DONE\r\n');
    assert.match(last(await a.tagged('i', WAIT)), /^i OK/);
    // RFC 5267 §4.3: a tag in use by an updating search is refused.
    assert.match(last(await a.cmd('u5', 'SEARCH RETURN (UPDATE) ALL', WAIT)), /^u5 BAD/);
    assert.match(last(await a.cmd('c0', 'CANCELUPDATE "nope"', WAIT)), /^c0 NO/);
    assert.match(last(await a.cmd('c1', 'CANCELUPDATE u5', WAIT)), /^c1 BAD/);
    assert.deepEqual(await untagged(a, 'c2', 'CANCELUPDATE "u5"'), []);
    await append(b, name, message('news again'));
    const n = await untagged(a, 'n', 'NOOP');
    assert.equal(n.length, 2, n.join('\n'));
    assert.equal(n[0], '* 7 EXISTS');
    assert.match(n[1]!, /^\* [01] RECENT$/);
    // The tag may be used again once cancelled; re-selecting ends the context.
    await untagged(a, 'u5', 'UID SEARCH RETURN (UPDATE) SUBJECT news');
    await untagged(a, 'r', `SELECT ${name}`);
    await append(b, name, message('news 3'));
    assert.deepEqual(await untagged(a, 'n2', 'NOOP'), ['* 8 EXISTS', '* 0 RECENT']);
    assert.match(last(await a.cmd('c3', 'CANCELUPDATE "u5"', WAIT)), /^c3 NO/);
    a.close();
    b.close();
  });

  test('a client that stops reading: changes meanwhile are coalesced, then consistent', async () => {
    const [a, b, name] = await pair();
    // UPDATE (BODY.PEEK[]) (RFC 5465 §7): a big new message keeps A's session writing.
    await untagged(a, 'u', 'UID SEARCH RETURN (UPDATE (BODY.PEEK[])) FLAGGED');
    a.write('i IDLE\r\n');
    assert.equal(await a.line(WAIT), '+ idling');
    a.socket.pause();
    const line = `${'x'.repeat(998)}\r\n`;
    // 16 MiB: on PostgreSQL at load ~25 it took more than the helper's default 3 s.
    await append(b, name, message('big', line.repeat(16 * 1024)), '\\Flagged', WAIT);
    // 400 flag changes while A reads nothing: 80 rounds over messages 1..5 (set, cleared, ...),
    // ending unflagged; then message 3 flagged.
    for (let k = 0; k < 400; k++) {
      const uid = 1 + (k % 5);
      const op = Math.floor(k / 5) % 2 === 0 ? '+' : '-';
      await untagged(b, 'f', `UID STORE ${uid} ${op}FLAGS.SILENT (\\Flagged)`);
    }
    await untagged(b, 'g', 'UID STORE 3 +FLAGS.SILENT (\\Flagged)');
    a.socket.resume();
    // The client's model of the result, from the ESEARCH lines only.
    const model = new Set<number>();
    let esearch = 0;
    const apply = (verb: string, set: string) => {
      for (const part of set.split(',')) {
        const [x, y = x] = part.split(':').map(Number);
        for (let n = x!; n <= y!; n++) {
          if (verb === 'ADDTO') model.add(n);
          else model.delete(n);
        }
      }
    };
    const wanted = '3 6';
    const UPDATE = /(ADDTO|REMOVEFROM) \(0 ([\d,:]+)\)/g;
    for (;;) {
      const l = await a.line(WAIT);
      // One ESEARCH may carry several updates, applied in order (RFC 5267 §4.3.2): changes
      // announced together (a removal and an addition) come as `REMOVEFROM (...) ADDTO (...)`.
      const m = /^\* ESEARCH \(TAG "u"\) UID (.*)$/.exec(l);
      if (m) {
        esearch++;
        const updates = [...m[1]!.matchAll(UPDATE)];
        assert.equal(updates.map((u) => u[0]).join(' '), m[1], l);
        for (const u of updates) apply(u[1]!, u[2]!);
        if ([...model].sort((x, y) => x - y).join(' ') === wanted) break;
      }
    }
    // Far fewer lines than changes: the session kept one pending entry per message.
    assert.ok(esearch < 40, `${esearch} ESEARCH lines for 401 changes`);
    a.write('DONE\r\n');
    await a.tagged('i', WAIT);
    assert.deepEqual(await untagged(a, 'q', 'UID SEARCH FLAGGED'), [`* SEARCH ${wanted}`]);
    a.close();
    b.close();
  });

  test(`at most ${MAX_UPDATE_CONTEXTS} contexts: then NO [NOUPDATE] and the result still comes`, async () => {
    const [a, b] = await pair();
    for (let i = 1; i <= MAX_UPDATE_CONTEXTS; i++) {
      await untagged(a, `k${i}`, 'SEARCH RETURN (UPDATE) DELETED');
    }
    assert.deepEqual(await untagged(a, 'over', 'SEARCH RETURN (UPDATE COUNT) ALL'), [
      '* ESEARCH (TAG "over") COUNT 5',
      `* NO [NOUPDATE "over"] No more than ${MAX_UPDATE_CONTEXTS} updating searches at once`,
    ]);
    assert.deepEqual(await untagged(a, 'c', 'CANCELUPDATE "k1" "k2"'), []);
    assert.deepEqual(await untagged(a, 'again', 'SEARCH RETURN (UPDATE) DELETED'), [
      '* ESEARCH (TAG "again")',
    ]);
    await untagged(b, 'd', 'STORE 1 +FLAGS.SILENT (\\Deleted)');
    const r = await untagged(a, 'n', 'NOOP');
    assert.equal(r.filter((l) => l.includes('ADDTO (0 1)')).length, MAX_UPDATE_CONTEXTS - 1);
    a.close();
    b.close();
  });
});
