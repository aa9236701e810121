// Issue 17 item 6: PostgreSQL stopped under a running server. Sessions get a temporary error
// (IMAP NO [UNAVAILABLE], SMTP 451 4.3.0, POP3 -ERR [SYS/TEMP]) and stay usable; once the
// database is back the server carries on by itself, and every message it acknowledged is
// there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { eventually } from '../helpers/eventually.js';
import { sendOne, startFaultServer } from '../helpers/pg-fault-server.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import type { TestServer } from '../helpers/server.js';
import { RawClient } from '../imap/session/client.js';
import { RawPop3 } from '../pop3/client.js';

const USER = 'alice@example.test';
const PASS = 'restart pw';

describe('PostgreSQL restarted under a running server', () => {
  let pg: TestPostgres;
  let ts: TestServer;

  before(async () => {
    pg = await startPostgres();
    const url = await pg.createDatabase();
    ts = await startFaultServer(url);
    await ts.addUser(USER, PASS);
  });
  after(async () => {
    await ts?.stop();
    await pg?.stop();
  });

  const send = (id: string): Promise<string> => sendOne(ts.port('smtp'), USER, id);

  test('temporary errors while it is down; acknowledged mail kept; service again after', async () => {
    const acked: string[] = [];
    assert.match(await send('before'), /^250 /);
    acked.push('before');
    const imap = await RawClient.connect(ts.port('imap'));
    await imap.cmd('a1', `LOGIN ${USER} "${PASS}"`);
    assert.match((await imap.cmd('a2', 'SELECT INBOX')).at(-1)!, /^a2 OK/);

    pg.halt();
    try {
      const status = await imap.cmd('a3', 'STATUS INBOX (MESSAGES)');
      assert.match(status.at(-1)!, /^a3 NO \[UNAVAILABLE\]/);
      assert.match(await send('during'), /^451 4\.3\.0/);
      const pop = await RawPop3.connect(ts.port('pop3'));
      assert.match(await pop.login(USER, PASS), /^-ERR \[SYS\/TEMP\]/);
      await pop.cmd('QUIT');
      // The IMAP connection stays usable.
      assert.match((await imap.cmd('a4', 'NOOP')).at(-1)!, /^a4 OK/);
    } finally {
      pg.resume();
    }

    // Back by itself: no restart of the server.
    await eventually(async () => (await send('after')).startsWith('250 '), 'SMTP again', 20_000);
    acked.push('after');
    await eventually(
      async () => /^a\d+ OK/.test((await imap.cmd('a5', 'NOOP')).at(-1)!),
      'IMAP again',
      20_000,
    );
    const search = await imap.cmd('a6', 'UID SEARCH ALL');
    assert.match(search.at(-1)!, /^a6 OK/);
    const pop = await RawPop3.connect(ts.port('pop3'));
    assert.match(await pop.login(USER, PASS), /^\+OK/);
    const list = await pop.multi('TOP 1 0');
    assert.match(list.status, /^\+OK/);
    await pop.cmd('QUIT');
    const subjects = await imap.cmd('a7', 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
    for (const id of acked) {
      assert.ok(
        subjects.some((l) => l.includes(`Subject: ${id}`)),
        `acknowledged message ${id} is there`,
      );
    }
    imap.close();
  });
});
