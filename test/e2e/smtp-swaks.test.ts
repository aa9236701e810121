// swaks (Debian) against the real listeners: MX delivery, relay refusal, submission with
// STARTTLS and AUTH, sender checks, and a remote recipient queued with DSN parameters. Each
// delivered message is compared byte for byte with what swaks sent.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import {
  inbox,
  message,
  type SmtpTestServer,
  splitStored,
  startSmtpServer,
} from '../smtp/session/helpers.js';
import { requireTool, run } from './smtp-clients.js';

const USER = 'sam@example.test';
const PASS = 'pw-sam-swaks';

describe('swaks', () => {
  let t: SmtpTestServer;
  let dir: string;
  before(async () => {
    requireTool('swaks', 'apt-get install swaks');
    t = await startSmtpServer();
    await t.addUser(USER, PASS);
    await t.addUser('rita@example.test', 'pw-rita-1');
    dir = await mkdtemp(join(tmpdir(), 'lb-swaks-'));
  });
  after(async () => {
    await t.stop();
    await rm(dir, { recursive: true, force: true });
  });

  /**
   * Writes the message to a file for `--data @file`; returns the bytes swaks sends: the file,
   * then its own CRLF before the terminating `.` (the stored message has that CRLF too).
   */
  async function dataFile(name: string, text: string): Promise<[string, Buffer]> {
    const path = join(dir, name);
    await writeFile(path, text);
    return [`@${path}`, Buffer.from(`${text}\r\n`)];
  }

  const swaks = (port: number, args: string[]) =>
    run('swaks', [
      '--server',
      '127.0.0.1',
      '--port',
      String(port),
      '--ehlo',
      'swaks.test',
      ...args,
    ]);

  test('MX: delivers to a local user, byte for byte', async () => {
    // A line starting with a dot exercises swaks's dot-stuffing and our unstuffing.
    const [data, sent] = await dataFile(
      'mx.eml',
      message(
        'someone@sender.test',
        'rita@example.test',
        'swaks mx',
        'Hello Rita.\r\n.leading dot\r\n',
      ),
    );
    const r = await swaks(t.port('smtp'), [
      '--from',
      'someone@sender.test',
      '--to',
      'rita@example.test',
      '--data',
      data,
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /<- {2}250 2\.6\.0 Message accepted/);
    const msgs = await inbox(t, 'rita@example.test');
    const parts = splitStored(msgs[msgs.length - 1]!, { mx: true });
    assert.equal(parts.returnPath, 'Return-Path: <someone@sender.test>\r\n');
    assert.match(
      parts.received,
      /^Received: from swaks\.test \(\[127\.0\.0\.1\]\)\r\n\tby localhost \(Letterbox\) with ESMTP id [0-9A-F]+\r\n\tfor <rita@example\.test>;\r\n\t\w{3}, /,
    );
    assert.match(parts.authResults!, /^Authentication-Results: localhost;/);
    assert.ok(parts.rest.equals(sent), `stored:\n${parts.rest.toString('latin1')}`);
  });

  test('MX: a foreign domain is refused 550 5.7.1', async () => {
    const r = await swaks(t.port('smtp'), [
      '--from',
      'someone@sender.test',
      '--to',
      'victim@foreign.test',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /<\*\* 550 5\.7\.1 Relaying denied/);
    assert.deepEqual(await t.server.ctx.store.listOutbound(), []);
  });

  test('submission: no AUTH before STARTTLS (not offered; MAIL gets 530 5.7.0)', async () => {
    const required = await swaks(t.port('submission'), [
      '--from',
      USER,
      '--to',
      'rita@example.test',
      '--auth',
      'PLAIN',
      '--auth-user',
      USER,
      '--auth-password',
      PASS,
    ]);
    assert.notEqual(required.code, 0);
    assert.doesNotMatch(required.stdout, /235 /);
    const optional = await swaks(t.port('submission'), [
      '--from',
      USER,
      '--to',
      'rita@example.test',
      '--auth-optional',
      'PLAIN',
      '--auth-user',
      USER,
      '--auth-password',
      PASS,
    ]);
    assert.notEqual(optional.code, 0);
    assert.match(optional.stdout, /<\*\* 530 5\.7\.0 Must issue a STARTTLS command first/);
  });

  test('submission: STARTTLS + AUTH PLAIN delivers, byte for byte', async () => {
    const [data, sent] = await dataFile(
      'sub.eml',
      message(USER, 'rita@example.test', 'swaks submission'),
    );
    const r = await swaks(t.port('submission'), [
      '--tls',
      '--auth',
      'PLAIN',
      '--auth-user',
      USER,
      '--auth-password',
      PASS,
      '--from',
      USER,
      '--to',
      'rita@example.test',
      '--data',
      data,
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /235 2\.7\.0 Authentication successful/);
    const msgs = await inbox(t, 'rita@example.test');
    const parts = splitStored(msgs[msgs.length - 1]!, { mx: false });
    assert.equal(parts.returnPath, `Return-Path: <${USER}>\r\n`);
    assert.match(parts.received, /with ESMTPSA id /);
    assert.ok(parts.rest.equals(sent), parts.rest.toString('latin1'));
  });

  const authed = ['--tls', '--auth', 'PLAIN', '--auth-user', USER, '--auth-password', PASS];

  test('submission: a forged envelope sender is refused 553 5.7.1', async () => {
    const r = await swaks(t.port('submission'), [
      ...authed,
      '--from',
      'rita@example.test',
      '--to',
      'rita@example.test',
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /<~\* 553 5\.7\.1 /);
  });

  // RFC 6409 §6.3: 550 5.7.1 after the end of data (553 is not a reply to DATA).
  test('submission: a forged From header is refused 550 5.7.1', async () => {
    const [data] = await dataFile(
      'forged.eml',
      message('boss@example.test', 'rita@example.test', 'swaks forged'),
    );
    const r = await swaks(t.port('submission'), [
      ...authed,
      '--from',
      USER,
      '--to',
      'rita@example.test',
      '--data',
      data,
    ]);
    assert.notEqual(r.code, 0);
    assert.match(r.stdout, /<~\* 550 5\.7\.1 /);
    const msgs = await inbox(t, 'rita@example.test');
    assert.ok(!msgs.some((m) => m.includes('swaks forged')));
  });

  test('submission: a remote recipient is queued with its DSN parameters', async () => {
    // Debian bookworm's swaks (20201014) has no --dsn-* options (they came in 20240103), so
    // the parameters ride on the address arguments: swaks writes `MAIL FROM:<ARG>` verbatim.
    // ENVID and ORCPT come last so that swaks's closing '>' ends up inside their xtext value;
    // swaks splits --to at commas, so NOTIFY takes one value here.
    const [data, sent] = await dataFile(
      'remote.eml',
      message(USER, 'far@remote.test', 'swaks remote'),
    );
    const r = await swaks(t.port('submission'), [
      ...authed,
      '--from',
      `${USER}> RET=HDRS ENVID=swaks-1`,
      '--to',
      'far@remote.test> NOTIFY=SUCCESS ORCPT=rfc822;far@remote.test',
      '--data',
      data,
    ]);
    assert.equal(r.code, 0, r.stdout + r.stderr);
    const queued = (await t.server.ctx.store.listOutbound()).filter((q) =>
      q.envid?.startsWith('swaks-1'),
    );
    assert.equal(queued.length, 1);
    const q = queued[0]!;
    assert.equal(q.sender, USER);
    assert.equal(q.ret, 'HDRS');
    assert.equal(q.envid, 'swaks-1>');
    assert.equal(q.recipients.length, 1);
    assert.equal(q.recipients[0]!.address, 'far@remote.test');
    assert.deepEqual(q.recipients[0]!.notify, ['SUCCESS']);
    assert.equal(q.recipients[0]!.orcpt, 'rfc822;far@remote.test>');
    const raw = await t.server.ctx.store.readMessage(q.blobHash);
    assert.match(raw.toString('latin1'), /^Received: from swaks\.test /);
    assert.ok(raw.subarray(raw.length - sent.length).equals(sent));
  });
});
