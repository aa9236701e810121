// RFC 3501 \Recent for IMAP4rev1 sessions: §2.3.2 (one session, the first told of the
// message), §6.3.1-2 (SELECT takes it, EXAMINE does not), §7.3.2 (`* n RECENT` in SELECT and
// with EXISTS), §6.3.10 (STATUS RECENT), §6.4.4 (SEARCH RECENT / NEW / OLD), FETCH FLAGS;
// RFC 9051 Appendix E: an IMAP4rev2 session has no \Recent. Kept in the store: a restart
// changes nothing.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { deliverLocal } from '../../../src/delivery/local.js';
import {
  append,
  type ImapTestEnv,
  last,
  message,
  PASS,
  RawClient,
  startImap,
  USER,
} from './client.js';

/** The untagged lines of a response, without the tagged one. */
const untagged = (r: string[]) => r.slice(0, -1);

describe('IMAP session: \\Recent (RFC 3501 §2.3.2)', () => {
  let env: ImapTestEnv;
  let box = 0;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  async function mailboxWith(c: RawClient, n: number): Promise<string> {
    const name = `R${++box}`;
    await c.cmd('c', `CREATE ${name}`);
    for (let i = 1; i <= n; i++) await append(c, name, message(`r${i}`));
    return name;
  }

  test('EXAMINE sees it and leaves it; the first SELECT takes it; later sessions see none', async () => {
    const [a, b, c] = [await env.login(), await env.login(), await env.login()];
    const name = await mailboxWith(c, 2);

    const ex = await a.cmd('e', `EXAMINE ${name}`);
    const at = ex.indexOf('* 2 EXISTS');
    assert.ok(at >= 0, ex.join('\n'));
    assert.equal(ex[at + 1], '* 2 RECENT');
    assert.deepEqual(untagged(await a.cmd('f', 'FETCH 1:* (FLAGS)')), [
      '* 1 FETCH (FLAGS (\\Recent))',
      '* 2 FETCH (FLAGS (\\Recent))',
    ]);
    assert.equal((await a.cmd('s', 'SEARCH RECENT'))[0], '* SEARCH 1 2');
    // RFC 3501 §6.3.2: EXAMINE MUST NOT take \Recent away.
    assert.equal((await c.cmd('st', `STATUS ${name} (RECENT)`))[0], `* STATUS ${name} (RECENT 2)`);

    const sel = await b.cmd('s', `SELECT ${name}`);
    assert.equal(sel[sel.indexOf('* 2 EXISTS') + 1], '* 2 RECENT', sel.join('\n'));
    assert.deepEqual(untagged(await b.cmd('f', 'FETCH 1:* (UID FLAGS)')), [
      '* 1 FETCH (UID 1 FLAGS (\\Recent))',
      '* 2 FETCH (UID 2 FLAGS (\\Recent))',
    ]);
    // Taken: another session's STATUS counts none; the taker's own STATUS counts its own.
    assert.equal((await c.cmd('st', `STATUS ${name} (RECENT)`))[0], `* STATUS ${name} (RECENT 0)`);
    assert.equal((await b.cmd('st', `STATUS ${name} (RECENT)`))[0], `* STATUS ${name} (RECENT 2)`);

    const later = await c.cmd('s', `SELECT ${name}`);
    assert.equal(later[later.indexOf('* 2 EXISTS') + 1], '* 0 RECENT', later.join('\n'));
    assert.deepEqual(untagged(await c.cmd('f', 'FETCH 1:* (FLAGS)')), [
      '* 1 FETCH (FLAGS ())',
      '* 2 FETCH (FLAGS ())',
    ]);
    assert.equal((await c.cmd('r', 'SEARCH RECENT'))[0], '* SEARCH');
    assert.equal((await c.cmd('n', 'SEARCH NEW'))[0], '* SEARCH');
    assert.equal((await c.cmd('o', 'SEARCH OLD'))[0], '* SEARCH 1 2');
    // The EXAMINE session keeps what it was told.
    assert.equal((await a.cmd('s2', 'SEARCH RECENT'))[0], '* SEARCH 1 2');
    for (const x of [a, b, c]) x.close();
  });

  test('new messages: RECENT with EXISTS; the first session told takes them', async () => {
    const [a, b] = [await env.login(), await env.login()];
    const name = await mailboxWith(a, 1);
    await a.cmd('s', `SELECT ${name}`);
    await b.cmd('s', `SELECT ${name}`);
    // a's own APPEND: a hears of it first, in the APPEND's response.
    const msg = message('own');
    const ap = await a.cmd(
      'ap',
      Buffer.concat([Buffer.from(`APPEND ${name} {${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]),
    );
    assert.deepEqual(untagged(ap), ['* 2 EXISTS', '* 2 RECENT']);
    assert.deepEqual(untagged(await b.cmd('n', 'NOOP')), ['* 2 EXISTS', '* 0 RECENT']);
    // Another session's COPY into the mailbox: b is asked first this time.
    const c = await env.login();
    const other = await mailboxWith(c, 1);
    await c.cmd('s', `SELECT ${other}`);
    await c.cmd('cp', `COPY 1 ${name}`);
    assert.deepEqual(untagged(await b.cmd('n', 'NOOP')), ['* 3 EXISTS', '* 1 RECENT']);
    assert.deepEqual(untagged(await a.cmd('n', 'NOOP')), ['* 3 EXISTS', '* 2 RECENT']);
    assert.equal((await b.cmd('f', 'FETCH 3 (FLAGS)'))[0], '* 3 FETCH (FLAGS (\\Recent))');
    assert.equal((await a.cmd('f', 'FETCH 3 (FLAGS)'))[0], '* 3 FETCH (FLAGS ())');
    // NEW is RECENT UNSEEN; STORE reports \Recent with the stored flags.
    assert.equal((await a.cmd('n1', 'SEARCH NEW'))[0], '* SEARCH 1 2');
    assert.equal(
      (await a.cmd('st', 'STORE 1 +FLAGS (\\Seen)'))[0],
      '* 1 FETCH (FLAGS (\\Seen \\Recent))',
    );
    assert.equal((await a.cmd('n2', 'SEARCH NEW'))[0], '* SEARCH 2');
    assert.equal((await a.cmd('o', 'SEARCH OLD'))[0], '* SEARCH 3');
    // b sees a's flag change without a's \Recent.
    assert.deepEqual(untagged(await b.cmd('n2', 'NOOP')), ['* 1 FETCH (UID 1 FLAGS (\\Seen))']);
    for (const x of [a, b, c]) x.close();
  });

  test('APPEND to the selected mailbox: \\Recent goes to the appending session, even with another in IDLE', async () => {
    const [a, b, e] = [await env.login(), await env.login(), await env.login()];
    const name = await mailboxWith(a, 1);
    await a.cmd('s', `SELECT ${name}`);
    await b.cmd('s', `SELECT ${name}`);
    b.write('i IDLE\r\n');
    assert.equal(await b.line(), '+ idling');
    // RFC 3502 MULTIAPPEND: a is told of both in its APPEND's response (RFC 3501 §6.3.11),
    // first: both are \Recent there and nowhere else, though b in IDLE hears of them too.
    const [m1, m2] = [message('own1'), message('own2')];
    const ap = await a.cmd(
      'ap',
      Buffer.concat([
        Buffer.from(`APPEND ${name} {${m1.length}+}\r\n`),
        m1,
        Buffer.from(` (\\Seen) {${m2.length}+}\r\n`),
        m2,
        Buffer.from('\r\n'),
      ]),
    );
    assert.deepEqual(untagged(ap), ['* 3 EXISTS', '* 3 RECENT']);
    // b may hear of the two one by one (each is stored in turn): RECENT with each EXISTS.
    const heard: string[] = [];
    while (heard.at(-2) !== '* 3 EXISTS') heard.push(await b.line());
    assert.deepEqual(
      heard.filter((l) => / RECENT$/.test(l)),
      heard.filter((l) => / EXISTS$/.test(l)).map(() => '* 0 RECENT'),
      heard.join('\n'),
    );
    assert.deepEqual(untagged(await a.cmd('f', 'FETCH 2:3 (FLAGS)')), [
      '* 2 FETCH (FLAGS (\\Recent))',
      '* 3 FETCH (FLAGS (\\Seen \\Recent))',
    ]);
    // A read-only (EXAMINE) session's APPEND takes nothing: the next read-write session told
    // of the message does.
    await e.cmd('x', `EXAMINE ${name}`);
    await append(e, name, message('from-examine'));
    assert.equal(await b.line(), '* 4 EXISTS');
    assert.equal(await b.line(), '* 1 RECENT');
    b.write('DONE\r\n');
    assert.match(last(await b.tagged('i')), /^i OK/);
    assert.equal((await b.cmd('f', 'FETCH 4 (FLAGS)'))[0], '* 4 FETCH (FLAGS (\\Recent))');
    const st = await a.cmd('st', `STATUS ${name} (RECENT)`);
    assert.equal(
      st.find((l) => l.startsWith('* STATUS')),
      `* STATUS ${name} (RECENT 3)`,
      st.join('\n'),
    );
    for (const x of [a, b, e]) x.close();
  });

  test('delivery, and IDLE: EXISTS then RECENT pushed', async () => {
    const b = await env.login();
    const sel = await b.cmd('s', 'SELECT INBOX');
    const exists = Number(/\* (\d+) EXISTS/.exec(sel.join('\n'))?.[1]);
    b.write('i IDLE\r\n');
    assert.equal(await b.line(), '+ idling');
    const store = env.ts.server.ctx.store;
    const account = await store.getAccountById(env.accountId);
    assert.ok(account);
    await deliverLocal(store, { raw: message('delivered'), accounts: [account] });
    assert.equal(await b.line(), `* ${exists + 1} EXISTS`);
    assert.match(await b.line(), /^\* \d+ RECENT$/);
    b.write('DONE\r\n');
    assert.match(last(await b.tagged('i')), /^i OK/);
    const f = await b.cmd('f', `FETCH ${exists + 1} (FLAGS)`);
    assert.equal(f[0], `* ${exists + 1} FETCH (FLAGS (\\Recent))`);
    b.close();
  });

  test('COPY and MOVE make messages recent in the destination', async () => {
    const [a, c] = [await env.login(), await env.login()];
    const src = await mailboxWith(a, 3);
    const dst = await mailboxWith(a, 0);
    await a.cmd('s', `SELECT ${src}`);
    await a.cmd('c', `COPY 1 ${dst}`);
    await a.cmd('m', `MOVE 2:3 ${dst}`);
    const sel = await c.cmd('s', `SELECT ${dst}`);
    assert.equal(sel[sel.indexOf('* 3 EXISTS') + 1], '* 3 RECENT', sel.join('\n'));
    a.close();
    c.close();
  });

  test('\\Recent cannot be stored: BAD, and the session goes on', async () => {
    const a = await env.login();
    const name = await mailboxWith(a, 1);
    await a.cmd('s', `SELECT ${name}`);
    assert.match(last(await a.cmd('a', 'STORE 1 +FLAGS (\\Recent)')), /^a BAD/);
    assert.match(last(await a.cmd('b', 'STORE 1 FLAGS (\\Seen \\recent)')), /^b BAD/);
    assert.match(last(await a.cmd('c', 'UID STORE 1 -FLAGS \\Recent')), /^c BAD/);
    assert.deepEqual(untagged(await a.cmd('f', 'FETCH 1 (FLAGS)')), [
      '* 1 FETCH (FLAGS (\\Recent))',
    ]);
    a.close();
  });

  test('IMAP4rev2: no RECENT, no \\Recent, and the rev1 client still gets it', async () => {
    const [r2, r1] = [await env.login(), await env.login()];
    const name = await mailboxWith(r1, 1);
    await r2.cmd('e', 'ENABLE IMAP4rev2');
    const sel = await r2.cmd('s', `SELECT ${name}`);
    assert.ok(!sel.some((l) => /RECENT/.test(l)), sel.join('\n'));
    assert.equal((await r2.cmd('f', 'FETCH 1 (FLAGS)'))[0], '* 1 FETCH (FLAGS ())');
    const msg = message('rev2');
    const ap = await r2.cmd(
      'ap',
      Buffer.concat([Buffer.from(`APPEND ${name} {${msg.length}+}\r\n`), msg, Buffer.from('\r\n')]),
    );
    assert.deepEqual(untagged(ap), ['* 2 EXISTS']);
    const s1 = await r1.cmd('s', `SELECT ${name}`);
    assert.equal(s1[s1.indexOf('* 2 EXISTS') + 1], '* 2 RECENT', s1.join('\n'));
    r1.close();
    r2.close();
  });
});

describe('IMAP session: \\Recent across a restart', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
  });
  after(async () => {
    await env.ts.stop();
  });

  async function login(): Promise<RawClient> {
    const c = await RawClient.connect(env.ts.port('imaps'), true);
    assert.match(last(await c.cmd('l', `LOGIN ${USER} ${PASS}`)), /^l OK/);
    return c;
  }

  async function recentAtSelect(): Promise<string> {
    const c = await login();
    const r = await c.cmd('s', 'SELECT Kept');
    c.close();
    return r.find((l) => / RECENT$/.test(l)) ?? '(none)';
  }

  test('a message stays recent until a session takes it, over restarts', async () => {
    const c = await login();
    await c.cmd('c', 'CREATE Kept');
    await append(c, 'Kept', message('k1'));
    c.close();
    await env.ts.restart();
    assert.equal(await recentAtSelect(), '* 1 RECENT');
    await env.ts.restart();
    assert.equal(await recentAtSelect(), '* 0 RECENT');
    const d = await login();
    await append(d, 'Kept', message('k2'));
    assert.equal((await d.cmd('st', 'STATUS Kept (RECENT)'))[0], '* STATUS Kept (RECENT 1)');
    d.close();
    await env.ts.restart();
    assert.equal(await recentAtSelect(), '* 1 RECENT');
  });
});
