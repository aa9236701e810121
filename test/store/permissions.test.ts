// Everything under the data directory is private whatever the umask: directories 0700, files
// 0600 (the databases and their -wal/-shm, fts.db, the message files, the TLS key, the config
// written by init). Checked with umask 022 in this process (the store) and in the real
// `letterbox` command (init, user add, serve with a delivery), where it was 0644/0755.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { writeSelfSigned } from '../../src/net/selfsigned.js';
import { BIN, type RunResult } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { newMessage } from '../helpers/messages.js';
import { openAliceStore } from '../helpers/store.js';

/** Every entry under `dir` (and `dir` itself) whose mode is not 0700 (dirs) or 0600 (files). */
function wrongModes(dir: string): string[] {
  const bad: string[] = [];
  const visit = (path: string) => {
    let st: ReturnType<typeof statSync>;
    try {
      st = statSync(path);
    } catch {
      return; // removed meanwhile (a -wal at a checkpoint, a blob tmp file renamed)
    }
    const mode = st.mode & 0o777;
    if (st.isDirectory()) {
      if (mode !== 0o700) bad.push(`${path} ${mode.toString(8)}`);
      for (const name of readdirSync(path)) visit(join(path, name));
    } else if (mode !== 0o600) bad.push(`${path} ${mode.toString(8)}`);
  };
  visit(dir);
  return bad;
}

function countFiles(dir: string): number {
  let n = 0;
  for (const e of readdirSync(dir, { withFileTypes: true, recursive: true })) if (e.isFile()) n++;
  return n;
}

const BIG_BODY = `${'x'.repeat(998)}\r\n`.repeat(100); // ~100 KB: a message file, not a row

let root: string;
let savedUmask: number;
before(async () => {
  // What the store sees under a common umask; children spawned below inherit it too, and the
  // CLI runs through `sh -c 'umask 022; ...'` besides.
  savedUmask = process.umask(0o022);
  root = await mkdtemp(join(tmpdir(), 'lb-perm-'));
});
after(async () => {
  process.umask(savedUmask);
  await rm(root, { recursive: true, force: true });
});

describe('the store (in process, umask 022)', () => {
  test('a data dir that does not exist yet: every directory and file it creates', async () => {
    const dataDir = join(root, 'store', 'elsewhere', 'data');
    const { store, inbox } = await openAliceStore(dataDir);
    try {
      await store.append(newMessage('small'), [{ mailboxId: inbox }]);
      await store.append(newMessage('big', BIG_BODY), [{ mailboxId: inbox }]);
      await eventually(
        () => existsSync(join(dataDir, 'fts.db-journal')),
        'the full-text index and its journal',
        30_000,
      );
      assert.ok(existsSync(join(dataDir, 'letterbox.db-wal')));
      assert.ok(existsSync(join(dataDir, 'letterbox.db-shm')));
      assert.ok(countFiles(join(dataDir, 'blobs')) >= 1, 'a message file');
      assert.deepEqual(wrongModes(join(root, 'store', 'elsewhere')), []);
    } finally {
      await store.close();
    }
    assert.deepEqual(wrongModes(join(root, 'store', 'elsewhere')), []);
  });

  test('database files an older version made 0644 are narrowed when the store opens', async () => {
    const dataDir = join(root, 'old');
    await (await openAliceStore(dataDir)).store.close();
    await eventually(() => existsSync(join(dataDir, 'fts.db')), 'fts.db', 30_000);
    for (const f of ['letterbox.db', 'fts.db']) await chmod(join(dataDir, f), 0o644);
    const { store, inbox } = await openAliceStore(dataDir);
    try {
      // Answered once the index worker has opened fts.db.
      await store.searchText(inbox, 'anything');
      for (const f of ['letterbox.db', 'letterbox.db-wal', 'letterbox.db-shm', 'fts.db']) {
        assert.equal(statSync(join(dataDir, f)).mode & 0o777, 0o600, f);
      }
      await eventually(
        () => (statSync(join(dataDir, 'fts.db')).mode & 0o777) === 0o600,
        'fts.db narrowed by the index worker',
        30_000,
      );
    } finally {
      await store.close();
    }
  });
});

