// The PostgreSQL store run by a role that is no superuser and owns nothing but its database,
// as an administrator sets it up (`CREATE ROLE letterbox LOGIN; CREATE DATABASE mail OWNER
// letterbox`): the migrations (the pg_trgm extension, PL/pgSQL functions) and every role's
// contract suite, the change events and the flush behind notifying commits (db.ts) among
// them, must work without a superuser's rights. The other PostgreSQL tests connect as the
// test cluster's superuser.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import pg from 'pg';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { newMessage } from '../helpers/messages.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';
import { storeContracts } from './contract/index.js';

const ROLE = `lb_plain_${process.pid}`;
let server: TestPostgres;
let superUrl: string;

/** Runs SQL as the superuser on the database of `url`. */
async function asSuperuser(url: string, sql: string): Promise<pg.QueryResult> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  try {
    return await c.query(sql);
  } finally {
    await c.end();
  }
}

/** A new database owned by the plain role, and its URL for that role. */
async function plainDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const url = await server.createDatabase();
  const name = decodeURIComponent(new URL(url).pathname.slice(1));
  await asSuperuser(url, `ALTER DATABASE ${name} OWNER TO ${ROLE}`);
  const u = new URL(url);
  u.username = ROLE;
  return { url: u.toString(), drop: () => server.dropDatabase(url) };
}

before(async () => {
  server = await startPostgres();
  superUrl = await server.createDatabase();
  await asSuperuser(superUrl, `CREATE ROLE ${ROLE} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE`);
});
after(async () => {
  if (superUrl) {
    await server.dropDatabase(superUrl);
    const admin = new URL(superUrl);
    admin.pathname = '/postgres';
    await asSuperuser(admin.toString(), `DROP ROLE IF EXISTS ${ROLE}`).catch(() => {});
  }
  await server?.stop();
});

describe('postgres as a plain role', () => {
  test('the role is no superuser; the store migrates and delivers with it', async () => {
    const { url, drop } = await plainDatabase();
    const store = await PostgresStore.open({ connectionString: url, max: 2 });
    try {
      const c = new pg.Client({ connectionString: url });
      await c.connect();
      try {
        const me = await c.query('SELECT rolsuper FROM pg_roles WHERE rolname = current_user');
        assert.equal(me.rows[0].rolsuper, false);
        // pg_trgm is a trusted extension: the database's owner may make it (migration 8).
        const ext = await c.query("SELECT 1 FROM pg_extension WHERE extname = 'pg_trgm'");
        assert.equal(ext.rowCount, 1, 'pg_trgm made by the plain role');
      } finally {
        await c.end();
      }
      await store.addDomain('example.test');
      const acct = await store.createAccount({ address: 'a@example.test', passwordHash: 'h' });
      const inbox = (await store.getMailbox(acct.id, 'INBOX'))!;
      await store.append(newMessage('one'), [{ mailboxId: inbox.id }]);
      await store.append(newMessage('two'), [{ mailboxId: inbox.id }]);
      await store.setFlags(inbox.id, [1], 'add', ['\\Deleted']);
      const gone = await store.expunge(inbox.id, { onlyDeleted: true });
      assert.deepEqual(gone, [1]);
      assert.deepEqual(
        (await store.listMessages(inbox.id)).map((r) => r.uid),
        [2],
      );
    } finally {
      await store.close();
      await drop();
    }
  });
});

storeContracts('postgres as a plain role', async () => {
  const { url, drop } = await plainDatabase();
  const store = await PostgresStore.open({ connectionString: url, max: 4 });
  return {
    store,
    async cleanup() {
      await store.close();
      await drop();
    },
  };
});
