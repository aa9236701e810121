// /metrics, /readyz and /healthz on the real server: mail sent over SMTP and IMAP and POP3
// commands move the counters a scrape shows; /readyz is 503 while the server shuts down;
// /metrics is refused to a request without the token, and a malformed request gets a 4xx.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import nodemailer from 'nodemailer';
import { generate } from 'selfsigned';
import { eventually } from '../helpers/eventually.js';
import { sample } from '../helpers/prom-sample.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { RawClient } from '../imap/session/client.js';
import { RawPop3 } from '../pop3/client.js';

const USER = 'metrics@example.test';
const PASS = 'metrics test password';
const TOKEN = 'a-metrics-token-0123456789';

async function send(ts: TestServer, subject: string): Promise<void> {
  const smtp = nodemailer.createTransport({
    host: '127.0.0.1',
    port: ts.port('smtp'),
    secure: false,
    ignoreTLS: true,
  });
  await smtp.sendMail({
    envelope: { from: 'sender@example.net', to: [USER] },
    raw: `From: sender@example.net\r\nTo: ${USER}\r\nSubject: ${subject}\r\n\r\nHello.\r\n`,
  });
  smtp.close();
}

/** One raw HTTP/1.1 exchange: status, headers (lower-case) and body. */
function rawHttp(
  port: number,
  request: string,
): Promise<{ status: number; head: string; body: string }> {
  return new Promise((resolve, reject) => {
    const s = net.connect(port, '127.0.0.1', () => s.write(request));
    let data = '';
    s.setEncoding('latin1');
    s.on('data', (d) => {
      data += d;
    });
    s.on('error', reject);
    s.on('close', () => {
      const m = /^HTTP\/1\.1 (\d{3})/.exec(data);
      if (!m) return reject(new Error(`no status line: ${JSON.stringify(data)}`));
      const end = data.indexOf('\r\n\r\n');
      resolve({
        status: Number(m[1]),
        head: data.slice(0, end).toLowerCase(),
        body: data.slice(end + 4),
      });
    });
  });
}

