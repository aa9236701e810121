import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { formatReply, SmtpReply } from '../../../src/smtp/wire/reply.js';
import {
  describeReply,
  ReplyParser,
  ReplySyntaxError,
  toRemoteReply,
} from '../../../src/smtp/wire/reply-parser.js';

function parseAll(text: string | Buffer, limits = {}): SmtpReply[] {
  const p = new ReplyParser(limits);
  p.push(typeof text === 'string' ? Buffer.from(text, 'latin1') : text);
  const out: SmtpReply[] = [];
  for (let r = p.shift(); r; r = p.shift()) out.push(r);
  return out;
}

describe('ReplyParser', () => {
  test('single line with an enhanced code', () => {
    const [r] = parseAll('250 2.1.0 Sender OK\r\n');
    assert.equal(r.code, 250);
    assert.equal(r.enhanced, '2.1.0');
    assert.deepEqual(r.lines, ['Sender OK']);
    assert.deepEqual(toRemoteReply(r), { code: 250, enhanced: '2.1.0', text: 'Sender OK' });
  });

  test('multi-line reply: enhanced code stripped from each line, text joined', () => {
    const [r] = parseAll('550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n');
    assert.equal(r.enhanced, '5.7.1');
    assert.deepEqual(r.lines, ['first', 'second', 'third']);
    assert.equal(describeReply(toRemoteReply(r)), '550 5.7.1 first second third');
  });

  test('round trip with the server formatter', () => {
    const sent = new SmtpReply(250, null, ['mx.example Hello', 'PIPELINING', 'SIZE 1000']);
    const [r] = parseAll(formatReply(sent));
    assert.deepEqual(r.lines, sent.lines);
    assert.equal(r.enhanced, null);
  });

  test('no enhanced code when the class disagrees or it is not one', () => {
    assert.equal(parseAll('250 5.1.1 odd\r\n')[0].enhanced, null);
    assert.equal(parseAll('250 2.1.0000 x\r\n')[0].enhanced, null);
    assert.equal(parseAll('250 2.1.0x\r\n')[0].enhanced, null);
    assert.equal(parseAll('451 4.7.1\r\n')[0].enhanced, '4.7.1');
  });

  test('bare code, bare LF, replies split over chunks byte by byte', () => {
    const p = new ReplyParser();
    const wire = Buffer.from('220\r\n250-a\n250 b\r\n354 go\r\n', 'latin1');
    for (const b of wire) p.push(Buffer.from([b]));
    assert.equal(p.pending, 3);
    assert.equal(p.shift()!.code, 220);
    assert.deepEqual(p.shift()!.lines, ['a', 'b']);
    assert.equal(p.shift()!.code, 354);
    assert.equal(p.midReply, false);
  });

  test('malformed lines throw ReplySyntaxError and stay broken', () => {
    for (const bad of ['hello\r\n', '25\r\n', '250x\r\n', '150 old\r\n', '650 x\r\n']) {
      assert.throws(() => parseAll(bad), ReplySyntaxError, bad);
    }
    const p = new ReplyParser();
    assert.throws(() => p.push(Buffer.from('250-a\r\n251 b\r\n')), /changed/);
    assert.throws(() => p.push(Buffer.from('250 ok\r\n')), ReplySyntaxError);
  });

  test('an over-long line fails as soon as it passes the limit, without its end', () => {
    const p = new ReplyParser({ maxLine: 1000 });
    p.push(Buffer.from('250-'));
    p.push(Buffer.alloc(900, 0x78));
    assert.throws(() => p.push(Buffer.alloc(200, 0x78)), /longer than 1000/);
  });

  test('too many lines in one reply', () => {
    const text = '250-x\r\n'.repeat(10) + '250 y\r\n';
    assert.throws(() => parseAll(text, { maxLines: 5 }), /longer than 5 lines/);
    assert.equal(parseAll(text, { maxLines: 11 })[0].lines.length, 11);
  });

  test('control bytes and non-ASCII in the text are made safe', () => {
    const [r] = parseAll(Buffer.from('550 bad\x00 caf\xc3\xa9\r\n', 'latin1'));
    assert.deepEqual(r.lines, ['bad? caf?']);
  });
});
