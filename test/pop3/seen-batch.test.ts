// Retrieved messages are marked \Seen in batches (SEEN_BATCH_MS). A message the client has
// also marked deleted waits for the end of the session: QUIT expunges it (no flag write at
// all), RSET or a session that ends without QUIT marks it after all.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { SEEN_BATCH_MS } from '../../src/pop3/limits.js';
import type { ChangeEvent } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { rawMessage } from '../helpers/messages.js';
import { RawPop3 } from './client.js';
import { PASSWORD, type Pop3Fixture, startPop3, USER } from './setup.js';

let fx: Pop3Fixture;
before(async () => {
  fx = await startPop3();
});
after(() => fx.stop());

async function flags(uid: number): Promise<string[] | undefined> {
  return (await fx.ts.server.ctx.store.listMessages(fx.inboxId)).find((r) => r.uid === uid)?.flags;
}

async function seen(uid: number): Promise<boolean> {
  return (await flags(uid))?.includes('\\Seen') === true;
}

async function session(): Promise<RawPop3> {
  const c = await RawPop3.connect(fx.pop3);
  assert.match(await c.login(USER, PASSWORD), /^\+OK /);
  return c;
}

test('retrieved and deleted: no \\Seen write before QUIT, which expunges it', async () => {
  const [kept, gone] = await fx.deliver(rawMessage('kept', 'a\r\n'), rawMessage('gone', 'b\r\n'));
  const events: ChangeEvent[] = [];
  const unsubscribe = fx.ts.server.ctx.store.subscribe((e) => events.push(e));
  try {
    const c = await session();
    assert.match(await c.cmd('RETR 2'), /^\+OK/);
    await c.body();
    assert.match(await c.cmd('DELE 2'), /^\+OK/);
    assert.match(await c.cmd('RETR 1'), /^\+OK/);
    await c.body();
    await eventually(() => seen(kept!), 'RETR 1 \\Seen', 5000);
    await sleep(SEEN_BATCH_MS / 2);
    const flagged = events.filter((e) => e.kind === 'flags').flatMap((e) => e.uids);
    assert.deepEqual(flagged, [kept], 'only the message kept was marked');
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    await c.closed();
    assert.equal(await flags(gone!), undefined, 'expunged');
  } finally {
    unsubscribe();
  }
  // Leave the maildrop empty for the next test.
  const c = await session();
  assert.match(await c.cmd('DELE 1'), /^\+OK/);
  assert.match(await c.cmd('QUIT'), /^\+OK/);
});

test('retrieved, deleted, then RSET: marked \\Seen after all', async () => {
  const [uid] = await fx.deliver(rawMessage('reset', 'c\r\n'));
  const c = await session();
  assert.match(await c.cmd('RETR 1'), /^\+OK/);
  await c.body();
  assert.match(await c.cmd('DELE 1'), /^\+OK/);
  await sleep(SEEN_BATCH_MS + 200);
  assert.ok(!(await seen(uid!)), 'waits while marked deleted');
  assert.match(await c.cmd('RSET'), /^\+OK/);
  await eventually(() => seen(uid!), 'marked after RSET', 5000);
  assert.match(await c.cmd('DELE 1'), /^\+OK/);
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  await c.closed();
});

test('retrieved and deleted, then the connection drops: kept, and marked \\Seen', async () => {
  const [uid] = await fx.deliver(rawMessage('dropped', 'd\r\n'));
  const c = await session();
  // The newest message: whatever an earlier test left, it is the last one.
  const n = Number((await c.cmd('STAT')).split(' ')[1]);
  assert.match(await c.cmd(`RETR ${n}`), /^\+OK/);
  await c.body();
  assert.match(await c.cmd(`DELE ${n}`), /^\+OK/);
  c.destroy();
  // RFC 1939 §6: no UPDATE state, nothing deleted; the message was still retrieved.
  await eventually(() => seen(uid!), 'marked at the end', 5000);
});
