// SELECT reads its mailbox once where the store can (MailStore.openMailbox: on SQLite one
// statement for the mailbox by name and its summary, where they were two read snapshots;
// thirteenth session, issue 19). The responses are those of the two reads.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { type ImapTestEnv, last, startImap } from './client.js';

describe('IMAP SELECT: one read of the mailbox', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  test('SELECT calls openMailbox alone where the store has it; NO [NONEXISTENT] for none', async (t) => {
    const store = env.ts.server.ctx.store;
    if (!store.openMailbox) {
      t.skip('this store reads the mailbox and then its summary');
      return;
    }
    const c = await env.login();
    const calls: string[] = [];
    const wrapped = ['getMailbox', 'mailboxSummary', 'openMailbox'] as const;
    const saved = wrapped.map((m) => store[m]!);
    wrapped.forEach((m, i) => {
      const original = saved[i] as (...a: unknown[]) => unknown;
      (store as unknown as Record<string, unknown>)[m] = (...a: unknown[]) => {
        calls.push(m);
        return original.apply(store, a);
      };
    });
    try {
      const r = await c.cmd('s', 'SELECT INBOX');
      assert.match(last(r), /^s OK \[READ-WRITE\]/);
      assert.ok(r.includes('* 0 EXISTS'), r.join('\n'));
      assert.deepEqual(calls, ['openMailbox']);
      calls.length = 0;
      assert.equal(
        last(await c.cmd('n', 'SELECT Nowhere')),
        'n NO [NONEXISTENT] No mailbox Nowhere',
      );
      assert.deepEqual(calls, ['openMailbox']);
      // No view after a failed SELECT: a later one still hears of new mail.
      assert.match(last(await c.cmd('e', 'EXAMINE INBOX')), /^e OK \[READ-ONLY\]/);
    } finally {
      wrapped.forEach((m, i) => {
        (store as unknown as Record<string, unknown>)[m] = saved[i];
      });
      c.close();
    }
  });
});
