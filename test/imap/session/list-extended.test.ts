// LIST-EXTENDED selection (RFC 5258 §3, §3.1, §3.5 and the §5 examples) and LSUB's
// \Noselect parents (RFC 3501 §6.3.9): exact untagged and tagged responses.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ImapTestEnv, last, type RawClient, startImap } from './client.js';

/** The untagged lines of a command that must end in `tag OK`. */
async function untagged(c: RawClient, tag: string, text: string): Promise<string[]> {
  const r = await c.cmd(tag, text);
  assert.match(last(r), new RegExp(`^${tag} OK`), r.join('\n'));
  return r.slice(0, -1);
}

describe('IMAP session: LIST-EXTENDED and LSUB', () => {
  let env: ImapTestEnv;
  let c: RawClient;
  before(async () => {
    env = await startImap();
    c = await env.login();
    // The hierarchy of Dovecot's listext script: X/test6 is subscribed, then deleted.
    for (const n of [
      'X/test1',
      'X/test2/test1',
      'X/test3',
      'X/test4/test5',
      'X/test4/test52',
      'X/test6',
      'X/test7/test7',
      'X/test8/test8',
      'X/test8/test9',
    ])
      await untagged(c, 'c', `CREATE ${n}`);
    for (const n of [
      'X/test1',
      'X/test2/test1',
      'X/test6',
      'X/test7/test7',
      'X/test8/test8',
      'X/test8/test9',
    ])
      await untagged(c, 's', `SUBSCRIBE ${n}`);
    await untagged(c, 'd', 'DELETE X/test6');
  });
  after(async () => {
    c.close();
    await env.ts.stop();
  });

  test('RFC 5258 §3.1: RECURSIVEMATCH alone or only with REMOTE is BAD; the session goes on', async () => {
    for (const opts of [
      '(RECURSIVEMATCH)',
      '(RECURSIVEMATCH REMOTE)',
      '(REMOTE RECURSIVEMATCH)',
      '(RECURSIVEMATCH RECURSIVEMATCH)',
    ]) {
      const r = await c.cmd('b', `LIST ${opts} "" "*"`);
      assert.equal(r.length, 1, r.join('\n'));
      assert.match(r[0], /^b BAD /);
    }
    assert.match(last(await c.cmd('u', 'LIST (IMAPTEST) "" ""')), /^u BAD /);
    assert.match(last(await c.cmd('v', 'LIST "" "" RETURN (IMAPTEST)')), /^v BAD /);
    assert.deepEqual(await untagged(c, 'r', 'LIST (REMOTE) "" "X"'), [
      '* LIST (\\HasChildren) "/" X',
    ]);
    // An option given twice counts once (§3).
    assert.deepEqual(
      await untagged(c, 'w', 'LIST (SUBSCRIBED SUBSCRIBED RECURSIVEMATCH) "" "X/test2"'),
      ['* LIST (\\HasChildren) "/" X/test2 ("CHILDINFO" ("SUBSCRIBED"))'],
    );
    assert.match(last(await c.cmd('n', 'NOOP')), /^n OK/);
  });

  test('SUBSCRIBED: \\Subscribed on every entry, \\NonExistent (not \\Noselect) for a deleted one', async () => {
    assert.deepEqual(await untagged(c, 'a', 'LIST (SUBSCRIBED) "" "X/*"'), [
      '* LIST (\\HasNoChildren \\Subscribed) "/" X/test1',
      '* LIST (\\HasNoChildren \\Subscribed) "/" X/test2/test1',
      '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" X/test6',
      '* LIST (\\HasNoChildren \\Subscribed) "/" X/test7/test7',
      '* LIST (\\HasNoChildren \\Subscribed) "/" X/test8/test8',
      '* LIST (\\HasNoChildren \\Subscribed) "/" X/test8/test9',
    ]);
    // Without RECURSIVEMATCH an unsubscribed parent is not listed at all.
    assert.deepEqual(await untagged(c, 'b', 'LIST (SUBSCRIBED) "" "X/%"'), [
      '* LIST (\\HasNoChildren \\Subscribed) "/" X/test1',
      '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" X/test6',
    ]);
  });

  test('RECURSIVEMATCH: CHILDINFO only for a parent that is not selected and whose selected child is not returned', async () => {
    // `%` hides the subscribed children: each parent says so with CHILDINFO.
    assert.deepEqual(await untagged(c, 'a', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "X/%"'), [
      '* LIST (\\HasNoChildren \\Subscribed) "/" X/test1',
      '* LIST (\\HasChildren) "/" X/test2 ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\NonExistent \\HasNoChildren \\Subscribed) "/" X/test6',
      '* LIST (\\HasChildren) "/" X/test7 ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\HasChildren) "/" X/test8 ("CHILDINFO" ("SUBSCRIBED"))',
    ]);
    assert.deepEqual(
      await untagged(c, 'b', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "X/test2%" RETURN (CHILDREN)'),
      ['* LIST (\\HasChildren) "/" X/test2 ("CHILDINFO" ("SUBSCRIBED"))'],
    );
    // X/test7/test7 is returned itself: X/test7 is redundant and left out (§3.5).
    assert.deepEqual(await untagged(c, 'c', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*test7"'), [
      '* LIST (\\HasNoChildren \\Subscribed) "/" X/test7/test7',
    ]);
    // X/test8/test9 is not returned: X/test8 gets CHILDINFO.
    assert.deepEqual(await untagged(c, 'd', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "*test8"'), [
      '* LIST (\\HasChildren) "/" X/test8 ("CHILDINFO" ("SUBSCRIBED"))',
      '* LIST (\\HasNoChildren \\Subscribed) "/" X/test8/test8',
    ]);
    // Several patterns count together.
    assert.deepEqual(await untagged(c, 'e', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" ("X/test2")'), [
      '* LIST (\\HasChildren) "/" X/test2 ("CHILDINFO" ("SUBSCRIBED"))',
    ]);
    assert.deepEqual(
      await untagged(c, 'f', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" ("X/test2" "X/test2/test1")'),
      ['* LIST (\\HasNoChildren \\Subscribed) "/" X/test2/test1'],
    );
    // `*`: every selected descendant is returned, so no parent is.
    const all = await untagged(c, 'g', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "X/*"');
    assert.ok(!all.some((l) => l.includes('CHILDINFO')), all.join('\n'));
    assert.equal(all.length, 6);
    // CHILDINFO never without RECURSIVEMATCH (§3.5).
    const plain = await untagged(c, 'h', 'LIST (SUBSCRIBED) "" "X/%" RETURN (CHILDREN)');
    assert.ok(!plain.some((l) => l.includes('CHILDINFO')), plain.join('\n'));
  });

  test('RFC 5258 §5 example 8: A1, A2, B and C', async () => {
    for (const n of ['Z/Foo/Bar', 'Z/Foo/Baz', 'Z/Moo']) await untagged(c, 'c', `CREATE ${n}`);
    // B: nothing subscribed below Z: nothing returned, though Z/Foo has children.
    assert.deepEqual(await untagged(c, 'a', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Z/%"'), []);
    // A: only Z/Foo/Baz subscribed.
    await untagged(c, 's', 'SUBSCRIBE Z/Foo/Baz');
    assert.deepEqual(await untagged(c, 'b', 'LIST (SUBSCRIBED) "" "Z/%"'), []);
    assert.deepEqual(await untagged(c, 'c', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Z/%"'), [
      '* LIST (\\HasChildren) "/" Z/Foo ("CHILDINFO" ("SUBSCRIBED"))',
    ]);
    // A1: Z/Foo subscribed as well: it matches the selection itself, so no CHILDINFO.
    await untagged(c, 's', 'SUBSCRIBE Z/Foo');
    assert.deepEqual(await untagged(c, 'd', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Z/%"'), [
      '* LIST (\\HasChildren \\Subscribed) "/" Z/Foo',
    ]);
    // C: Z/Foo and Z/Moo subscribed, none of Z/Foo's children.
    await untagged(c, 'u', 'UNSUBSCRIBE Z/Foo/Baz');
    await untagged(c, 's', 'SUBSCRIBE Z/Moo');
    assert.deepEqual(
      await untagged(c, 'e', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Z/%" RETURN (CHILDREN)'),
      [
        '* LIST (\\HasChildren \\Subscribed) "/" Z/Foo',
        '* LIST (\\HasNoChildren \\Subscribed) "/" Z/Moo',
      ],
    );
    // A2: the parent does not exist at all.
    await untagged(c, 's', 'SUBSCRIBE Y/Foo/Baz');
    assert.deepEqual(await untagged(c, 'f', 'LIST (SUBSCRIBED RECURSIVEMATCH) "" "Y/%"'), [
      '* LIST (\\NonExistent \\HasNoChildren) "/" Y/Foo ("CHILDINFO" ("SUBSCRIBED"))',
    ]);
  });

  test('SPECIAL-USE with RECURSIVEMATCH names SPECIAL-USE in CHILDINFO', async () => {
    await untagged(c, 'c', 'CREATE V/Old/Arch (USE (\\Archive))');
    assert.deepEqual(await untagged(c, 'a', 'LIST (SPECIAL-USE RECURSIVEMATCH) "" "V/%"'), [
      '* LIST (\\HasChildren) "/" V/Old ("CHILDINFO" ("SPECIAL-USE"))',
    ]);
    assert.deepEqual(await untagged(c, 'b', 'LIST (SPECIAL-USE) "" "V/*"'), [
      '* LIST (\\HasNoChildren \\Archive) "/" V/Old/Arch',
    ]);
  });

  test('several patterns; the empty pattern is no special request in the extended form', async () => {
    assert.deepEqual(await untagged(c, 'a', 'LIST "" ("X/*2" "X/test3")'), [
      '* LIST (\\HasChildren) "/" X/test2',
      '* LIST (\\HasNoChildren) "/" X/test3',
      '* LIST (\\HasNoChildren) "/" X/test4/test52',
    ]);
    assert.deepEqual(await untagged(c, 'b', 'LIST () "" ""'), []);
    assert.deepEqual(await untagged(c, 'c', 'LIST "" ("")'), []);
    assert.deepEqual(await untagged(c, 'd', 'LIST "" "" RETURN ()'), []);
    assert.deepEqual(await untagged(c, 'e', 'LIST "" ("" "X")'), ['* LIST (\\HasChildren) "/" X']);
    // The base form keeps its meaning.
    assert.deepEqual(await untagged(c, 'f', 'LIST "" ""'), ['* LIST (\\Noselect) "/" ""']);
  });

  test('RFC 3501 §6.3.9 LSUB: `%` returns an unsubscribed parent of a subscribed child as \\Noselect', async () => {
    for (const n of ['L/test', 'L/test2/test', 'L/test3/test3']) {
      await untagged(c, 'c', `CREATE ${n}`);
      await untagged(c, 's', `SUBSCRIBE ${n}`);
    }
    assert.deepEqual(await untagged(c, 'a', 'LSUB "" "L/%"'), [
      '* LSUB () "/" L/test',
      '* LSUB (\\Noselect) "/" L/test2',
      '* LSUB (\\Noselect) "/" L/test3',
    ]);
    // The reference joins the pattern.
    assert.deepEqual(await untagged(c, 'b', 'LSUB "L/" "%"'), [
      '* LSUB () "/" L/test',
      '* LSUB (\\Noselect) "/" L/test2',
      '* LSUB (\\Noselect) "/" L/test3',
    ]);
    // `*` returns the subscribed names themselves, no parent.
    assert.deepEqual(await untagged(c, 'd', 'LSUB "" "L/*"'), [
      '* LSUB () "/" L/test',
      '* LSUB () "/" L/test2/test',
      '* LSUB () "/" L/test3/test3',
    ]);
    assert.deepEqual(await untagged(c, 'e', 'LSUB "" "L/*test"'), [
      '* LSUB () "/" L/test',
      '* LSUB () "/" L/test2/test',
    ]);
    // Two levels down: `L/%` names the first level only.
    await untagged(c, 'c', 'CREATE L/test4/a/b');
    await untagged(c, 's', 'SUBSCRIBE L/test4/a/b');
    assert.deepEqual(await untagged(c, 'f', 'LSUB "" "L/test4/%"'), [
      '* LSUB (\\Noselect) "/" L/test4/a',
    ]);
    // A subscribed parent is listed as itself.
    await untagged(c, 's', 'SUBSCRIBE L/test2');
    assert.deepEqual(await untagged(c, 'g', 'LSUB "" "L/test2"'), ['* LSUB () "/" L/test2']);
    await untagged(c, 'u', 'UNSUBSCRIBE L/test2');
    await untagged(c, 'u', 'UNSUBSCRIBE L/test2/test');
    await untagged(c, 'u', 'UNSUBSCRIBE L/test4/a/b');
    assert.deepEqual(await untagged(c, 'h', 'LSUB "" "L/%"'), [
      '* LSUB () "/" L/test',
      '* LSUB (\\Noselect) "/" L/test3',
    ]);
    // A subscribed name whose mailbox is gone stays subscribed (§6.3.9), \Noselect.
    await untagged(c, 'x', 'DELETE L/test');
    assert.deepEqual(await untagged(c, 'i', 'LSUB "" "L/%"'), [
      '* LSUB (\\Noselect) "/" L/test',
      '* LSUB (\\Noselect) "/" L/test3',
    ]);
  });
});
