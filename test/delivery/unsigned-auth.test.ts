// authenticateUnsigned gives what mailauth's authenticate gives for a message without DKIM or
// ARC signatures (the same Received-SPF and Authentication-Results, the same SPF and DMARC
// results), and unsignedHeader sends everything else to authenticate.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { authenticate } from 'mailauth';
import type { ResolveFn } from '../../src/delivery/dns.js';
import { authInput } from '../../src/delivery/inbound-auth.js';
import { authenticateUnsigned, unsignedHeader } from '../../src/delivery/unsigned-auth.js';

/** TXT records by name; anything else fails as a missing name does. */
function zone(records: Record<string, string>): ResolveFn {
  return async (name, rrtype) => {
    const txt = records[name.toLowerCase()];
    if (rrtype === 'TXT' && txt !== undefined) return [[txt]];
    const err = Object.assign(new Error(`query${rrtype} ENOTFOUND ${name}`), {
      code: 'ENOTFOUND',
      hostname: name,
    });
    throw err;
  };
}

const result = (r: { status?: { result?: string } } | false) => (r ? r.status?.result : undefined);

const failing: ResolveFn = async () => {
  throw Object.assign(new Error('queryTxt ECONNREFUSED'), { code: 'ECONNREFUSED' });
};

const published = zone({
  'pass.example': 'v=spf1 ip4:192.0.2.0/24 -all',
  '_dmarc.pass.example': 'v=DMARC1; p=reject',
  'fail.example': 'v=spf1 -all',
  '_dmarc.fail.example': 'v=DMARC1; p=reject; rua=mailto:r@fail.example',
  'soft.example': 'v=spf1 ~all',
  '_dmarc.soft.example': 'v=DMARC1; p=quarantine; sp=none; pct=50',
  'nodmarc.example': 'v=spf1 ip4:192.0.2.7 -all',
  'helo.example': 'v=spf1 ip4:192.0.2.7 -all',
  '_dmarc.other.example': 'v=DMARC1; p=none',
});

const headers: Record<string, string> = {
  plain: 'From: Alice <alice@pass.example>\r\nTo: bob@local.test\r\nSubject: hi\r\n',
  failing: 'From: x@fail.example\r\nSubject: x\r\n',
  soft: 'From: "Soft, S." <s@soft.example>\r\n',
  'sub-domain': 'From: a@mail.pass.example\r\n',
  'no From': 'Subject: nothing\r\nTo: b@local.test\r\n',
  'two From fields': 'From: a@pass.example\r\nFrom: b@other.example\r\n',
  'two mailboxes': 'From: a@pass.example, b@other.example\r\n',
  group: 'From: friends: a@pass.example, b@other.example;\r\n',
  folded: 'From: Alice\r\n <alice@pass.example>\r\nSubject: folded\r\n  twice\r\n',
  'space before colon': 'From : a@pass.example\r\n',
  'encoded word': 'From: =?utf-8?q?Al=C3=AFce?= <a@pass.example>\r\n',
  'no address': 'From: undisclosed\r\n',
  'other domain': 'From: a@nodmarc.example\r\nReceived: from x by y\r\n',
};

const envelopes = [
  { ip: '192.0.2.7', helo: 'client.example', sender: 'alice@pass.example' },
  { ip: '198.51.100.1', helo: 'client.example', sender: 'x@fail.example' },
  { ip: '198.51.100.1', helo: 'soft.example', sender: 's@soft.example' },
  { ip: '192.0.2.7', helo: 'helo.example', sender: '' },
  { ip: '192.0.2.7', helo: '', sender: 'a@nodmarc.example' },
  { ip: '192.0.2.7', helo: '192.0.2.7', sender: 'a@other.example' },
  { ip: '::ffff:192.0.2.7', helo: '[192.0.2.7]', sender: 'alice@pass.example' },
  { ip: '2001:db8::1', helo: 'client.example', sender: 'a@sub.pass.example' },
];

describe('authenticateUnsigned', () => {
  for (const [name, header] of Object.entries(headers)) {
    test(`same as mailauth's authenticate: ${name}`, async () => {
      const raw = Buffer.from(`${header}\r\nbody line\r\n`);
      const input = authInput(raw);
      const fields = unsignedHeader(input);
      assert.ok(fields, 'handled without the DKIM pass');
      for (const [resolverName, resolver] of [
        ['published', published],
        ['failing', failing],
      ] as const) {
        for (const env of envelopes) {
          const opts = { ...env, mta: 'mx.local.test', resolver };
          const want = await authenticate(input, { ...opts, disableBimi: true });
          const got = await authenticateUnsigned(fields, opts);
          const label = `${resolverName} ${JSON.stringify(env)}`;
          assert.equal(got.headers, want.headers, label);
          assert.deepEqual(
            JSON.parse(JSON.stringify(got.spf)),
            JSON.parse(JSON.stringify(want.spf)),
            label,
          );
          assert.deepEqual(
            JSON.parse(JSON.stringify(got.dmarc)),
            JSON.parse(JSON.stringify(want.dmarc)),
            label,
          );
          assert.deepEqual(got.dkim.results, JSON.parse(JSON.stringify(want.dkim.results)), label);
        }
      }
    });
  }

  test('the table covers pass, fail and reject outcomes', async () => {
    const fields = unsignedHeader(Buffer.from('From: x@fail.example\r\n\r\n'))!;
    const r = await authenticateUnsigned(fields, {
      ip: '198.51.100.1',
      helo: 'client.example',
      sender: 'x@fail.example',
      mta: 'mx.local.test',
      resolver: published,
    });
    assert.equal(result(r.spf), 'fail');
    assert.equal(result(r.dmarc), 'fail');
    const ok = await authenticateUnsigned(
      unsignedHeader(Buffer.from('From: alice@pass.example\r\n\r\n'))!,
      {
        ip: '192.0.2.7',
        helo: 'client.example',
        sender: 'alice@pass.example',
        mta: 'mx.local.test',
        resolver: published,
      },
    );
    assert.equal(result(ok.spf), 'pass');
    assert.equal(result(ok.dmarc), 'pass');
  });
});

describe('unsignedHeader', () => {
  test('signature and ARC fields, however spelled, go to authenticate', () => {
    for (const field of [
      'DKIM-Signature: v=1; a=rsa-sha256; d=x; s=y; b=; bh=',
      'dkim-signature : v=1',
      'ARC-Seal: i=1; cv=none',
      'ARC-Message-Signature: i=1',
      'ARC-Authentication-Results: i=1; mx.example; spf=pass',
    ]) {
      const input = Buffer.from(`From: a@pass.example\r\n${field}\r\n\r\n`);
      assert.equal(unsignedHeader(input), null, field);
    }
  });

  test('what mailauth could read differently goes to authenticate', () => {
    for (const text of [
      'From: a@pass.example\nSubject: bare LF\r\n\r\n', // mailauth reads a bare LF as a line end
      'From: a@pass.example\r\n', // no empty line: the whole input is its header
      '\r\n\r\n', // no header at all
      'From: a@pass.example\r\n\r\nbody\r\n\r\n', // more than the header
    ]) {
      assert.equal(unsignedHeader(Buffer.from(text)), null, JSON.stringify(text));
    }
  });

  test('a header and its empty line are read as mailauth reads them', () => {
    const fields = unsignedHeader(Buffer.from('From: a@pass.example\r\nTo: b\r\n c\r\n\r\n'))!;
    assert.deepEqual(
      fields.map((f) => [f.key, f.line.toString()]),
      [
        ['from', 'From: a@pass.example'],
        ['to', 'To: b\r\n c'],
      ],
    );
  });
});