describe('/metrics on the running server (loopback, no token)', () => {
  let ts: TestServer;
  let url: string;

  before(async () => {
    ts = await startTestServer({
      listeners: ['smtp', 'imap', 'pop3', 'http'],
      allowPlaintext: true,
      extraToml:
        '[smtp]\ngreet_delay_ms = 0\nauth_checks_timeout_seconds = 1\n[dns]\nservers = ["127.0.0.1:1"]\n[pop3]\nworkers = 0\n',
    });
    await ts.addUser(USER, PASS);
    url = `http://127.0.0.1:${ts.port('http')}`;
  });
  after(() => ts.stop());

  const scrape = async (): Promise<string> => {
    const res = await fetch(`${url}/metrics`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /^text\/plain; version=0\.0\.4/);
    return res.text();
  };

  test('mail over SMTP and IMAP / POP3 commands move the counters', async () => {
    const before = await scrape();
    assert.equal(sample(before, 'letterbox_messages_total', { origin: 'mx' }), undefined);
    assert.equal(sample(before, 'letterbox_connections_open', { listener: 'imap' }), 0);
    assert.equal(sample(before, 'letterbox_queue_messages'), 0);
    assert.equal(sample(before, 'letterbox_queue_oldest_age_seconds'), 0);
    assert.ok(sample(before, 'nodejs_eventloop_lag_seconds') !== undefined, 'default metrics');
    assert.ok(sample(before, 'process_resident_memory_bytes') !== undefined);

    await send(ts, 'one');
    await send(ts, 'two');

    const imap = await RawClient.connect(ts.port('imap'));
    assert.match((await imap.cmd('a1', 'LOGIN metrics@example.test wrong')).at(-1)!, /^a1 NO/);
    assert.match((await imap.cmd('a2', `LOGIN ${USER} "${PASS}"`)).at(-1)!, /^a2 OK/);
    assert.match((await imap.cmd('a3', 'SELECT INBOX')).at(-1)!, /^a3 OK/);
    assert.match((await imap.cmd('a4', 'UID FETCH 1:* (FLAGS)')).at(-1)!, /^a4 OK/);
    assert.match((await imap.cmd('a5', 'STORE 1 +FLAGS (\\Seen)')).at(-1)!, /^a5 OK/);
    assert.match((await imap.cmd('a6', 'XYZZY')).at(-1)!, /^a6 BAD/);
    assert.match((await imap.cmd('a7', 'FROBNICATE now')).at(-1)!, /^a7 BAD/);

    const pop = await RawPop3.connect(ts.port('pop3'));
    assert.match(await pop.cmd(`USER ${USER}`), /^\+OK/);
    assert.match(await pop.cmd(`PASS ${PASS}`), /^\+OK/);
    assert.match(await pop.cmd('STAT'), /^\+OK 2 /);
    assert.match(await pop.cmd('BOGUS'), /^-ERR/);

    const t = await scrape();
    // Connections, per listener: this IMAP session is open; the SMTP ones were counted.
    assert.equal(sample(t, 'letterbox_connections_open', { listener: 'imap' }), 1);
    assert.ok(sample(t, 'letterbox_connections_total', { listener: 'smtp' })! >= 2);
    assert.equal(sample(t, 'letterbox_connections_total', { listener: 'imap' }), 1);
    assert.equal(sample(t, 'letterbox_connections_total', { listener: 'pop3' }), 1);
    // The scrape's own connection is open.
    assert.ok(sample(t, 'letterbox_connections_open', { listener: 'http' })! >= 1);
    assert.ok(sample(t, 'letterbox_connections_total', { listener: 'http' })! >= 1);
    // Commands, with latency histograms; unknown ones collapse into one series.
    const count = (protocol: string, command: string) =>
      sample(t, 'letterbox_command_duration_seconds_count', { protocol, command });
    assert.equal(count('smtp', 'DATA'), 2);
    assert.equal(count('smtp', 'RCPT'), 2);
    assert.equal(count('imap', 'LOGIN'), 2);
    assert.equal(count('imap', 'UID FETCH'), 1);
    assert.equal(count('imap', 'STORE'), 1);
    assert.equal(count('imap', 'UNKNOWN'), 2);
    assert.equal(count('pop3', 'STAT'), 1);
    assert.equal(count('pop3', 'UNKNOWN'), 1);
    assert.doesNotMatch(t, /XYZZY|FROBNICATE|BOGUS/);
    assert.equal(
      sample(t, 'letterbox_command_duration_seconds_bucket', {
        protocol: 'imap',
        command: 'LOGIN',
        le: '+Inf',
      }),
      2,
    );
    assert.ok(
      sample(t, 'letterbox_command_duration_seconds_sum', { protocol: 'smtp', command: 'DATA' })! >
        0,
    );
    // Deliveries and their outcomes.
    assert.equal(sample(t, 'letterbox_messages_total', { origin: 'mx', result: 'accepted' }), 2);
    assert.equal(
      sample(t, 'letterbox_deliveries_total', { route: 'local', result: 'delivered' }),
      2,
    );
    // Auth, by protocol and result.
    assert.equal(sample(t, 'letterbox_auth_total', { protocol: 'imap', result: 'success' }), 1);
    assert.equal(sample(t, 'letterbox_auth_total', { protocol: 'imap', result: 'invalid' }), 1);
    assert.equal(sample(t, 'letterbox_auth_total', { protocol: 'pop3', result: 'success' }), 1);
    // Store: two deliveries and a STORE were committed and fsynced.
    const groups = sample(t, 'letterbox_store_commit_seconds_count')!;
    const commits = sample(t, 'letterbox_store_commit_batch_size_sum')!;
    assert.ok(groups >= 1 && commits >= 3 && commits >= groups, `${groups} ${commits}`);
    assert.ok(sample(t, 'letterbox_fts_backlog_messages')! >= 0);

    await pop.cmd('QUIT');
    await imap.cmd('z', 'LOGOUT');
    await eventually(
      async () => sample(await scrape(), 'letterbox_connections_open', { listener: 'imap' }) === 0,
      'the IMAP connection to be counted closed',
    );
  });

  test('a refused message and a refused recipient are counted by reason', async () => {
    const smtp = nodemailer.createTransport({
      host: '127.0.0.1',
      port: ts.port('smtp'),
      secure: false,
      ignoreTLS: true,
    });
    await assert.rejects(
      smtp.sendMail({
        envelope: { from: 'sender@example.net', to: ['nobody@example.test'] },
        raw: 'Subject: x\r\n\r\nx\r\n',
      }),
    );
    smtp.close();
    // RCPT refusals happen before delivery decides a message: the RCPT command is counted.
    const t = await scrape();
    assert.ok(
      sample(t, 'letterbox_command_duration_seconds_count', {
        protocol: 'smtp',
        command: 'RCPT',
      })! >= 3,
    );
  });

  test('/metrics from loopback needs no token; other methods and bad targets get 4xx', async () => {
    const port = ts.port('http');
    const post = await rawHttp(
      port,
      'POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n',
    );
    assert.equal(post.status, 405);
    const bad = await rawHttp(port, 'GET /metrics HTTP/1.1\r\nHost: x\r\nBad Header\r\n\r\n');
    assert.equal(bad.status, 400);
    const nul = await rawHttp(port, 'GET /met\0rics HTTP/1.1\r\nHost: x\r\n\r\n');
    assert.equal(nul.status, 400);
    const head = await rawHttp(
      port,
      'HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
    );
    assert.equal(head.status, 200);
    assert.equal(head.body, '');
    // The listener lives on.
    assert.equal((await fetch(`${url}/readyz`)).status, 200);
  });

  test('/healthz reports the certificate and the queue; /readyz is ready', async () => {
    const res = await fetch(`${url}/healthz`);
    assert.equal(res.status, 200);
    const h = (await res.json()) as {
      certificates: Array<{ servername: string | null; notAfter: string; daysLeft: number }>;
      queue: { messages: number; oldestAgeSeconds: number };
    };
    assert.equal(h.certificates.length, 1);
    assert.equal(h.certificates[0]!.servername, null);
    // The test certificate is made for a year or more.
    assert.ok(h.certificates[0]!.daysLeft >= 300, JSON.stringify(h.certificates));
    assert.ok(!Number.isNaN(Date.parse(h.certificates[0]!.notAfter)));
    assert.deepEqual(h.queue, { messages: 0, oldestAgeSeconds: 0 });
    const ready = await fetch(`${url}/readyz`);
    assert.equal(ready.status, 200);
    assert.deepEqual(await ready.json(), { status: 'ready' });
  });
});

