// Delivery status notifications (RFC 3464 in an RFC 6522 multipart/report): every field read
// back with the project's MIME parser, the structure checked by Python's email package, and
// hostile inputs (CRLF in a diagnostic, a 2 MB reply, UTF-8, huge originals) kept in bounds.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, test } from 'node:test';
import fc from 'fast-check';
import { getAll, headerValue, parseHeaders } from '../../src/mime/headers.js';
import { parseMessage } from '../../src/mime/structure.js';
import type { PartNode } from '../../src/mime/types.js';
import {
  buildDsn,
  DEFAULT_MAX_ORIGINAL_BYTES,
  type DsnOptions,
  type DsnRecipient,
  shouldNotify,
  smtpDiagnostic,
} from '../../src/queue/dsn.js';
import { requireTool } from '../e2e/smtp-clients.js';

const ORIGINAL = Buffer.from(
  [
    'Received: from client (client [192.0.2.1]) by mx.a.test; Mon, 1 Jan 2024 00:00:00 +0000',
    'From: Alice <alice@a.test>',
    'To: bob@b.test',
    'Subject: Lunch?',
    'Message-ID: <m1@a.test>',
    'Date: Mon, 1 Jan 2024 00:00:00 +0000',
    '',
    'Shall we?',
    '',
  ].join('\r\n'),
);
const ORIGINAL_HEADER = ORIGINAL.subarray(0, ORIGINAL.indexOf('\r\n\r\n') + 2);

const FAILED: DsnRecipient = {
  address: 'bob@b.test',
  orcpt: 'rfc822;Bob@B.test',
  action: 'failed',
  status: '5.1.1',
  remoteMta: 'mx.b.test',
  diagnostic: 'smtp; 550 5.1.1 no such user',
  lastAttempt: new Date(Date.UTC(2024, 0, 1, 0, 5, 0)),
};

function dsn(over: Partial<DsnOptions> = {}): Buffer {
  const out = buildDsn({
    reportingMta: 'mx.a.test',
    to: 'alice@a.test',
    envid: 'QQ314159',
    arrivalDate: new Date(Date.UTC(2024, 0, 1, 0, 0, 0)),
    original: ORIGINAL,
    recipients: [FAILED],
    ...over,
  });
  assert.ok(out);
  return out;
}

const part = (raw: Buffer, p: PartNode) => raw.subarray(p.bodyStart, p.bodyEnd);

/** The delivery-status body as field blocks: [per-message, per-recipient...]. */
function statusBlocks(body: Buffer): ReturnType<typeof parseHeaders>[] {
  return body
    .toString('utf8')
    .split('\r\n\r\n')
    .filter((b) => b.trim() !== '')
    .map((b) => parseHeaders(Buffer.from(`${b}\r\n`, 'utf8')));
}

function assertLines(raw: Buffer): void {
  let pos = 0;
  while (pos < raw.length) {
    let nl = raw.indexOf(0x0a, pos);
    if (nl < 0) nl = raw.length;
    assert.ok(nl - pos <= 1000, `line of ${nl - pos} octets at ${pos}`);
    if (nl < raw.length) assert.equal(raw[nl - 1], 0x0d, `bare LF at ${nl}`);
    pos = nl + 1;
  }
}

