// MX recipient policy on a raw socket: unknown users, relay attempts in all their disguises,
// quota, aliases and catch-all, and one blob for a message to several local users.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ehlo, RawClient } from './client.js';
import { inbox, inboxHashes, message, type SmtpTestServer, startSmtpServer } from './helpers.js';

/** EHLO, MAIL, each RCPT; returns the RCPT replies' last lines. */
async function rcpts(c: RawClient, addresses: string[]): Promise<string[]> {
  await ehlo(c);
  assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
  const out: string[] = [];
  for (const a of addresses) out.push((await c.cmd(`RCPT TO:${a}`)).last);
  return out;
}

async function send(c: RawClient, to: string, subject: string): Promise<string> {
  assert.equal((await c.cmd('DATA')).code, 354);
  return (await c.cmd(`${message('x@sender.test', to, subject)}.`)).last;
}

describe('SMTP MX policy', () => {
  let t: SmtpTestServer;
  let mx: number;
  before(async () => {
    t = await startSmtpServer();
    mx = t.port('smtp');
    await t.addUser('alice@example.test', 'pw-alice-1');
    await t.addUser('bob@example.test', 'pw-bob-1');
    await t.addUser('carol@other.test', 'pw-carol-1');
    const store = t.server.ctx.store;
    await store.addAlias('sales@example.test', ['alice@example.test', 'bob@example.test']);
    await store.addAlias('@other.test', ['carol@other.test']);
    await store.addAlias('postmaster@example.test', ['alice@example.test']);
  });
  after(() => t.stop());

  test('unknown user of a local domain: 550 5.1.1', async () => {
    const c = await RawClient.open(mx);
    const [r] = await rcpts(c, ['<nobody@example.test>']);
    assert.match(r!, /^550 5\.1\.1 /);
    c.destroy();
  });

  test('foreign domain and every routing disguise are refused; nothing is queued', async () => {
    const c = await RawClient.open(mx);
    const replies = await rcpts(c, [
      '<user@foreign.test>',
      '<user%foreign.test@example.test>',
      '<"user@foreign.test"@example.test>',
      '<@example.test:user@foreign.test>',
      '<@example.test,@foreign.test:alice@example.test>',
      '<user@[127.0.0.1]>',
      '<user!foreign.test@example.test>',
    ]);
    assert.match(replies[0]!, /^550 5\.7\.1 /);
    assert.match(replies[1]!, /^550 5\.7\.1 /);
    assert.match(replies[2]!, /^550 5\.7\.1 /);
    assert.match(replies[3]!, /^550 5\.7\.1 /);
    // RFC 5321 §3.6.1 / Appendix C: a source route is ignored; the mailbox is local, so fine.
    assert.match(replies[4]!, /^250 /);
    assert.match(replies[5]!, /^550 5\.7\.1 /);
    assert.match(replies[6]!, /^550 5\.7\.1 /);
    // Only the local mailbox gets it.
    assert.match(await send(c, 'alice@example.test', 'routed'), /^250 /);
    c.destroy();
    assert.deepEqual(await t.server.ctx.store.listOutbound(), []);
  });

  test('an alias delivers to each target; a catch-all takes unknown local parts', async () => {
    const c = await RawClient.open(mx);
    assert.match((await rcpts(c, ['<sales@example.test>']))[0]!, /^250 /);
    assert.match(await send(c, 'sales@example.test', 'alias'), /^250 2\.6\.0 /);
    assert.match((await rcpts(c, ['<anything-at-all@other.test>']))[0]!, /^250 /);
    assert.match(await send(c, 'anything-at-all@other.test', 'catchall'), /^250 2\.6\.0 /);
    c.destroy();
    for (const u of ['alice@example.test', 'bob@example.test']) {
      assert.ok(
        (await inbox(t, u)).some((m) => m.includes('Subject: alias')),
        u,
      );
    }
    assert.ok((await inbox(t, 'carol@other.test')).some((m) => m.includes('Subject: catchall')));
  });

  test('a message to two local users is stored once, in both INBOXes', async () => {
    const c = await RawClient.open(mx);
    const rs = await rcpts(c, ['<alice@example.test>', '<bob@example.test>']);
    assert.ok(rs.every((r) => r.startsWith('250')));
    assert.match(await send(c, 'alice@example.test', 'shared'), /^250 /);
    c.destroy();
    const a = await inboxHashes(t, 'alice@example.test');
    const b = await inboxHashes(t, 'bob@example.test');
    const shared = a[a.length - 1]!;
    assert.equal(b[b.length - 1], shared);
    const raw = await t.server.ctx.store.readMessage(shared);
    assert.ok(raw.includes('Subject: shared'));
    // Two recipients: the Received header names neither (no Bcc disclosure).
    assert.ok(!/\tfor </.test(raw.toString('latin1')));
  });

  test('<Postmaster> without a domain is accepted (RFC 5321 §4.1.1.3)', async () => {
    const c = await RawClient.open(mx);
    const [r] = await rcpts(c, ['<Postmaster>']);
    assert.match(r!, /^250 /);
    assert.match(await send(c, 'postmaster@example.test', 'to postmaster'), /^250 /);
    c.destroy();
    assert.ok(
      (await inbox(t, 'alice@example.test')).some((m) => m.includes('Subject: to postmaster')),
    );
  });

  test('the same recipient twice gets one copy', async () => {
    const c = await RawClient.open(mx);
    const rs = await rcpts(c, ['<bob@example.test>', '<BOB@example.test>']);
    assert.ok(rs.every((r) => r.startsWith('250')));
    assert.match(await send(c, 'bob@example.test', 'twice'), /^250 /);
    c.destroy();
    const n = (await inbox(t, 'bob@example.test')).filter((m) => m.includes('Subject: twice'));
    assert.equal(n.length, 1);
  });
});

