// `letterbox serve` with [tls.acme], as an operator runs it: the certificate is obtained from
// pebble (real HTTP-01 validation) at first start with the default timers, served by IMAPS and
// by POP3S in its worker processes without a restart, logged, kept over a SIGHUP, and the
// process stops cleanly.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import tls from 'node:tls';
import { BIN, runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { freePort } from '../helpers/free-port.js';
import { type Pebble, preparePebble } from '../helpers/pebble.js';

/** Issuer and serial of the certificate an implicit-TLS listener serves now. */
function served(port: number): Promise<{ issuer: string; serial: string }> {
  return new Promise((resolve, reject) => {
    const s = tls.connect(
      { host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false },
      () => {
        const c = s.getPeerX509Certificate()!;
        s.destroy();
        resolve({ issuer: c.issuer, serial: c.serialNumber });
      },
    );
    s.on('error', reject);
  });
}

let dir: string | undefined;
let pebble: Pebble | undefined;
after(async () => {
  await pebble?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

test('serve obtains the certificate at first start and every TLS listener serves it', async () => {
  dir = await mkdtemp(join(tmpdir(), 'lb-acme-serve-'));
  pebble = await preparePebble(dir);
  const data = join(dir, 'data');
  const init = await runCli(['init', '--dir', data, '--hostname', 'localhost']);
  assert.equal(init.code, 0, init.stderr);
  const cfg = join(data, 'letterbox.toml');
  const ports: Record<string, number> = {};
  let toml = await readFile(cfg, 'utf8');
  for (const name of [
    'smtp',
    'submission',
    'submissions',
    'imap',
    'imaps',
    'pop3',
    'pop3s',
    'http',
  ]) {
    ports[name] = await freePort();
    toml = toml.replace(
      new RegExp(`(\\[listeners\\.${name}\\][^\\[]*?port = )\\d+`),
      `$1${ports[name]}`,
    );
  }
  await writeFile(cfg, toml);
  await appendFile(
    cfg,
    `\n[tls.acme]\ndirectory = "${pebble.directory}"\nemail = "postmaster@example.test"\nca_file = "${pebble.caFile}"\nchallenge = "http-01"\n`,
  );
  await pebble.start(ports.http!);
  const child = spawn(process.execPath, [BIN, '--config', cfg, 'serve'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (d) => {
    stdout += d;
  });
  child.stderr.on('data', (d) => {
    stderr += d;
  });
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    const records = () =>
      stdout
        .split('\n')
        .filter((l) => l.startsWith('{'))
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    const installed = () =>
      records().find((r) => r.msg === 'ACME certificate installed in every TLS listener');
    await eventually(
      () => installed() !== undefined,
      `the certificate installed:\n${stderr}`,
      60_000,
    );
    const serial = installed()!.serial as string;
    for (const name of ['imaps', 'pop3s', 'submissions']) {
      const c = await served(ports[name]!);
      assert.match(c.issuer, /Pebble/, name);
      assert.equal(c.serial, serial, name);
    }
    // SIGHUP re-reads every file, the ACME certificate among them.
    child.kill('SIGHUP');
    await eventually(
      () => records().some((r) => r.msg === 'TLS certificates reloaded'),
      'the reload',
      30_000,
    );
    assert.equal((await served(ports.pop3s!)).serial, serial);
    assert.equal((await served(ports.imaps!)).serial, serial);
  } finally {
    child.kill('SIGTERM');
  }
  assert.equal(await exited, 0, stderr);
});
