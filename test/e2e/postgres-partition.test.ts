// Issue 17 item 6: a network partition between a node and PostgreSQL is the same as a
// restart. The server reaches the database through a TCP proxy of this test, which cuts every
// connection and refuses new ones for a while, under a stream of SMTP deliveries: sessions get
// temporary errors (IMAP NO [UNAVAILABLE], SMTP 451 4.3.0, POP3 -ERR [SYS/TEMP]) and stay
// usable, every message acknowledged is there afterwards, and the node comes back by itself,
// its change events too (an IDLE session hears a delivery made after the partition). Then a
// partition that drops packets instead of resetting (the proxy stops forwarding, and holds new
// connections without answering): the same temporary errors once the statement timeout
// (`query_timeout_seconds`) has passed, and the node comes back by itself, its POP3 maildrop
// locks and its LISTEN connection (found silent by its heartbeat) too.
import assert from 'node:assert/strict';
import net from 'node:net';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';
import { sendOne, startFaultServer } from '../helpers/pg-fault-server.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import type { TestServer } from '../helpers/server.js';
import { RawClient } from '../imap/session/client.js';
import { RawPop3 } from '../pop3/client.js';

const USER = 'alice@example.test';
const PASS = 'partition pw';
const external = process.env.LETTERBOX_TEST_PG_URL ? 'needs the test cluster of its own' : false;

/** A TCP proxy to PostgreSQL's unix socket that can cut the network between them. */
class DatabaseLink {
  private readonly server: net.Server;
  private readonly open = new Set<net.Socket>();
  private readonly pairs = new Set<[net.Socket, net.Socket]>();
  private cut = false;
  private silent = false;

  constructor(socketPath: string) {
    this.server = net.createServer((client) => {
      if (this.cut) {
        client.resetAndDestroy();
        return;
      }
      if (this.silent) {
        // Accepted by the kernel, never answered: the node's connection timeout must end it.
        this.open.add(client);
        client.on('error', () => {});
        client.on('close', () => this.open.delete(client));
        client.pause();
        return;
      }
      const upstream = net.connect(socketPath);
      const pair: [net.Socket, net.Socket] = [client, upstream];
      this.pairs.add(pair);
      upstream.on('close', () => this.pairs.delete(pair));
      for (const s of [client, upstream]) {
        this.open.add(s);
        s.on('error', () => {});
        s.on('close', () => {
          this.open.delete(s);
          client.destroy();
          upstream.destroy();
        });
      }
      client.pipe(upstream);
      upstream.pipe(client);
    });
  }

  async listen(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, '127.0.0.1', resolve));
    return (this.server.address() as net.AddressInfo).port;
  }

  /** The partition: every connection reset, new ones refused, until heal(). */
  partition(): void {
    this.cut = true;
    // The node's side is reset (RST), as a router giving up would; PostgreSQL's side, a unix
    // socket, just closes.
    for (const s of this.open) {
      if (s.remoteAddress !== undefined) s.resetAndDestroy();
      else s.destroy();
    }
  }

  /**
   * A partition that drops packets: nothing more is carried either way on any connection and
   * nothing closes; new connections are accepted and never answered, until heal(). The
   * connections stalled here stay so (their packets are lost for good).
   */
  stall(): void {
    this.silent = true;
    for (const [client, upstream] of this.pairs) {
      client.unpipe(upstream);
      upstream.unpipe(client);
      client.pause();
      upstream.pause();
    }
    this.pairs.clear();
  }

  heal(): void {
    this.cut = false;
    this.silent = false;
  }

  close(): Promise<void> {
    for (const s of this.open) s.destroy();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }
}

