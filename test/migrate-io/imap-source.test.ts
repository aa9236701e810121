// `import imap` against a second Letterbox as the source (imaps on loopback, its CA given):
// folders with the separator mapped, a special-use folder under another name onto ours,
// flags, keywords, internal dates and kept UIDs; a second run that copies only the new
// message and, with CONDSTORE, the flags changed at the source; a connection cut mid-way
// (a proxy that drops it after some bytes) reported, with every message copied whole and a
// rerun finishing without duplicates; a wrong password and a closed port refused.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createServer, type Server, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { imapProtocol } from '../../src/imap/index.js';
import { ImapSource, ImapSourceError } from '../../src/migrate-io/imap-source.js';
import { statePath } from '../../src/migrate-io/imap-state.js';
import { parseImapSourceUrl } from '../../src/migrate-io/imap-url.js';
import { type ImportSummary, importFolders } from '../../src/migrate-io/import.js';
import type { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import type { Account } from '../../src/store/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { openAliceStore } from '../helpers/store.js';

const USER = 'src@example.test';
const PASS = 'source-pw-1';

function message(n: number, body = `Body ${n}`): Buffer {
  return Buffer.from(
    `From: Eve <eve@example.test>\r\nTo: ${USER}\r\nSubject: message ${n}\r\n` +
      `Message-ID: <m${n}@example.test>\r\n\r\n${body}\r\n`,
  );
}

/** A TCP relay that ends both sides once `limit` bytes came from the server. */
function cuttingProxy(
  target: number,
  limit: number,
): Promise<{ port: number; server: Server; bytes: () => number }> {
  let total = 0;
  const sockets = new Set<Socket>();
  const server = createServer((client) => {
    const up = new Socket();
    sockets.add(client);
    sockets.add(up);
    let seen = 0;
    up.connect(target, '127.0.0.1');
    client.on('data', (d) => up.write(d));
    up.on('data', (d: Buffer) => {
      seen += d.length;
      total += d.length;
      if (seen > limit) {
        client.write(d.subarray(0, d.length - (seen - limit)));
        client.destroy();
        up.destroy();
        return;
      }
      client.write(d);
    });
    const end = () => {
      client.destroy();
      up.destroy();
    };
    client.on('error', end);
    up.on('error', end);
    client.on('close', end);
    up.on('close', end);
  });
  server.on('close', () => {
    for (const s of sockets) s.destroy();
  });
  return new Promise((r) =>
    server.listen(0, '127.0.0.1', () =>
      r({ port: (server.address() as { port: number }).port, server, bytes: () => total }),
    ),
  );
}

describe('import imap from a second Letterbox', () => {
  let dir: string;
  let src: TestServer;
  let store: SqliteStore;
  let account: Account;
  let ca: Buffer;
  const dates = (n: number) => new Date(Date.UTC(2021, 2, n, 8, 9, 10));

  const connectSource = async () => {
    const flow = new ImapFlow({
      host: '127.0.0.1',
      port: src.port('imaps'),
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASS },
      logger: false,
    });
    await flow.connect();
    return flow;
  };

  const open = (port = src.port('imaps'), password = PASS, state = 'state.json') =>
    ImapSource.open({
      url: parseImapSourceUrl(`imaps://${encodeURIComponent(USER)}@localhost:${port}`),
      password,
      ca,
      store,
      account,
      maxMessageSize: 1 << 20,
      statePath: join(dir, state),
      chunk: 3,
      batchBytes: 200,
    });

  const runImport = async (port?: number, state?: string) => {
    const source = await open(port, PASS, state);
    let summary: ImportSummary;
    try {
      summary = await importFolders(store, account, await source.folders(), {
        maxMessageSize: 1 << 20,
      });
    } finally {
      await source.saveState();
      await source.close();
    }
    return { summary, source };
  };

  /** A mailbox of the target as [uid, subject, sorted flags, date]. */
  const rows = async (name: string) => {
    const mb = await store.getMailbox(account.id, name);
    assert.ok(mb, name);
    const recs = await store.listMessages(mb.id);
    const out: Array<[number, string, string[], string]> = [];
    for (const r of recs) {
      const text = (await store.readMessage(r.blobHash)).toString();
      out.push([
        r.uid,
        /Subject: (.*)\r\n/.exec(text)?.[1] ?? '',
        [...r.flags].sort(),
        r.internalDate.toISOString(),
      ]);
    }
    return { mb, rows: out };
  };

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-imapsrc-'));
    src = await startTestServer({ listeners: ['imaps'], protocols: { imaps: imapProtocol } });
    await src.addUser(USER, PASS);
    ca = await readFile(join(src.dir, 'tls', 'cert.pem'));
    ({ store } = await openAliceStore(join(dir, 'data')));
    account = (await store.getAccount('alice@example.test'))!;
    const flow = await connectSource();
    try {
      await flow.mailboxCreate('Work/Projects');
      // The source's \Sent folder under another name: it goes into our Sent.
      await flow.mailboxRename('Sent', 'Gesendet');
      const plan: Array<[string, string[]]> = [
        ['INBOX', ['\\Seen', '$Label1']],
        ['INBOX', ['\\Answered', '\\Flagged', 'project-x']],
        ['INBOX', []],
        ['INBOX', ['\\Seen', '\\Deleted']],
        ['INBOX', ['\\Draft']],
        ['Work', ['\\Seen', 'work']],
        ['Work/Projects', ['\\Flagged']],
        ['Gesendet', ['\\Seen']],
      ];
      let n = 0;
      for (const [box, flags] of plan) {
        n++;
        // Bodies that do not compress (COMPRESS=DEFLATE): the messages are most of the bytes.
        const body = randomBytes(3000).toString('base64').replace(/.{76}/g, '$&\r\n');
        await flow.append(box, message(n, body), flags, dates(n));
      }
    } finally {
      await flow.logout();
    }
  });
  after(async () => {
    await store?.close();
    await src?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test('everything copied: folders, special use, flags, keywords, dates, UIDs', async () => {
    const { summary } = await runImport();
    assert.deepEqual([summary.imported, summary.failed], [8, 0], JSON.stringify(summary.failures));
    const inbox = await rows('INBOX');
    assert.deepEqual(inbox.rows, [
      [1, 'message 1', ['$Label1', '\\Seen'], dates(1).toISOString()],
      [2, 'message 2', ['\\Answered', '\\Flagged', 'project-x'], dates(2).toISOString()],
      [3, 'message 3', [], dates(3).toISOString()],
      [4, 'message 4', ['\\Deleted', '\\Seen'], dates(4).toISOString()],
      [5, 'message 5', ['\\Draft'], dates(5).toISOString()],
    ]);
    const srcInbox = await src.server.ctx.store.getMailbox(
      (await src.server.ctx.store.getAccount(USER))!.id,
      'INBOX',
    );
    assert.equal(inbox.mb.uidValidity, srcInbox!.uidValidity, 'UIDVALIDITY kept');
    assert.deepEqual(
      (await rows('Work')).rows.map((r) => [r[1], r[2]]),
      [['message 6', ['\\Seen', 'work']]],
    );
    assert.deepEqual(
      (await rows('Work/Projects')).rows.map((r) => [r[1], r[2]]),
      [['message 7', ['\\Flagged']]],
    );
    const sent = await rows('Sent');
    assert.equal(sent.mb.specialUse, '\\Sent');
    assert.deepEqual(
      sent.rows.map((r) => r[1]),
      ['message 8'],
    );
    assert.equal(await store.getMailbox(account.id, 'Gesendet'), null);
  });

  test('a second run copies only the new mail and the flags changed at the source', async () => {
    const flow = await connectSource();
    try {
      await flow.append('INBOX', message(9), ['\\Flagged'], dates(9));
      const lock = await flow.getMailboxLock('INBOX');
      try {
        await flow.messageFlagsAdd('3', ['\\Seen', 'later'], { uid: true });
        await flow.messageFlagsRemove('1', ['$Label1'], { uid: true });
      } finally {
        lock.release();
      }
    } finally {
      await flow.logout();
    }
    const { summary, source } = await runImport();
    assert.deepEqual(
      [summary.imported, summary.skipped, summary.failed],
      [1, 0, 0],
      'nothing fetched again',
    );
    assert.equal(source.flagsUpdated, 2);
    const inbox = await rows('INBOX');
    assert.deepEqual(
      inbox.rows.map((r) => [r[0], r[2]]),
      [
        [1, ['\\Seen']],
        [2, ['\\Answered', '\\Flagged', 'project-x']],
        [3, ['\\Seen', 'later']],
        [4, ['\\Deleted', '\\Seen']],
        [5, ['\\Draft']],
        [6, ['\\Flagged']],
      ],
    );
    // And a third run has nothing to do.
    const third = await runImport();
    assert.deepEqual(
      [third.summary.imported, third.summary.skipped, third.source.flagsUpdated],
      [0, 0, 0],
    );
  });

  test('a connection cut mid-way: reported, nothing half-imported, a rerun completes', async () => {
    // Fresh targets: other accounts, their own state files. Carol's whole import through
    // the relay counts the bytes; Bob's is cut at half of them.
    const saved = account;
    try {
      account = await store.createAccount({ address: 'carol@example.test', passwordHash: 'h' });
      const counting = await cuttingProxy(src.port('imaps'), Number.POSITIVE_INFINITY);
      try {
        const { summary } = await runImport(counting.port, 'carol.json');
        assert.equal(summary.imported, 9);
      } finally {
        counting.server.close();
      }
      account = await store.createAccount({ address: 'bob@example.test', passwordHash: 'h' });
      const proxy = await cuttingProxy(src.port('imaps'), Math.floor(counting.bytes() / 2));
      let first: ImportSummary;
      try {
        ({ summary: first } = await runImport(proxy.port, 'cut.json'));
      } finally {
        proxy.server.close();
      }
      assert.ok(first.failed >= 1, JSON.stringify(first));
      assert.ok(
        first.failures.some((f) => /connection to the source was lost|not copied/.test(f.reason)),
        JSON.stringify(first.failures),
      );
      assert.ok(first.imported < 9, `cut before the end: ${first.imported}`);
      const { summary: second } = await runImport(undefined, 'cut.json');
      assert.equal(second.failed, 0, JSON.stringify(second.failures));
      assert.equal(first.imported + second.imported, 9, 'each message once');
      const inbox = await rows('INBOX');
      assert.deepEqual(
        inbox.rows.map((r) => r[1]),
        ['message 1', 'message 2', 'message 3', 'message 4', 'message 5', 'message 9'],
      );
    } finally {
      account = saved;
    }
  });

  test('a wrong password and a closed port are refused with the reason', async () => {
    await assert.rejects(
      open(src.port('imaps'), 'wrong-password'),
      (err: Error) => err instanceof ImapSourceError && /refused the login/.test(err.message),
    );
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as { port: number }).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(
      open(port),
      (err: Error) => err instanceof ImapSourceError && /connection refused/.test(err.message),
    );
    assert.ok(statePath(dir, 'a', 'b').startsWith(join(dir, 'import-imap')));
  });
});