describe('buildDsn: a failure report', () => {
  const raw = dsn();
  const msg = parseMessage(raw);
  const top = parseHeaders(raw.subarray(0, msg.root.headerEnd));

  test('top-level header: From, To, Subject, Date, Message-ID, Auto-Submitted, MIME', () => {
    assert.equal(headerValue(top, 'from'), 'Mail Delivery System <MAILER-DAEMON@mx.a.test>');
    assert.equal(headerValue(top, 'to'), '<alice@a.test>');
    assert.equal(headerValue(top, 'subject'), 'Undelivered Mail Returned to Sender');
    assert.ok(msg.search.date !== null && Math.abs(msg.search.date - Date.now()) < 600_000);
    assert.match(headerValue(top, 'message-id') ?? '', /^<[^<>@\s]+@mx\.a\.test>$/);
    assert.equal(headerValue(top, 'auto-submitted'), 'auto-replied');
    assert.equal(headerValue(top, 'mime-version'), '1.0');
    assertLines(raw);
  });

  test('multipart/report; report-type=delivery-status with the three parts in order', () => {
    assert.equal(`${msg.root.type}/${msg.root.subtype}`, 'multipart/report');
    assert.equal(msg.root.params['report-type'], 'delivery-status');
    const types = msg.root.children.map((c) => `${c.type}/${c.subtype}`);
    assert.deepEqual(types, ['text/plain', 'message/delivery-status', 'message/rfc822']);
  });

  test('the text part names the recipient, the reason and what happens next', () => {
    const textPart = msg.root.children[0]!;
    assert.equal(textPart.params.charset, 'us-ascii');
    const text = part(raw, textPart).toString('utf8');
    assert.match(text, /This is the mail system at mx\.a\.test\./);
    assert.match(text, /<bob@b\.test>: delivery failed/);
    assert.match(text, /550 5\.1\.1 no such user/);
    assert.match(text, /will\s+not be tried again/);
    assert.match(text, /reported by mx\.b\.test/);
    assert.match(text, /original message is attached/);
  });

  test('per-message and per-recipient fields (RFC 3464 §2.2, §2.3)', () => {
    const blocks = statusBlocks(part(raw, msg.root.children[1]!));
    assert.equal(blocks.length, 2);
    const [m, r] = blocks as [ReturnType<typeof parseHeaders>, ReturnType<typeof parseHeaders>];
    assert.deepEqual(
      m.map((f) => [f.name, f.value]),
      [
        ['Original-Envelope-Id', 'QQ314159'],
        ['Reporting-MTA', 'dns; mx.a.test'],
        ['Arrival-Date', 'Mon, 1 Jan 2024 00:00:00 +0000'],
      ],
    );
    assert.deepEqual(
      r.map((f) => [f.name, f.value]),
      [
        ['Original-Recipient', 'rfc822;Bob@B.test'],
        ['Final-Recipient', 'rfc822; bob@b.test'],
        ['Action', 'failed'],
        ['Status', '5.1.1'],
        ['Remote-MTA', 'dns; mx.b.test'],
        ['Diagnostic-Code', 'smtp; 550 5.1.1 no such user'],
        ['Last-Attempt-Date', 'Mon, 1 Jan 2024 00:05:00 +0000'],
      ],
    );
  });

  test('the original is returned whole (RET absent, small message), byte for byte', () => {
    const orig = msg.root.children[2]!;
    assert.equal(orig.encoding, '7BIT');
    assert.deepEqual(part(raw, orig), ORIGINAL);
    assert.equal(orig.message?.envelope.subject, 'Lunch?');
    assert.equal(orig.message?.envelope.messageId, '<m1@a.test>');
  });

  test("Python's email package reads the same structure without defects", (t) => {
    requireTool('python3', 'apt-get install python3');
    const py = pythonView(raw);
    assert.deepEqual(py.defects, []);
    assert.equal(py.type, 'multipart/report');
    assert.equal(py.reportType, 'delivery-status');
    assert.deepEqual(py.parts, ['text/plain', 'message/delivery-status', 'message/rfc822']);
    assert.deepEqual(py.status, [
      {
        'Original-Envelope-Id': 'QQ314159',
        'Reporting-MTA': 'dns; mx.a.test',
        'Arrival-Date': 'Mon, 1 Jan 2024 00:00:00 +0000',
      },
      {
        'Original-Recipient': 'rfc822;Bob@B.test',
        'Final-Recipient': 'rfc822; bob@b.test',
        Action: 'failed',
        Status: '5.1.1',
        'Remote-MTA': 'dns; mx.b.test',
        'Diagnostic-Code': 'smtp; 550 5.1.1 no such user',
        'Last-Attempt-Date': 'Mon, 1 Jan 2024 00:05:00 +0000',
      },
    ]);
    assert.equal(py.originalSubject, 'Lunch?');
    t.diagnostic(JSON.stringify(py));
  });
});

