// Over PostgreSQL a node hears an account's changes only while it listens to the account's
// channel (src/store/postgres/events.ts): a session's LOGIN starts it and answers only once
// the LISTEN took effect, so that the session's first read is followed by every change
// committed after it, whichever node commits it.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import type { PgEvents } from '../../../src/store/postgres/events.js';
import { type ImapTestEnv, last, startImap } from './client.js';

const postgresOnly =
  process.env.LETTERBOX_TEST_STORE === 'postgres' ? false : 'PostgreSQL store only';

describe("IMAP LOGIN waits for the account's channel (postgres)", { skip: postgresOnly }, () => {
  let env: ImapTestEnv;
  let waited = 0;
  before(async () => {
    env = await startImap();
    const store = env.ts.server.ctx.store;
    const listening = store.listening?.bind(store);
    assert.ok(listening, 'the PostgreSQL store says when it listens to an account');
    store.listening = (id) => {
      const p = listening(id);
      return (
        p?.then(() => {
          waited++;
        }) ?? null
      );
    };
  });
  after(async () => {
    await env.ts.stop();
  });

  test('LOGIN answers once the account is listened to; a session keeps it', async () => {
    const events = (env.ts.server.ctx.store as unknown as { events: PgEvents }).events;
    const c = await env.login();
    // The first LOGIN of the account waited for its LISTEN (no other use had started it).
    assert.equal(waited, 1);
    assert.equal(events.listensTo(env.accountId), true);
    assert.match(last(await c.cmd('a', 'SELECT INBOX')), /^a OK/);
    await c.cmd('b', 'LOGOUT');
    c.close();
  });
});
