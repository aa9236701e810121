// backup/snapshot.ts, verify.ts and restore.ts on a store in a temp directory: what a backup
// holds (databases, blobs, keys with their modes, files outside the data dir), what makes
// `restore` refuse it (each kind of damage), and what the target may be.
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, readFile, rm, stat, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import Database from 'better-sqlite3';
import { restoreBackup } from '../../src/backup/restore.js';
import { BackupError, createBackup } from '../../src/backup/snapshot.js';
import { verifyBackup } from '../../src/backup/verify.js';
import { PID_FILE } from '../../src/cli/pid-file.js';
import { parseConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import { deliverToMailbox } from '../../src/delivery/mailbox.js';
import { openAliceStore } from '../helpers/store.js';

function message(n: number, bodyBytes: number): Buffer {
  return Buffer.from(
    `From: a@example.test\r\nTo: alice@example.test\r\nSubject: m${n}\r\n` +
      `Message-ID: <${n}@backup.test>\r\n\r\n${'x'.repeat(bodyBytes)}\r\n`,
  );
}

describe('backup and restore', () => {
  let root: string;
  let cfg: Config;
  let data: string;
  let n = 0;
  const fresh = () => join(root, `t${n++}`);

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'lb-backup-'));
    data = join(root, 'data');
    await mkdir(join(data, 'dkim', 'example.test'), { recursive: true, mode: 0o700 });
    await writeFile(join(data, 'dkim', 'example.test', 'sel.rsa.key'), 'KEY', { mode: 0o600 });
    await writeFile(join(data, 'srs.key'), 'SRS', { mode: 0o600 });
    // The config and the certificate outside the data directory, as in /etc.
    const etc = join(root, 'etc');
    await mkdir(etc);
    await writeFile(join(etc, 'cert.pem'), 'CERT', { mode: 0o644 });
    await writeFile(join(etc, 'key.pem'), 'TLSKEY', { mode: 0o600 });
    const file = join(etc, 'letterbox.toml');
    const toml = `hostname = "localhost"\ndata_dir = "${data}"\n[tls]\ncert = "cert.pem"\nkey = "key.pem"\n`;
    await writeFile(file, toml);
    cfg = parseConfig(toml, file);
    const { store, inbox } = await openAliceStore(data);
    // Small messages live in the database, large ones (over 64 KB) in blob files.
    const batch = [];
    for (let i = 0; i < 20; i++) batch.push({ raw: message(i, i % 4 === 0 ? 100_000 : 500) });
    const o = await deliverToMailbox({ store }, inbox, batch);
    assert.equal(o.status, 'accepted');
    await store.close();
  });
  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  test('a backup holds the databases, the blobs, the keys with their modes, and the outside files', async () => {
    const dest = fresh();
    // A running opener's mark beside the full-text index (store/sqlite/fts-marks.ts): its
    // process's, like the index's lock file, not the backup's.
    const mark = join(data, `fts.db-open-${process.pid}-0-x`);
    await writeFile(mark, 'boot\n1\n', { mode: 0o600 });
    const { manifest } = await createBackup(cfg, dest).finally(() => rm(mark));
    assert.deepEqual(
      manifest.databases.map((d) => d.path),
      ['letterbox.db', 'fts.db'],
    );
    assert.equal(manifest.blobs, 5, 'the five large messages');
    assert.deepEqual(manifest.files.map((f) => f.path).sort(), [
      'dkim/example.test/sel.rsa.key',
      'srs.key',
    ]);
    assert.deepEqual(
      manifest.external.map((e) => [e.original.slice(root.length), e.mode.toString(8)]),
      [
        ['/etc/letterbox.toml', '644'],
        ['/etc/cert.pem', '644'],
        ['/etc/key.pem', '600'],
      ],
    );
    assert.equal((await stat(join(dest, 'data', 'srs.key'))).mode & 0o777, 0o600);
    assert.equal((await stat(join(dest, 'data', 'letterbox.db'))).mode & 0o777, 0o600);
    assert.equal((await stat(dest)).mode & 0o777, 0o700);
    // A self-contained database file: no journal beside it.
    assert.deepEqual(
      (await readdir(join(dest, 'data'))).filter((f) => /-(wal|shm)$/.test(f)),
      [],
    );
    const v = await verifyBackup(dest);
    assert.equal(v.ok, true, v.ok ? '' : v.problems.join('\n'));
  });

  test('blobs are hard links by default, copies with copy: true', async () => {
    const inodes = async (dir: string) => {
      const out: number[] = [];
      for (const a of await readdir(join(dir, 'blobs'))) {
        if (a === 'tmp') continue;
        for (const b of await readdir(join(dir, 'blobs', a))) {
          for (const f of await readdir(join(dir, 'blobs', a, b))) {
            out.push((await stat(join(dir, 'blobs', a, b, f))).ino);
          }
        }
      }
      return out.sort();
    };
    const live = await inodes(data);
    const linked = fresh();
    await createBackup(cfg, linked);
    assert.deepEqual(await inodes(join(linked, 'data')), live);
    const copied = fresh();
    await createBackup(cfg, copied, { copy: true });
    const theirs = await inodes(join(copied, 'data'));
    assert.equal(theirs.length, live.length);
    assert.ok(theirs.every((i) => !live.includes(i)));
    assert.equal((await verifyBackup(copied)).ok, true);
  });

  test('restore puts it back; the store opens with every message', async () => {
    const dest = fresh();
    await createBackup(cfg, dest);
    const target = fresh();
    await restoreBackup(dest, target);
    assert.equal(
      (await stat(join(target, 'dkim', 'example.test', 'sel.rsa.key'))).mode & 0o777,
      0o600,
    );
    const { store, inbox } = await openAliceStore(target);
    try {
      const rows = await store.listMessages(inbox);
      assert.equal(rows.length, 20);
    } finally {
      await store.close();
    }
    const db = new Database(join(target, 'letterbox.db'), { readonly: true });
    assert.equal(db.pragma('integrity_check', { simple: true }), 'ok');
    db.close();
  });

  const damages: Array<[string, (dest: string) => Promise<void>, RegExp]> = [
    ['no manifest (unfinished)', (d) => unlink(join(d, 'manifest.json')), /no manifest\.json/],
    [
      'a blob missing',
      async (d) => {
        const dir = join(d, 'data', 'blobs');
        const first = (await readdir(dir)).find((x) => x !== 'tmp')!;
        const second = (await readdir(join(dir, first)))[0]!;
        const file = (await readdir(join(dir, first, second)))[0]!;
        await unlink(join(dir, first, second, file));
      },
      /missing \(the mail database refers to it\)/,
    ],
    [
      'a blob altered',
      async (d) => {
        const dir = join(d, 'data', 'blobs');
        const first = (await readdir(dir)).find((x) => x !== 'tmp')!;
        const second = (await readdir(join(dir, first)))[0]!;
        const file = (await readdir(join(dir, first, second)))[0]!;
        // Replaced, not written through: the backup's blob is a hard link to the live one.
        const path = join(dir, first, second, file);
        const bytes = await readFile(path);
        await unlink(path);
        await writeFile(path, Buffer.concat([bytes, Buffer.from('x')]));
      },
      /content does not match its name/,
    ],
    [
      'a key altered',
      (d) => writeFile(join(d, 'data', 'srs.key'), 'SRT'),
      /srs\.key: content changed/,
    ],
    [
      'a database truncated',
      async (d) => writeFile(join(d, 'data', 'fts.db'), ''),
      /fts\.db: 0 bytes/,
    ],
    [
      'a file not in the manifest',
      (d) => writeFile(join(d, 'data', 'evil'), 'x'),
      /evil: not in the manifest/,
    ],
    [
      'an unsafe path in the manifest',
      async (d) => {
        const m = JSON.parse(await readFile(join(d, 'manifest.json'), 'utf8'));
        m.files.push({ path: '../../etc/passwd', size: 1, sha256: 'x', mode: 0o600 });
        await writeFile(join(d, 'manifest.json'), JSON.stringify(m));
      },
      /unsafe path/,
    ],
  ];
  for (const [what, damage, problem] of damages) {
    test(`restore refuses a backup with ${what}, and changes nothing`, async () => {
      const dest = fresh();
      await createBackup(cfg, dest);
      await damage(dest);
      const v = await verifyBackup(dest);
      assert.equal(v.ok, false);
      if (!v.ok)
        assert.ok(
          v.problems.some((p) => problem.test(p)),
          v.problems.join('\n'),
        );
      const target = fresh();
      await assert.rejects(restoreBackup(dest, target), /not a sound backup/);
      await assert.rejects(stat(target), /ENOENT/, 'the target was not touched');
    });
  }

  test('the target: empty or --force; never under a running server', async () => {
    const dest = fresh();
    await createBackup(cfg, dest);
    const target = fresh();
    await mkdir(target);
    await writeFile(join(target, 'letterbox.db-wal'), 'stale journal');
    const pre = await verifyBackup(dest);
    assert.equal(pre.ok, true, pre.ok ? '' : pre.problems.join('\n'));
    await assert.rejects(restoreBackup(dest, target), /not empty: use --force/);
    await restoreBackup(dest, target, { force: true });
    await assert.rejects(stat(join(target, 'letterbox.db-wal')), /ENOENT/, 'old files removed');
    await writeFile(join(target, PID_FILE), `${process.pid}\n`);
    await assert.rejects(
      restoreBackup(dest, target, { force: true }),
      new RegExp(`a server \\(pid ${process.pid}\\) runs`),
    );
    // A pid file left by a process that is gone does not count.
    await writeFile(join(target, PID_FILE), '2147483646\n');
    await restoreBackup(dest, target, { force: true });
    // --force empties the target first: never when the backup is in it.
    await assert.rejects(restoreBackup(dest, root, { force: true }), /lies in the target/);
    await stat(join(dest, 'manifest.json'));
  });

  test('backup refuses a destination that is not empty or lies in the data directory', async () => {
    const dest = fresh();
    await mkdir(dest);
    await writeFile(join(dest, 'x'), 'x');
    await assert.rejects(createBackup(cfg, dest), BackupError);
    await assert.rejects(createBackup(cfg, join(data, 'backup')), /inside the data directory/);
  });
});

test('a PostgreSQL store is refused: its mail is not under data_dir', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'lb-backup-pg-'));
  try {
    const cfg = parseConfig(
      '[store]\nkind = "postgres"\nurl = "postgres://lb@db.internal/mail"\n',
      join(dir, 'letterbox.toml'),
    );
    await assert.rejects(
      createBackup(cfg, join(dir, 'out')),
      (e: unknown) => e instanceof BackupError && /pg_dump/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
