// Fuzz targets for the parsers on the sending side and at submission: replies of remote SMTP
// servers, the From/Sender check of submitted mail, MTA-STS policies and TXT records fetched
// from the remote domain, SRS addresses of bounces, and the 8BITMIME downgrade of any message.
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { parseMailboxList } from '../../../src/delivery/mailbox-list.js';
import { readOriginator } from '../../../src/delivery/originator.js';
import { downgrade8bit, has8bit } from '../../../src/queue/eightbit.js';
import { mxMatches, parsePolicy, parseStsRecord } from '../../../src/queue/mta-sts-policy.js';
import { Srs } from '../../../src/queue/srs.js';
import type { SmtpReply } from '../../../src/smtp/wire/reply.js';
import { ReplyParser, ReplySyntaxError } from '../../../src/smtp/wire/reply-parser.js';
import { type AnyTarget, erase, type FuzzTarget, type Steps } from '../lib/harness.js';
import { addressList, MIME_WORDS, message } from '../lib/mime-gen.js';
import { anyInput, chunkSizes, type Sample, split } from '../lib/mutate.js';
import { checkReply } from './smtp.js';

const replyLine = fc
  .tuple(
    fc.constantFrom('220', '250', '354', '421', '450', '550', '552', '599', '199', '600', '25'),
    fc.constantFrom('-', ' ', '', 'x'),
    fc.constantFrom('', '2.0.0 ', '5.1.1 ', '3.0.0 ', '2.999.9999 ', '4.7.0'),
    fc.string({ maxLength: 30 }),
    fc.constantFrom('\r\n', '\n', '\r\r\n'),
  )
  .map((p) => p.join(''));
const replies = fc
  .array(replyLine, { minLength: 1, maxLength: 8 })
  .map((ls) => Buffer.from(ls.join(''), 'utf8'));

/** Replies parsed from `chunks`, and the error that stopped the parser, if any. */
function parseReplies(chunks: Buffer[], steps: Steps): { got: string[]; error: string | null } {
  const p = new ReplyParser({ maxLine: 512, maxLines: 20 });
  const got: string[] = [];
  const take = () => {
    for (let r: SmtpReply | undefined = p.shift(); r; r = p.shift()) {
      checkReply(r);
      got.push(r.toString());
    }
  };
  for (const chunk of chunks) {
    try {
      steps.time(() => p.push(chunk), 'push');
    } catch (err) {
      if (!(err instanceof ReplySyntaxError)) throw err;
      take();
      return { got, error: 'ReplySyntaxError' };
    }
    take();
  }
  return { got, error: null };
}

/**
 * Replies of a remote server, cut any way: only ReplySyntaxError comes out, every reply is
 * well formed, and the same replies come out whatever the chunking.
 */
export const smtpClientReplies: FuzzTarget<{ s: Sample; sizes: number[] }> = {
  name: 'smtp client reply parser',
  runs: 800,
  arb: fc.record({
    s: anyInput(replies, ['250-', '250 ', '\r\n', '5.7.1 '], { maxBytes: 16 * 1024 }),
    sizes: chunkSizes,
  }),
  run({ s, sizes }, steps) {
    const chunked = parseReplies(split(s.bytes, sizes), steps);
    const whole = parseReplies([s.bytes], steps);
    assert.deepEqual(chunked, whole, 'same replies whatever the chunking');
  },
};

const fromField = fc.oneof(
  addressList.map((a) => `From: ${a}\r\n`),
  addressList.map((a) => `Sender: ${a}\r\n`),
  fc.constantFrom(
    'From: a@b.example\r\nFrom: c@d.example\r\n',
    'From : a@b.example\r\n',
    'FROM:a@b.example\r\n',
    'From: =?utf-8?q?x?= <a@b.example>\r\n',
    'From: "a\\"b" <a@b.example>\r\n',
    'From: undisclosed:;\r\n',
    'From: a@[192.0.2.1]\r\n',
  ),
);
const submitted = fc
  .tuple(fc.array(fromField, { maxLength: 3 }), message)
  .map(([fs, m]) => Buffer.concat([Buffer.from(fs.join(''), 'utf8'), m]));

/** The originator check of submitted mail (issue 15 item 8): never throws, each step bounded. */
export const submissionOriginator: FuzzTarget<Sample> = {
  name: 'submission From/Sender check',
  runs: 800,
  arb: anyInput(
    submitted,
    ['From: ', 'Sender: ', '<', '>', '"', '(', ')', ':', ';', ',', '@', ...MIME_WORDS],
    {
      maxBytes: 128 * 1024,
    },
  ),
  run(s, steps) {
    const o = steps.time(() => readOriginator(s.bytes), 'readOriginator');
    assert.equal(typeof o.ok, 'boolean');
    const value = s.bytes.subarray(0, 64 * 1024).toString('utf8');
    const r = steps.time(() => parseMailboxList(value), 'parseMailboxList');
    if (r.ok) for (const m of r.mailboxes) assert.ok(m.local.length > 0 && m.domain.length > 0);
  },
};

