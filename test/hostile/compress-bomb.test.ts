// COMPRESS=DEFLATE (RFC 4978) with a "zip bomb": a few hundred KB that inflate to hundreds of
// MB must be inflated only as fast as the session consumes them (issue 15, item 5).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import zlib from 'node:zlib';
import { MB, RawClient } from './raw.js';
import { type ServerProcess, startServerProcess, watch } from './spawn.js';

/** The client's side of COMPRESS: deflated writes, inflated reads, on one RawClient socket. */
class CompressedClient {
  private readonly deflater = zlib.createDeflateRaw();
  private readonly inflater = zlib.createInflateRaw();
  private text = '';

  constructor(private readonly c: RawClient) {
    c.socket.removeAllListeners('data');
    c.socket.on('data', (d: Buffer) => this.inflater.write(d));
    this.inflater.on('data', (d: Buffer) => {
      this.text = (this.text + d.toString('latin1')).slice(-65536);
    });
    this.deflater.on('data', (d: Buffer) => void c.write(d));
  }

  async send(data: string | Buffer): Promise<void> {
    this.deflater.write(data);
    await new Promise<void>((r) => this.deflater.flush(zlib.constants.Z_SYNC_FLUSH, () => r()));
  }

  async until(re: RegExp, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!re.test(this.text)) {
      if (Date.now() > deadline || this.c.closed) {
        throw new Error(`no ${re}; got: ${this.text.slice(-300)}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

describe('IMAP COMPRESS=DEFLATE bomb', () => {
  let srv: ServerProcess;
  before(async () => {
    srv = await startServerProcess({ listeners: ['imap', 'http'] });
    await srv.addUser('bomb@example.test', 'bomb-password-1');
  });
  after(async () => {
    await srv.stop();
  });

  test('4 sessions x 200 MB inflated from ~200 KB each: bounded memory, /healthz answers', async () => {
    const sessions = await Promise.all(
      [1, 2, 3, 4].map(async () => {
        const c = await RawClient.connect(srv.port('imap'));
        await c.until(/^\* OK .*\r\n/m);
        await c.write('a LOGIN bomb@example.test bomb-password-1\r\n');
        await c.until(/^a OK .*\r\n/m);
        await c.write('b COMPRESS DEFLATE\r\n');
        await c.until(/^b OK .*\r\n/m);
        return { c, z: new CompressedClient(c) };
      }),
    );
    const rssBefore = await srv.rssBytes();
    const w = watch(srv);
    // One "line" of 200 MB without a line end: far over the line limit, so it is dropped as it
    // is read and nothing of it needs to be held. Deflated as one piece and sent at once, so
    // that each socket read carries tens of MB of it.
    const bomb = Buffer.concat([Buffer.from('c NOOP '), Buffer.alloc(200 * MB, 0x78)]);
    await Promise.all(
      sessions.map(async ({ z }) => {
        await z.send(bomb);
        await z.send('\r\nd NOOP\r\n');
        // The session goes on after the bomb.
        await z.until(/^d OK .*\r\n/m, 120_000);
      }),
    );
    const { maxHealthMs, maxHealthLoopCpuMs, peakRss } = await w.stop();
    for (const { c } of sessions) c.close();
    const grew = peakRss - rssBefore;
    console.error(`compress bomb: RSS +${(grew / MB).toFixed(1)} MB`);
    // Before the fix each read's inflated output was gathered in memory (+444 MB in the
    // issue's probe, +959 MB here); the budget is 32 MB a session. It was 16 MB, but with the
    // machine at load 18 garbage waited longer for the collector and one run peaked at
    // +74 MB (+1 to +44 MB on a quiet machine): the test is about inflating without bound,
    // not about when V8 collects.
    assert.ok(grew < 128 * MB, `RSS grew by ${(grew / MB).toFixed(1)} MB`);
    // The event loop kept answering: no /healthz probe waited on more than 1 s of the loop's
    // own CPU (its wall time also counts the machine's other work, so it is only reported).
    assert.ok(
      maxHealthLoopCpuMs < 1000,
      `/healthz waited on ${maxHealthLoopCpuMs.toFixed(0)} ms of the event loop's CPU (${maxHealthMs.toFixed(0)} ms)`,
    );
  });
});
