// A client that asks for STARTTLS and then sends garbage instead of a ClientHello is a
// client's fault, not the server's: one info line (peer, listener, the reason as a short
// string), never an error with a stack trace. Captured from the real server's log, for SMTP,
// IMAP and POP3 (served in the main process: [pop3] workers = 0, so its log is this one).
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, test } from 'node:test';
import { pino } from 'pino';
import { parseConfig } from '../../src/config/load.js';
import { LISTENER_NAMES, type ListenerName } from '../../src/config/schema.js';
import { wrapLogger } from '../../src/log.js';
import { writeSelfSigned } from '../../src/net/selfsigned.js';
import { type RunningServer, startServer } from '../../src/server.js';
import { eventually } from '../helpers/eventually.js';

type Line = Record<string, unknown> & { level: number; msg?: string };

const lines: Line[] = [];
let dir: string;
let server: RunningServer;
const USED: ListenerName[] = ['submission', 'imap', 'pop3'];

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'lb-tlslog-'));
  await writeSelfSigned(dir, 'localhost');
  const listeners = LISTENER_NAMES.map(
    (n) => `[listeners.${n}]\nenabled = ${USED.includes(n)}\naddress = "127.0.0.1"\nport = 0\n`,
  ).join('\n');
  const cfg = parseConfig(
    `hostname = "localhost"\n[pop3]\nworkers = 0\n${listeners}`,
    join(dir, 'letterbox.toml'),
  );
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l) as Line);
      done();
    },
  });
  // Debug, to see every line of the session (the end of it is a debug line).
  server = await startServer(cfg, wrapLogger(pino({ level: 'debug' }, stream)));
});

after(async () => {
  await server?.stop();
  await rm(dir, { recursive: true, force: true });
});

function port(name: ListenerName): number {
  const l = server.listeners.find((x) => x.name === name);
  if (!l) throw new Error(`listener ${name} is not running`);
  return l.port;
}

/** Plaintext dialogue up to the server's go-ahead; then garbage where the ClientHello goes. */
async function startTlsThenGarbage(
  p: number,
  dialogue: [string | null, RegExp][],
): Promise<string> {
  const sock = net.connect(p, '127.0.0.1');
  let buf = '';
  sock.on('data', (d: Buffer) => {
    buf += d.toString('latin1');
  });
  sock.on('error', () => {});
  await new Promise<void>((r, j) => {
    sock.once('connect', r);
    sock.once('error', j);
  });
  const local = `127.0.0.1:${sock.localPort}`;
  for (const [send, expect] of dialogue) {
    if (send !== null) sock.write(send);
    await eventually(() => expect.test(buf), `server reply ${expect}`, 30_000);
    buf = '';
  }
  sock.write('this is not a TLS ClientHello\r\n\r\n');
  await eventually(() => sock.destroyed || sock.readableEnded, 'server to close', 30_000);
  sock.destroy();
  return local;
}

const CASES: { listener: ListenerName; dialogue: [string | null, RegExp][] }[] = [
  {
    listener: 'submission',
    dialogue: [
      [null, /^220 .*\r\n/m],
      ['EHLO client.test\r\n', /^250 .*\r\n/m],
      ['STARTTLS\r\n', /^220 .*\r\n/m],
    ],
  },
  {
    listener: 'imap',
    dialogue: [
      [null, /^\* OK .*\r\n/],
      ['a STARTTLS\r\n', /^a OK .*\r\n/m],
    ],
  },
  {
    listener: 'pop3',
    dialogue: [
      [null, /^\+OK .*\r\n/],
      ['STLS\r\n', /^\+OK .*\r\n/],
    ],
  },
];

for (const c of CASES) {
  test(`${c.listener}: a failed STARTTLS handshake is one info line without a stack`, async () => {
    const peer = await startTlsThenGarbage(port(c.listener), c.dialogue);
    const mine = () => lines.filter((l) => l.peer === peer);
    const failed = (l: Line) => /handshake/i.test(l.msg ?? '') && l.level === 30;
    await eventually(() => mine().some(failed), 'the handshake failure in the log', 30_000).catch(
      (err: Error) => {
        throw new Error(`${err.message}; logged: ${JSON.stringify(mine())}`);
      },
    );
    // The session's end comes after the failure line; wait for it before judging.
    await eventually(
      () => mine().some((l) => l.msg === 'disconnected'),
      'the end of the session in the log',
      30_000,
    );
    const all = mine();
    const info = all.filter(failed);
    assert.equal(info.length, 1, JSON.stringify(all));
    const line = info[0]!;
    assert.equal(line.listener, c.listener);
    assert.equal(typeof line.reason, 'string');
    assert.ok((line.reason as string).length > 0 && (line.reason as string).length < 200);
    assert.ok(!(line.reason as string).includes('\n'), 'the reason is one line');
    for (const l of all) {
      assert.ok(l.level < 40, `logged at warn or above: ${JSON.stringify(l)}`);
      // Below info (not written by default) a socket error may keep its details.
      if (l.level < 30) continue;
      assert.equal(l.err, undefined, `an error object in the log: ${JSON.stringify(l)}`);
      assert.ok(!JSON.stringify(l).includes('    at '), `a stack trace: ${JSON.stringify(l)}`);
    }
  });
}
