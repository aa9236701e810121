// The outbound queue role (OutboundQueueStore): items with their bytes and DSN parameters
// (RFC 3461), due items claimed under a lease (each by one claimant at a time), attempts
// recorded, hold / retry / delete, and what the worker and monitoring read.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { NewOutbound, OutboundQueueStore } from '../../../src/store/types.js';
import { rawMessage } from '../../helpers/messages.js';
import { freshStore, type StoreFactory } from './fixture.js';

function outbound(subject: string, recipients = ['x@remote.test']): NewOutbound {
  return {
    sender: 'alice@example.test',
    recipients: recipients.map((address) => ({ address })),
    raw: rawMessage(subject),
  };
}

/** A moment safely after every item queued so far fell due. */
function soon(ms = 1000): Date {
  return new Date(Date.now() + ms);
}

const HOUR = 3600_000;

export function queueContract(name: string, make: StoreFactory<OutboundQueueStore>): void {
  describe(`queue contract: ${name}`, () => {
    const store = freshStore(make);

    test('enqueue: durable item with DSN parameters and its exact bytes', async () => {
      const s = store();
      const m: NewOutbound = {
        sender: '',
        recipients: [
          { address: 'y@remote.test' },
          { address: 'x@remote.test', notify: ['FAILURE', 'DELAY'], orcpt: 'rfc822;X@remote.test' },
          { address: 'z@remote.test', notify: 'NEVER' },
        ],
        raw: rawMessage('out'),
        envid: 'QQ314159',
        ret: 'HDRS',
      };
      const before = Date.now();
      const id = await s.enqueueOutbound(m);
      const item = await s.getOutbound(id);
      assert.ok(item);
      assert.equal(item.sender, '');
      assert.equal(item.envid, 'QQ314159');
      assert.equal(item.ret, 'HDRS');
      assert.equal(item.accountId, null);
      assert.equal(item.size, m.raw.length);
      assert.equal(item.attempts, 0);
      assert.equal(item.held, false);
      assert.equal(item.lastAttemptAt, null);
      assert.equal(item.delayNotified, false);
      assert.ok(item.createdAt.getTime() >= before - 1000);
      assert.ok(item.nextAttemptAt.getTime() <= Date.now());
      assert.deepEqual(
        item.recipients.map((r) => [r.address, r.notify, r.orcpt, r.state, r.lastError]),
        [
          ['x@remote.test', ['FAILURE', 'DELAY'], 'rfc822;X@remote.test', 'pending', null],
          ['y@remote.test', undefined, undefined, 'pending', null],
          ['z@remote.test', 'NEVER', undefined, 'pending', null],
        ],
      );
      assert.deepEqual(await s.readOutbound(item), m.raw);
      assert.deepEqual(
        (await s.listOutbound()).map((x) => x.id),
        [id],
      );
      assert.equal(await s.getOutbound(id + 1000), null);
    });

    test('claim: due items, at most limit, each leased to one claimant until the lease ends', async () => {
      const s = store();
      const ids: number[] = [];
      for (const x of ['a', 'b', 'c']) ids.push(await s.enqueueOutbound(outbound(x)));
      const now = soon();
      const lease = { now, leaseMs: HOUR };
      const first = await s.claimOutbound({ ...lease, limit: 2 });
      const second = await s.claimOutbound({ ...lease, limit: 10 });
      assert.equal(first.length, 2);
      assert.equal(second.length, 1);
      assert.deepEqual([...first, ...second].map((i) => i.id).sort(), ids);
      assert.deepEqual(await s.claimOutbound({ ...lease, limit: 10 }), []);
      // The lease runs out (the worker died): due again.
      const later = new Date(now.getTime() + HOUR + 1);
      const again = await s.claimOutbound({ now: later, limit: 10, leaseMs: HOUR });
      assert.deepEqual(again.map((i) => i.id).sort(), ids);
    });

    test('claim: concurrent claimants never get the same item', async () => {
      const s = store();
      const ids: number[] = [];
      for (let i = 0; i < 12; i++) ids.push(await s.enqueueOutbound(outbound(`c${i}`)));
      const now = soon();
      const claims = await Promise.all(
        Array.from({ length: 4 }, () => s.claimOutbound({ now, limit: 5, leaseMs: HOUR })),
      );
      const got = claims.flat().map((i) => i.id);
      assert.equal(new Set(got).size, got.length, 'no item claimed twice');
      assert.deepEqual(
        got.sort((x, y) => x - y),
        ids,
      );
    });

    test('update: recipient outcomes, attempts, next attempt; removed once none is pending', async () => {
      const s = store();
      const id = await s.enqueueOutbound(outbound('u', ['a@remote.test', 'b@remote.test']));
      const [item] = await s.claimOutbound({ now: soon(), limit: 1, leaseMs: HOUR });
      assert.equal(item?.id, id);
      const next = new Date(Date.now() + 2 * HOUR);
      await s.updateOutbound(id, {
        recipients: [
          {
            address: 'a@remote.test',
            state: 'sent',
            lastError: null,
            status: '2.0.0',
            remoteMta: 'mx.remote.test',
          },
          {
            address: 'b@remote.test',
            state: 'pending',
            lastError: '451 try later',
            status: '4.3.0',
          },
        ],
        nextAttemptAt: next,
        attempted: true,
        delayNotified: true,
      });
      const got = await s.getOutbound(id);
      assert.ok(got);
      assert.equal(got.attempts, 1);
      assert.ok(got.lastAttemptAt instanceof Date);
      assert.equal(got.nextAttemptAt.getTime(), next.getTime());
      assert.equal(got.delayNotified, true);
      assert.deepEqual(
        got.recipients.map((r) => [r.address, r.state, r.lastError, r.status, r.remoteMta]),
        [
          ['a@remote.test', 'sent', null, '2.0.0', 'mx.remote.test'],
          ['b@remote.test', 'pending', '451 try later', '4.3.0', null],
        ],
      );
      // Not due before its next attempt, whatever the lease was.
      assert.deepEqual(await s.claimOutbound({ now: soon(), limit: 10, leaseMs: HOUR }), []);
      assert.equal((await s.nextOutboundDue())?.getTime(), next.getTime());
      // An update that is not an attempt (a delay notice) keeps the count.
      await s.updateOutbound(id, { recipients: [], nextAttemptAt: next, attempted: false });
      assert.equal((await s.getOutbound(id))?.attempts, 1);
      await s.updateOutbound(id, {
        recipients: [
          {
            address: 'b@remote.test',
            state: 'failed',
            lastError: '550 no such user',
            status: '5.1.1',
          },
        ],
        nextAttemptAt: next,
        attempted: true,
      });
      assert.equal(await s.getOutbound(id), null);
      assert.deepEqual(await s.listOutbound(), []);
      assert.equal(await s.nextOutboundDue(), null);
      assert.deepEqual(await s.outboundSummary(), { messages: 0, oldest: null });
    });

    test('retry and release tell the onOutboundQueued listeners (the worker looks at once); hold does not', async () => {
      // The worker's poll is a slow sweep (queue/worker.ts pollMs): an item made due by hand
      // must wake it, as an enqueue does.
      const s = store();
      const id = await s.enqueueOutbound(outbound('w'));
      let told = 0;
      const off = s.onOutboundQueued(() => told++);
      try {
        await s.holdOutbound(id, true);
        const afterHold = told;
        await s.holdOutbound(id, false);
        assert.ok(told > afterHold, 'a release tells the listeners');
        const afterRelease = told;
        await s.retryOutbound(id);
        assert.ok(told > afterRelease, 'a retry tells the listeners');
        const afterRetry = told;
        await s.retryOutbound('all');
        assert.ok(told > afterRetry, 'a retry of all tells the listeners');
      } finally {
        off();
      }
    });

    test('hold, release, retry, delete', async () => {
      const s = store();
      const held = await s.enqueueOutbound(outbound('h'));
      const other = await s.enqueueOutbound(outbound('o'));
      assert.equal(await s.holdOutbound(held, true), true);
      assert.equal(await s.holdOutbound(held + other + 1000, true), false);
      assert.equal((await s.getOutbound(held))?.held, true);
      const claimed = await s.claimOutbound({ now: soon(), limit: 10, leaseMs: HOUR });
      assert.deepEqual(
        claimed.map((i) => i.id),
        [other],
      );
      // Leased: not due until the lease ends; a retry makes it due now. Held items stay held.
      assert.ok((await s.nextOutboundDue())!.getTime() > Date.now() + HOUR / 2);
      assert.equal(await s.retryOutbound('all'), 1);
      assert.ok((await s.nextOutboundDue())!.getTime() <= Date.now());
      assert.deepEqual(
        (await s.claimOutbound({ now: soon(), limit: 10, leaseMs: HOUR })).map((i) => i.id),
        [other],
      );
      assert.equal(await s.retryOutbound(other), 1);
      assert.equal(await s.retryOutbound(held + other + 1000), 0);
      assert.equal(await s.holdOutbound(held, false), true);
      assert.deepEqual(
        (await s.claimOutbound({ now: soon(), limit: 10, leaseMs: HOUR })).map((i) => i.id).sort(),
        [held, other].sort(),
      );
      const summary = await s.outboundSummary();
      assert.equal(summary.messages, 2);
      assert.ok(summary.oldest instanceof Date);
      assert.equal(await s.deleteOutbound(held), true);
      assert.equal(await s.deleteOutbound(held), false);
      assert.equal(await s.getOutbound(held), null);
      assert.deepEqual(
        (await s.listOutbound()).map((i) => i.id),
        [other],
      );
    });

    test('resetOutboundLeases: items leased by a process that is gone are due at once', async () => {
      const s = store();
      const id = await s.enqueueOutbound(outbound('r'));
      assert.equal((await s.claimOutbound({ now: soon(), limit: 1, leaseMs: HOUR })).length, 1);
      assert.deepEqual(await s.claimOutbound({ now: soon(), limit: 1, leaseMs: HOUR }), []);
      await s.resetOutboundLeases();
      assert.deepEqual(
        (await s.claimOutbound({ now: soon(), limit: 1, leaseMs: HOUR })).map((i) => i.id),
        [id],
      );
    });

    test('onOutboundQueued: told after each enqueue has committed, until unsubscribed', async () => {
      const s = store();
      const seen: number[] = [];
      const off = s.onOutboundQueued(() => {
        seen.push(seen.length);
      });
      await s.enqueueOutbound(outbound('1'));
      assert.equal(seen.length, 1);
      off();
      await s.enqueueOutbound(outbound('2'));
      assert.equal(seen.length, 1);
    });
  });
}