describe('/metrics with a token; /readyz while shutting down', () => {
  let ts: TestServer;
  let port: number;

  before(async () => {
    ts = await startTestServer({
      listeners: ['smtp', 'http'],
      allowPlaintext: true,
      extraToml: `[smtp]\ngreet_delay_ms = 0\n[limits]\nshutdown_grace_seconds = 20\n[http]\nmetrics_token = "${TOKEN}"\n`,
    });
    port = ts.port('http');
    await ts.addUser(USER, PASS);
  });
  after(() => ts.stop());

  test('without the token (or with another) 401 and a Bearer challenge; with it 200', async () => {
    const get = (auth?: string) =>
      rawHttp(
        port,
        `GET /metrics HTTP/1.1\r\nHost: x\r\n${auth ? `Authorization: ${auth}\r\n` : ''}Connection: close\r\n\r\n`,
      );
    const none = await get();
    assert.equal(none.status, 401);
    assert.match(none.head, /\r\nwww-authenticate: bearer realm="letterbox"/);
    const wrong = await get('Bearer not-the-token-at-all-00');
    assert.equal(wrong.status, 401);
    assert.match(wrong.head, /error="invalid_token"/);
    assert.equal((await get(`Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}`)).status, 401);
    assert.equal((await get(`Bearer ${TOKEN}x`)).status, 401);
    assert.equal((await get(`Bearer  ${TOKEN} extra`)).status, 401);
    const ok = await get(`bearer ${TOKEN}`);
    assert.equal(ok.status, 200);
    assert.match(ok.body, /^# HELP /m);
    assert.doesNotMatch(ok.body, new RegExp(TOKEN));
  });

  test('/readyz answers 503 "stopping" while sessions finish, before the listener closes', async () => {
    assert.equal((await fetch(`http://127.0.0.1:${port}/readyz`)).status, 200);
    // A message being transferred (in DATA) holds the shutdown for its grace period.
    const s = net.connect(ts.port('smtp'), '127.0.0.1');
    let got = '';
    s.setEncoding('latin1');
    s.on('data', (d) => {
      got += d;
    });
    await eventually(() => got.startsWith('220'), 'the greeting');
    s.write(`HELO x\r\nMAIL FROM:<a@example.net>\r\nRCPT TO:<${USER}>\r\nDATA\r\n`);
    await eventually(() => got.includes('\r\n354'), 'the DATA go-ahead');
    s.write('Subject: unfinished\r\n');
    const stopping = ts.server.stop();
    let body: unknown;
    await eventually(async () => {
      const r = await fetch(`http://127.0.0.1:${port}/readyz`);
      body = await r.json();
      return r.status === 503;
    }, '/readyz to say 503');
    assert.deepEqual(body, { status: 'stopping' });
    s.write('\r\nbody\r\n.\r\nQUIT\r\n');
    await stopping;
    s.destroy();
  });
});

describe('POP3 commands served by a worker process', () => {
  let ts: TestServer;

  before(async () => {
    ts = await startTestServer({
      listeners: ['pop3', 'http'],
      allowPlaintext: true,
      extraToml: '[pop3]\nworkers = 1\n',
    });
    await ts.addUser(USER, PASS);
  });
  after(() => ts.stop());

  test('reach /metrics through the main process (reported every few seconds)', async () => {
    const pop = await RawPop3.connect(ts.port('pop3'));
    assert.match(await pop.cmd(`USER ${USER}`), /^\+OK/);
    assert.match(await pop.cmd(`PASS ${PASS}`), /^\+OK/);
    assert.match(await pop.cmd('STAT'), /^\+OK 0 /);
    assert.match(await pop.cmd('STAT'), /^\+OK 0 /);
    assert.match(await pop.cmd('NOSUCH'), /^-ERR/);
    let t = '';
    const count = (command: string) =>
      sample(t, 'letterbox_command_duration_seconds_count', { protocol: 'pop3', command });
    await eventually(
      async () => {
        t = await (await fetch(`http://127.0.0.1:${ts.port('http')}/metrics`)).text();
        return count('STAT') === 2;
      },
      'the worker to report its commands',
      15_000,
    );
    assert.equal(count('USER'), 1);
    assert.equal(count('PASS'), 1);
    assert.equal(count('UNKNOWN'), 1);
    assert.doesNotMatch(t, /NOSUCH/);
    // The login itself is decided by the main process.
    assert.equal(sample(t, 'letterbox_auth_total', { protocol: 'pop3', result: 'success' }), 1);
    assert.equal(sample(t, 'letterbox_connections_total', { listener: 'pop3' }), 1);
    await pop.cmd('QUIT');
  });
});

describe('/healthz with an expired certificate served by SNI', () => {
  let ts: TestServer;
  let certDir: string;

  before(async () => {
    certDir = await mkdtemp(join(tmpdir(), 'lb-expired-'));
    const day = 86_400_000;
    const old = await generate([{ name: 'commonName', value: 'old.example.test' }], {
      keyType: 'ec',
      algorithm: 'sha256',
      notBeforeDate: new Date(Date.now() - 30 * day),
      notAfterDate: new Date(Date.now() - 2 * day),
    });
    await writeFile(join(certDir, 'cert.pem'), old.cert);
    await writeFile(join(certDir, 'key.pem'), old.private);
    ts = await startTestServer({
      listeners: ['http'],
      extraToml: `[[tls.sni]]\nservername = "Old.Example.Test"\ncert = "${join(certDir, 'cert.pem')}"\nkey = "${join(certDir, 'key.pem')}"\n`,
    });
  });
  after(async () => {
    await ts.stop();
    await rm(certDir, { recursive: true, force: true });
  });

  test('is 503 and names it with its days left (negative); the default one is fine', async () => {
    const res = await fetch(`http://127.0.0.1:${ts.port('http')}/healthz`);
    assert.equal(res.status, 503);
    const h = (await res.json()) as {
      status: string;
      certificates: Array<{ servername: string | null; daysLeft: number }>;
    };
    assert.equal(h.status, 'error');
    assert.equal(h.certificates.length, 2);
    assert.ok(h.certificates[0]!.servername === null && h.certificates[0]!.daysLeft >= 300);
    assert.equal(h.certificates[1]!.servername, 'old.example.test');
    assert.ok(h.certificates[1]!.daysLeft <= -2 && h.certificates[1]!.daysLeft >= -4);
    // Readiness is about serving, not certificates.
    assert.equal((await fetch(`http://127.0.0.1:${ts.port('http')}/readyz`)).status, 200);
  });
});

describe('the HTTP listener keeps the per-IP connection limit', () => {
  let ts: TestServer;

  before(async () => {
    ts = await startTestServer({
      listeners: ['http'],
      extraToml: '[limits]\nmax_connections_per_ip = 2\n',
    });
  });
  after(() => ts.stop());

  test('a connection over limits.max_connections_per_ip is closed unanswered', async () => {
    const port = ts.port('http');
    const open = async () => {
      const s = net.connect(port, '127.0.0.1');
      await new Promise<void>((resolve, reject) => {
        s.once('connect', () => resolve());
        s.once('error', reject);
      });
      return s;
    };
    const held = [await open(), await open()];
    const third = await open();
    let data = '';
    third.setEncoding('latin1');
    third.on('data', (d) => {
      data += d;
    });
    third.on('error', () => {});
    const closed = new Promise<void>((resolve) => third.once('close', () => resolve()));
    third.write('GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n');
    await closed;
    assert.equal(data, '');
    for (const s of held) s.destroy();
    // Slots are given back when those close.
    await eventually(async () => {
      try {
        const r = await rawHttp(
          port,
          'GET /readyz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n',
        );
        return r.status === 200;
      } catch {
        return false;
      }
    }, 'a request within the limit');
  });
});
