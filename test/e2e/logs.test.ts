// `letterbox serve`'s log as an operator reads it (docs/logging.md): JSON lines on a pipe, in
// which a POP3 session served by a worker process on a ::1 listener has its opened, TLS and
// closed lines (peer in brackets, account, TLS version) and the main process's auth line
// names the same connection; pretty lines with the date on a terminal (script(1) gives one).
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import tls from 'node:tls';
import { BIN, runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-port.js';
import { LineClient } from '../net/helpers.js';
import { requireTool } from './smtp-clients.js';

const USER = 'logs@example.test';
const PASSWORD = 'logs e2e password';
const NAMES = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'];
const ON_V6 = ['pop3', 'pop3s'];

type Rec = Record<string, unknown>;

async function until(c: LineClient, last: RegExp): Promise<void> {
  for (;;) {
    const l = await c.line();
    if (l === null) throw new Error(`connection ended waiting for ${last}`);
    if (last.test(l)) return;
  }
}

async function say(c: LineClient, line: string, last: RegExp): Promise<void> {
  c.socket.write(`${line}\r\n`);
  await until(c, last);
}

describe('letterbox serve: the log', () => {
  let dir: string;
  let cfg: string;
  const ports: Record<string, number> = {};
  let child: ChildProcess | undefined;
  /** A serve under script(1): its pid as the pretty lines show it, to stop it if need be. */
  let prettyPid: number | undefined;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'lb-logs-'));
    cfg = join(dir, 'letterbox.toml');
    const init = await runCli(['init', '--dir', dir, '--hostname', 'localhost']);
    assert.equal(init.code, 0, init.stderr);
    let toml = await readFile(cfg, 'utf8');
    for (const n of NAMES) {
      const host = ON_V6.includes(n) ? '::1' : '127.0.0.1';
      ports[n] = await freePort(host);
      const section = new RegExp(`(\\[listeners\\.${n}\\][^\\[]*?address = )"[^"]*"`);
      toml = toml.replace(section, `$1"${host}"`);
      toml = toml.replace(
        new RegExp(`(\\[listeners\\.${n}\\][^\\[]*?port = )\\d+`),
        `$1${ports[n]}`,
      );
    }
    // One POP3 worker process: its sessions' lines are its own.
    toml = toml.replace(/^workers = "auto"/m, 'workers = 1');
    assert.match(toml, /^workers = 1/m);
    await writeFile(cfg, toml);
    for (const args of [
      ['domain', 'add', 'example.test'],
      ['user', 'add', USER, '--password-stdin'],
    ]) {
      const r = await runCli(['--config', cfg, ...args], { input: `${PASSWORD}\n` });
      assert.equal(r.code, 0, r.stderr);
    }
  });

  after(async () => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (prettyPid !== undefined) {
      try {
        process.kill(prettyPid, 'SIGKILL');
      } catch {}
    }
    await rm(dir, { recursive: true, force: true });
  });

  test('JSON on a pipe: a POP3 worker session on ::1, opened to closed', async () => {
    const c = spawn(process.execPath, [BIN, '--config', cfg, 'serve'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child = c;
    const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
    const lines: Rec[] = [];
    let partial = '';
    c.stdout!.on('data', (d: Buffer) => {
      partial += d.toString('utf8');
      const parts = partial.split('\n');
      partial = parts.pop()!;
      for (const p of parts) if (p) lines.push(JSON.parse(p) as Rec);
    });
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      c.stderr!.on('data', (d) => {
        stderr += d;
        if (stderr.includes('Stop with')) resolve();
      });
      c.on('exit', () => reject(new Error(`serve exited early:\n${stderr}`)));
    });

    // STLS on 110, then implicit TLS on 995.
    const sock = net.connect(ports.pop3!, '::1');
    await new Promise<void>((r, j) => {
      sock.once('connect', r);
      sock.once('error', j);
    });
    const peer = `[::1]:${sock.localPort}`;
    let lc = new LineClient(sock);
    await until(lc, /^\+OK/);
    await say(lc, 'STLS', /^\+OK/);
    const secure = tls.connect({
      socket: sock,
      servername: 'localhost',
      rejectUnauthorized: false,
    });
    await new Promise<void>((r, j) => {
      secure.once('secureConnect', r);
      secure.once('error', j);
    });
    lc = new LineClient(secure);
    await say(lc, `USER ${USER}`, /^\+OK/);
    await say(lc, `PASS ${PASSWORD}`, /^\+OK/);
    await say(lc, 'QUIT', /^\+OK/);
    secure.end();
    const implicit = tls.connect({
      host: '::1',
      port: ports.pop3s!,
      servername: 'localhost',
      rejectUnauthorized: false,
    });
    await new Promise<void>((r, j) => {
      implicit.once('secureConnect', r);
      implicit.once('error', j);
    });
    const peerS = `[::1]:${implicit.localPort}`;
    const ic = new LineClient(implicit);
    await until(ic, /^\+OK/);
    await say(ic, 'QUIT', /^\+OK/);
    implicit.end();

    const find = (msg: string, peer: string) => lines.find((l) => l.msg === msg && l.peer === peer);
    await eventually(
      () =>
        find('connection closed', peer) !== undefined &&
        find('connection closed', peerS) !== undefined,
      'both close lines',
      30_000,
    );
    const opened = find('connection opened', peer)!;
    const closed = find('connection closed', peer)!;
    const workerPid = opened.pop3Worker;
    assert.equal(typeof workerPid, 'number', 'written by the worker process');
    assert.notEqual(workerPid, c.pid);
    assert.equal(opened.pid, workerPid);
    assert.equal(opened.listener, 'pop3');
    assert.equal(opened.tls, undefined);
    const tlsLine = lines.find((l) => l.msg === 'TLS established' && l.conn === opened.conn)!;
    assert.match(String(tlsLine.tls), /^TLSv1\.[23]$/);
    // The login is decided in the main process, for the worker's connection.
    const auth = lines.find((l) => l.msg === 'authentication succeeded' && l.conn === opened.conn);
    assert.ok(auth, 'the auth line names the worker connection');
    assert.equal(auth.pid, c.pid);
    assert.equal(auth.listener, 'pop3');
    assert.equal(auth.ip, '::1');
    assert.deepEqual(
      [closed.conn, closed.listener, closed.account, closed.tls, closed.pop3Worker],
      [opened.conn, 'pop3', USER, tlsLine.tls, workerPid],
    );
    assert.ok((closed.bytesIn as number) > 0 && (closed.bytesOut as number) > 0);
    assert.ok(Number.isInteger(closed.durationMs));

    const openedS = find('connection opened', peerS)!;
    const closedS = find('connection closed', peerS)!;
    assert.equal(openedS.listener, 'pop3s');
    assert.match(String(closedS.tls), /^TLSv1\.[23]$/);
    assert.equal(closedS.account, undefined);

    c.kill('SIGTERM');
    assert.equal(await exited, 0);
  });

  /** `letterbox serve` on a terminal (script(1)), up to its banner; Ctrl-C stops it. */
  async function serveOnTerminal() {
    requireTool('script', 'apt-get install bsdutils');
    // The first test's server holds the ports if it failed before stopping it.
    if (child && child.exitCode === null) {
      const gone = new Promise((r) => child!.once('exit', r));
      child.kill('SIGKILL');
      await gone;
    }
    const cmd = `exec '${process.execPath}' '${BIN}' --config '${cfg}' serve`;
    const c = spawn('script', ['-qfec', cmd, '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const exited = new Promise<number | null>((r) => c.on('exit', (code) => r(code)));
    let out = '';
    c.stdout!.on('data', (d: Buffer) => {
      out += d.toString('utf8');
      const pid =
        /\] INFO \((\d+)\): letterbox started|"pid":(\d+)[^\n]*"msg":"letterbox started"/.exec(
          strip(out),
        );
      if (pid) prettyPid = Number(pid[1] ?? pid[2]);
    });
    await eventually(
      () => strip(out).includes('Stop with') || c.exitCode !== null,
      'serve to start on the terminal',
      60_000,
    );
    assert.equal(c.exitCode, null, strip(out));
    // One SMTP connection, to see its lines.
    const s = net.connect(ports.smtp!, '127.0.0.1');
    await new Promise<void>((r, j) => {
      s.once('data', () => r());
      s.once('error', j);
    });
    s.end('QUIT\r\n');
    await eventually(() => strip(out).includes('connection closed'), 'the close line', 30_000);
    const text = strip(out);
    // Ctrl-C on the terminal stops it as it would an operator's.
    c.stdin!.write('\x03');
    assert.equal(await exited, 0);
    prettyPid = undefined;
    return text;
  }

  test('pretty on a terminal, each line with the date', async () => {
    const text = await serveOnTerminal();
    const line =
      /^\[(\d{4}-\d{2}-\d{2} \d{2}:\d{2}:\d{2}\.\d{3} [+-]\d{4})\] INFO \(\d+\): connection opened\r?$/m;
    const m = line.exec(text);
    assert.ok(m, text);
    const today = new Date();
    const ym = `${today.getFullYear()}-${String(today.getMonth() + 1).padStart(2, '0')}`;
    assert.ok(m[1]!.startsWith(ym), `${m[1]} is this month's date`);
    assert.match(text, /listener: "smtp"/);
  });

  test('[log] format = "json": JSON lines on a terminal too', async () => {
    const toml = await readFile(cfg, 'utf8');
    await writeFile(cfg, toml.replace(/^format = "auto"/m, 'format = "json"'));
    const text = await serveOnTerminal();
    const opened = text
      .split(/\r?\n/)
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as Rec)
      .find((r) => r.msg === 'connection opened');
    assert.ok(opened, text);
    assert.equal(opened.listener, 'smtp');
    assert.match(String(opened.peer), /^127\.0\.0\.1:\d+$/);
  });
});

/** Without colours (ANSI escapes). */
function strip(s: string): string {
  return s.replace(/\x1b\[[0-9;]*m/g, '');
}
