// Migration 7: SEARCH FROM / TO / CC / BCC read e_* columns, the ENVELOPE's addresses written
// out (mime/address-text.ts). Rows stored before it get them from their stored envelope, so
// an upgraded mailbox answers exactly like a new one.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { indexMessage } from '../../src/delivery/local.js';
import { MIGRATIONS } from '../../src/store/sqlite/migrations.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';

const RAW = Buffer.from(
  'From: <user-from (comment)@ (comment) domain.org>\r\n' +
    'To: =?utf-8?q?J=C3=B6rg?= <j@x.example>, undisclosed: a@b.example;\r\n' +
    'Cc: "Smith, John" <js@y.example>\r\nSubject: s\r\n\r\nbody\r\n',
);

describe('migration 7: envelope address texts for rows stored before', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-mig7-'));
  });
  after(async () => rm(dir, { recursive: true, force: true }));

  test('filled from the stored envelope, equal to what an insert writes', async () => {
    let store = await SqliteStore.open({ dir });
    await store.addDomain('example.test');
    const account = await store.createAccount({ address: 'u@example.test', passwordHash: 'x' });
    const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
    await store.append({ raw: RAW, index: indexMessage(RAW) }, [{ mailboxId: inbox.id }]);
    const fresh = await store.getSearchField(inbox.id, 'envelopeFrom', [1]);
    const freshTo = await store.getSearchField(inbox.id, 'envelopeTo', [1]);
    await store.close();
    assert.equal(fresh.get(1), 'user-from@domain.org');
    assert.equal(freshTo.get(1), 'Jörg <j@x.example>, undisclosed: a@b.example;');

    // The row as a letterbox before migration 7 left it (no e_* columns), then migration 7
    // alone, as the upgrade runs it (later migrations are not re-run here).
    const db = new Database(join(dir, 'letterbox.db'));
    db.exec(`ALTER TABLE messages DROP COLUMN e_from;
             ALTER TABLE messages DROP COLUMN e_to;
             ALTER TABLE messages DROP COLUMN e_cc;
             ALTER TABLE messages DROP COLUMN e_bcc;`);
    const m7 = MIGRATIONS.find((m) => m.version === 7)!;
    db.transaction(() => {
      db.exec(m7.sql);
      m7.run?.(db);
    })();
    db.close();

    store = await SqliteStore.open({ dir });
    try {
      for (const f of ['envelopeFrom', 'envelopeTo', 'envelopeCc', 'envelopeBcc'] as const) {
        const v = (await store.getSearchField(inbox.id, f, [1])).get(1);
        assert.equal(
          v,
          {
            envelopeFrom: fresh.get(1),
            envelopeTo: freshTo.get(1),
            envelopeCc: 'Smith, John <js@y.example>',
            envelopeBcc: '',
          }[f],
          f,
        );
      }
      // The raw header text stays where HEADER FROM reads it.
      assert.match((await store.getSearchField(inbox.id, 'from', [1])).get(1)!, /\(comment\)/);
    } finally {
      await store.close();
    }
  });
});
