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

/** Rewrites every listener of an init'ed config to 127.0.0.1 and the given ports. */
async function setPorts(file: string, ports: Record<string, number>): Promise<void> {
  let toml = await readFile(file, 'utf8');
  for (const [name, port] of Object.entries(ports)) {
    toml = toml.replace(new RegExp(`(\\[listeners\\.${name}\\][^\\[]*?port = )\\d+`), `$1${port}`);
  }
  await writeFile(file, toml);
}

async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as net.AddressInfo).port;
  await new Promise((r) => srv.close(r));
  return port;
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

  test('a port already in use: one line naming it, exit code 2', async () => {
    const blocker = net.createServer();
    await new Promise<void>((r) => blocker.listen(0, '127.0.0.1', () => r()));
    const port = (blocker.address() as net.AddressInfo).port;
    try {
      await setPorts(cfg, { smtp: port });
      const r = await runCli(['--config', cfg, 'serve']);
      assert.equal(r.code, 2, r.stderr);
      const lines = r.stderr.split('\n').filter((l) => l.trim() && !l.startsWith('npm warn'));
      assert.equal(lines.length, 1, r.stderr);
      assert.match(lines[0]!, new RegExp(`127\\.0\\.0\\.1:${port}.*already in use`));
    } finally {
      blocker.close();
    }
  });
});
