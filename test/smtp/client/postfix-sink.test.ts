// The SMTP client against Postfix's smtp-sink (Debian package postfix): the client's view of a
// real, independent ESMTP implementation. smtp-sink dumps each transaction to a file (its
// envelope as X-* records, a Received header, then the message with LF line ends), which is
// compared with what was sent. Run once as offered (PIPELINING, 8BITMIME, DSN) and once with
// pipelining and 8BITMIME switched off (-p -8: commands one by one, the QP downgrade).
import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseMessage } from '../../../src/mime/index.js';
import { decodeTransfer } from '../../../src/mime/transfer.js';
import { has8bit } from '../../../src/queue/eightbit.js';
import { connectSmtp } from '../../../src/smtp/client/connection.js';
import { eventually } from '../../helpers/eventually.js';
import { freePort } from '../../helpers/free-port.js';
import { loopHost, OPTS } from './helpers.js';

/** smtp-sink is in /usr/sbin, which a non-root PATH may lack. */
function smtpSinkPath(): string {
  try {
    return execFileSync('sh', ['-c', 'command -v smtp-sink'], { encoding: 'utf8' }).trim();
  } catch {
    if (existsSync('/usr/sbin/smtp-sink')) return '/usr/sbin/smtp-sink';
    throw new Error('smtp-sink is not installed; these tests need it (apt-get install postfix)');
  }
}

interface Sink {
  port: number;
  dir: string;
  /** The dumped transactions, oldest first. */
  dumps(): Promise<string[]>;
  stop(): Promise<void>;
}

async function startSink(flags: string[]): Promise<Sink> {
  const bin = smtpSinkPath();
  const dir = await mkdtemp(join(tmpdir(), 'lb-sink-'));
  // smtp-sink drops root privileges to -u's user, who writes the dumps.
  await chmod(dir, 0o777);
  const port = await freePort();
  const root = process.getuid?.() === 0;
  const child: ChildProcess = spawn(
    bin,
    [...(root ? ['-u', 'nobody'] : []), ...flags, '-d', `${dir}/%M.`, `127.0.0.1:${port}`, '10'],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let stderr = '';
  child.stderr?.on('data', (d) => {
    stderr += String(d);
  });
  await eventually(
    () =>
      new Promise<boolean>((resolve) => {
        if (child.exitCode !== null) throw new Error(`smtp-sink exited: ${stderr}`);
        const s = net.connect(port, '127.0.0.1');
        s.once('connect', () => {
          s.destroy();
          resolve(true);
        });
        s.once('error', () => resolve(false));
      }),
    'smtp-sink to listen',
    15_000,
  );
  return {
    port,
    dir,
    async dumps() {
      const names = (await readdir(dir)).sort();
      return Promise.all(names.map((n) => readFile(join(dir, n), 'utf8')));
    },
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) {
        const exited = new Promise((r) => child.once('exit', r));
        process.kill(child.pid, 'SIGTERM');
        await exited;
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Splits a dump into its X-* records and the message after smtp-sink's Received header. */
function parseDump(dump: string): { records: string[]; message: string } {
  const lines = dump.split('\n');
  const rec = lines.findIndex((l) => l.startsWith('Received: '));
  assert.ok(rec > 0, dump);
  // Received is three lines: "from", "by ... id", the date.
  const message = lines.slice(rec + 3).join('\n');
  return { records: lines.slice(0, rec), message };
}

const MESSAGE = Buffer.from(
  'From: sender@client.test\r\nTo: a@sink.test\r\nSubject: to smtp-sink\r\n' +
    'Content-Type: text/plain; charset=utf-8\r\n\r\n' +
    'Grüße aus Köln.\r\n.\r\n..two\r\n.leading\r\nlast\r\n',
  'utf8',
);

describe('SMTP client to Postfix smtp-sink', () => {
  const sinks: Sink[] = [];
  before(() => {
    smtpSinkPath();
  });
  after(async () => {
    for (const s of sinks) await s.stop();
  });

  test('as offered: pipelined, BODY=8BITMIME, DSN parameters, the message as sent', async () => {
    const sink = await startSink([]);
    sinks.push(sink);
    const c = await connectSmtp(loopHost(sink.port), OPTS);
    assert.ok(c.extensions.has('PIPELINING') && c.extensions.has('8BITMIME'));
    const r = await c.send({
      sender: 'sender@client.test',
      message: MESSAGE,
      ret: 'HDRS',
      envid: 'q1',
      recipients: [
        { address: 'a@sink.test', notify: ['FAILURE'], orcpt: 'rfc822;a@sink.test' },
        { address: 'b@sink.test' },
      ],
    });
    assert.deepEqual(
      r.recipients.map((o) => [o.status, o.reply?.code]),
      [
        ['delivered', 250],
        ['delivered', 250],
      ],
    );
    await c.quit();
    await eventually(async () => (await sink.dumps()).length === 1, 'the dump file');
    const { records, message } = parseDump((await sink.dumps())[0]);
    assert.ok(
      records.includes('X-Mail-Args: <sender@client.test> BODY=8BITMIME RET=HDRS ENVID=q1'),
      records.join('\n'),
    );
    assert.ok(
      records.includes('X-Rcpt-Args: <a@sink.test> NOTIFY=FAILURE ORCPT=rfc822;a@sink.test'),
    );
    assert.ok(records.includes('X-Rcpt-Args: <b@sink.test>'));
    // smtp-sink writes lines with LF and ends the dump with an empty line.
    assert.equal(message, `${MESSAGE.toString('utf8').replace(/\r\n/g, '\n')}\n`);
  });

  test('without PIPELINING and 8BITMIME (-p -8): quoted-printable, same text', async () => {
    const sink = await startSink(['-p', '-8']);
    sinks.push(sink);
    const c = await connectSmtp(loopHost(sink.port), OPTS);
    assert.ok(!c.extensions.has('PIPELINING') && !c.extensions.has('8BITMIME'));
    const r = await c.send({
      sender: 'sender@client.test',
      message: MESSAGE,
      recipients: [{ address: 'a@sink.test' }],
    });
    assert.equal(r.recipients[0].status, 'delivered', r.recipients[0].diagnostic);
    await c.quit();
    await eventually(async () => (await sink.dumps()).length === 1, 'the dump file');
    const { records, message } = parseDump((await sink.dumps())[0]);
    assert.ok(records.includes('X-Mail-Args: <sender@client.test>'), records.join('\n'));
    const raw = Buffer.from(message.replace(/\n/g, '\r\n'), 'latin1');
    assert.equal(has8bit(raw), false);
    const root = parseMessage(raw).root;
    assert.equal(root.encoding, 'QUOTED-PRINTABLE');
    const text = decodeTransfer(raw.subarray(root.bodyStart, root.bodyEnd), root.encoding);
    const sent = parseMessage(MESSAGE).root;
    // The dump's extra final line aside, the decoded body is the body that was sent.
    assert.equal(
      text.toString('utf8').replace(/\r\n$/, ''),
      MESSAGE.subarray(sent.bodyStart).toString('utf8'),
    );
  });
});
