// Issue 13 §4: Debian's Postfix as the remote MX. alice@a.test writes through submission on a
// Letterbox, which finds pf.test's MX through a DNS server run by the test and delivers to a
// private Postfix on loopback (test/helpers/postfix.ts): over STARTTLS (Postfix's Received
// says `with ESMTPS`), the message as queued byte for byte below the fields Postfix and the
// DKIM signer add, the DKIM signature verified by dkimpy (an implementation independent of
// mailauth's signer). A user Postfix does not know is refused at RCPT with 550 5.1.1, and
// Letterbox bounces it: the DSN lands in alice's INBOX.
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import {
  type DkimKeyInfo,
  generateDkimKey,
  keyRecordName,
  keyRecordValue,
} from '../../src/queue/dkim-keys.js';
import type { NewOutbound } from '../../src/store/types.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { eventually } from '../helpers/eventually.js';
import { type PostfixMx, startPostfixMx } from '../helpers/postfix.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const PYTHON = '/usr/bin/python3';

/** Fails loudly when dkimpy (Debian python3-dkim) is missing. */
function requireDkimpy(): void {
  const r = spawnSync(PYTHON, ['-c', 'import dkim'], { encoding: 'utf8' });
  if (r.status !== 0) {
    throw new Error(
      `${PYTHON} cannot import dkim: apt-get install python3-dkim (.ci/run installs it)\n` +
        `${r.stderr ?? ''}${r.error?.message ?? ''}`,
    );
  }
}

/** dkimpy verifies every DKIM-Signature of the file, with DNS answered from a JSON zone. */
const DKIMPY_VERIFY = `
import json, sys, dkim
msg = open(sys.argv[1], 'rb').read()
zone = json.load(open(sys.argv[2]))
def dnsfunc(name, timeout=5):
    v = zone.get(name.decode().rstrip('.').lower())
    return v.encode() if v is not None else None
d = dkim.DKIM(msg)
n = sum(1 for h in d.headers if h[0].lower() == b'dkim-signature')
print(json.dumps([bool(d.verify(idx=i, dnsfunc=dnsfunc)) for i in range(n)]))
`;

