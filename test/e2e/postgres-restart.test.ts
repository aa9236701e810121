// Issue 17 item 6: PostgreSQL stopped under a running server. Sessions get a temporary error
// (IMAP NO [UNAVAILABLE], SMTP 451 4.3.0, POP3 -ERR [SYS/TEMP]) and stay usable; once the
// database is back the server carries on by itself, and every message it acknowledged is
// there.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { eventually } from '../helpers/eventually.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RawClient } from '../imap/session/client.js';
import { RawPop3 } from '../pop3/client.js';

const USER = 'alice@example.test';
const PASS = 'restart pw';

function raw(id: string): Buffer {
  return Buffer.from(
    `From: bob@example.net\r\nTo: ${USER}\r\nSubject: ${id}\r\nMessage-ID: <${id}@example.net>\r\n\r\nBody ${id}.\r\n`,
  );
}

describe('PostgreSQL restarted under a running server', () => {
  let pg: TestPostgres;
  let ts: TestServer;

  before(async () => {
    pg = await startPostgres();
    const url = await pg.createDatabase();
    ts = await startTestServer({
      listeners: ['smtp', 'imap', 'pop3'],
      allowPlaintext: true,
      storeToml: `\n[store]\nkind = "postgres"\nurl = ${JSON.stringify(url)}\npool_size = 4\n`,
      extraToml:
        '[smtp]\ngreet_delay_ms = 0\nauth_checks_timeout_seconds = 1\n[dns]\nservers = ["127.0.0.1:1"]\n[pop3]\nworkers = 0\n',
    });
    await ts.addUser(USER, PASS);
  });
  after(async () => {
    await ts?.stop();
    await pg?.stop();
  });

  /** Sends over SMTP; the reply (or the refusal) as text. */
  async function send(id: string): Promise<string> {
    const smtp = nodemailer.createTransport({
      host: '127.0.0.1',
      port: ts.port('smtp'),
      secure: false,
      ignoreTLS: true,
    });
    try {
      const info = await smtp.sendMail({
        envelope: { from: 'bob@example.net', to: [USER] },
        raw: raw(id),
      });
      return info.response;
    } catch (err) {
      return String((err as { response?: string }).response ?? err);
    } finally {
      smtp.close();
    }
  }

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
