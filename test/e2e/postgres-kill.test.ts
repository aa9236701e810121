// Issue 17 item 6: a node killed with SIGKILL in the middle of deliveries loses nothing it
// acknowledged. The real `serve` over PostgreSQL takes mail on several SMTP connections at
// once, is killed while some are in flight, and starts again; every message that got its 250
// is in the mailbox (one in flight at the kill may or may not be: its sender saw no 250).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { eventually } from '../helpers/eventually.js';
import { sendOne } from '../helpers/pg-fault-server.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { type ServerProcess, startServerProcess } from '../hostile/spawn.js';

const USER = 'alice@example.test';
const SENDERS = 6;

describe('a node killed with SIGKILL mid-delivery (PostgreSQL store)', () => {
  let pg: TestPostgres;
  let url: string;
  let srv: ServerProcess;

  before(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase();
    srv = await startServerProcess({
      listeners: ['smtp', 'http'],
      sections: {
        store: { kind: 'postgres', url, pool_size: 4 },
        smtp: { greet_delay_ms: 0, auth_checks_timeout_seconds: 1 },
        dns: { servers: ['127.0.0.1:1'] },
      },
    });
    await srv.addUser(USER, 'kill test pw');
  });
  after(async () => {
    await srv?.stop();
    await pg?.stop();
  });

  test('every acknowledged message is stored', async () => {
    const acked: string[] = [];
    let stop = false;
    let n = 0;
    const sender = async () => {
      while (!stop) {
        const subject = `m${n++}`;
        // The kill: no 250 (an error or a refusal), nothing promised.
        if (/^250 /.test(await sendOne(srv.port('smtp'), USER, subject))) acked.push(subject);
      }
    };
    const running = Array.from({ length: SENDERS }, sender);
    await eventually(() => acked.length >= 20, '20 acknowledged deliveries', 30_000);
    await srv.restart('SIGKILL');
    stop = true;
    await Promise.all(running);

    const store = await PostgresStore.open({ connectionString: url, max: 2 });
    try {
      const account = await store.getAccount(USER);
      assert.ok(account);
      const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
      const uids = (await store.listMessages(inbox.id)).map((r) => r.uid);
      const subjects = new Set((await store.getSearchField(inbox.id, 'subject', uids)).values());
      const lost = acked.filter((s) => !subjects.has(s));
      assert.deepEqual(lost, [], `acknowledged and lost: ${lost.join(', ')}`);
      console.log(`killed after ${acked.length} acknowledged deliveries; ${uids.length} stored`);
    } finally {
      await store.close();
    }
  });
});
