import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as R from '../../src/smtp/wire/replies.js';
import { formatReply } from '../../src/smtp/wire/reply.js';
import { WireMemo } from '../../src/smtp/wire-memo.js';

describe('WireMemo', () => {
  test('formats once per set of values, and each set as its reply', () => {
    const made: string[] = [];
    const memo = new WireMemo((host: string, auth: boolean) => {
      made.push(`${host} ${auth}`);
      return R.greeting(auth ? `${host}-auth` : host);
    });
    const first = memo.wire('a.test', false, undefined, undefined);
    assert.equal(first.toString('latin1'), formatReply(R.greeting('a.test')).toString('latin1'));
    assert.equal(memo.wire('a.test', false, undefined, undefined), first);
    // A hostname read again from a reloaded configuration: equal values, the same reply.
    assert.equal(memo.wire(['a', 'test'].join('.'), false, undefined, undefined), first);
    const other = memo.wire('a.test', true, undefined, undefined);
    assert.equal(
      other.toString('latin1'),
      formatReply(R.greeting('a.test-auth')).toString('latin1'),
    );
    const renamed = memo.wire('b.test', false, undefined, undefined);
    assert.equal(renamed.toString('latin1'), formatReply(R.greeting('b.test')).toString('latin1'));
    assert.deepEqual(made, ['a.test false', 'a.test true', 'b.test false']);
  });

  test('keeps a few sets: the oldest goes first', () => {
    let made = 0;
    const memo = new WireMemo((n: number) => {
      made++;
      return R.greeting(`h${n}`);
    });
    for (let n = 0; n < 100; n++) memo.wire(n, undefined, undefined, undefined);
    assert.equal(made, 100);
    memo.wire(99, undefined, undefined, undefined);
    assert.equal(made, 100);
    memo.wire(0, undefined, undefined, undefined);
    assert.equal(made, 101);
  });
});
