// imapflow resynchronizing a mailbox with QRESYNC (RFC 7162 §3.2.5, §3.2.5.1; issue 14
// acceptance): a client that saved UIDVALIDITY and HIGHESTMODSEQ reconnects and gets only what
// changed while it was away (VANISHED (EARLIER) for the expunged message, FETCH for the
// messages whose flags changed and for the new one), never the whole mailbox again. The wire
// is read from imapflow's raw log of what the server sent.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { imapProtocol } from '../../src/imap/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const USER = 'quinn@example.test';
const PASS = 'pw-quinn-1';

/** Collects the bytes each side sent (imapflow's `logRaw` entries). */
class WireLog {
  server = '';
  client = '';
  private entry(e: unknown): void {
    if (!e || typeof e !== 'object') return;
    const { src, data } = e as { src?: string; data?: string };
    if (typeof data !== 'string') return;
    const text = Buffer.from(data, 'base64').toString('latin1');
    if (src === 's') this.server += text;
    else if (src === 'c') this.client += text;
  }
  readonly logger = {
    trace: (e: unknown) => this.entry(e),
    debug: (e: unknown) => this.entry(e),
    info: (e: unknown) => this.entry(e),
    warn: () => {},
    error: () => {},
    fatal: () => {},
  };
  /** The UIDs of the untagged FETCH responses the server sent. */
  fetchedUids(): number[] {
    const out: number[] = [];
    for (const m of this.server.matchAll(/^\* \d+ FETCH \(([^\r\n]*)/gm)) {
      const uid = /UID (\d+)/.exec(m[1]);
      assert.ok(uid, `FETCH without UID under QRESYNC: ${m[0]}`);
      out.push(Number(uid[1]));
    }
    return out.sort((a, b) => a - b);
  }
}

function client(port: number, opts: { qresync: boolean; log?: WireLog }): ImapFlow {
  return new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: USER, pass: PASS },
    qresync: opts.qresync,
    // The raw log must be the protocol's bytes, not deflate's.
    disableCompression: true,
    logRaw: opts.log !== undefined,
    logger: opts.log ? (opts.log.logger as never) : false,
  });
}

describe('IMAP e2e: imapflow QRESYNC resync', () => {
  let ts: TestServer;
  let port: number;
  before(async () => {
    ts = await startTestServer({
      listeners: ['imaps'],
      protocols: { imaps: imapProtocol },
      allowPlaintext: false,
    });
    await ts.addUser(USER, PASS);
    port = ts.port('imaps');
  });
  after(async () => {
    await ts.stop();
  });

  test('reconnecting with the saved state gets VANISHED (EARLIER) and the changed messages only', async () => {
    const other = client(port, { qresync: false });
    await other.connect();
    await other.mailboxCreate('Sync');
    for (let i = 1; i <= 8; i++) {
      const raw = `From: s${i}@example.test\r\nSubject: message ${i}\r\n\r\nBody ${i}\r\n`;
      await other.append('Sync', Buffer.from(raw), i % 2 === 0 ? ['\\Seen'] : []);
    }

    // First session: a full sync, then the state a client keeps.
    const first = client(port, { qresync: true });
    await first.connect();
    assert.ok(first.enabled.has('QRESYNC'), 'QRESYNC is enabled');
    const box = await first.mailboxOpen('Sync');
    assert.equal(box.exists, 8);
    const cache = new Map<number, Set<string>>();
    for await (const m of first.fetch('1:*', { uid: true, flags: true }))
      cache.set(m.uid, m.flags ?? new Set());
    assert.equal(cache.size, 8);
    const saved = { uidValidity: box.uidValidity, highestModseq: box.highestModseq };
    const savedUidNext = box.uidNext;
    assert.ok(saved.highestModseq && saved.highestModseq > 0n, 'HIGHESTMODSEQ in SELECT');
    await first.logout();

    // While it is away: a flag added, a flag removed, a message expunged, one delivered.
    await other.mailboxOpen('Sync');
    await other.messageFlagsAdd('3', ['\\Flagged'], { uid: true });
    await other.messageFlagsRemove('4', ['\\Seen'], { uid: true });
    await other.messageDelete('6', { uid: true });
    const appended = await other.append(
      'Sync',
      Buffer.from('From: late@example.test\r\nSubject: late\r\n\r\nlate\r\n'),
    );
    assert.ok(appended && typeof appended === 'object');
    const newUid = Number(appended.uid);
    await other.logout();

    // Second session: SELECT (QRESYNC (uidvalidity modseq)).
    const log = new WireLog();
    const second = client(port, { qresync: true, log });
    const expunged: Array<{ uid?: number; vanished?: boolean; earlier?: boolean }> = [];
    const flags: Array<{ uid?: number; flags: Set<string> }> = [];
    second.on('expunge', (e) => expunged.push(e));
    second.on('flags', (e) => flags.push(e));
    await second.connect();
    const reopened = await second.mailboxOpen('Sync', {
      uidValidity: saved.uidValidity,
      changedSince: saved.highestModseq,
    });
    // imapflow keeps `qresync` only when the server's answer lets it trust the delta.
    assert.equal((reopened as { qresync?: boolean }).qresync, true, 'imapflow accepted the resync');
    assert.equal(reopened.exists, 8);

    // The client brings its cache up to date from the events and fetches only new UIDs.
    for (const e of expunged) if (e.uid) cache.delete(e.uid);
    for (const f of flags) if (f.uid) cache.set(f.uid, f.flags);
    for await (const m of second.fetch(
      `${savedUidNext}:*`,
      { uid: true, flags: true },
      { uid: true },
    ))
      cache.set(m.uid, m.flags ?? new Set());
    await second.logout();

    // What the client learnt.
    assert.deepEqual(
      expunged.map((e) => [e.uid, e.vanished, e.earlier]),
      [[6, true, true]],
    );
    // The new message's FETCH comes in the SELECT too (its modseq is above the saved one).
    assert.deepEqual(flags.map((f) => [f.uid, [...f.flags].sort()]).sort(), [
      [3, ['\\Flagged']],
      [4, []],
      [newUid, []],
    ]);
    assert.deepEqual(
      [...cache.keys()].sort((a, b) => a - b),
      [1, 2, 3, 4, 5, 7, 8, newUid],
    );
    assert.deepEqual([...(cache.get(3) ?? [])], ['\\Flagged']);
    assert.deepEqual([...(cache.get(4) ?? [])], []);

    // What the server sent: VANISHED (EARLIER) in the SELECT, a FETCH for each changed or new
    // message and for nothing else.
    assert.match(log.server, /^\* VANISHED \(EARLIER\) 6\r$/m);
    assert.match(log.server, /^\* \d+ FETCH \(UID 3 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)\r$/m);
    assert.match(log.server, /^\* \d+ FETCH \(UID 4 FLAGS \(\) MODSEQ \(\d+\)\)\r$/m);
    const fetched = log.fetchedUids();
    assert.deepEqual([...new Set(fetched)], [3, 4, newUid], log.server);
    assert.ok(fetched.length <= 4, `at most one repeat (of the new message): ${fetched}`);
    // And the client never asked for the whole mailbox.
    assert.match(log.client, /SELECT Sync \(QRESYNC \(\d+ \d+\)\)/);
    assert.doesNotMatch(log.client, /FETCH 1:\*/);
  });
});