describe('buildDsn: what is returned of the original', () => {
  test('RET=HDRS: text/rfc822-headers with the header block only', () => {
    const raw = dsn({ ret: 'HDRS' });
    const msg = parseMessage(raw);
    const p = msg.root.children[2]!;
    assert.equal(`${p.type}/${p.subtype}`, 'text/rfc822-headers');
    assert.deepEqual(part(raw, p), ORIGINAL_HEADER);
    assert.match(part(raw, msg.root.children[0]!).toString(), /RET=HDRS/);
  });

  test('RET=FULL over maxOriginalBytes: the header only, and the text says why', () => {
    const raw = dsn({ ret: 'FULL', maxOriginalBytes: 100 });
    const msg = parseMessage(raw);
    const p = msg.root.children[2]!;
    assert.equal(`${p.type}/${p.subtype}`, 'text/rfc822-headers');
    // The header block itself is over 100 bytes: cut at a field boundary.
    const kept = part(raw, p).toString();
    assert.ok(kept.length <= 100 && kept.length > 0, kept);
    assert.ok(ORIGINAL_HEADER.toString().startsWith(kept));
    const text = part(raw, msg.root.children[0]!).toString();
    assert.match(text, /larger than 100 bytes/);
    assert.match(text, /left out/);
  });

  test('the default limit is 1 MiB: a 2 MB original comes back as its header', () => {
    assert.equal(DEFAULT_MAX_ORIGINAL_BYTES, 1024 * 1024);
    const big = Buffer.concat([ORIGINAL, Buffer.alloc(2_000_000, 'x\r\n')]);
    const raw = dsn({ original: big });
    assert.ok(raw.length < 10_000);
    const p = parseMessage(raw).root.children[2]!;
    assert.equal(`${p.type}/${p.subtype}`, 'text/rfc822-headers');
    assert.deepEqual(part(raw, p), ORIGINAL_HEADER);
  });

  test('8-bit body: message/rfc822 with Content-Transfer-Encoding 8bit', () => {
    const original = Buffer.concat([ORIGINAL_HEADER, Buffer.from('\r\nGrüße\r\n', 'utf8')]);
    const raw = dsn({ original });
    const p = parseMessage(raw).root.children[2]!;
    assert.equal(`${p.type}/${p.subtype}`, 'message/rfc822');
    assert.equal(p.encoding, '8BIT');
    assert.deepEqual(part(raw, p), original);
  });

  test('UTF-8 header (SMTPUTF8): message/global, or message/global-headers for HDRS', () => {
    const original = Buffer.from('From: jörg@a.test\r\nSubject: Grüße\r\n\r\nHallo\r\n', 'utf8');
    const full = parseMessage(dsn({ original })).root.children[2]!;
    assert.equal(`${full.type}/${full.subtype}`, 'message/global');
    assert.equal(full.encoding, '8BIT');
    const hdrs = parseMessage(dsn({ original, ret: 'HDRS' })).root.children[2]!;
    assert.equal(`${hdrs.type}/${hdrs.subtype}`, 'message/global-headers');
  });

  test('an original with a line over 998 octets or a NUL is returned as its header', () => {
    for (const body of [`${'y'.repeat(2000)}\r\n`, 'a\0b\r\n']) {
      const original = Buffer.concat([ORIGINAL_HEADER, Buffer.from(`\r\n${body}`)]);
      const raw = dsn({ original });
      assertLines(raw);
      const p = parseMessage(raw).root.children[2]!;
      assert.equal(`${p.type}/${p.subtype}`, 'text/rfc822-headers');
      assert.deepEqual(part(raw, p), ORIGINAL_HEADER);
    }
  });

  test('HDRS leaves out a header field with a line over 998 octets', () => {
    const original = Buffer.from(`X-Long: ${'z'.repeat(1500)}\r\nSubject: s\r\n\r\nb\r\n`);
    const raw = dsn({ original, ret: 'HDRS' });
    assertLines(raw);
    const p = parseMessage(raw).root.children[2]!;
    assert.equal(part(raw, p).toString(), 'Subject: s\r\n');
  });

  test('a 5 MB header block without a body: a bounded prefix of whole fields', () => {
    const original = Buffer.from('X-Filler: abcdefghij\r\n'.repeat(220_000));
    const raw = dsn({ original, maxOriginalBytes: 1000 });
    assertLines(raw);
    const kept = part(raw, parseMessage(raw).root.children[2]!).toString();
    assert.equal(kept, 'X-Filler: abcdefghij\r\n'.repeat(Math.floor(1000 / 22)));
  });

  test('an LF-only original: its header block is found all the same', () => {
    const original = Buffer.from('Subject: lf\nFrom: a@a.test\n\nbody line\n');
    const raw = dsn({ original, ret: 'HDRS' });
    const p = parseMessage(raw).root.children[2]!;
    assert.equal(part(raw, p).toString(), 'Subject: lf\r\nFrom: a@a.test\r\n');
  });
});

