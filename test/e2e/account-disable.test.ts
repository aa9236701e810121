// Disabling an account ends its open sessions on a running server: an imapflow session in IDLE
// gets `* BYE Account disabled` and is closed, a poplib session in TRANSACTION gets
// `-ERR [SYS/PERM] Account disabled` and is closed without UPDATE (RFC 1939 §6), whether the
// account is disabled in the server's process (the admin API's path: store.setDisabled) or by
// `letterbox user disable` in another process (the event crosses through change_log). Sessions
// of other accounts go on.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import tls from 'node:tls';
import { ImapFlow } from 'imapflow';
import { runCli } from '../helpers/cli.js';
import { eventually } from '../helpers/eventually.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const ALICE = 'alice@example.test';
const BOB = 'bob@example.test';
const PASS = 'correct horse battery';
const WAIT_MS = 30_000;

let srv: TestServer;

before(async () => {
  srv = await startTestServer({
    listeners: ['imaps', 'pop3s'],
    extraToml: '[pop3]\nworkers = 1\n',
  });
  await srv.addUser(ALICE, PASS);
  await srv.addUser(BOB, PASS);
  // The CLI finds the same data directory (and store) through a config file beside it.
  const store = srv.server.ctx.cfg.store as { kind: string; url?: string };
  const storeToml =
    store.kind === 'postgres'
      ? `[store]\nkind = "postgres"\nurl = ${JSON.stringify(store.url)}\n`
      : '';
  await writeFile(join(srv.dir, 'letterbox.toml'), `hostname = "localhost"\n${storeToml}`);
});

after(() => srv?.stop());

/** An imapflow session in IDLE on INBOX. */
async function idling(user: string) {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port: srv.port('imaps'),
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass: PASS },
    logger: false,
  });
  c.on('error', () => {});
  let closed = false;
  c.on('close', () => {
    closed = true;
  });
  await c.connect();
  await c.mailboxOpen('INBOX');
  const idle = c.idle().catch(() => {});
  await eventually(() => c.idling, 'IDLE accepted', WAIT_MS);
  return { c, idle, closed: () => closed };
}

/** The same over a raw TLS connection, to see the exact lines: LOGIN, SELECT, IDLE. */
async function rawIdling(user: string) {
  const s = tls.connect({ host: '127.0.0.1', port: srv.port('imaps'), rejectUnauthorized: false });
  let text = '';
  s.setEncoding('utf8').on('data', (d: string) => {
    text += d;
  });
  s.on('error', () => {});
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  await eventually(() => text.includes('Letterbox ready\r\n'), 'the greeting', WAIT_MS);
  s.write(`a LOGIN ${user} "${PASS}"\r\nb SELECT INBOX\r\nc IDLE\r\n`);
  await eventually(() => text.endsWith('+ idling\r\n'), 'IDLE accepted', WAIT_MS);
  const mark = text.length;
  return { closed, after: () => text.slice(mark) };
}

/** poplib logged in (USER/PASS, STAT), waiting for what the server says next. */
function popSession(user: string) {
  const script = `
import json, poplib, ssl, sys
ctx = ssl.create_default_context()
ctx.check_hostname = False
ctx.verify_mode = ssl.CERT_NONE
p = poplib.POP3_SSL('127.0.0.1', int(sys.argv[1]), context=ctx, timeout=${WAIT_MS / 1000})
p.user(sys.argv[2]); p.pass_(sys.argv[3]); p.stat()
print('READY', flush=True)
sys.stdin.readline()
out = {}
try:
    out['unsolicited'] = p.file.readline().decode()
    out['eof'] = p.file.readline() == b''
except Exception as e:
    out['error'] = repr(e)
try:
    p.stat()
    out['stat'] = 'ok'
except Exception as e:
    out['stat'] = type(e).__name__
print(json.dumps(out), flush=True)
`;
  const child = spawn('python3', ['-c', script, String(srv.port('pop3s')), user, PASS], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.setEncoding('utf8').on('data', (d: string) => {
    out += d;
  });
  const done = new Promise<void>((r) => child.once('close', () => r()));
  return {
    ready: () => eventually(() => out.includes('READY\n'), 'poplib logged in', WAIT_MS),
    async result(): Promise<Record<string, unknown>> {
      child.stdin.end('go\n');
      await done;
      return JSON.parse(out.slice(out.indexOf('READY\n') + 6)) as Record<string, unknown>;
    },
  };
}

for (const [how, disable] of [
  ['in the server process (admin API)', () => srv.server.ctx.store.setDisabled(ALICE, true)],
  [
    'by `letterbox user disable` in another process',
    async () => {
      const r = await runCli([
        '--config',
        join(srv.dir, 'letterbox.toml'),
        'user',
        'disable',
        ALICE,
      ]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /a running server ends its IMAP and POP3 sessions/);
    },
  ],
] as const) {
  test(`disabled ${how}: IDLE gets BYE, POP3 gets -ERR [SYS/PERM], other accounts go on`, async () => {
    await srv.server.ctx.store.setDisabled(ALICE, false);
    const alice = await idling(ALICE);
    const raw = await rawIdling(ALICE);
    const bob = await idling(BOB);
    const pop = popSession(ALICE);
    await pop.ready();
    await disable();
    await eventually(alice.closed, 'the imapflow IDLE session closed', WAIT_MS);
    await raw.closed;
    // RFC 9051 §7.1.5: BYE, then IDLE's tagged completion, then the server closes.
    assert.equal(raw.after(), '* BYE Account disabled\r\nc OK IDLE terminated\r\n');
    const r = await pop.result();
    assert.deepEqual(r, {
      unsolicited: '-ERR [SYS/PERM] Account disabled\r\n',
      eof: true,
      stat: r.stat === 'ok' ? 'not ok' : r.stat,
    });
    // Bob's session is still there and answers.
    assert.equal(bob.closed(), false);
    const status = await bob.c.status('INBOX', { messages: true });
    assert.equal(status && typeof status.messages, 'number');
    await bob.c.logout();
    // And Alice cannot log in again.
    const again = new ImapFlow({
      host: '127.0.0.1',
      port: srv.port('imaps'),
      secure: true,
      tls: { rejectUnauthorized: false },
      auth: { user: ALICE, pass: PASS },
      logger: false,
    });
    again.on('error', () => {});
    await assert.rejects(again.connect());
  });
}