async function dkimpyVerify(message: Buffer, zone: Record<string, string>): Promise<boolean[]> {
  const dir = await mkdtemp(join(tmpdir(), 'lb-dkimpy-'));
  try {
    await writeFile(join(dir, 'msg.eml'), message);
    await writeFile(join(dir, 'zone.json'), JSON.stringify(zone));
    const r = spawnSync(
      PYTHON,
      ['-c', DKIMPY_VERIFY, join(dir, 'msg.eml'), join(dir, 'zone.json')],
      { encoding: 'utf8', timeout: 60_000 },
    );
    assert.equal(r.status, 0, `dkimpy failed: ${r.stderr}`);
    return JSON.parse(r.stdout) as boolean[];
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/** The header field names of a message's header section, in order (lower case). */
function fieldNames(header: string): string[] {
  return header
    .split(/\r?\n(?![ \t])/)
    .filter((f) => f.length > 0)
    .map((f) => f.slice(0, f.indexOf(':')).toLowerCase());
}

/** The unfolded fields of one name. */
function fields(message: string, name: string): string[] {
  const head = message.slice(0, message.search(/\r?\n\r?\n/));
  return head
    .split(/\r?\n(?![ \t])/)
    .filter((f) => f.toLowerCase().startsWith(`${name.toLowerCase()}:`))
    .map((f) => f.replace(/\r?\n[ \t]+/g, ' '));
}

describe('outbound delivery to Debian Postfix as the remote MX', () => {
  let dns: TestDnsServer;
  let pf: PostfixMx;
  let a: TestServer;
  let aliceId: number;
  let rsa: DkimKeyInfo;
  const zone: Record<string, string> = {};
  /** What Letterbox put in its outbound queue, in order. */
  const queued: NewOutbound[] = [];

  /** Waits with a generous deadline; on timeout, says what Postfix logged. */
  async function waitFor(check: () => Promise<boolean>, what: string): Promise<void> {
    try {
      await eventually(check, what, 40_000);
    } catch (err) {
      const q = await a.server.ctx.store.listOutbound();
      throw new Error(
        `${(err as Error).message}\nLetterbox queue: ${JSON.stringify(q.map((i) => i.recipients))}` +
          `\nPostfix log:\n${pf.logTail()}`,
      );
    }
  }

  function submit(to: string, subject: string) {
    return nodemailer
      .createTransport({
        host: '127.0.0.1',
        port: a.port('submission'),
        secure: false,
        ignoreTLS: true,
        auth: { user: 'alice@a.test', pass: 'alice-password-1' },
        logger: false,
      })
      .sendMail({
        from: 'alice@a.test',
        to,
        subject,
        text: `Hello Postfix: ${subject}\n\nA second paragraph.\n`,
      });
  }

  before(async () => {
    requireDkimpy();
    pf = await startPostfixMx({ domain: 'pf.test', mailboxes: ['carol'] });
    dns = await startDnsServer();
    a = await startTestServer({
      listeners: ['submission'],
      allowPlaintext: true,
      hostname: 'mail.a.test',
      extraToml:
        `[dns]\nservers = ["${dns.address}"]\ntimeout_ms = 2000\n` +
        `[queue]\nport = ${pf.port}\nretry_minutes = [0.01]\n`,
    });
    aliceId = await a.addUser('alice@a.test', 'alice-password-1');
    rsa = await generateDkimKey(a.dir, 'a.test', { algorithm: 'rsa' });
    zone[keyRecordName('a.test', rsa.selector)] = keyRecordValue(rsa);
    dns.set('pf.test', { MX: [{ priority: 10, exchange: 'mx.pf.test' }] });
    dns.set('mx.pf.test', { A: ['127.0.0.1'] });
    dns.set('a.test', { TXT: ['v=spf1 ip4:127.0.0.1 -all'] });
    dns.set(keyRecordName('a.test', rsa.selector), { TXT: [keyRecordValue(rsa)] });
    // The bytes Letterbox queues, seen on their way into the store.
    const store = a.server.ctx.store;
    const enqueue = store.enqueueOutbound.bind(store);
    store.enqueueOutbound = (m) => {
      queued.push(m);
      return enqueue(m);
    };
  });
  after(async () => {
    await a?.stop();
    await pf?.stop();
    await dns?.close();
  });

  test('delivered over STARTTLS, byte for byte, with a DKIM signature dkimpy verifies', async () => {
    await submit('carol@pf.test', 'to Postfix');
    let got: Buffer[] = [];
    await waitFor(async () => {
      got = await pf.delivered('carol');
      return got.length > 0;
    }, "the message in carol's Maildir");
    assert.equal(got.length, 1, 'one message in the Maildir');
    const item = queued.find((m) => m.recipients.some((r) => r.address === 'carol@pf.test'));
    assert.ok(item, 'Letterbox queued the message for carol@pf.test');

    // Postfix stores lines with LF ends (the Maildir file); the wire had CRLF.
    const delivered = got[0]!.toString('latin1');
    const sent = item.raw.toString('latin1').replaceAll('\r\n', '\n');
    assert.ok(
      delivered.endsWith(sent),
      `the queued message is the tail of what Postfix delivered:\n${delivered}`,
    );
    // Above it, only what Postfix adds (Return-Path, X-Original-To, Delivered-To, its Received)
    // and the DKIM-Signature Letterbox adds when it sends.
    const added = fieldNames(delivered.slice(0, delivered.length - sent.length));
    assert.deepEqual(
      [...new Set(added)].sort(),
      ['delivered-to', 'dkim-signature', 'received', 'return-path', 'x-original-to'],
      `fields added above the queued message: ${added.join(', ')}`,
    );
    assert.equal(added.filter((n) => n === 'dkim-signature').length, 1, 'one (RSA) signature');
    assert.equal(added.filter((n) => n === 'received').length, 1, "Postfix's Received only");

    // RFC 3848 §3: "ESMTPS" is the with-protocol of ESMTP over STARTTLS.
    const received = fields(delivered, 'Received')[0]!;
    assert.match(received, /by mx\.pf\.test \(Postfix\) with ESMTPS /, received);
    assert.match(received, /using TLSv1\.[23]/, received);
    assert.match(fields(delivered, 'Return-Path')[0]!, /<alice@a\.test>/);
    assert.match(fields(delivered, 'DKIM-Signature')[0]!, /d=a\.test;/);

    // The independent verifier sees the message as it went over the wire (CRLF).
    const wire = Buffer.from(delivered.replaceAll('\n', '\r\n'), 'latin1');
    assert.deepEqual(await dkimpyVerify(wire, zone), [true], 'dkimpy: the signature verifies');
    await waitFor(
      async () => (await a.server.ctx.store.listOutbound()).length === 0,
      'the queue of a.test to empty',
    );
  });

  test('a user Postfix does not know: 550 5.1.1 at RCPT, a DSN in alice INBOX', async () => {
    await submit('nobody@pf.test', 'to nobody at Postfix');
    const store = a.server.ctx.store;
    const inbox = await store.getMailbox(aliceId, 'INBOX');
    assert.ok(inbox, 'alice has an INBOX');
    let dsn = '';
    await waitFor(async () => {
      for (const m of await store.listMessages(inbox.id)) {
        const raw = (await store.readMessage(m.blobHash, m.size)).toString('utf8');
        if (raw.includes('multipart/report') && raw.includes('Subject: to nobody at Postfix')) {
          dsn = raw;
          return true;
        }
      }
      return false;
    }, "the DSN in alice's INBOX");
    assert.match(dsn, /^Return-Path: <>/m);
    assert.match(dsn, /report-type="?delivery-status/);
    assert.match(dsn, /Final-Recipient: rfc822; ?nobody@pf\.test/);
    assert.match(dsn, /Action: failed/);
    assert.match(dsn, /Status: 5\.1\.1/);
    assert.match(dsn, /Remote-MTA: dns; ?mx\.pf\.test/);
    // Postfix's own words, passed on (RFC 3464 §2.3.6 Diagnostic-Code).
    assert.match(dsn, /Diagnostic-Code: smtp; ?550 5\.1\.1 <nobody@pf\.test>/);
    assert.match(dsn, /User unknown in virtual mailbox table/);
  });
});
