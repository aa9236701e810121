// `letterbox store migrate` as an operator runs it, interrupted: SIGINT in the middle of the
// messages ends it with exit 130 and a line saying how to go on; the same command then goes on
// from the batches already committed (its first JSON line says so) and ends checked, and the
// PostgreSQL store holds every message once.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { indexMessage } from '../../src/delivery/local.js';
import { writeSelfSigned } from '../../src/net/selfsigned.js';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { BIN, runCli } from '../helpers/cli.js';
import { startPostgres, type TestPostgres } from '../helpers/postgres.js';

const MESSAGES = 300;

describe('store migrate: interrupted and run again', () => {
  let pg: TestPostgres;
  let dir: string;
  before(async () => {
    pg = await startPostgres();
    dir = await mkdtemp(join(tmpdir(), 'lb-migrate-resume-'));
    await writeSelfSigned(dir, 'localhost');
    await writeFile(join(dir, 'letterbox.toml'), 'hostname = "localhost"\n');
    const s = await SqliteStore.open({ dir, onFtsError: () => {} });
    await s.addDomain('example.test');
    const a = await s.createAccount({ address: 'a@example.test', passwordHash: 'h' });
    const inbox = (await s.getMailbox(a.id, 'INBOX'))!;
    await Promise.all(
      Array.from({ length: MESSAGES }, (_, i) => {
        const raw = Buffer.from(
          `From: x@example.net\r\nSubject: m ${i}\r\nMessage-ID: <m${i}@x>\r\n\r\nBody ${i}\r\n`,
        );
        return s.append({ raw, index: indexMessage(raw) }, [
          { mailboxId: inbox.id, flags: i % 2 ? ['\\Seen'] : [] },
        ]);
      }),
    );
    await s.close();
  });
  after(async () => {
    await pg?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  test('SIGINT mid-copy: exit 130; the rerun resumes and ends checked', async () => {
    const url = await pg.createDatabase();
    const args = ['-c', join(dir, 'letterbox.toml'), 'store', 'migrate', '--to', 'postgres', url];
    // Batches of 10: the messages take 30 of them, so the signal lands with most still to go.
    const child = spawn(process.execPath, [BIN, ...args, '--batch', '10'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    const code = await new Promise<number | null>((resolve) => {
      let sent = false;
      child.stdout.on('data', (d) => {
        out += d;
        // The first batch of messages is committed: interrupt.
        if (!sent && /"event":"copied","table":"messages"/.test(out)) {
          sent = true;
          child.kill('SIGINT');
        }
      });
      child.on('close', (c) => resolve(c));
    });
    assert.equal(code, 130, `stdout: ${out}\nstderr: ${err}`);
    assert.match(err, /interrupted: what was copied stays; run the same command again to go on/);
    assert.doesNotMatch(out, /"event":"done"/);

    const r = await runCli(args);
    assert.equal(r.code, 0, r.stderr);
    const lines = r.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    const begin = lines[0];
    assert.equal(begin.event, 'begin');
    assert.equal(begin.resumed, true);
    const messages = begin.tables.find((t: { name: string }) => t.name === 'messages');
    assert.equal(messages.total, MESSAGES);
    assert.ok(
      messages.done >= 10 && messages.done < MESSAGES,
      `messages already copied: ${messages.done}`,
    );
    const done = lines[lines.length - 1];
    assert.equal(done.event, 'done');
    assert.equal(done.verified, true);
    assert.equal(done.tables.messages, MESSAGES);

    const store = await PostgresStore.open({ connectionString: url, max: 2 });
    try {
      const a = (await store.getAccount('a@example.test'))!;
      const inbox = (await store.getMailbox(a.id, 'INBOX'))!;
      const status = await store.mailboxStatus(inbox.id);
      assert.equal(status.messages, MESSAGES);
      assert.equal(status.uidNext, MESSAGES + 1);
      assert.equal(status.unseen, MESSAGES / 2);
    } finally {
      await store.close();
    }
  });
});
