// The queue worker over a real SQLite store, with a scripted courier in place of the network:
// what it records for each outcome, when it retries, what DSNs it sends, and what survives a
// restart.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, test } from 'node:test';
import { silentLogger } from '../../src/log.js';
import type { RecipientOutcome, Route, SendRequest, SendResult } from '../../src/queue/types.js';
import type { Courier, RecipientObserver, WorkerOptions } from '../../src/queue/worker.js';
import { QueueWorker } from '../../src/queue/worker.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { MailStore } from '../../src/store/types.js';
import { eventually } from '../helpers/eventually.js';
import { openAliceStore } from '../helpers/store.js';

const MESSAGE = Buffer.from(
  'From: alice@example.test\r\nTo: bob@remote.test\r\nSubject: hello\r\n\r\nbody\r\n',
);

type Script = (req: SendRequest, attempt: number) => Array<Omit<RecipientOutcome, 'address'>>;

class FakeCourier implements Courier {
  sent: SendRequest[] = [];
  constructor(
    private readonly script: Script,
    private readonly dsn = false,
  ) {}
  async send(route: Extract<Route, { kind: 'hosts' }>, req: SendRequest): Promise<SendResult> {
    const finalized = req.finalize ? await req.finalize(req.message) : req.message;
    this.sent.push({ ...req, message: finalized });
    const outs = this.script(req, this.sent.length);
    return {
      recipients: req.recipients.map((r, i) => ({ address: r.address, ...outs[i % outs.length]! })),
      info: {
        host: route.hosts[0]!.name,
        ip: '127.0.0.9',
        port: 25,
        tls: 'TLSv1.3',
        durationMs: 1,
        dsn: this.dsn,
      },
    };
  }
  async close(): Promise<void> {}
}

const OK = {
  status: 'delivered' as const,
  reply: { code: 250, enhanced: '2.0.0', text: 'ok' },
  diagnostic: '250 2.0.0 ok',
};
const LATER = {
  status: 'deferred' as const,
  reply: { code: 451, enhanced: '4.3.0', text: 'try later' },
  diagnostic: '451 4.3.0 try later',
};
const NO = {
  status: 'failed' as const,
  reply: { code: 550, enhanced: '5.1.1', text: 'no such user' },
  diagnostic: '550 5.1.1 no such user',
};

const hostsRoute: Route = {
  kind: 'hosts',
  via: 'mx',
  hosts: [{ name: 'mx.remote.test', addresses: ['127.0.0.9'], port: 25, tls: 'opportunistic' }],
};