describe('buildDsn: delay and success reports', () => {
  test('delayed: its subject, Will-Retry-Until, and the text says it is still tried', () => {
    const until = new Date(Date.UTC(2024, 0, 6));
    const raw = dsn({
      recipients: [
        {
          address: 'bob@b.test',
          action: 'delayed',
          status: '4.4.1',
          diagnostic: 'X-Letterbox; connection refused by mx.b.test',
          willRetryUntil: until,
        },
      ],
    });
    const msg = parseMessage(raw);
    assert.equal(msg.envelope.subject, 'Delayed Mail (still being retried)');
    const [, r] = statusBlocks(part(raw, msg.root.children[1]!));
    assert.equal(headerValue(r!, 'action'), 'delayed');
    assert.equal(headerValue(r!, 'status'), '4.4.1');
    assert.equal(headerValue(r!, 'will-retry-until'), 'Sat, 6 Jan 2024 00:00:00 +0000');
    const text = part(raw, msg.root.children[0]!).toString();
    assert.match(text, /not delivered yet, trying until Sat, 6 Jan 2024/);
    assert.match(text, /do not need to send it again/);
  });

  test('delivered: success subject; no Will-Retry-Until outside delayed', () => {
    const raw = dsn({
      recipients: [
        {
          address: 'bob@b.test',
          action: 'delivered',
          status: '2.0.0',
          willRetryUntil: new Date(),
          remoteMta: 'mx.b.test',
        },
      ],
    });
    const msg = parseMessage(raw);
    assert.equal(msg.envelope.subject, 'Successful Mail Delivery Report');
    const [, r] = statusBlocks(part(raw, msg.root.children[1]!));
    assert.equal(headerValue(r!, 'action'), 'delivered');
    assert.equal(headerValue(r!, 'will-retry-until'), null);
  });

  test('several recipients, mixed: one block each, the failure decides the subject', () => {
    const raw = dsn({
      recipients: [
        { address: 'c@b.test', action: 'delayed', status: '4.2.2' },
        FAILED,
        { address: 'd@b.test', action: 'relayed', status: '2.0.0' },
      ],
    });
    const msg = parseMessage(raw);
    assert.equal(msg.envelope.subject, 'Undelivered Mail Returned to Sender');
    const blocks = statusBlocks(part(raw, msg.root.children[1]!));
    assert.deepEqual(
      blocks.slice(1).map((b) => [headerValue(b, 'final-recipient'), headerValue(b, 'action')]),
      [
        ['rfc822; c@b.test', 'delayed'],
        ['rfc822; bob@b.test', 'failed'],
        ['rfc822; d@b.test', 'relayed'],
      ],
    );
  });
});

