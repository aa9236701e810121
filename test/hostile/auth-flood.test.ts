// Issue 15 item 11: a flood of wrong logins must not starve a real one. Before the fix every
// login's scrypt went straight to libuv's threadpool, first come first served: 60 parallel
// wrong logins from 60 addresses made a real login take 4.9 s instead of 0.16 s. Now hashes
// go through a bounded pool (src/auth/hash-pool.ts) where a source the account logged in from
// goes first. The flood comes from 60 addresses (127.0.0.10-69), three connections each, with
// wrong passwords for 60 real accounts (every attempt a full scrypt), driven from a child
// process (auth-flood-clients.ts).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULT_SCRYPT_PARAMS, hashPassword } from '../../src/auth/password.js';
import { startTestServer, type TestServer } from '../helpers/server.js';
import { imapLogin } from './auth-clients.js';

const USER = 'busy@example.test';
const PASS = 'first password';
/** Generous: a priority login waits for one running hash, then its own (~60 ms each). */
const BOUND_MS = 2000;
/**
 * On a loaded machine every hash is slower: the bound is then this many scrypts timed at the
 * same moment. A starved login waits for the flood's queue (~90 hashes per pool thread).
 */
const BOUND_HASHES = 20;

describe('hostile: a flood of wrong logins does not starve a real one', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startTestServer({ listeners: ['imap'], allowPlaintext: true });
    await ts.addUser(USER, PASS);
    // The flood's targets: real accounts with full-cost hashes, so every wrong guess costs
    // a whole scrypt (the probe: wrong passwords, not unknown users).
    const hash = await hashPassword('not guessed', DEFAULT_SCRYPT_PARAMS);
    for (let i = 0; i < 60; i++) {
      await ts.addUser(`flood-${i}@example.test`, 'x');
      await ts.server.ctx.store.setPassword(`flood-${i}@example.test`, hash);
    }
  });
  after(() => ts.stop());

  test(`the real user, from its usual address, logs in within ${BOUND_MS} ms or ${BOUND_HASHES} scrypts`, async (t) => {
    const port = ts.port('imap');
    // The real user's usual address. (This first login also rehashes its password to the
    // default, full-cost parameters.)
    assert.match(await imapLogin(port, '127.0.0.1', USER, PASS), /^a OK/);
    // Each timed login below uses a new password, standing in for a verified-cache entry that
    // has expired: it needs a real scrypt. The hashes are made now, before the flood.
    const passwords = ['second password', 'third password', 'fourth password'];
    const hashes = await Promise.all(passwords.map((p) => hashPassword(p, DEFAULT_SCRYPT_PARAMS)));

    // The flood runs in a child process: in this one, 180 clients would load the very event
    // loop that serves the logins being timed.
    const child = spawn(
      process.execPath,
      [
        '--import',
        'tsx',
        fileURLToPath(new URL('./auth-flood-clients.ts', import.meta.url)),
        String(port),
      ],
      { stdio: ['ignore', 'pipe', 'inherit'] },
    );
    let sent = 0;
    let answered = 0;
    let partial = '';
    child.stdout.on('data', (d: Buffer) => {
      partial += d.toString();
      const lines = partial.split('\n');
      partial = lines.pop() ?? '';
      const last = lines.at(-1);
      if (last) [sent, answered] = last.split(' ').map(Number) as [number, number];
    });
    const exited = new Promise((r) => child.on('exit', r));
    try {
      // In full swing: the first answers have come back, most attempts still wait.
      const deadline = Date.now() + 60_000;
      while (answered < 10 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
      assert.ok(answered >= 10, 'the flood got no answers');

      for (const [i, hash] of hashes.entries()) {
        await ts.server.ctx.store.setPassword(USER, hash);
        const t0 = performance.now();
        const reply = await imapLogin(port, '127.0.0.1', USER, passwords[i]);
        const ms = performance.now() - t0;
        const waiting = sent - answered;
        // One scrypt of the same cost now, on a thread the pool leaves free: what a hash
        // costs on this machine at this moment.
        const h0 = performance.now();
        await hashPassword('a measure', DEFAULT_SCRYPT_PARAMS);
        const hashMs = performance.now() - h0;
        const bound = Math.max(BOUND_MS, BOUND_HASHES * hashMs);
        t.diagnostic(
          `login ${i + 1}: ${Math.round(ms)} ms (a scrypt: ${Math.round(hashMs)} ms), ${waiting} flood attempts waiting`,
        );
        assert.match(reply, /^a OK/);
        assert.ok(waiting >= 30, `the flood should still be queued (${waiting} attempts waiting)`);
        assert.ok(
          ms < bound,
          `login ${i + 1} took ${Math.round(ms)} ms during the flood (bound ${Math.round(bound)} ms)`,
        );
      }
    } finally {
      child.kill();
      await exited;
    }
  });
});