const policy = fc
  .array(
    fc.oneof(
      fc.constantFrom(
        'version: STSv1',
        'mode: enforce',
        'mode: testing',
        'mode: none',
        'max_age: 86400',
        'max_age: 99999999999',
      ),
      fc.constantFrom('mx: mail.example.com', 'mx: *.example.net', 'mx: *.', 'mx: a..b', 'junk'),
      fc.string({ maxLength: 30 }),
    ),
    { maxLength: 8 },
  )
  .chain((ls) => fc.constantFrom('\n', '\r\n').map((eol) => Buffer.from(ls.join(eol), 'utf8')));

/** MTA-STS (RFC 8461): policy text and TXT records come from the remote domain. */
export const mtaSts: FuzzTarget<{ s: Sample; host: string }> = {
  name: 'mta-sts policy and record',
  runs: 800,
  arb: fc.record({
    s: anyInput(policy, ['version: ', 'mode: ', 'mx: ', 'max_age: ', 'v=STSv1;', 'id=', '*.'], {
      maxBytes: 64 * 1024,
    }),
    host: fc.oneof(fc.domain(), fc.constantFrom('mail.example.com', 'a.b.example.net', '', '.')),
  }),
  run({ s, host }, steps) {
    const text = s.bytes.toString('utf8');
    const p = steps.time(() => parsePolicy(text), 'parsePolicy');
    if (typeof p !== 'string') {
      assert.ok(Number.isInteger(p.maxAge) && p.maxAge >= 0);
      for (const m of p.mx) steps.time(() => mxMatches(host, m), 'mxMatches');
    }
    const rec = steps.time(() => parseStsRecord([[text], text.split(' ')]), 'parseStsRecord');
    if (rec) assert.match(rec.id, /^[A-Za-z0-9]{1,32}$/);
  },
};

const srs = new Srs('fuzz-secret');

/** SRS (bounces come back to rewritten addresses): reverse never throws and undoes forward. */
export const srsAddresses: FuzzTarget<string> = {
  name: 'srs forward and reverse',
  runs: 1000,
  arb: fc.oneof(
    fc.emailAddress(),
    fc.string({ maxLength: 60 }),
    fc.emailAddress().map((a) => srs.forward(a, 'relay.example')),
    fc.emailAddress().map((a) => srs.forward(srs.forward(a, 'one.example'), 'two.example')),
    fc
      .tuple(fc.constantFrom('SRS0=', 'SRS1+', 'srs0-', 'SRS0=='), fc.string({ maxLength: 40 }))
      .map(([t, r]) => `${t}${r}@x.example`),
  ),
  run(address, steps) {
    steps.time(() => srs.reverse(address), 'reverse');
    const fwd = steps.time(() => srs.forward(address, 'fwd.example'), 'forward');
    // A domain holding the separator "=" (an address literal like [x:a=b]) cannot be split
    // back out: known, reported; the rest must round-trip.
    const domain = address.slice(address.lastIndexOf('@') + 1);
    if (fwd !== address && !/^srs1[-+=]/i.test(address) && !domain.includes('=')) {
      // An SRS0 address comes back with its tag in upper case (tags are case-insensitive).
      const expected = /^srs0[-+=]/i.test(address) ? `SRS0${address.slice(4)}` : address;
      assert.equal(srs.reverse(fwd), expected, `reverse(forward(${address}))`);
    }
  },
};

/** 8BITMIME downgrade (RFC 6152 §3) of any message: 7-bit output or a reason, never a throw. */
export const eightBit: FuzzTarget<Sample> = {
  name: '8BITMIME downgrade',
  runs: 500,
  arb: anyInput(
    message,
    ['\xc3\xa9', '\xff', 'Content-Transfer-Encoding: 8bit\r\n', ...MIME_WORDS],
    {
      maxBytes: 128 * 1024,
      maxRandom: 4096,
    },
  ),
  run(s, steps) {
    const r = steps.time(() => downgrade8bit(s.bytes), 'downgrade8bit');
    if (r.ok) assert.ok(!has8bit(r.message), 'no 8-bit octet left');
    else assert.equal(typeof r.reason, 'string');
  },
};

export const OUTBOUND_TARGETS: AnyTarget[] = [
  erase(smtpClientReplies),
  erase(submissionOriginator),
  erase(mtaSts),
  erase(srsAddresses),
  erase(eightBit),
];