describe('buildDsn: never to the null sender, never broken by its inputs', () => {
  test('null reverse-path, no recipients, an unusable address: no DSN', () => {
    const base: DsnOptions = {
      reportingMta: 'mx.a.test',
      to: 'alice@a.test',
      arrivalDate: new Date(),
      original: ORIGINAL,
      recipients: [FAILED],
    };
    assert.ok(buildDsn(base));
    assert.equal(buildDsn({ ...base, to: '' }), null);
    assert.equal(buildDsn({ ...base, recipients: [] }), null);
    assert.equal(buildDsn({ ...base, to: 'a@a.test>\r\nBcc: x@evil.test' }), null);
  });

  test('CR/LF in a diagnostic, ENVID, ORCPT, remote MTA or address injects no field', () => {
    const evil = '\r\nBcc: victim@evil.test\r\n\r\n--x';
    const raw = dsn({
      envid: `E${evil}`,
      recipients: [
        {
          address: `bob@b.test${evil}`,
          orcpt: `rfc822;bob${evil}`,
          action: 'failed',
          status: `5.1.1${evil}`,
          remoteMta: `mx${evil}`,
          diagnostic: `smtp; 550${evil}`,
        },
      ],
    });
    assertLines(raw);
    const msg = parseMessage(raw);
    assert.equal(getAll(parseHeaders(raw.subarray(0, msg.root.headerEnd)), 'bcc').length, 0);
    const blocks = statusBlocks(part(raw, msg.root.children[1]!));
    assert.equal(blocks.length, 2);
    for (const b of blocks) assert.equal(getAll(b, 'bcc').length, 0);
    const r = blocks[1]!;
    // A malformed status falls back to the action's generic code (RFC 3463 X.0.0).
    assert.equal(headerValue(r, 'status'), '5.0.0');
    assert.equal(headerValue(r, 'diagnostic-code'), 'smtp; 550 Bcc: victim@evil.test --x');
  });

  test('a 2 MB diagnostic without spaces is cut and folded, no line over 998', () => {
    const raw = dsn({
      recipients: [{ ...FAILED, diagnostic: `smtp; 550 ${'x'.repeat(2_000_000)}` }],
    });
    assert.ok(raw.length < 20_000);
    assertLines(raw);
    const msg = parseMessage(raw);
    const r = statusBlocks(part(raw, msg.root.children[1]!))[1]!;
    const v = headerValue(r, 'diagnostic-code') ?? '';
    assert.ok(v.startsWith('smtp; 550 xxx'));
    assert.equal(v.replace(/ /g, '').length, 'smtp;550'.length + 2000 - 'smtp; 550 '.length);
  });

  test('a long diagnostic with spaces folds at spaces and unfolds to itself', () => {
    const words = Array.from({ length: 60 }, (_, i) => `word${i}`).join(' ');
    const raw = dsn({ recipients: [{ ...FAILED, diagnostic: `smtp; 550 5.7.1 ${words}` }] });
    const msg = parseMessage(raw);
    const r = statusBlocks(part(raw, msg.root.children[1]!))[1]!;
    const f = r.find((x) => x.lname === 'diagnostic-code')!;
    assert.ok(f.raw.toString().split('\r\n').length > 3);
    for (const line of f.raw.toString().split('\r\n')) assert.ok(line.length <= 78, line);
    assert.equal(f.value, `smtp; 550 5.7.1 ${words}`);
  });

  test('a UTF-8 recipient: message/global-delivery-status with the utf-8 address type', () => {
    const raw = dsn({ recipients: [{ ...FAILED, address: 'jörg@b.test', orcpt: undefined }] });
    const msg = parseMessage(raw);
    const p = msg.root.children[1]!;
    assert.equal(`${p.type}/${p.subtype}`, 'message/global-delivery-status');
    const r = statusBlocks(part(raw, p))[1]!;
    assert.equal(headerValue(r, 'final-recipient'), 'utf-8; jörg@b.test');
    assert.equal(msg.root.children[0]!.params.charset, 'utf-8');
  });

  test('property: any strings in any field give a well-formed three-part report', () => {
    const str = fc.string({ unit: 'binary', maxLength: 300 });
    fc.assert(
      fc.property(
        str,
        str,
        str,
        str,
        fc.constantFrom<DsnRecipient['action']>('failed', 'delayed', 'delivered'),
        fc.uint8Array({ maxLength: 400 }),
        (address, diagnostic, envid, remoteMta, action, bytes) => {
          const raw = buildDsn({
            reportingMta: 'mx.a.test',
            to: 'alice@a.test',
            envid,
            arrivalDate: new Date(),
            original: Buffer.concat([ORIGINAL_HEADER, Buffer.from(bytes)]),
            recipients: [{ address, diagnostic, remoteMta, action, status: '5.1.1' }],
          });
          assert.ok(raw);
          assertLines(raw);
          const msg = parseMessage(raw);
          assert.equal(msg.root.children.length, 3);
          assert.equal(statusBlocks(part(raw, msg.root.children[1]!)).length, 2);
        },
      ),
      { numRuns: 300 },
    );
  });
});

