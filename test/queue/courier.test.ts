// The courier's session cache: sessions a burst of attempts needed are kept for the next burst
// (not only maxIdlePerHost of them: at 50 attempts at once a cap of 10 meant a new connection
// for most messages), and the idle timeout still closes them all.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import { SmtpCourier } from '../../src/queue/courier.js';
import type { Route } from '../../src/queue/types.js';
import { eventually } from '../helpers/eventually.js';
import { type FakeServer, startFakeServer } from '../smtp/client/fake-server.js';
import { loopHost, msg, OPTS, request } from '../smtp/client/helpers.js';

const servers: FakeServer[] = [];
after(async () => {
  for (const s of servers) await s.close();
});

async function wave(courier: SmtpCourier, route: Extract<Route, { kind: 'hosts' }>, n: number) {
  const results = await Promise.all(
    Array.from({ length: n }, (_, i) => courier.send(route, request(msg(`message ${i}\n`)))),
  );
  for (const r of results) assert.equal(r.recipients[0]?.status, 'delivered');
}

test('sessions used at once are kept for the next burst beyond maxIdlePerHost', async () => {
  const fake = await startFakeServer({ extensions: ['PIPELINING', '8BITMIME'] });
  servers.push(fake);
  const courier = new SmtpCourier({
    client: OPTS,
    log: silentLogger(),
    maxIdlePerHost: 2,
    idleMs: 60_000,
  });
  const route: Extract<Route, { kind: 'hosts' }> = {
    kind: 'hosts',
    via: 'mx',
    hosts: [loopHost(fake.port)],
  };
  try {
    await wave(courier, route, 6);
    assert.equal(fake.sessions.length, 6, 'six at once need six sessions');
    await wave(courier, route, 6);
    await wave(courier, route, 6);
    assert.equal(fake.sessions.length, 6, 'the next bursts reuse them');
    const messages = fake.sessions.reduce((n, s) => n + s.messages.length, 0);
    assert.equal(messages, 18);
  } finally {
    await courier.close();
  }
});

test('the idle timeout closes every kept session', async () => {
  const fake = await startFakeServer({ extensions: ['PIPELINING'] });
  servers.push(fake);
  const courier = new SmtpCourier({
    client: OPTS,
    log: silentLogger(),
    maxIdlePerHost: 1,
    idleMs: 200,
  });
  const route: Extract<Route, { kind: 'hosts' }> = {
    kind: 'hosts',
    via: 'mx',
    hosts: [loopHost(fake.port)],
  };
  try {
    await wave(courier, route, 4);
    assert.equal(fake.sessions.length, 4);
    let closed = 0;
    for (const s of fake.sessions) void s.closed.then(() => closed++);
    await eventually(() => closed === 4, 'every session closed by the idle timeout', 30_000);
    // Quiet again: one message needs one session, a new one (the old ones are gone).
    await wave(courier, route, 1);
    assert.equal(fake.sessions.length, 5);
  } finally {
    await courier.close();
  }
});

test('sessions still connecting count as in use: a burst keeps all of its sessions', async () => {
  // The first session greets at once and its message is done before the others have even
  // connected: counted only while sending, the burst looked one or two wide.
  const fake = await startFakeServer({
    extensions: ['PIPELINING'],
    greetingDelayMs: (n) => (n === 0 ? 0 : 500),
  });
  servers.push(fake);
  const courier = new SmtpCourier({
    client: OPTS,
    log: silentLogger(),
    maxIdlePerHost: 1,
    idleMs: 60_000,
  });
  const route: Extract<Route, { kind: 'hosts' }> = {
    kind: 'hosts',
    via: 'mx',
    hosts: [loopHost(fake.port)],
  };
  try {
    await wave(courier, route, 3);
    assert.equal(fake.sessions.length, 3);
    await wave(courier, route, 3);
    assert.equal(fake.sessions.length, 3, 'the second burst reuses the three sessions');
  } finally {
    await courier.close();
  }
});

test('a session takes the next message once the last is on the wire (PIPELINING)', async () => {
  // The first message's reply waits for the next command: only the pipelined next gets it.
  const fake = await startFakeServer({ extensions: ['PIPELINING'], holdEndOfData: 1 });
  servers.push(fake);
  const courier = new SmtpCourier({ client: OPTS, log: silentLogger(), idleMs: 60_000 });
  const route: Extract<Route, { kind: 'hosts' }> = {
    kind: 'hosts',
    via: 'mx',
    hosts: [loopHost(fake.port)],
  };
  try {
    let second: ReturnType<SmtpCourier['send']> | undefined;
    const frees: string[] = [];
    const first = await courier.send(route, {
      ...request(msg('first\n')),
      // What the worker does: the destination's slot goes to the next message here.
      onSessionFree: () => {
        frees.push('first');
        second = courier.send(route, {
          ...request(msg('second\n')),
          onSessionFree: () => frees.push('second'),
        });
      },
    });
    assert.ok(second);
    const r2 = await second;
    assert.equal(first.recipients[0]?.status, 'delivered');
    assert.equal(r2.recipients[0]?.status, 'delivered');
    assert.deepEqual(frees, ['first', 'second'], 'told once each');
    assert.equal(fake.sessions.length, 1, 'one session carried both');
    assert.equal(fake.sessions[0]!.messages.length, 2);
  } finally {
    await courier.close();
  }
});
