import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import * as replies from '../../../src/smtp/wire/replies.js';
import { formatReply, SmtpReply } from '../../../src/smtp/wire/reply.js';

const wire = (r: SmtpReply) => formatReply(r).toString('latin1');

describe('formatReply', () => {
  test('single line with enhanced code', () => {
    assert.equal(wire(new SmtpReply(250, '2.1.0', 'Sender OK')), '250 2.1.0 Sender OK\r\n');
  });

  test('single line without enhanced code', () => {
    assert.equal(wire(new SmtpReply(354, null, 'Go ahead')), '354 Go ahead\r\n');
  });

  test('multi-line: hyphen on all but the last, enhanced code on every line (RFC 2034 §4)', () => {
    const r = new SmtpReply(550, '5.7.1', ['first', 'second', 'third']);
    assert.equal(wire(r), '550-5.7.1 first\r\n550-5.7.1 second\r\n550 5.7.1 third\r\n');
  });

  test('EHLO reply: greeting then keywords, no enhanced code', () => {
    const r = replies.ehlo('mx.example', ['PIPELINING', 'SIZE 1000']);
    assert.equal(wire(r), '250-mx.example Hello\r\n250-PIPELINING\r\n250 SIZE 1000\r\n');
  });

  test('empty text gives a bare code; empty middle line keeps its hyphen', () => {
    assert.equal(wire(new SmtpReply(250, null, '')), '250\r\n');
    assert.equal(wire(new SmtpReply(250, null, ['', 'x'])), '250-\r\n250 x\r\n');
    assert.equal(wire(new SmtpReply(250, '2.0.0', [])), '250 2.0.0\r\n');
  });

  test('an empty SASL challenge keeps its space: "334 " (RFC 4954 §8 continue-req)', () => {
    assert.equal(wire(replies.authChallenge('')), '334 \r\n');
    assert.equal(wire(replies.authChallenge('VXNlcm5hbWU6')), '334 VXNlcm5hbWU6\r\n');
  });

  test('CR, LF and controls in text cannot inject a second reply', () => {
    const r = replies.noSuchUser('a\r\n250 OK\r\nb\u0000@x');
    const out = wire(r);
    assert.equal(out, '550 5.1.1 No such user: a??250 OK??b?@x\r\n');
    assert.equal(out.split('\r\n').length, 2);
  });

  test('non-ASCII text is replaced, so the reply stays 7-bit', () => {
    assert.equal(wire(new SmtpReply(250, null, 'héllo')), '250 h?llo\r\n');
  });

  test('a long line is cut to the 512-octet reply limit (RFC 5321 §4.5.3.1.5)', () => {
    const out = wire(new SmtpReply(550, '5.1.1', 'x'.repeat(2000)));
    assert.equal(out.length, 512);
    assert.ok(out.endsWith('...\r\n'));
  });

  test('programming errors throw: bad code, malformed or mismatched enhanced code', () => {
    assert.throws(() => new SmtpReply(199, null, 'x'), RangeError);
    assert.throws(() => new SmtpReply(600, null, 'x'), RangeError);
    assert.throws(() => new SmtpReply(250, '5.0.0', 'x'), RangeError);
    assert.throws(() => new SmtpReply(550, '5.0', 'x'), RangeError);
    assert.throws(() => new SmtpReply(450, '4.1.1000', 'x'), RangeError);
  });

  test('classification', () => {
    assert.ok(replies.ok().positive);
    assert.ok(replies.startData().positive);
    assert.ok(replies.localError().transient);
    assert.ok(replies.relayDenied().permanent);
    assert.ok(!replies.relayDenied().transient);
  });

  test('toString is the wire text without CRLF', () => {
    assert.equal(replies.bye().toString(), '221 2.0.0 Bye');
  });
});

describe('reply catalog', () => {
  // The codes that tests, logs and the session rely on. A change here is a protocol change.
  const table: [string, SmtpReply, number, string | null][] = [
    ['greeting', replies.greeting('mx.example'), 220, null],
    ['bye', replies.bye(), 221, '2.0.0'],
    ['ok', replies.ok(), 250, '2.0.0'],
    ['startData', replies.startData(), 354, null],
    ['shuttingDown', replies.shuttingDown(), 421, '4.3.2'],
    ['timeout', replies.timeout(), 421, '4.4.2'],
    ['tooManyErrors', replies.tooManyErrors(), 421, '4.7.0'],
    ['localError', replies.localError(), 451, '4.3.0'],
    ['tooManyRecipients', replies.tooManyRecipients(), 452, '4.5.3'],
    ['lineTooLong', replies.lineTooLong(), 500, '5.5.2'],
    ['unrecognizedCommand', replies.unrecognizedCommand(), 500, '5.5.1'],
    ['invalidCharacters', replies.invalidCharacters(), 500, '5.5.2'],
    ['syntaxError', replies.syntaxError(), 501, '5.5.4'],
    ['notImplemented', replies.notImplemented(), 502, '5.5.1'],
    ['badSequence', replies.badSequence(), 503, '5.5.1'],
    ['parameterNotImplemented', replies.parameterNotImplemented(), 504, '5.5.4'],
    ['unknownParameter', replies.unknownParameter('FOO'), 555, '5.5.4'],
    ['authRequired', replies.authRequired(), 530, '5.7.0'],
    ['mustStartTls', replies.mustStartTls(), 530, '5.7.0'],
    ['authFailed', replies.authFailed(), 535, '5.7.8'],
    ['encryptionRequired', replies.encryptionRequired(), 538, '5.7.11'],
    ['noSuchUser', replies.noSuchUser('a@b'), 550, '5.1.1'],
    ['relayDenied', replies.relayDenied(), 550, '5.7.1'],
    ['messageTooBig', replies.messageTooBig(10), 552, '5.3.4'],
    ['overQuota', replies.overQuota('a@b'), 552, '5.2.2'],
    ['senderNotOwned', replies.senderNotOwned(), 553, '5.7.1'],
    ['originatorNotOwned', replies.originatorNotOwned('From', 'a@b'), 550, '5.7.1'],
    ['badOriginatorAddress', replies.badOriginatorAddress('x'), 554, '5.1.7'],
    ['nonAsciiAddress', replies.nonAsciiAddress(), 553, '5.6.7'],
    ['bareLineEnding', replies.bareLineEnding(), 550, '5.6.0'],
    ['contentRejected', replies.contentRejected(), 554, '5.6.0'],
    ['noValidRecipients', replies.noValidRecipients(), 554, '5.5.1'],
    ['authOk', replies.authOk(), 235, '2.7.0'],
    ['authChallenge', replies.authChallenge(''), 334, null],
  ];
  for (const [name, reply, code, enhanced] of table) {
    test(`${name} is ${code} ${enhanced ?? ''}`, () => {
      assert.equal(reply.code, code);
      assert.equal(reply.enhanced, enhanced);
    });
  }

  test('every catalog function builds a valid reply', () => {
    for (const [name, fn] of Object.entries(replies)) {
      const r = (fn as (...a: unknown[]) => SmtpReply)('arg', ['K']);
      assert.ok(r instanceof SmtpReply, name);
      assert.match(wire(r), /^\d{3}[ -]/, name);
    }
  });

  test('argument text is carried', () => {
    assert.equal(
      replies.messageTooBig(1024).toString(),
      '552 5.3.4 Message size exceeds fixed maximum of 1024 octets',
    );
    assert.equal(replies.messageAccepted('abc').toString(), '250 2.6.0 Message accepted as abc');
  });
});
