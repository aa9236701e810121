// `letterbox backup` while mail is being delivered, then `letterbox restore` into a new data
// directory and a server started on it (issue 18 item 5): every message whose submission was
// acknowledged before the backup began is there (read with imapflow), large ones (blob files)
// and small ones (in the database) alike, and the restored store passes integrity_check.
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { runCli } from '../helpers/cli.js';
import { type Launched, launch, type ServerProcess, startServerProcess } from '../hostile/spawn.js';

const USER = 'keeper@example.test';
const PASS = 'backup test password';
const BIG = `${'0123456789abcdef'.repeat(4096 * 2)}\r\n`; // 128 KB: a blob file, not inline

describe('backup while SMTP delivery runs, restore, every acknowledged message is there', () => {
  let srv: ServerProcess;
  let work: string;
  let restored: Launched | undefined;

  before(async () => {
    srv = await startServerProcess({ listeners: ['imaps', 'submission'] });
    await srv.addUser(USER, PASS);
    work = await mkdtemp(join(tmpdir(), 'lb-backup-e2e-'));
  });
  after(async () => {
    if (restored && !restored.exited()) {
      restored.child.kill('SIGKILL');
      await restored.exit;
    }
    await srv?.stop();
    await rm(work, { recursive: true, force: true });
  });

  test('backup, restore into a new data directory, serve it', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: srv.port('submission'),
      secure: false,
      requireTLS: true,
      tls: { rejectUnauthorized: false },
      auth: { user: USER, pass: PASS },
      pool: true,
      maxConnections: 1,
    });
    const acked: Array<{ id: string; big: boolean }> = [];
    let stop = false;
    let loopError: unknown;
    const loop = (async () => {
      for (let n = 1; !stop; n++) {
        const id = `<${n}.${Date.now()}@backup.test>`;
        const big = n % 4 === 0;
        await transport.sendMail({
          from: USER,
          to: USER,
          subject: `message ${n}`,
          messageId: id,
          text: big ? BIG : `small message ${n}\r\n`,
        });
        acked.push({ id, big });
      }
    })().catch((err: unknown) => {
      loopError = err;
    });
    try {
      const deadline = Date.now() + 60_000;
      while (acked.length < 24 && loopError === undefined && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 20));
      }
      assert.equal(loopError, undefined, String(loopError));
      // What was acknowledged before the backup began, by count: a time stamp of the same
      // millisecond as the start could not tell before from during.
      const before = acked.slice();
      const backup = await runCli(['--config', srv.config, 'backup', join(work, 'backup')]);
      assert.equal(backup.code, 0, backup.stderr);
      assert.match(backup.stdout, /2 databases, \d+ mail files/);
      const during = acked.length - before.length;
      assert.ok(before.length >= 24);
      assert.ok(before.some((a) => a.big) && before.some((a) => !a.big));
      stop = true;
      await loop;
      assert.equal(loopError, undefined, String(loopError));

      // The running server's own data directory is never restored over.
      const over = await runCli([
        '--config',
        srv.config,
        'restore',
        join(work, 'backup'),
        '--force',
      ]);
      assert.equal(over.code, 1);
      assert.match(over.stderr, /a server \(pid \d+\) runs on/);

      const target = join(work, 'restored');
      const r = await runCli(['restore', join(work, 'backup'), '--data-dir', target]);
      assert.equal(r.code, 0, r.stderr);
      restored = await launch(join(target, 'letterbox.toml'));
      const client = new ImapFlow({
        host: '127.0.0.1',
        port: restored.ports.get('imaps')!,
        secure: true,
        tls: { rejectUnauthorized: false },
        auth: { user: USER, pass: PASS },
        logger: false,
      });
      client.on('error', () => {});
      await client.connect();
      const found = new Map<string, number>();
      try {
        await client.mailboxOpen('INBOX');
        for await (const m of client.fetch('1:*', { envelope: true, size: true })) {
          found.set(m.envelope?.messageId ?? '', m.size ?? 0);
        }
      } finally {
        await client.logout();
      }
      const missing = before.filter((a) => !found.has(a.id)).map((a) => a.id);
      assert.deepEqual(
        missing,
        [],
        `acknowledged before the backup, missing after restore (${during} delivered during it)`,
      );
      for (const a of before.filter((x) => x.big)) assert.ok(found.get(a.id)! > BIG.length);
      restored.child.kill('SIGTERM');
      await restored.exit;
      const db = new Database(join(target, 'letterbox.db'), { readonly: true });
      try {
        assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
      } finally {
        db.close();
      }
    } finally {
      stop = true;
      await loop;
      transport.close();
    }
  });
});