describe('shouldNotify (RFC 3461 §4.1)', () => {
  test('NEVER, explicit lists, and the default (failures and delays, no successes)', () => {
    const table: Array<[Parameters<typeof shouldNotify>[0], DsnRecipient['action'], boolean]> = [
      ['NEVER', 'failed', false],
      ['NEVER', 'delayed', false],
      ['NEVER', 'delivered', false],
      [undefined, 'failed', true],
      [undefined, 'delayed', true],
      [undefined, 'delivered', false],
      [undefined, 'relayed', false],
      [['SUCCESS'], 'delivered', true],
      [['SUCCESS'], 'relayed', true],
      [['SUCCESS'], 'expanded', true],
      [['SUCCESS'], 'failed', false],
      [['FAILURE'], 'failed', true],
      [['FAILURE'], 'delayed', false],
      [['DELAY'], 'delayed', true],
      [['DELAY'], 'failed', false],
      [['FAILURE', 'DELAY'], 'delayed', true],
    ];
    for (const [notify, action, want] of table) {
      assert.equal(shouldNotify(notify, action), want, `${JSON.stringify(notify)} ${action}`);
    }
  });
});

describe('smtpDiagnostic', () => {
  test('code, enhanced code once, text', () => {
    assert.equal(
      smtpDiagnostic({ code: 550, enhanced: '5.1.1', text: '5.1.1 no such user' }),
      'smtp; 550 5.1.1 no such user',
    );
    assert.equal(
      smtpDiagnostic({ code: 550, enhanced: '5.1.1', text: 'no such user' }),
      'smtp; 550 5.1.1 no such user',
    );
    assert.equal(smtpDiagnostic({ code: 451, enhanced: null, text: 'later' }), 'smtp; 451 later');
  });
});

const PY = `
import email, email.policy, json, sys
msg = email.message_from_bytes(sys.stdin.buffer.read(), policy=email.policy.compat32)
defects = []
for p in msg.walk():
    defects += [type(d).__name__ for d in p.defects]
parts = msg.get_payload()
status = []
for block in parts[1].get_payload():
    status.append({k: str(v) for k, v in block.items()})
print(json.dumps({
    'type': msg.get_content_type(),
    'reportType': msg.get_param('report-type'),
    'parts': [p.get_content_type() for p in parts],
    'status': status,
    'originalSubject': parts[2].get_payload(0)['Subject'],
    'defects': defects,
}))
`;

interface PyView {
  type: string;
  reportType: string;
  parts: string[];
  status: Record<string, string>[];
  originalSubject: string;
  defects: string[];
}

function pythonView(raw: Buffer): PyView {
  const out = execFileSync('python3', ['-c', PY], { input: raw, timeout: 60_000 });
  return JSON.parse(out.toString('utf8')) as PyView;
}
