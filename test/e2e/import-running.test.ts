// `letterbox import` beside a running server (its own store on the same data directory, as
// the CLI opens it): a client in IDLE hears of the imported mail (EXISTS), and a new
// SELECT, after the server had read the mailbox, lists it with its flags.
import assert from 'node:assert/strict';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { imapProtocol } from '../../src/imap/index.js';
import { importFolders } from '../../src/migrate-io/import.js';
import { maildirFolders } from '../../src/migrate-io/maildir-source.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { eventually } from '../helpers/eventually.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const USER = 'erin@example.test';
const PASS = 'pw-erin-1';

describe('import into a running server', () => {
  let ts: TestServer;
  let flow: ImapFlow;
  before(async () => {
    ts = await startTestServer({ listeners: ['imaps'], protocols: { imaps: imapProtocol } });
    await ts.addUser(USER, PASS);
    flow = new ImapFlow({
      host: '127.0.0.1',
      port: ts.port('imaps'),
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASS },
      logger: false,
    });
    await flow.connect();
  });
  after(async () => {
    await flow?.logout().catch(() => {});
    await ts?.stop();
  });

  test('a session in IDLE sees the imported messages; flags and keywords show', async () => {
    await flow.mailboxOpen('INBOX');
    let exists = 0;
    flow.on('exists', (d: { count: number }) => {
      exists = d.count;
    });
    const idle = flow.idle();
    const md = join(ts.dir, 'import-src');
    await mkdir(join(md, 'cur'), { recursive: true });
    for (let i = 1; i <= 3; i++) {
      await writeFile(join(md, 'cur', `${i}.x.host:2,Sa`), `Subject: imported ${i}\n\nbody\n`);
    }
    await writeFile(join(md, 'dovecot-keywords'), '0 $Moved\n');
    // What the CLI does: its own store on the server's data directory, sharing its changes.
    const cli = await SqliteStore.open({ dir: ts.dir, shareChanges: true });
    try {
      const account = (await cli.getAccount(USER))!;
      const r = await importFolders(cli, account, await maildirFolders(md), {
        maxMessageSize: 1 << 20,
      });
      assert.equal(r.imported, 3);
    } finally {
      await cli.close();
    }
    await eventually(() => exists === 3, 'EXISTS 3 in IDLE', 20_000);
    await flow.noop();
    await idle.catch(() => {});
    const seen: Array<[number, string[]]> = [];
    for await (const m of flow.fetch('1:*', { uid: true, flags: true })) {
      seen.push([m.uid, [...(m.flags ?? [])].filter((f) => f !== '\\Recent').sort()]);
    }
    assert.deepEqual(seen, [
      [1, ['$Moved', '\\Seen']],
      [2, ['$Moved', '\\Seen']],
      [3, ['$Moved', '\\Seen']],
    ]);
  });
});
