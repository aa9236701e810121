// mutt (an IMAP4rev1 client) finds new mail by \Recent (issue 14 acceptance): its first
// mailbox check of a run asks STATUS (RECENT ...) and counts a mailbox with recent messages as
// having new mail; `mutt -Z` opens such a mailbox (SELECT, which takes the \Recent, RFC 3501
// §2.3.2) or says "No mailbox with new mail." and exits 1. Driven through `script` for a
// terminal, over implicit TLS with the test certificate trusted through certificate_file.
// CI installs mutt; without it this test FAILS (it is part of the acceptance).
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { promisify } from 'node:util';
import { deliverLocal } from '../../src/delivery/local.js';
import { imapProtocol } from '../../src/imap/index.js';
import type { Account } from '../../src/store/types.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { last, RawClient } from '../imap/session/client.js';

const run = promisify(execFile);
const USER = 'mutt@example.test';
const PASS = 'pw-mutt-1';

interface MuttRun {
  code: number;
  out: string;
}

describe('IMAP e2e: mutt new-mail indication (\\Recent)', () => {
  let ts: TestServer;
  let account: Account;
  let muttrc: string;
  let n = 0;

  before(async () => {
    try {
      await run('mutt', ['-v']);
      await run('script', ['--version']);
    } catch {
      assert.fail('mutt (and util-linux script) must be installed: apt-get install mutt');
    }
    ts = await startTestServer({ listeners: ['imaps'], protocols: { imaps: imapProtocol } });
    const id = await ts.addUser(USER, PASS);
    const a = await ts.server.ctx.store.getAccountById(id);
    assert.ok(a);
    account = a;
    muttrc = join(ts.dir, 'muttrc');
    // No caches (each run starts afresh, as a new session); quit as soon as a mailbox is
    // open. The self-signed test certificate is trusted by listing it (no prompt).
    await writeFile(
      muttrc,
      `set folder="imaps://${USER.replace('@', '%40')}@127.0.0.1:${ts.port('imaps')}/"
set spoolfile="+INBOX"
set imap_pass="${PASS}"
set certificate_file="${join(ts.dir, 'tls', 'cert.pem')}"
set ssl_verify_host=no
set header_cache=""
set message_cachedir=""
set imap_check_subscribed=no
set imap_idle=no
set mail_check=0
set quit=yes
set move=no
mailboxes +INBOX
push "<quit>"
`,
    );
  });
  after(async () => {
    await ts?.stop();
  });

  async function deliver(): Promise<void> {
    const subject = `mutt news ${++n}`;
    const raw = Buffer.from(
      `From: Eve <eve@example.test>\r\nTo: ${USER}\r\nSubject: ${subject}\r\n` +
        `Message-ID: <news${n}@example.test>\r\n\r\nNews number ${n}.\r\n`,
    );
    const [r] = await deliverLocal(ts.server.ctx.store, { raw, accounts: [account] });
    assert.ok(r);
  }

  /** `mutt -Z`: 0 when it opened a mailbox with new mail, 1 when there was none. */
  async function muttNewMail(): Promise<MuttRun> {
    try {
      const { stdout } = await run('script', ['-qec', `mutt -n -F ${muttrc} -Z`, '/dev/null'], {
        env: { ...process.env, HOME: ts.dir, TERM: 'xterm' },
        timeout: 60_000,
      });
      return { code: 0, out: stdout };
    } catch (err) {
      const e = err as { code?: number; stdout?: string; killed?: boolean };
      assert.ok(!e.killed, 'mutt timed out');
      return { code: typeof e.code === 'number' ? e.code : -1, out: e.stdout ?? '' };
    }
  }

  test('new mail is new to exactly one run; EXAMINE does not take it', async () => {
    const none = await muttNewMail();
    assert.equal(none.code, 1, none.out);
    assert.match(none.out, /No mailbox with new mail/);

    await deliver();
    const first = await muttNewMail();
    assert.equal(first.code, 0, first.out);
    assert.match(first.out, /Msgs:1 New:1/);
    assert.match(first.out, /mutt news 1/);

    // That run's SELECT took the message's \Recent: the next run sees no new mail.
    const again = await muttNewMail();
    assert.equal(again.code, 1, again.out);
    assert.match(again.out, /No mailbox with new mail/);

    // Another client's EXAMINE sees the new message as recent and leaves it so.
    await deliver();
    const c = await RawClient.connect(ts.port('imaps'), true);
    assert.match(last(await c.cmd('l', `LOGIN ${USER} ${PASS}`)), /^l OK/);
    const ex = await c.cmd('e', 'EXAMINE INBOX');
    assert.ok(ex.includes('* 1 RECENT'), ex.join('\n'));
    await c.cmd('o', 'LOGOUT');
    c.close();
    const second = await muttNewMail();
    assert.equal(second.code, 0, second.out);
    assert.match(second.out, /mutt news 2/);
    assert.equal((await muttNewMail()).code, 1);
  });
});
