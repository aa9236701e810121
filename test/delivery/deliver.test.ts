// The delivery stage's entry points (src/delivery/deliver.ts, mailbox.ts) called as the queue
// worker and IMAP call them: plain data in, an Outcome out, the store as it is after.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseConfig } from '../../src/config/load.js';
import { deliver } from '../../src/delivery/deliver.js';
import { deliverToMailbox } from '../../src/delivery/mailbox.js';
import type { DeliveryDeps } from '../../src/delivery/types.js';
import { silentLogger } from '../../src/log.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { openAliceStore } from '../helpers/store.js';

const DSN = Buffer.from(
  'From: Mail Delivery System <MAILER-DAEMON@mx.example.test>\r\n' +
    'To: alice@example.test\r\nSubject: Undelivered Mail\r\n\r\nIt failed.\r\n',
);

describe('deliver', () => {
  let dir: string;
  let store: SqliteStore;
  let inbox: number;
  let deps: DeliveryDeps;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-deliver-'));
    ({ store, inbox } = await openAliceStore(dir));
    await store.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
    await store.addAlias('list@example.test', ['bob@example.test', 'carol@elsewhere.example']);
    const cfg = parseConfig(`hostname = "mx.example.test"\ndata_dir = "${dir}"\n`, 'test');
    deps = { cfg, store, log: silentLogger() };
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  async function inboxOf(address: string): Promise<Buffer[]> {
    const a = (await store.getAccount(address))!;
    const box = (await store.getMailbox(a.id, 'INBOX'))!;
    const recs = await store.listMessages(box.id);
    return Promise.all(recs.map((r) => store.readMessage(r.blobHash)));
  }

  test('a DSN to a local address: into the INBOX with Return-Path <> and a Received by us', async () => {
    const before = (await store.listMessages(inbox)).length;
    const o = await deliver(deps, {
      origin: 'dsn',
      sender: '',
      recipients: ['Alice@Example.Test'],
      message: DSN,
    });
    assert.equal(o.status, 'accepted');
    assert.equal(o.status === 'accepted' && o.stored.length, 1);
    const got = await inboxOf('alice@example.test');
    assert.equal(got.length, before + 1);
    const raw = got.at(-1)!.toString();
    assert.match(
      raw,
      /^Return-Path: <>\r\nReceived: by mx\.example\.test \(Letterbox\) id [0-9A-F]{16}\r\n\tfor <alice@example\.test>;\r\n\t.+\r\nFrom: Mail Delivery/,
    );
    assert.ok(raw.endsWith('\r\n\r\nIt failed.\r\n'));
  });

  test('a DSN to a remote address goes to the outbound queue from <>', async () => {
    const o = await deliver(deps, {
      origin: 'dsn',
      sender: '',
      recipients: ['someone@elsewhere.example'],
      message: DSN,
    });
    assert.equal(o.status, 'accepted');
    const ids = o.status === 'accepted' ? o.queued : [];
    assert.equal(ids.length, 1);
    const item = (await store.getOutbound(ids[0]!))!;
    assert.equal(item.sender, '');
    assert.deepEqual(
      item.recipients.map((r) => [r.address, r.orcpt ?? null]),
      [['someone@elsewhere.example', null]],
    );
    // Queued with the trace field, without Return-Path (RFC 5321 §4.4: final delivery only).
    const raw = (await store.readOutbound(item)).toString();
    assert.match(raw, /^Received: by mx\.example\.test /);
    assert.doesNotMatch(raw, /Return-Path/);
  });

  test('a DSN to an unknown local user is refused and stores nothing', async () => {
    const queued = (await store.listOutbound()).length;
    const o = await deliver(deps, {
      origin: 'dsn',
      sender: '',
      recipients: ['nobody@example.test'],
      message: DSN,
    });
    assert.equal(o.status, 'refused');
    assert.deepEqual(o.status === 'refused' && o.refusal, {
      reason: 'no-such-user',
      address: 'nobody@example.test',
    });
    assert.equal((await store.listOutbound()).length, queued);
  });

  test('an alias: its local member stored, its outside member queued with ORCPT', async () => {
    const o = await deliver(deps, {
      origin: 'dsn',
      sender: 'owner@elsewhere.example',
      recipients: ['list@example.test'],
      message: DSN,
    });
    assert.equal(o.status, 'accepted');
    if (o.status !== 'accepted') return;
    assert.equal(o.stored.length, 1);
    assert.equal((await inboxOf('bob@example.test')).length, 1);
    const item = (await store.getOutbound(o.queued[0]!))!;
    // The forwarded sender is decided in one place (outbound.ts forwardedSender).
    assert.equal(item.sender, 'owner@elsewhere.example');
    assert.deepEqual(
      item.recipients.map((r) => [r.address, r.orcpt]),
      [['carol@elsewhere.example', 'rfc822;list@example.test']],
    );
  });

  test('an address without a domain is refused, except postmaster (ours, RFC 5321 §4.1.1.3)', async () => {
    const bad = await deliver(deps, {
      origin: 'dsn',
      sender: '',
      recipients: ['alice'],
      message: DSN,
    });
    assert.deepEqual(bad.status === 'refused' && bad.refusal, {
      reason: 'bad-address',
      address: 'alice',
    });
    // No postmaster account or alias: the oldest account (alice) gets it.
    const pm = await deliver(deps, {
      origin: 'dsn',
      sender: '',
      recipients: ['Postmaster'],
      message: DSN,
    });
    assert.equal(pm.status, 'accepted');
    const raw = (await inboxOf('alice@example.test')).at(-1)!.toString();
    assert.match(raw, /for <postmaster@mx\.example\.test>;/);
  });

  test('the MX origin refuses to relay; nothing is stored', async () => {
    const o = await deliver(deps, {
      origin: 'mx',
      sender: 'x@elsewhere.example',
      recipients: ['someone@elsewhere.example'],
      message: DSN,
      peer: { ip: '192.0.2.1', helo: 'client.example', protocol: 'ESMTP' },
    });
    assert.deepEqual(o.status === 'refused' && o.refusal, {
      reason: 'relay-denied',
      address: 'someone@elsewhere.example',
    });
  });

  test('over quota: refused with the accounts named, nothing stored', async () => {
    await store.createAccount({ address: 'tiny@example.test', passwordHash: 'h' });
    await store.setQuota('tiny@example.test', 10);
    const o = await deliver(deps, {
      origin: 'dsn',
      sender: '',
      recipients: ['tiny@example.test'],
      message: DSN,
    });
    assert.deepEqual(o.status === 'refused' && o.refusal, {
      reason: 'over-quota',
      address: 'tiny@example.test',
    });
    assert.equal((await inboxOf('tiny@example.test')).length, 0);
  });

  test('into one mailbox: all or nothing, as MULTIAPPEND wants', async () => {
    await store.createAccount({ address: 'small@example.test', passwordHash: 'h' });
    const a = (await store.getAccount('small@example.test'))!;
    const box = (await store.getMailbox(a.id, 'INBOX'))!;
    await store.setQuota('small@example.test', DSN.length * 2 + 10);
    const one = await deliverToMailbox({ store }, box.id, [{ raw: DSN, flags: ['\\Seen'] }]);
    assert.equal(one.status, 'accepted');
    assert.equal(one.status === 'accepted' && one.stored[0]!.uid, 1);
    const three = await deliverToMailbox({ store }, box.id, [
      { raw: DSN },
      { raw: DSN },
      { raw: DSN },
    ]);
    assert.deepEqual(three.status === 'refused' && three.refusal.reason, 'over-quota');
    const left = await store.listMessages(box.id);
    assert.deepEqual(
      left.map((r) => r.uid),
      [1],
    );
  });
});