describe('a partition between the server and PostgreSQL', { skip: external }, () => {
  let pg: TestPostgres;
  let proxy: DatabaseLink;
  let ts: TestServer;
  /** The database, not through the proxy: another node's way to it. */
  let direct: URL;

  before(async () => {
    pg = await startPostgres();
    direct = new URL(await pg.createDatabase());
    proxy = new DatabaseLink(join(decodeURIComponent(direct.hostname), '.s.PGSQL.5432'));
    const url = `postgres://letterbox@127.0.0.1:${await proxy.listen()}${direct.pathname}`;
    ts = await startFaultServer(url, 'node_id = "cut"\nquery_timeout_seconds = 4\n');
    await ts.addUser(USER, PASS);
  });
  after(async () => {
    await ts?.stop();
    await proxy?.close();
    await pg?.stop();
  });

  const send = (id: string): Promise<string> => sendOne(ts.port('smtp'), USER, id);

  test('temporary errors while cut off; acknowledged mail kept; back by itself', async () => {
    const acked = new Set<string>();
    const refused: string[] = [];
    // Three senders deliver for as long as the test runs: the partition comes under load.
    let sending = true;
    let n = 0;
    const senders = Array.from({ length: 3 }, async () => {
      while (sending) {
        const id = `load${++n}`;
        const reply = await send(id);
        if (reply.startsWith('250 ')) acked.add(id);
        else refused.push(reply);
      }
    });
    try {
      await eventually(() => acked.size >= 5, 'deliveries before the partition', 30_000);
      const idle = await RawClient.connect(ts.port('imap'));
      await idle.cmd('i1', `LOGIN ${USER} "${PASS}"`);
      assert.match((await idle.cmd('i2', 'SELECT INBOX')).at(-1)!, /^i2 OK/);
      const imap = await RawClient.connect(ts.port('imap'));
      await imap.cmd('a1', `LOGIN ${USER} "${PASS}"`);
      assert.match((await imap.cmd('a2', 'SELECT INBOX')).at(-1)!, /^a2 OK/);
      // The session has news to announce when the partition comes: a flag change made by
      // another session, and new messages (whose \Recent it claims, IMAP4rev1).
      assert.match((await idle.cmd('i3', 'STORE 1 +FLAGS (\\Flagged)')).at(-1)!, /^i3 OK/);
      const known = acked.size;
      await eventually(() => acked.size > known, 'a delivery after SELECT', 30_000);

      // The flag change may be announced during the partition, from what this node heard
      // before it (postgres/record-cache.ts), or only after it, when it could not be read.
      const announced: string[] = [];
      proxy.partition();
      try {
        const before = refused.length;
        const status = await imap.cmd('a3', 'STATUS INBOX (MESSAGES)');
        announced.push(...status);
        assert.match(status.at(-1)!, /^a3 NO \[UNAVAILABLE\]/);
        assert.match(await send('during'), /^451 4\.3\.0/);
        const pop = await RawPop3.connect(ts.port('pop3'));
        assert.match(await pop.login(USER, PASS), /^-ERR \[SYS\/TEMP\]/);
        await pop.cmd('QUIT');
        const noop = await imap.cmd('a4', 'NOOP');
        announced.push(...noop);
        assert.match(noop.at(-1)!, /^a4 OK/, 'the session stays usable');
        await eventually(() => refused.length > before, 'the load to meet the partition', 30_000);
      } finally {
        proxy.heal();
      }
      // Back by itself, under the same load.
      const healed = acked.size;
      await eventually(() => acked.size >= healed + 5, 'deliveries after the partition', 30_000);
      sending = false;
      await Promise.all(senders);
      for (const r of refused) assert.match(r, /^451 4\.3\.0/, 'only temporary refusals');

      // Change events came back too: the IDLE session hears a new delivery.
      idle.write('i4 IDLE\r\n');
      // What the load delivered comes first (EXISTS, RECENT), then the continuation.
      let line = await idle.line();
      while (!line.startsWith('+ ')) line = await idle.line();
      assert.match(await send('heard'), /^250 /);
      acked.add('heard');
      await idle.until((t) => {
        const m = /\* (\d+) EXISTS\r\n/.exec(t);
        return m ? m.index + m[0].length : -1;
      }, 20_000);
      idle.write('DONE\r\n');
      idle.close();

      // A flag change it could not read then is announced now: by the end, it was announced.
      await eventually(
        async () => {
          announced.push(...(await imap.cmd('a5', 'NOOP')));
          return /^a5 OK/.test(announced.at(-1)!);
        },
        'IMAP again',
        20_000,
      );
      assert.ok(
        announced.some((l) => /^\* 1 FETCH \(UID 1 FLAGS \([^)]*\\Flagged/.test(l)),
        announced.join('\n'),
      );
      const fetched = await imap.cmd('a6', 'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])');
      const subjects = new Set(fetched.join('\n').match(/(?<=Subject: )\S+/g));
      const missing = [...acked].filter((id) => !subjects.has(id));
      assert.deepEqual(missing, [], `all ${acked.size} acknowledged messages are there`);
      imap.close();
    } finally {
      sending = false;
      await Promise.all(senders);
    }
  });
  test('a database that stops answering: temporary errors after the timeout, then back', {
    timeout: 240_000,
  }, async () => {
    const WAIT = 60_000;
    const imap = await RawClient.connect(ts.port('imap'));
    await imap.cmd('b1', `LOGIN ${USER} "${PASS}"`, WAIT);
    assert.match((await imap.cmd('b2', 'SELECT INBOX', WAIT)).at(-1)!, /^b2 OK/);
    const idle = await RawClient.connect(ts.port('imap'));
    await idle.cmd('j1', `LOGIN ${USER} "${PASS}"`, WAIT);
    assert.match((await idle.cmd('j2', 'SELECT INBOX', WAIT)).at(-1)!, /^j2 OK/);
    const acked = new Set<string>();
    assert.match(await send('before-stall'), /^250 /);
    acked.add('before-stall');

    proxy.stall();
    try {
      // Each answer comes once the statement timeout (4 s) has passed, not never.
      assert.match(
        (await imap.cmd('b3', 'STATUS INBOX (MESSAGES)', WAIT)).at(-1)!,
        /^b3 NO \[UNAVAILABLE\]/,
      );
      assert.match(await send('during-stall'), /^451 4\.3\.0/);
      const pop = await RawPop3.connect(ts.port('pop3'));
      assert.match(await pop.login(USER, PASS), /^-ERR \[SYS\/TEMP\]/);
      await pop.cmd('QUIT');
      assert.match(
        (await imap.cmd('b4', 'NOOP', WAIT)).at(-1)!,
        /^b4 OK/,
        'the session stays usable',
      );
    } finally {
      proxy.heal();
    }

    // Back by itself: connections the node gave up on are replaced (one that was idle in the
    // pool may still fail once, after its timeout).
    let n = 0;
    await eventually(
      async () => {
        const id = `after-stall${++n}`;
        const ok = (await send(id)).startsWith('250 ');
        if (ok) acked.add(id);
        return ok;
      },
      'a delivery after the stall',
      WAIT,
    );
    // The POP3 maildrop lock's own connection too.
    await eventually(
      async () => {
        const pop = await RawPop3.connect(ts.port('pop3'));
        try {
          return (await pop.login(USER, PASS)).startsWith('+OK');
        } finally {
          await pop.cmd('QUIT');
        }
      },
      'a POP3 login after the stall',
      WAIT,
    );
    // And the LISTEN connection, stalled with the rest: its heartbeat finds it silent and a
    // new one listens, so an IDLE session hears what another node (a store reaching the
    // database directly) delivers now.
    idle.write('j0 IDLE\r\n');
    let line = await idle.line(WAIT);
    while (!line.startsWith('+ ')) line = await idle.line(WAIT);
    const other = await PostgresStore.open({ connectionString: direct.toString(), max: 2 });
    try {
      const account = await other.getAccount(USER);
      const inbox = await other.getMailbox(account!.id, 'INBOX');
      await other.append(newMessage('heard-other'), [{ mailboxId: inbox!.id }]);
      acked.add('heard-other');
    } finally {
      await other.close();
    }
    await idle.until((t) => {
      const m = /\* (\d+) EXISTS\r\n/.exec(t);
      return m ? m.index + m[0].length : -1;
    }, WAIT);
    idle.write('DONE\r\n');
    idle.close();

    const later: string[] = [];
    await eventually(
      async () => {
        later.length = 0;
        later.push(
          ...(await imap.cmd(
            `b${++n + 10}`,
            'FETCH 1:* (BODY.PEEK[HEADER.FIELDS (SUBJECT)])',
            WAIT,
          )),
        );
        return /^b\d+ OK/.test(later.at(-1)!);
      },
      'IMAP again',
      WAIT,
    );
    const subjects = new Set(later.join('\n').match(/(?<=Subject: )\S+/g));
    assert.deepEqual(
      [...acked].filter((id) => !subjects.has(id)),
      [],
      'every acknowledged message is there',
    );
    imap.close();
  });
});