/** The built `letterbox` command under umask 022, whatever this process's umask. */
function letterbox(args: string[], input = ''): Promise<RunResult> {
  return new Promise((resolve, reject) => {
    const child = spawn('sh', ['-c', 'umask 022; exec "$0" "$@"', process.execPath, BIN, ...args], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.stderr.on('data', (d) => {
      stderr += d;
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
    child.stdin.end(input);
  });
}

async function ok(args: string[], input?: string): Promise<void> {
  const r = await letterbox(args, input);
  assert.equal(r.code, 0, `letterbox ${args.join(' ')}: ${r.stderr}`);
}

/** A config for serve on loopback ephemeral ports, MX delivery without DNS waits. */
function serveToml(dataDir: string): string {
  const listeners = ['smtp', 'pop3', 'http']
    .map((n) => `[listeners.${n}]\naddress = "127.0.0.1"\nport = 0\n`)
    .join('\n');
  const off = ['submission', 'submissions', 'imap', 'imaps', 'pop3s']
    .map((n) => `[listeners.${n}]\nenabled = false\n`)
    .join('\n');
  return `hostname = "localhost"
data_dir = "${dataDir}"
[log]
level = "info"
[smtp]
greet_delay_ms = 0
auth_checks_timeout_seconds = 1
[dns]
servers = ["127.0.0.1:1"]
timeout_ms = 100
[pop3]
workers = 1
${listeners}
${off}`;
}

/** python3's smtplib delivers one message to `rcpt` on `port`. */
function deliver(port: number, rcpt: string): Promise<void> {
  const py = `
import smtplib, sys
body = "From: a@example.net\\r\\nTo: ${rcpt}\\r\\nSubject: big\\r\\n\\r\\n" + ("x" * 998 + "\\r\\n") * 100
with smtplib.SMTP("127.0.0.1", int(sys.argv[1]), timeout=60) as s:
    s.sendmail("a@example.net", ["${rcpt}"], body)
`;
  return new Promise((resolve, reject) => {
    const child = spawn('python3', ['-c', py, String(port)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => {
      err += d;
    });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`smtplib: ${err}`))));
  });
}

describe('the letterbox command (sh -c "umask 022; ...")', () => {
  test('init, user add, serve with a delivery: nothing readable by others', async () => {
    const dir = join(root, 'cli', 'data');
    await ok(['init', '--dir', dir, '--hostname', 'localhost']);
    const config = join(dir, 'letterbox.toml');
    assert.equal(statSync(config).mode & 0o777, 0o600, 'the config init wrote');
    assert.equal(statSync(join(dir, 'tls', 'key.pem')).mode & 0o777, 0o600, 'the TLS key');
    assert.ok(existsSync(join(dir, 'letterbox.db')));
    assert.deepEqual(wrongModes(dir), [], 'after init');

    // Rewritten in place (the file keeps its mode): ephemeral ports, no waits for DNS.
    await writeFile(config, serveToml('.'));
    await ok(['--config', config, 'domain', 'add', 'example.test']);
    await ok(
      ['--config', config, 'user', 'add', 'alice@example.test', '--password-stdin'],
      'pw-long-1\n',
    );
    assert.deepEqual(wrongModes(dir), [], 'after user add');

    const child = spawn(
      'sh',
      ['-c', 'umask 022; exec "$0" "$@"', process.execPath, BIN, '--config', config, 'serve'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    try {
      const ports = await startedPorts(child);
      await deliver(ports.get('smtp')!, 'alice@example.test');
      assert.ok(countFiles(join(dir, 'blobs')) >= 1, 'the message is a file');
      await eventually(
        () => existsSync(join(dir, 'fts.db-journal')),
        'the full-text index',
        30_000,
      );
      assert.deepEqual(wrongModes(dir), [], 'while serving, after a delivery');
    } finally {
      child.kill('SIGTERM');
    }
    assert.equal(await exited, 0);
    assert.deepEqual(wrongModes(dir), [], 'after serve stopped');
  });

  test('a data_dir elsewhere that does not exist: the store creates it 0700', async () => {
    const confDir = join(root, 'cli-elsewhere');
    await writeSelfSigned(confDir, 'localhost');
    const config = join(confDir, 'letterbox.toml');
    const dataDir = join(root, 'cli-elsewhere-data', 'mail');
    await writeFile(config, serveToml(dataDir));
    await ok(['--config', config, 'domain', 'add', 'example.test']);
    await ok(
      ['--config', config, 'user', 'add', 'bob@example.test', '--password-stdin'],
      'pw-long-1\n',
    );
    assert.ok(existsSync(join(dataDir, 'letterbox.db')));
    assert.deepEqual(wrongModes(join(root, 'cli-elsewhere-data')), []);
  });
});

/** The listeners' ports from serve's "letterbox started" log line. */
function startedPorts(child: ReturnType<typeof spawn>): Promise<Map<string, number>> {
  return new Promise((resolve, reject) => {
    let partial = '';
    let stderr = '';
    child.stdout!.on('data', (d: Buffer) => {
      partial += d.toString();
      for (let nl = partial.indexOf('\n'); nl >= 0; nl = partial.indexOf('\n')) {
        const line = partial.slice(0, nl);
        partial = partial.slice(nl + 1);
        if (!line.includes('letterbox started')) continue;
        const rec = JSON.parse(line) as { listeners: { name: string; port: number }[] };
        resolve(new Map(rec.listeners.map((l) => [l.name, l.port])));
      }
    });
    child.stderr!.on('data', (d: Buffer) => {
      stderr += d.toString();
    });
    child.on('exit', () => reject(new Error(`serve exited early:\n${stderr}`)));
  });
}