describe('SMTP MX quota', () => {
  let t: SmtpTestServer;
  before(async () => {
    t = await startSmtpServer();
    await t.addUser('full@example.test', 'pw-full-1');
    await t.addUser('roomy@example.test', 'pw-roomy-1');
  });
  after(() => t.stop());

  test('a declared SIZE over the remaining quota: 552 5.2.2 at RCPT', async () => {
    await t.server.ctx.store.setQuota('full@example.test', 4096);
    const c = await RawClient.open(t.port('smtp'));
    await ehlo(c);
    assert.equal((await c.cmd('MAIL FROM:<x@sender.test> SIZE=5000')).code, 250);
    assert.match((await c.cmd('RCPT TO:<full@example.test>')).last, /^552 5\.2\.2 /);
    c.destroy();
  });

  test('a message that does not fit: 552 5.2.2 after DATA, stored for nobody', async () => {
    await t.server.ctx.store.setQuota('full@example.test', 100);
    const c = await RawClient.open(t.port('smtp'));
    const rs = await rcpts(c, ['<full@example.test>', '<roomy@example.test>']);
    assert.ok(
      rs.every((r) => r.startsWith('250')),
      rs.join(),
    );
    assert.match(await send(c, 'full@example.test', 'too big for quota'), /^552 5\.2\.2 /);
    assert.equal((await c.cmd('NOOP')).code, 250);
    c.destroy();
    assert.equal((await inbox(t, 'full@example.test')).length, 0);
    assert.equal((await inbox(t, 'roomy@example.test')).length, 0);
  });

  test('a mailbox already over quota is refused at RCPT', async () => {
    await t.server.ctx.store.setQuota('full@example.test', null);
    const c = await RawClient.open(t.port('smtp'));
    await rcpts(c, ['<full@example.test>']);
    assert.match(await send(c, 'full@example.test', 'fills'), /^250 /);
    await t.server.ctx.store.setQuota('full@example.test', 10);
    assert.equal((await c.cmd('MAIL FROM:<x@sender.test>')).code, 250);
    assert.match((await c.cmd('RCPT TO:<full@example.test>')).last, /^552 5\.2\.2 /);
    c.destroy();
  });
});
