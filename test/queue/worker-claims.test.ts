// The worker claims freed slots together: attempts that end in the same turn of the event loop
// (their commits share one WAL fsync, then each unlinks its blob: separate callbacks of one
// poll phase) are replaced by one claim, one transaction, instead of one claim each.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import type { Route, SendRequest, SendResult } from '../../src/queue/types.js';
import { type Courier, QueueWorker } from '../../src/queue/worker.js';
import type { MailStore, OutboundUpdate } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { openAliceStore } from '../helpers/store.js';

const courier: Courier = {
  async send(route: Extract<Route, { kind: 'hosts' }>, req: SendRequest): Promise<SendResult> {
    return {
      recipients: req.recipients.map((r) => ({
        address: r.address,
        status: 'delivered',
        reply: { code: 250, enhanced: '2.0.0', text: 'ok' },
        diagnostic: '250 2.0.0 ok',
      })),
      info: { host: route.hosts[0]!.name, ip: '127.0.0.9', port: 25, tls: null, durationMs: 1 },
    };
  },
  async close() {},
};

/** A worker over `store` sending through `via`, `concurrency` attempts at a time. */
function newWorker(store: MailStore, via: Courier, concurrency: number): QueueWorker {
  return new QueueWorker(
    {
      store,
      log: silentLogger(),
      hostname: 'mail.example.test',
      route: async () => ({
        kind: 'hosts',
        via: 'mx',
        hosts: [
          { name: 'mx.remote.test', addresses: ['127.0.0.9'], port: 25, tls: 'opportunistic' },
        ],
      }),
      courier: via,
      sign: async (m) => m,
      submitDsn: async () => {},
    },
    { concurrency, perDestination: concurrency, pollMs: 20 },
  );
}

/** Queues n messages from alice to bob@remote.test. */
async function enqueue(store: MailStore, n: number): Promise<void> {
  for (let i = 0; i < n; i++) {
    await store.enqueueOutbound({
      sender: 'alice@example.test',
      recipients: [{ address: 'bob@remote.test' }],
      raw: Buffer.from(`Subject: ${i}\r\n\r\nbody ${i}\r\n`),
    });
  }
}

/** The courier above, calling `onSend` at each send. */
function countingCourier(onSend: () => void): Courier {
  return {
    async send(route, req) {
      onSend();
      return courier.send(route, req);
    },
    async close() {},
  };
}

/** The store with each outcome's commit held until the test calls its entry in `waiting`. */
function hangingCommits(store: MailStore): { wrapped: MailStore; waiting: Array<() => void> } {
  const waiting: Array<() => void> = [];
  const wrapped = Object.create(store) as MailStore;
  wrapped.updateOutbound = async (id: number, u: OutboundUpdate) => {
    await new Promise<void>((resolve) => waiting.push(resolve));
    await store.updateOutbound(id, u);
  };
  return { wrapped, waiting };
}

test('attempts ending in one turn of the event loop free their slots for one claim', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-claims-'));
  const { store } = await openAliceStore(dir);
  const concurrency = 5;
  const claims: number[] = [];
  // Each batch of outcomes is committed, then the attempts end one per timer callback, all in
  // the same timers phase (timers made in one callback share their expiry).
  let held: Array<() => void> = [];
  const wrapped = Object.create(store) as MailStore;
  wrapped.claimOutbound = async (opts) => {
    const items = await store.claimOutbound(opts);
    if (items.length > 0) claims.push(items.length);
    return items;
  };
  wrapped.updateOutbound = async (id: number, u: OutboundUpdate) => {
    await store.updateOutbound(id, u);
    await new Promise<void>((resolve) => {
      held.push(resolve);
      if (held.length === concurrency) {
        const batch = held;
        held = [];
        for (const r of batch) setTimeout(r, 0);
      }
    });
  };
  const worker = newWorker(wrapped, courier, concurrency);
  try {
    await enqueue(store, 3 * concurrency);
    worker.start();
    await eventually(
      async () => (await store.listOutbound()).length === 0,
      'the queue to drain',
      30_000,
    );
    assert.deepEqual(claims, [5, 5, 5], 'one claim per batch of freed slots');
  } finally {
    await worker.stop(5000);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('an attempt frees its slot when its outcome is with the store, not when it is durable', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-claims-'));
  const { store } = await openAliceStore(dir);
  let sent = 0;
  const counting = countingCourier(() => sent++);
  // The store's commits hang (a disk that takes its time) until the test lets them go.
  const { wrapped, waiting } = hangingCommits(store);
  const concurrency = 2;
  const worker = newWorker(wrapped, counting, concurrency);
  try {
    await enqueue(store, 3 * concurrency);
    worker.start();
    await eventually(() => sent === 3 * concurrency, 'every message sent, none recorded yet');
    assert.equal(waiting.length, 3 * concurrency, 'every outcome waits for its commit');
    for (const go of waiting.splice(0)) go();
    await eventually(
      async () => (await store.listOutbound()).length === 0,
      'the outcomes committed: the queue is empty',
      30_000,
    );
  } finally {
    for (const go of waiting.splice(0)) go();
    await worker.stop(5000);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});

test('a store that does not commit: claims stop at ten rounds of outcomes, the event loop runs', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-claims-'));
  const { store } = await openAliceStore(dir);
  let sent = 0;
  const counting = countingCourier(() => sent++);
  const { wrapped, waiting } = hangingCommits(store);
  const worker = newWorker(wrapped, counting, 1);
  try {
    await enqueue(store, 12);
    worker.start();
    await eventually(() => waiting.length === 10, 'ten outcomes waiting for their commit');
    // The worker waits for a slot instead of spinning: timers still fire (this one would not
    // behind a loop that never yields) and nothing more is sent.
    await new Promise((r) => setTimeout(r, 100));
    assert.equal(sent, 10);
    for (const go of waiting.splice(0)) go();
    await eventually(() => sent === 12, 'the rest sent once outcomes are committed');
    for (const go of waiting.splice(0)) go();
    await eventually(async () => (await store.listOutbound()).length === 0, 'drained', 30_000);
  } finally {
    for (const go of waiting.splice(0)) go();
    await worker.stop(5000);
    await store.close();
    await rm(dir, { recursive: true, force: true });
  }
});
