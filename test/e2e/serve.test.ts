// `letterbox serve` as an operator runs it: starts, says where it listens, answers, stops
// cleanly on SIGTERM; a port already in use is one clear line and exit code 2.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';

/** Rewrites every listener of an init'ed config to 127.0.0.1 and the given ports. */
async function setPorts(file: string, ports: Record<string, number>): Promise<void> {
  let toml = await readFile(file, 'utf8');
  for (const [name, port] of Object.entries(ports)) {
    toml = toml.replace(new RegExp(`(\\[listeners\\.${name}\\][^\\[]*?port = )\\d+`), `$1${port}`);
  }
  await writeFile(file, toml);
}

describe('letterbox serve', () => {
  let dir: string;
  let cfg: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-serve-'));
    const r = await runCli(['init', '--dir', dir, '--hostname', 'mail.example.test']);
    assert.equal(r.code, 0, r.stderr);
    cfg = join(dir, 'letterbox.toml');
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test('starts every listener, prints them, answers, and stops on SIGTERM', async () => {
    const names = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'];
    const ports: Record<string, number> = {};
    for (const n of names) ports[n] = await freePort();
    await setPorts(cfg, ports);
    const child = spawn(process.execPath, [BIN, '--config', cfg, 'serve'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    let stdout = '';
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('Stop with')) resolve();
      });
      child.on('exit', () => reject(new Error(`serve exited early:\n${stderr}`)));
    });
    assert.match(stderr, new RegExp(`smtp\\s+127\\.0\\.0\\.1:${ports.smtp}`));
    assert.match(stderr, new RegExp(`http\\s+127\\.0\\.0\\.1:${ports.http}`));
    assert.match(stderr, /user add/);
    const health = await fetch(`http://127.0.0.1:${ports.http}/health`);
    assert.equal(health.status, 200);
    assert.equal(((await health.json()) as { status: string }).status, 'ok');
    // The SMTP listener greets.
    const greeting = await new Promise<string>((resolve, reject) => {
      const s = net.connect(ports.smtp!, '127.0.0.1');
      s.once('data', (d) => {
        resolve(d.toString());
        s.destroy();
      });
      s.once('error', reject);
    });
    assert.match(greeting, /^220 mail\.example\.test /);
    child.kill('SIGTERM');
    assert.equal(await exited, 0);
    // JSON logs on stdout.
    const lines = stdout.trim().split('\n');
    assert.ok(lines.every((l) => JSON.parse(l)));
    assert.ok(lines.some((l) => JSON.parse(l).msg === 'stopped'));
  });

  test('ports already in use: one line naming every one, no logged stack, exit code 2', async () => {
    const block = async () => {
      const b = net.createServer();
      await new Promise<void>((r) => b.listen(0, '127.0.0.1', () => r()));
      return b;
    };
    const blockers = [await block(), await block()];
    const [smtp, imaps] = blockers.map((b) => (b.address() as net.AddressInfo).port);
    try {
      const names = ['submission', 'submissions', 'imap', 'pop3', 'pop3s', 'http'];
      const free: Record<string, number> = {};
      for (const n of names) free[n] = await freePort();
      await setPorts(cfg, { ...free, smtp: smtp!, imaps: imaps! });
      const r = await runCli(['--config', cfg, 'serve']);
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
      assert.equal(lines.length, 1, r.stderr);
      assert.equal(
        lines[0],
        `letterbox: cannot listen: address already in use: 127.0.0.1:${smtp} (smtp), 127.0.0.1:${imaps} (imaps)`,
      );
      // The logs (stdout) carry no error with a stack for it either.
      assert.ok(!/listener error|"stack"/.test(r.stdout), r.stdout);
    } finally {
      for (const b of blockers) b.close();
    }
  });

  test('init --standard-ports listens on IPv6 and IPv4 ("::", dual stack)', async () => {
    const std = join(dir, 'std');
    const r = await runCli([
      'init',
      '--dir',
      std,
      '--hostname',
      'mx.example.test',
      '--standard-ports',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const file = join(std, 'letterbox.toml');
    const toml = await readFile(file, 'utf8');
    for (const n of ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s']) {
      assert.match(toml, new RegExp(`\\[listeners\\.${n}\\]\\nenabled = true\\naddress = "::"`), n);
    }
    assert.match(toml, /\[listeners\.http\]\nenabled = true\naddress = "127\.0\.0\.1"/);
    // The same addresses on free ports (the standard ones need root): both families connect.
    const names = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'];
    const ports: Record<string, number> = {};
    for (const n of names) ports[n] = await freePort();
    await setPorts(file, ports);
    const child = spawn(process.execPath, [BIN, '--config', file, 'serve'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    try {
      let stderr = '';
      await new Promise<void>((resolve, reject) => {
        child.stderr.on('data', (d) => {
          stderr += d;
          if (stderr.includes('Stop with')) resolve();
        });
        child.on('exit', () => reject(new Error(`serve exited early:\n${stderr}`)));
      });
      assert.match(stderr, new RegExp(`smtp\\s+\\[::\\]:${ports.smtp}`));
      for (const host of ['127.0.0.1', '::1']) {
        const greeting = await new Promise<string>((resolve, reject) => {
          const s = net.connect(ports.smtp!, host);
          s.once('data', (d) => {
            resolve(d.toString());
            s.destroy();
          });
          s.once('error', reject);
        });
        assert.match(greeting, /^220 mx\.example\.test /, host);
      }
    } finally {
      child.kill('SIGTERM');
      await exited;
    }
  });

  test('npm start on a fresh clone (serve --init-if-missing) names the server from LETTERBOX_HOSTNAME', async () => {
    // The development ports are fixed: the server may or may not get them on a shared machine.
    // The data directory and its config are made before it listens, so both outcomes are checked.
    const fresh = join(dir, 'fresh', 'letterbox.toml');
    const child = spawn(process.execPath, [BIN, '--config', fresh, 'serve', '--init-if-missing'], {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, LETTERBOX_HOSTNAME: 'mx.first-run.test' },
    });
    let out = '';
    child.stdout.on('data', (d) => {
      out += d;
    });
    let stderr = '';
    const exited = new Promise<number | null>((res) => child.on('exit', (code) => res(code)));
    const started = await new Promise<boolean>((resolve) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        if (stderr.includes('Stop with')) resolve(true);
      });
      child.on('exit', () => resolve(false));
    });
    if (started) {
      assert.match(stderr, /^letterbox is running as mx\.first-run\.test /m);
      assert.match(stderr, /Add your first domain and account:/);
      // (Stopping is the first test's; a signal this early can beat the handler on some hosts.)
      child.kill('SIGTERM');
      await exited;
    } else {
      assert.equal(await exited, 2, stderr);
      assert.match(stderr, /cannot listen: /);
    }
    // init's lines, on stdout before the logs.
    assert.match(out, /hostname: +mx\.first-run\.test \(from LETTERBOX_HOSTNAME;/);
    assert.match(await readFile(fresh, 'utf8'), /^hostname = "mx\.first-run\.test"$/m);
  });
});
