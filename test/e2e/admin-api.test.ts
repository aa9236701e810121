// The admin API against the built `letterbox serve`, driven with curl as an operator's script
// would: a domain and an account made over the API log in over IMAP (imapflow), a message
// queued by submission is listed and managed, an admin account made with the CLI signs in;
// 401 without or with a wrong token, 413 for a big body, 400 with the zod issues. Neither the
// token nor a password shows in the server's log.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import nodemailer from 'nodemailer';
import { runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { type ServerProcess, startServerProcess } from '../hostile/spawn.js';
import { requireTool } from './smtp-clients.js';

const TOKEN = 'e2e-admin-token-Zq81xv0L3pW7';
const PASSWORD = 'a password for carol';
const ADMIN_PASSWORD = 'the boss password';

interface Curl {
  status: number;
  headers: string;
  body: string;
}

describe('admin API with a running server, driven by curl', () => {
  let srv: ServerProcess;
  let tokenDir: string;
  let base: string;

  /** One curl request; `data` as the body (JSON), `file` as the body from a file. */
  function curl(
    method: string,
    path: string,
    opts: { token?: string | null; data?: unknown; file?: string } = {},
  ): Promise<Curl> {
    const args = ['-s', '-i', '-X', method, `${base}${path}`];
    const token = opts.token === undefined ? TOKEN : opts.token;
    if (token !== null) args.push('-H', `Authorization: Bearer ${token}`);
    if (opts.data !== undefined || opts.file !== undefined) {
      args.push('-H', 'Content-Type: application/json');
      args.push('--data-binary', opts.file ? `@${opts.file}` : JSON.stringify(opts.data));
    }
    return new Promise((resolve, reject) => {
      execFile('curl', args, { maxBuffer: 1 << 20 }, (err, stdout) => {
        if (err) return reject(err);
        const split = stdout.indexOf('\r\n\r\n');
        const headers = stdout.slice(0, split);
        const status = Number(/^HTTP\/[\d.]+ (\d{3})/.exec(headers)?.[1]);
        resolve({ status, headers, body: stdout.slice(split + 4) });
      });
    });
  }
  const json = (r: Curl) => JSON.parse(r.body);

  before(async () => {
    requireTool('curl', 'apt-get install curl');
    tokenDir = await mkdtemp(join(tmpdir(), 'lb-admin-token-'));
    const tokenFile = join(tokenDir, 'admin-token');
    await writeFile(tokenFile, `${TOKEN}\n`, { mode: 0o600 });
    srv = await startServerProcess({
      listeners: ['imap', 'submission', 'http'],
      sections: {
        http: { admin_token_file: tokenFile },
        queue: { deliver: false },
        log: { level: 'debug' },
      },
    });
    base = `http://127.0.0.1:${srv.port('http')}/api/v1`;
  });
  after(async () => {
    await srv?.stop();
    await rm(tokenDir, { recursive: true, force: true });
  });

  test('refuses a missing or wrong token with 401 and no detail', async () => {
    for (const token of [null, 'not-the-token-but-long-enough']) {
      const r = await curl('GET', '/domains', { token });
      assert.equal(r.status, 401);
      assert.match(r.headers, /^www-authenticate: Bearer/im);
      assert.deepEqual(json(r), { error: 'unauthorized' });
    }
    const doc = await curl('GET', '/openapi.json', { token: null });
    assert.equal(doc.status, 200);
    assert.equal(json(doc).openapi, '3.1.0');
  });

  test('a domain and an account made over the API log in over IMAP', async () => {
    const d = await curl('POST', '/domains', { data: { name: 'example.test' } });
    assert.equal(d.status, 201, d.body);
    assert.deepEqual(json(d), { name: 'example.test' });
    const a = await curl('POST', '/accounts', {
      data: { address: 'carol@example.test', password: PASSWORD, quota: '1G' },
    });
    assert.equal(a.status, 201, a.body);
    assert.equal(json(a).quota, 1024 ** 3);
    assert.ok(!a.body.includes(PASSWORD));

    const imap = new ImapFlow({
      host: '127.0.0.1',
      port: srv.port('imap'),
      secure: false,
      doSTARTTLS: false,
      auth: { user: 'carol@example.test', pass: PASSWORD },
      logger: false,
    });
    imap.on('error', () => {});
    await imap.connect();
    const names = (await imap.list()).map((m) => m.path);
    assert.ok(names.includes('INBOX'), names.join(','));
    await imap.logout();

    const listed = await curl('GET', '/accounts?domain=example.test');
    assert.deepEqual(
      json(listed).accounts.map((x: { address: string }) => x.address),
      ['carol@example.test'],
    );
  });

  test('the queue: a submitted message is listed, held, released and deleted', async () => {
    const transport = nodemailer.createTransport({
      host: '127.0.0.1',
      port: srv.port('submission'),
      secure: false,
      ignoreTLS: true,
      auth: { user: 'carol@example.test', pass: PASSWORD },
    });
    await transport.sendMail({
      from: 'carol@example.test',
      to: 'someone@remote.example',
      subject: 'queued',
      text: 'hello',
    });
    let items: Array<{ id: number; from: string; to: string[]; state: string }> = [];
    await eventually(
      async () => {
        items = json(await curl('GET', '/queue')).items;
        return items.length === 1;
      },
      'the queued message listed',
      20_000,
    );
    const [item] = items;
    assert.equal(item!.from, 'carol@example.test');
    assert.deepEqual(item!.to, ['someone@remote.example']);
    assert.equal(item!.state, 'pending');
    assert.equal((await curl('POST', `/queue/${item!.id}/hold`)).status, 204);
    assert.equal(json(await curl('GET', `/queue/${item!.id}`)).state, 'held');
    assert.equal((await curl('POST', `/queue/${item!.id}/release`)).status, 204);
    assert.equal((await curl('DELETE', `/queue/${item!.id}`)).status, 204);
    assert.deepEqual(json(await curl('GET', '/queue')).items, []);
  });

  test('413 for a body over 64 KiB, 400 with the zod issues', async () => {
    const big = join(tokenDir, 'big.json');
    await writeFile(big, JSON.stringify({ name: 'x'.repeat(70 * 1024) }));
    const r = await curl('POST', '/domains', { file: big });
    assert.equal(r.status, 413);
    assert.equal(json(r).error, 'too_large');

    const bad = await curl('POST', '/accounts', {
      data: { address: 'not an address', password: 'short', quota: 'much' },
    });
    assert.equal(bad.status, 400);
    const body = json(bad);
    assert.equal(body.error, 'invalid');
    assert.deepEqual(body.issues.map((i: { path: string }) => i.path).sort(), [
      'address',
      'password',
      'quota',
    ]);
    assert.ok(!bad.body.includes('short'), 'the password is not echoed');
  });

  test('an account made admin with the CLI signs in and gets a session', async () => {
    const add = await runCli(
      ['--config', srv.config, 'user', 'add', 'boss@example.test', '--admin', '--password-stdin'],
      { input: `${ADMIN_PASSWORD}\n` },
    );
    assert.equal(add.code, 0, add.stderr);
    assert.match(add.stdout, /added user boss@example\.test \(admin\)/);
    const list = await runCli(['--config', srv.config, 'user', 'list']);
    assert.match(list.stdout, /boss@example\.test .*admin/);
    const s = await curl('POST', '/session', {
      token: null,
      data: { username: 'boss@example.test', password: ADMIN_PASSWORD },
    });
    assert.equal(s.status, 200, s.body);
    const session = json(s).session as string;
    assert.deepEqual(json(await curl('GET', '/whoami', { token: session })), {
      kind: 'account',
      username: 'boss@example.test',
    });
    // Carol has the right password but not the role.
    const carol = await curl('POST', '/session', {
      token: null,
      data: { username: 'carol@example.test', password: PASSWORD },
    });
    assert.equal(carol.status, 401);
    const off = await runCli(['--config', srv.config, 'user', 'admin', 'boss@example.test', 'off']);
    assert.equal(off.code, 0, off.stderr);
    assert.equal((await curl('GET', '/whoami', { token: session })).status, 401);
    const bad = await runCli(['--config', srv.config, 'user', 'admin', 'boss@example.test', 'yes']);
    assert.equal(bad.code, 2);
  });

  test('the log has every request and neither the token nor a password', () => {
    const text = srv.logs().join('\n');
    assert.match(text, /admin api request/);
    assert.ok(!text.includes(TOKEN), 'the token');
    assert.ok(!text.includes(PASSWORD), 'a password');
    assert.ok(!text.includes(ADMIN_PASSWORD), 'the admin password');
  });
});

describe('admin token from LETTERBOX_ADMIN_TOKEN', () => {
  const ENV_TOKEN = 'env-admin-token-Kd72mQ0pX9';
  let srv: ServerProcess;

  before(async () => {
    // The server process inherits this test's environment.
    process.env.LETTERBOX_ADMIN_TOKEN = ENV_TOKEN;
    try {
      srv = await startServerProcess({
        listeners: ['pop3', 'http'],
        sections: { pop3: { workers: 1 } },
      });
    } finally {
      delete process.env.LETTERBOX_ADMIN_TOKEN;
    }
  });
  after(async () => {
    await srv?.stop();
  });

  /** Pids whose parent is `pid` (from /proc/<pid>/stat). */
  async function children(pid: number): Promise<number[]> {
    const out: number[] = [];
    for (const name of await readdir('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      try {
        const stat = await readFile(`/proc/${name}/stat`, 'utf8');
        const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
        if (ppid === pid) out.push(Number(name));
      } catch {
        // gone meanwhile
      }
    }
    return out;
  }

  test('is taken, and not passed on to the POP3 worker processes', async () => {
    const base = `http://127.0.0.1:${srv.port('http')}/api/v1`;
    const ok = await fetch(`${base}/whoami`, { headers: { authorization: `Bearer ${ENV_TOKEN}` } });
    assert.equal(ok.status, 200);
    assert.deepEqual(await ok.json(), { kind: 'token' });
    // A POP3 connection starts the worker.
    const greeting = await new Promise<string>((resolve, reject) => {
      const s = net.connect(srv.port('pop3'), '127.0.0.1');
      s.once('data', (d) => {
        resolve(d.toString());
        s.end('QUIT\r\n');
      });
      s.once('error', reject);
    });
    assert.match(greeting, /^\+OK/);
    let workers: number[] = [];
    await eventually(
      async () => {
        workers = await children(srv.pid);
        return workers.length > 0;
      },
      'a POP3 worker process',
      20_000,
    );
    for (const pid of workers) {
      const environ = await readFile(`/proc/${pid}/environ`, 'latin1');
      assert.ok(!environ.includes(ENV_TOKEN), `worker ${pid} has the token in its environment`);
      assert.ok(!environ.includes('LETTERBOX_ADMIN_TOKEN='), `worker ${pid}`);
    }
    assert.ok(!srv.logs().join('\n').includes(ENV_TOKEN), 'the token is not logged');
  });
});
