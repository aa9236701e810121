// Issue 17: two Letterbox servers over one PostgreSQL database, as two nodes behind a load
// balancer. Mail delivered over SMTP on node A reaches an IMAP session in IDLE on node B,
// a flag changed over IMAP on A reaches it too, and POP3's maildrop lock (RFC 1939 §8)
// holds across them. The latencies are printed; the target is 200 ms.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import postgresDriver from 'pg';
import { eventually } from '../helpers/eventually.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RawClient } from '../imap/session/client.js';
import { RawPop3 } from '../pop3/client.js';

const USER = 'alice@example.test';
const PASS = 'two nodes pw';
/** Generous: the machine running the tests may be loaded; the figure is printed anyway. */
const SEEN_WITHIN_MS = 2000;

function storeToml(url: string, node: string): string {
  return `\n[store]\nkind = "postgres"\nurl = ${JSON.stringify(url)}\npool_size = 4\nnode_id = "${node}"\n`;
}

describe('two nodes over one PostgreSQL', () => {
  let pg: TestPostgres;
  let url: string;
  let a: TestServer;
  let b: TestServer;

  before(async () => {
    pg = await startPostgres();
    url = await pg.createDatabase();
    const node = (name: string) =>
      startTestServer({
        listeners: ['smtp', 'imap', 'pop3'],
        allowPlaintext: true,
        storeToml: storeToml(url, name),
        extraToml:
          '[smtp]\ngreet_delay_ms = 0\nauth_checks_timeout_seconds = 1\n[dns]\nservers = ["127.0.0.1:1"]\n[pop3]\nworkers = 0\n',
        authToml: 'max_failures_per_account = 4\nfailure_delay_ms = 5\n',
      });
    a = await node('node-a');
    b = await node('node-b');
    await a.addUser(USER, PASS);
  });
  after(async () => {
    await a?.stop();
    await b?.stop();
    await pg?.stop();
  });

  test('SMTP delivery on A and a STORE on A reach IDLE on B', async () => {
    const idle = await RawClient.connect(b.port('imap'));
    const other = await RawClient.connect(a.port('imap'));
    try {
      await idle.cmd('b1', `LOGIN ${USER} "${PASS}"`);
      assert.ok((await idle.cmd('b2', 'SELECT INBOX')).some((l) => l === '* 0 EXISTS'));
      idle.write('b3 IDLE\r\n');
      assert.match(await idle.line(), /^\+ /);

      const smtp = nodemailer.createTransport({
        host: '127.0.0.1',
        port: a.port('smtp'),
        secure: false,
        ignoreTLS: true,
      });
      const raw = Buffer.from(
        'From: bob@example.net\r\nTo: alice@example.test\r\nSubject: across nodes\r\n' +
          'Message-ID: <across@example.net>\r\n\r\nDelivered on A.\r\n',
      );
      const info = await smtp.sendMail({ envelope: { from: 'bob@example.net', to: [USER] }, raw });
      const acked = Date.now();
      smtp.close();
      assert.match(info.response, /^250 /);
      await idle.until((t) => {
        const i = t.indexOf('* 1 EXISTS\r\n');
        return i < 0 ? -1 : i + 12;
      }, SEEN_WITHIN_MS);
      const delivery = Date.now() - acked;

      await other.cmd('a1', `LOGIN ${USER} "${PASS}"`);
      await other.cmd('a2', 'SELECT INBOX');
      const stored = await other.cmd('a3', 'STORE 1 +FLAGS (\\Flagged)');
      const flagged = Date.now();
      assert.match(stored[stored.length - 1]!, /^a3 OK/);
      const seen = await idle.until((t) => {
        const m = /\* 1 FETCH \([^\r]*\\Flagged[^\r]*\)\r\n/.exec(t);
        return m ? m.index + m[0].length : -1;
      }, SEEN_WITHIN_MS);
      const flags = Date.now() - flagged;
      assert.match(seen, /\\Flagged/);
      console.log(`two nodes: delivery seen on B after ${delivery} ms, flag after ${flags} ms`);

      idle.write('DONE\r\n');
      assert.match((await idle.tagged('b3')).at(-1)!, /^b3 OK/);
    } finally {
      idle.close();
      other.close();
    }
  });

  test('POP3: a maildrop open on A is IN-USE on B until A quits', async () => {
    const onA = await RawPop3.connect(a.port('pop3'));
    const onB = await RawPop3.connect(b.port('pop3'));
    assert.match(await onA.login(USER, PASS), /^\+OK/);
    assert.match(await onB.login(USER, PASS), /^-ERR \[IN-USE\]/);
    assert.match(await onB.cmd('QUIT'), /^\+OK/);
    assert.match(await onA.cmd('QUIT'), /^\+OK/);
    await onA.closed();
    // A lets go of the lock as it closes the session: B gets the maildrop soon after.
    await eventually(async () => {
      const again = await RawPop3.connect(b.port('pop3'));
      const r = await again.login(USER, PASS);
      assert.match(await again.cmd('QUIT'), /^\+OK/);
      return r.startsWith('+OK');
    }, 'the maildrop on B once A quit');
  });

  // Issue 17 item 4: the login throttle is the database's, not each node's.
  test('failed logins on A and B together lock the account out on both', async () => {
    const target = 'target@example.test';
    await a.addUser(target, 'the right one');
    for (let i = 0; i < 4; i++) {
      const c = await RawClient.connect((i % 2 ? a : b).port('imap'));
      try {
        const lines = await c.cmd('f1', `LOGIN ${target} "wrong ${i}"`);
        assert.match(lines.at(-1)!, /^f1 NO \[AUTHENTICATIONFAILED\]/);
      } finally {
        c.close();
      }
    }
    // Each node saw two failures; together they are the account's limit of four.
    for (const node of [a, b]) {
      const c = await RawClient.connect(node.port('imap'));
      try {
        const lines = await c.cmd('r1', `LOGIN ${target} "the right one"`);
        assert.match(lines.at(-1)!, /^r1 NO \[UNAVAILABLE\] Too many failed attempts/);
      } finally {
        c.close();
      }
    }
  });

  // Issue 17: B's LISTEN connection is cut while A delivers; B's IDLE still learns of it.
  test("a delivery on A while B's LISTEN connection is down reaches IDLE on B", async () => {
    const idle = await RawClient.connect(b.port('imap'));
    try {
      await idle.cmd('c1', `LOGIN ${USER} "${PASS}"`);
      const selected = await idle.cmd('c2', 'SELECT INBOX');
      const exists = Number(/^\* (\d+) EXISTS$/m.exec(selected.join('\n'))?.[1]);
      idle.write('c3 IDLE\r\n');
      assert.match(await idle.line(), /^\+ /);
      const admin = new postgresDriver.Client({ connectionString: url });
      await admin.connect();
      try {
        const r = await admin.query(
          `SELECT pg_terminate_backend(pid) AS ok FROM pg_stat_activity
           WHERE application_name = 'letterbox events node-b'`,
        );
        assert.equal(r.rows.length, 1);
      } finally {
        await admin.end();
      }
      const smtp = nodemailer.createTransport({
        host: '127.0.0.1',
        port: a.port('smtp'),
        secure: false,
        ignoreTLS: true,
      });
      const raw = Buffer.from(
        'From: bob@example.net\r\nTo: alice@example.test\r\nSubject: while cut\r\n' +
          'Message-ID: <cut@example.net>\r\n\r\nDelivered while B was not listening.\r\n',
      );
      const info = await smtp.sendMail({ envelope: { from: 'bob@example.net', to: [USER] }, raw });
      smtp.close();
      assert.match(info.response, /^250 /);
      const want = `* ${exists + 1} EXISTS\r\n`;
      await idle.until((t) => {
        const i = t.indexOf(want);
        return i < 0 ? -1 : i + want.length;
      }, 10_000);
      idle.write('DONE\r\n');
    } finally {
      idle.close();
    }
  });
});
