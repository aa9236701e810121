// A session hears its own account's changes only (MailStore.subscribeAccount): an event reaches
// the sessions of its account, not every session in the process (issue 19: a delivery used to
// call each session's listener, which compared account ids, 10,000 IDLE sessions of other
// accounts costing ~140-250 us per delivery). The updates a session sends are unchanged.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { ChangeEvent, ChangeListener } from '../../../src/store/types.js';
import { newMessage } from '../../helpers/messages.js';
import { type ImapTestEnv, last, PASS, startImap } from './client.js';

describe('IMAP session: store events by account', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  test("a session's listener is called for its account's events and no other's", async () => {
    const store = env.ts.server.ctx.store;
    const bobId = await env.ts.addUser('bob@example.test', PASS);
    const heard: ChangeEvent[] = [];
    const subscribe = store.subscribe;
    const subscribeAccount = store.subscribeAccount;
    // Every listener the sessions register, counting what each is called with.
    store.subscribe = (l: ChangeListener) =>
      subscribe.call(store, (e) => {
        heard.push(e);
        l(e);
      });
    store.subscribeAccount = (id: number, l: ChangeListener) =>
      subscribeAccount.call(store, id, (e) => {
        heard.push(e);
        l(e);
      });
    try {
      const c = await env.login();
      assert.match(last(await c.cmd('s', 'SELECT INBOX')), /^s OK/);
      const bobInbox = await store.getMailbox(bobId, 'INBOX');
      const aliceInbox = await store.getMailbox(env.accountId, 'INBOX');
      assert.ok(bobInbox && aliceInbox);
      await store.append(newMessage('for bob'), [{ mailboxId: bobInbox.id }]);
      await store.append(newMessage('for alice'), [{ mailboxId: aliceInbox.id }]);
      const r = await c.cmd('n', 'NOOP');
      assert.ok(r.includes('* 1 EXISTS'), r.join('\n'));
      assert.deepEqual(
        heard.map((e) => e.accountId),
        [env.accountId],
        'the session heard alice’s append alone',
      );
      c.close();
    } finally {
      store.subscribe = subscribe;
      store.subscribeAccount = subscribeAccount;
    }
  });
});