describe('queue worker', () => {
  let dir: string;
  let store: SqliteStore;
  const dsns: Array<{ to: string; message: string }> = [];
  let routeOf: (domain: string) => Route = () => hostsRoute;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-queue-'));
    ({ store } = await openAliceStore(dir));
  });
  // Every worker a test started is stopped, even when the test failed half-way: one left
  // running would claim the next test's items (and its resetOutboundLeases void theirs).
  const started: QueueWorker[] = [];
  afterEach(async () => {
    await Promise.all(started.splice(0).map((w) => w.stop(1000)));
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  function worker(
    courier: Courier,
    opts: Partial<WorkerOptions> = {},
    now?: () => Date,
    observer?: RecipientObserver,
    over: MailStore = store,
  ) {
    const w = new QueueWorker(
      {
        store: over,
        log: silentLogger(),
        hostname: 'mail.example.test',
        route: async (d) => routeOf(d),
        courier,
        sign: async (m) => Buffer.concat([Buffer.from('DKIM-Signature: test\r\n'), m]),
        submitDsn: async (to, message) => {
          dsns.push({ to, message: message.toString('utf8') });
        },
        ...(now ? { now } : {}),
        ...(observer ? { observer } : {}),
      },
      { pollMs: 20, retry: { schedule: [50], maxAgeMs: 60_000, delayNoticeMs: 60_000 }, ...opts },
    );
    started.push(w);
    return w;
  }

  async function enqueue(sender = 'alice@example.test', rcpts = ['bob@remote.test']) {
    return store.enqueueOutbound({
      sender,
      recipients: rcpts.map((address) => ({ address })),
      raw: MESSAGE,
      accountId: undefined,
    });
  }

  const queued = async (id: number) => store.getOutbound(id);

  test('delivered: signed on the way, the item leaves the queue', async () => {
    const courier = new FakeCourier(() => [OK]);
    const w = worker(courier);
    const id = await enqueue();
    w.start();
    await eventually(async () => (await queued(id)) === null, 'the item to leave the queue');
    await w.stop(1000);
    assert.equal(courier.sent.length, 1);
    assert.match(courier.sent[0]!.message.toString(), /^DKIM-Signature: test\r\nFrom:/);
  });

  test('451 then 250: retried on the schedule, then delivered', async () => {
    const courier = new FakeCourier((_r, n) => (n === 1 ? [LATER] : [OK]));
    const w = worker(courier);
    const id = await enqueue();
    w.start();
    await eventually(async () => (await queued(id))?.attempts === 1, 'the first attempt');
    const after1 = await queued(id);
    assert.equal(after1?.recipients[0]?.state, 'pending');
    assert.equal(after1?.recipients[0]?.status, '4.3.0');
    assert.equal(after1?.recipients[0]?.remoteMta, 'mx.remote.test');
    await eventually(async () => (await queued(id)) === null, 'the retry to deliver', 10_000);
    await w.stop(1000);
    assert.equal(courier.sent.length, 2);
  });

  test('an item falling due between the claim and the look at the next due time is claimed', async () => {
    // The clock moves 100 ms at each look: the claim misses the item (due 50 ms after it),
    // and the next due time is then already past. The worker must claim again at once, not
    // wait for a wake-up: nothing else wakes it here (no new mail, no attempt running, and
    // a poll of a minute).
    const courier = new FakeCourier(() => [OK]);
    const id = await enqueue();
    const due = (await queued(id))!.nextAttemptAt.getTime();
    let clock = due - 50;
    const w = worker(courier, { pollMs: 60_000 }, () => {
      const t = new Date(clock);
      clock += 100;
      return t;
    });
    w.start();
    await eventually(async () => (await queued(id)) === null, 'the item to be claimed and sent');
    assert.equal(courier.sent.length, 1);
  });

  test('an item deferred for long and retried by hand is sent at once, without a poll', async () => {
    // The worker's poll is a slow sweep (pollMs): the retry must wake it.
    const courier = new FakeCourier((_r, n) => (n === 1 ? [LATER] : [OK]));
    const w = worker(courier, {
      pollMs: 600_000,
      retry: { schedule: [3_600_000], maxAgeMs: 86_400_000, delayNoticeMs: 86_400_000 },
    });
    const id = await enqueue();
    w.start();
    await eventually(async () => (await queued(id))?.attempts === 1, 'the first attempt');
    assert.equal(await store.retryOutbound(id), 1);
    await eventually(async () => (await queued(id)) === null, 'the retry to deliver', 10_000);
    await w.stop(1000);
    assert.equal(courier.sent.length, 2);
  });

  test('a retry falls due and is tried at its time, without a poll', async () => {
    // The outcome's commit comes late (a busy disk): when the attempt ends, the item's next
    // due time is still its lease's end. The commit must make the worker read it again.
    const courier = new FakeCourier((_r, n) => (n === 1 ? [LATER] : [OK]));
    const slow: MailStore = Object.create(store);
    slow.updateOutbound = async (id, u) => {
      await new Promise((r) => setTimeout(r, 300));
      return store.updateOutbound(id, u);
    };
    const w = worker(
      courier,
      { pollMs: 600_000, retry: { schedule: [200], maxAgeMs: 60_000, delayNoticeMs: 60_000 } },
      undefined,
      undefined,
      slow,
    );
    const id = await enqueue();
    w.start();
    await eventually(async () => (await queued(id)) === null, 'the retry at its due time', 10_000);
    await w.stop(1000);
    assert.equal(courier.sent.length, 2);
  });

  test('550: failed for good, and a DSN to the sender with the original', async () => {
    dsns.length = 0;
    const w = worker(new FakeCourier(() => [NO]));
    const id = await enqueue();
    w.start();
    await eventually(async () => (await queued(id)) === null, 'the item to end');
    await w.stop(1000);
    assert.equal(dsns.length, 1);
    assert.equal(dsns[0]!.to, 'alice@example.test');
    assert.match(dsns[0]!.message, /Action: failed/);
    assert.match(dsns[0]!.message, /Status: 5\.1\.1/);
    assert.match(dsns[0]!.message, /Remote-MTA: dns; ?mx\.remote\.test/);
    assert.match(dsns[0]!.message, /Subject: hello/);
  });

  test('one recipient refused, one accepted: only the refused one is reported', async () => {
    dsns.length = 0;
    const w = worker(new FakeCourier(() => [OK, NO]));
    const id = await enqueue('alice@example.test', ['a@remote.test', 'b@remote.test']);
    w.start();
    await eventually(async () => (await queued(id)) === null, 'the item to end');
    await w.stop(1000);
    assert.equal(dsns.length, 1);
    assert.match(dsns[0]!.message, /Final-Recipient: rfc822; ?b@remote\.test/);
    assert.doesNotMatch(dsns[0]!.message, /Final-Recipient: rfc822; ?a@remote\.test/);
  });

  test('null MX: bounced at once (5.1.10) without a connection', async () => {
    dsns.length = 0;
    routeOf = () => ({ kind: 'null-mx' });
    const courier = new FakeCourier(() => [OK]);
    const w = worker(courier);
    const id = await enqueue();
    w.start();
    await eventually(async () => (await queued(id)) === null, 'the item to end');
    await w.stop(1000);
    routeOf = () => hostsRoute;
    assert.equal(courier.sent.length, 0);
    assert.match(dsns[0]?.message ?? '', /Status: 5\.1\.10/);
  });

  test('NOTIFY=SUCCESS: "relayed" from us when the remote has no DSN, nothing when it has', async () => {
    dsns.length = 0;
    for (const remoteDsn of [false, true]) {
      const w = worker(new FakeCourier(() => [OK], remoteDsn));
      const id = await store.enqueueOutbound({
        sender: 'alice@example.test',
        recipients: [{ address: 'bob@remote.test', notify: ['SUCCESS', 'FAILURE'] }],
        raw: MESSAGE,
      });
      w.start();
      await eventually(async () => (await queued(id)) === null, 'the item to end');
      await w.stop(1000);
    }
    assert.equal(dsns.length, 1);
    assert.match(dsns[0]!.message, /Action: relayed/);
  });

  test('never a DSN to the null sender', async () => {
    dsns.length = 0;
    const w = worker(new FakeCourier(() => [NO]));
    const id = await enqueue('');
    w.start();
    await eventually(async () => (await queued(id)) === null, 'the item to end');
    await w.stop(1000);
    assert.equal(dsns.length, 0);
  });

  test('a mail loop (too many Received fields) is bounced without sending', async () => {
    dsns.length = 0;
    const courier = new FakeCourier(() => [OK]);
    const w = worker(courier);
    const looped = Buffer.concat([
      Buffer.from('Received: from x by y; Thu, 1 Jan 2026 00:00:00 +0000\r\n'.repeat(120)),
      MESSAGE,
    ]);
    const id = await store.enqueueOutbound({
      sender: 'alice@example.test',
      recipients: [{ address: 'bob@remote.test' }],
      raw: looped,
    });
    w.start();
    await eventually(async () => (await queued(id)) === null, 'the item to end');
    await w.stop(1000);
    assert.equal(courier.sent.length, 0);
    assert.match(dsns[0]?.message ?? '', /Status: 5\.4\.6/);
  });

  test('too old: the last temporary failure bounces (4.4.7 as 5.4.7), delay notice before', async () => {
    dsns.length = 0;
    let clock = 0;
    const courier = new FakeCourier(() => [LATER]);
    const w = worker(
      courier,
      { retry: { schedule: [10], maxAgeMs: 10_000, delayNoticeMs: 5_000 } },
      () => new Date(clock),
    );
    const id = await enqueue();
    clock = Date.now() + 1000; // the worker's clock, a little after the item was queued
    w.start();
    await eventually(async () => (await queued(id))?.attempts === 1, 'the first attempt');
    assert.equal(dsns.length, 0, 'no delay notice before delayNoticeMs');
    clock += 6_000;
    await store.retryOutbound(id);
    w.wake();
    await eventually(async () => (await queued(id))?.delayNotified === true, 'the delay notice');
    assert.match(dsns[0]?.message ?? '', /Action: delayed/);
    assert.match(dsns[0]?.message ?? '', /Will-Retry-Until:/);
    clock += 6_000;
    await store.retryOutbound(id);
    w.wake();
    await eventually(async () => (await queued(id)) === null, 'the bounce');
    await w.stop(1000);
    assert.equal(dsns.length, 2);
    assert.match(dsns[1]!.message, /Action: failed/);
    assert.match(dsns[1]!.message, /Status: 5\.4\.7/);
  });

  test('the observer (/metrics) hears each recipient outcome once it is recorded', async () => {
    const seen: string[] = [];
    const observer: RecipientObserver = { remoteOutcome: (r) => seen.push(r) };
    const w = worker(
      new FakeCourier((_r, n) => (n === 1 ? [LATER, NO] : [OK])),
      {},
      undefined,
      observer,
    );
    const id = await enqueue('alice@example.test', ['a@remote.test', 'b@remote.test']);
    w.start();
    await eventually(async () => (await queued(id)) === null, 'the item to end', 10_000);
    await eventually(() => seen.length === 3, 'three outcomes');
    await w.stop(1000);
    assert.deepEqual(seen, ['deferred', 'failed', 'delivered']);
    // A temporary failure of an item past max age is 'expired' (bounced with 4.4.7).
    seen.length = 0;
    const old = worker(
      new FakeCourier(() => [LATER]),
      { retry: { schedule: [10], maxAgeMs: 1, delayNoticeMs: 60_000 } },
      () => new Date(Date.now() + 60_000),
      observer,
    );
    const id2 = await enqueue();
    old.start();
    await eventually(async () => (await queued(id2)) === null, 'the bounce');
    await eventually(() => seen.length === 1, 'one outcome');
    await old.stop(1000);
    assert.deepEqual(seen, ['expired']);
  });

  test('held items wait; a claimed item whose process died is tried again after restart', async () => {
    const id = await enqueue();
    assert.equal(await store.holdOutbound(id, true), true);
    // A worker that claims and dies: the lease is left behind.
    const [claimed] = await store.claimOutbound({ now: new Date(), limit: 10, leaseMs: 3_600_000 });
    assert.equal(claimed, undefined, 'a held item is not claimed');
    await store.holdOutbound(id, false);
    const [lost] = await store.claimOutbound({ now: new Date(), limit: 10, leaseMs: 3_600_000 });
    assert.equal(lost?.id, id);
    const courier = new FakeCourier(() => [OK]);
    const w = worker(courier);
    w.start(); // a new process: leases of the dead one are void
    await eventually(async () => (await queued(id)) === null, 'the retry after restart');
    await w.stop(1000);
    assert.equal(courier.sent.length, 1);
  });
});
