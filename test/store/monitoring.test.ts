// What the store tells /metrics and /healthz: the outbound queue's size and oldest item
// (outboundSummary), and the messages waiting for the full-text index (stats).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';
import { openAliceStore } from '../helpers/store.js';

let dir: string;
let store: SqliteStore;
let inbox: number;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lb-monitor-'));
  ({ store, inbox } = await openAliceStore(dir));
});
after(async () => {
  await store.close();
  await rm(dir, { recursive: true, force: true });
});

const RAW = Buffer.from('From: alice@example.test\r\nSubject: q\r\n\r\nbody\r\n');
const enqueue = () =>
  store.enqueueOutbound({
    sender: 'alice@example.test',
    recipients: [{ address: 'bob@remote.test' }],
    raw: RAW,
    accountId: undefined,
  });

test('outboundSummary: empty, then the count and the first item queued, held ones too', async () => {
  assert.deepEqual(await store.outboundSummary(), { messages: 0, oldest: null });
  const first = await enqueue();
  const second = await enqueue();
  await store.holdOutbound(second, true);
  const item = (await store.getOutbound(first))!;
  const s = await store.outboundSummary();
  assert.equal(s.messages, 2);
  assert.equal(s.oldest?.getTime(), item.createdAt.getTime());
  await store.deleteOutbound(first);
  const later = await store.outboundSummary();
  assert.equal(later.messages, 1);
  assert.equal(later.oldest?.getTime(), (await store.getOutbound(second))!.createdAt.getTime());
  await store.deleteOutbound(second);
  assert.deepEqual(await store.outboundSummary(), { messages: 0, oldest: null });
});

test('stats: the full-text backlog goes back to zero once the worker has indexed', async () => {
  await Promise.all(
    Array.from({ length: 20 }, (_, i) =>
      store.append(newMessage(`m${i}`, `text number ${i}\r\n`), [{ mailboxId: inbox }]),
    ),
  );
  const s = store.stats();
  assert.ok(s.ftsBacklogMessages >= 0 && s.ftsBacklogChars >= 0);
  await eventually(() => store.stats().ftsBacklogMessages === 0, 'the index to catch up', 15_000);
  assert.equal(store.stats().ftsBacklogChars, 0);
  // Indexed for real: a search finds the text.
  assert.ok((await store.searchText(inbox, 'number 7')).length >= 1);
});
