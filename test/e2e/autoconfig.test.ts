// Client autoconfiguration end to end: `letterbox serve` on fixed ports, curl asking the HTTP
// listener the way Thunderbird, Outlook (Autodiscover POX) and an Apple device would, and the
// settings it answers then used as they are: curl logs in to the first incoming server and
// sends through the first outgoing one.
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { BIN, runCli } from '../helpers/cli.js';
import { freePort } from '../helpers/free-port.js';
import { children, childText, parsePlist, parseXml } from '../helpers/xml-read.js';
import { requireTool, run } from './smtp-clients.js';

const USER = 'you@example.test';
const PASSWORD = 'autoconfig e2e password';
const NAMES = ['smtp', 'submission', 'submissions', 'imap', 'imaps', 'pop3', 'pop3s', 'http'];

describe('autoconfig over the real HTTP listener, with curl', () => {
  let dir: string;
  let cfg: string;
  let child: ChildProcess | undefined;
  let exited: Promise<number | null>;
  const ports: Record<string, number> = {};

  /** curl against the HTTP listener as `host` (resolved to loopback, as DNS would). */
  async function curlHttp(host: string, path: string, extra: string[] = []) {
    const r = await run('curl', [
      '-sS',
      '--max-time',
      '15',
      '-D',
      '-',
      '--resolve',
      `${host}:${ports.http}:127.0.0.1`,
      ...extra,
      `http://${host}:${ports.http}${path}`,
    ]);
    assert.equal(r.code, 0, r.stderr);
    const end = r.stdout.indexOf('\r\n\r\n');
    const head = r.stdout.slice(0, end);
    return {
      status: Number(/^HTTP\/1\.1 (\d+)/.exec(head)?.[1]),
      type: /^content-type: (.*)$/im.exec(head)?.[1]?.trim(),
      body: r.stdout.slice(end + 4),
    };
  }

  before(async () => {
    requireTool('curl', 'apt-get install curl');
    requireTool('python3', 'apt-get install python3');
    dir = await mkdtemp(join(tmpdir(), 'lb-autoconfig-'));
    cfg = join(dir, 'letterbox.toml');
    // The hostname clients are told is the one the config names; localhost so curl reaches it.
    const init = await runCli(['init', '--dir', dir, '--hostname', 'localhost']);
    assert.equal(init.code, 0, init.stderr);
    let toml = await readFile(cfg, 'utf8');
    for (const n of NAMES) {
      ports[n] = await freePort();
      toml = toml.replace(
        new RegExp(`(\\[listeners\\.${n}\\][^\\[]*?port = )\\d+`),
        `$1${ports[n]}`,
      );
    }
    await writeFile(cfg, toml);
    for (const args of [
      ['domain', 'add', 'example.test'],
      ['user', 'add', USER, '--password-stdin'],
    ]) {
      const r = await runCli(['--config', cfg, ...args], { input: `${PASSWORD}\n` });
      assert.equal(r.code, 0, r.stderr);
    }
    const c = spawn(process.execPath, [BIN, '--config', cfg, 'serve'], {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    child = c;
    exited = new Promise((r) => c.on('exit', (code) => r(code)));
    let stderr = '';
    await new Promise<void>((resolve, reject) => {
      c.stderr!.on('data', (d) => {
        stderr += d;
        if (stderr.includes('Stop with')) resolve();
      });
      c.on('exit', () => reject(new Error(`serve exited early:\n${stderr}`)));
    });
  });
  after(async () => {
    if (child && child.exitCode === null) {
      child.kill('SIGTERM');
      await exited;
    }
    await rm(dir, { recursive: true, force: true });
  });

  test("Thunderbird's URL for you@example.test: the servers work as announced", async () => {
    const r = await curlHttp(
      'autoconfig.example.test',
      `/mail/config-v1.1.xml?emailaddress=${encodeURIComponent(USER)}`,
    );
    assert.equal(r.status, 200, r.body);
    assert.equal(r.type, 'text/xml; charset=utf-8');
    const provider = children(parseXml(r.body), 'emailProvider')[0]!;
    const servers = (tag: string) =>
      children(provider, tag).map((e) => [
        e.attrs.type,
        childText(e, 'hostname'),
        Number(childText(e, 'port')),
        childText(e, 'socketType'),
      ]);
    assert.deepEqual(servers('incomingServer'), [
      ['imap', 'localhost', ports.imaps, 'SSL'],
      ['pop3', 'localhost', ports.pop3s, 'SSL'],
      ['imap', 'localhost', ports.imap, 'STARTTLS'],
      ['pop3', 'localhost', ports.pop3, 'STARTTLS'],
    ]);
    assert.deepEqual(servers('outgoingServer'), [
      ['smtp', 'localhost', ports.submissions, 'SSL'],
      ['smtp', 'localhost', ports.submission, 'STARTTLS'],
    ]);
    // The .well-known URL on the domain itself gives the same document.
    const wk = await curlHttp('example.test', '/.well-known/autoconfig/mail/config-v1.1.xml');
    assert.equal(wk.status, 200);
    assert.equal(wk.body, r.body);

    // The first incoming server, as announced (implicit TLS, the address as user name).
    const imap = await run('curl', [
      '-sS',
      '-k',
      '--max-time',
      '15',
      '-u',
      `${USER}:${PASSWORD}`,
      `imaps://localhost:${ports.imaps}/`,
    ]);
    assert.equal(imap.code, 0, `curl imaps: ${imap.stderr}`);
    assert.match(imap.stdout, /\* LIST \(.*\) "\/" "?INBOX"?/);
    // The first outgoing server: a message to ourselves through submissions.
    const msgFile = join(dir, 'msg.eml');
    await writeFile(
      msgFile,
      `From: ${USER}\r\nTo: ${USER}\r\nSubject: configured by autoconfig\r\n\r\nhello\r\n`,
    );
    const smtp = await run('curl', [
      '-sS',
      '-k',
      '--max-time',
      '15',
      '-u',
      `${USER}:${PASSWORD}`,
      '--mail-from',
      USER,
      '--mail-rcpt',
      USER,
      '-T',
      msgFile,
      `smtps://localhost:${ports.submissions}/`,
    ]);
    assert.equal(smtp.code, 0, `curl smtps: ${smtp.stderr}`);
  });

  test('Autodiscover POX (POST) and the Apple profile', async () => {
    const body = `<?xml version="1.0" encoding="utf-8"?>
<Autodiscover xmlns="http://schemas.microsoft.com/exchange/autodiscover/outlook/requestschema/2006">
  <Request>
    <EMailAddress>${USER}</EMailAddress>
    <AcceptableResponseSchema>http://schemas.microsoft.com/exchange/autodiscover/outlook/responseschema/2006a</AcceptableResponseSchema>
  </Request>
</Autodiscover>`;
    const ad = await curlHttp('autodiscover.example.test', '/autodiscover/autodiscover.xml', [
      '-H',
      'content-type: text/xml',
      '--data-binary',
      body,
    ]);
    assert.equal(ad.status, 200, ad.body);
    assert.equal(ad.type, 'text/xml; charset=utf-8');
    const account = parseXml(ad.body).children[0]!.children[0]!;
    const protocols = children(account, 'Protocol').map((p) => [
      childText(p, 'Type'),
      Number(childText(p, 'Port')),
      childText(p, 'Encryption'),
      childText(p, 'LoginName'),
    ]);
    assert.deepEqual(protocols[0], ['IMAP', ports.imaps, 'SSL', USER]);
    assert.deepEqual(
      protocols.find((p) => p[0] === 'SMTP'),
      ['SMTP', ports.submissions, 'SSL', USER],
    );

    const mc = await curlHttp(
      'example.test',
      `/apple/mobileconfig?emailaddress=${encodeURIComponent(USER)}`,
    );
    assert.equal(mc.status, 200);
    assert.equal(mc.type, 'application/x-apple-aspen-config');
    const [acct] = parsePlist(mc.body).PayloadContent as Array<Record<string, unknown>>;
    assert.equal(acct!.PayloadType, 'com.apple.mail.managed');
    assert.equal(acct!.IncomingMailServerPortNumber, ports.imaps);
    assert.equal(acct!.OutgoingMailServerPortNumber, ports.submissions);
  });

  test('a domain that is not local: 404, as for an unknown path', async () => {
    const r = await curlHttp(
      'autoconfig.other.test',
      '/mail/config-v1.1.xml?emailaddress=you%40other.test',
    );
    assert.equal(r.status, 404);
    assert.equal(r.body, (await curlHttp('example.test', '/no-such-path')).body);
  });
});
