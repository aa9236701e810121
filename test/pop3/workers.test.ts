// POP3 sessions in worker processes (`[pop3] workers`, src/pop3/workers/): sessions really run
// there, a worker that dies loses only its sessions (no deletions, the lock released) and is
// replaced, a shutdown says goodbye and leaves no process behind, and `workers = 0` serves
// POP3 in the main process.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { workerCount } from '../../src/pop3/index.js';
import { eventually } from '../helpers/eventually.js';
import { RawPop3 } from './client.js';
import { PASSWORD, type Pop3Fixture, startPop3, USER } from './setup.js';

/** RETR 1 (its text matching `subject` when given), DELE 1 and QUIT, each answered +OK. */
async function retrieveDeleteQuit(c: RawPop3, subject?: RegExp): Promise<void> {
  assert.match(await c.cmd('RETR 1'), /^\+OK/);
  const body = (await c.body()).toString('latin1');
  if (subject) assert.match(body, subject);
  assert.match(await c.cmd('DELE 1'), /^\+OK/);
  assert.match(await c.cmd('QUIT'), /^\+OK/);
  await c.closed();
}

/**
 * Pids of this process's POP3 worker processes, the dying and the dead but not yet reaped
 * included: a killed worker is listed as `[node]` while it exits (its arguments gone) and as
 * `[node] <defunct>` until this process reaps it, and only then does the pool hear of its
 * exit, so it counts as a worker until it is gone. Other children (a full-suite run has some)
 * are not counted.
 */
function workerPids(): number[] {
  let out = '';
  try {
    out = execFileSync('ps', ['-o', 'pid=,args=', '--ppid', String(process.pid)], {
      encoding: 'utf8',
    });
  } catch (err) {
    // ps exits 1 when there are no children; any other failure (a fork refused under load)
    // is not an empty list, which would let a wait for workers to go pass too early.
    if ((err as { status?: number }).status === 1) return [];
    throw err;
  }
  return out
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /pop3\/workers\/worker|<defunct>|^\d+\s+\[node\]$/.test(l))
    .map((l) => Number(l.split(/\s+/)[0]));
}

test('workers: auto is one per CPU up to 4, none on one CPU; a number is taken as it is', () => {
  assert.equal(workerCount('auto', 1), 0);
  assert.equal(workerCount('auto', 2), 2);
  assert.equal(workerCount('auto', 16), 4);
  assert.equal(workerCount(3, 1), 3);
  assert.equal(workerCount(0, 8), 0);
});

describe('sessions in worker processes', () => {
  let fx: Pop3Fixture;
  before(async () => {
    fx = await startPop3({ workersToml: 'workers = 2' });
    await fx.deliver('w1', 'w2', 'w3');
  });
  after(() => fx.stop());

  test('the first connection starts the workers; RETR, DELE and QUIT work through them', async () => {
    assert.deepEqual(workerPids(), [], 'no worker before the first POP3 connection');
    const c = await RawPop3.connect(fx.pop3);
    assert.equal(workerPids().length, 2);
    assert.match(await c.login(USER, PASSWORD), /^\+OK .* 3 messages/);
    await retrieveDeleteQuit(c, /Subject: w1/);
    // The update was made by the main process's store, \Seen not needed for the deleted one.
    const left = await fx.ts.server.ctx.store.listMessages(fx.inboxId);
    assert.equal(left.length, 2);
  });

  test('implicit TLS (995) is negotiated in the worker', async () => {
    const c = await RawPop3.connect(fx.pop3s, { tls: true });
    assert.ok(c.encrypted);
    assert.match(c.greeting, /^\+OK/);
    assert.match(await c.login(USER, PASSWORD), /^\+OK/);
    assert.match(await c.cmd('QUIT'), /^\+OK/);
    await c.closed();
  });

  test('a worker that dies loses its session only: nothing deleted, the lock let go, a new worker', async () => {
    const before = workerPids();
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.login(USER, PASSWORD), /^\+OK/);
    assert.match(await c.cmd('DELE 1'), /^\+OK/);
    // The session is in one of the workers: kill both to be sure of hitting it.
    for (const pid of before) process.kill(pid, 'SIGKILL');
    await c.closed();
    // Reaped by the main process (a zombie is listed until then), and replaced at once: the
    // pool refills itself without waiting for the next connection.
    await eventually(
      () => {
        const now = workerPids();
        return now.length === 2 && now.every((p) => !before.includes(p));
      },
      'two new worker processes',
      60_000,
    );
    // RFC 1939 §6: a session that never reached UPDATE deletes nothing.
    assert.equal((await fx.ts.server.ctx.store.listMessages(fx.inboxId)).length, 2);
    const again = await RawPop3.connect(fx.pop3);
    assert.match(await again.login(USER, PASSWORD), /^\+OK .* 2 messages/);
    assert.match(await again.cmd('QUIT'), /^\+OK/);
    await again.closed();
  });

  test('the maildrop lock holds across workers: a second session gets [IN-USE]', async () => {
    const a = await RawPop3.connect(fx.pop3);
    const b = await RawPop3.connect(fx.pop3);
    assert.match(await a.login(USER, PASSWORD), /^\+OK/);
    assert.match(await b.login(USER, PASSWORD), /^-ERR \[IN-USE\]/);
    assert.match(await a.cmd('QUIT'), /^\+OK/);
    assert.match(await b.login(USER, PASSWORD), /^\+OK/);
    assert.match(await b.cmd('QUIT'), /^\+OK/);
  });
});

test('shutdown: a session in a worker is told, and no worker process is left', async () => {
  const fx = await startPop3({ workersToml: 'workers = 2' });
  await fx.deliver('s1');
  const c = await RawPop3.connect(fx.pop3);
  assert.match(await c.login(USER, PASSWORD), /^\+OK/);
  assert.match(await c.cmd('DELE 1'), /^\+OK/);
  const stopped = fx.ts.server.stop();
  assert.match(await c.line(), /^-ERR \[SYS\/TEMP\] Server shutting down/);
  await c.closed();
  await stopped;
  await eventually(() => workerPids().length === 0, 'the workers to exit');
});

test('workers = 0: POP3 is served in the main process', async () => {
  const fx = await startPop3({ workersToml: 'workers = 0' });
  try {
    await fx.deliver('z1');
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.login(USER, PASSWORD), /^\+OK .* 1 messages/);
    assert.deepEqual(workerPids(), []);
    await retrieveDeleteQuit(c);
    assert.equal((await fx.ts.server.ctx.store.listMessages(fx.inboxId)).length, 0);
  } finally {
    await fx.stop();
  }
});

test('no worker can start: sessions are served in the main process', async () => {
  const fx = await startPop3({
    workersToml: 'workers = 2',
    workerEntry: join(tmpdir(), 'letterbox-no-such-worker.js'),
  });
  try {
    await fx.deliver('f1');
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.login(USER, PASSWORD), /^\+OK .* 1 messages/);
    await retrieveDeleteQuit(c, /Subject: f1/);
    assert.equal((await fx.ts.server.ctx.store.listMessages(fx.inboxId)).length, 0);
    // Implicit TLS is done here too.
    const t = await RawPop3.connect(fx.pop3s, { tls: true });
    assert.ok(t.encrypted);
    assert.match(await t.cmd('QUIT'), /^\+OK/);
  } finally {
    await fx.stop();
  }
});

test('workers that keep dying are no longer replaced: sessions are served in the main process', async () => {
  // A crash window far longer than the test: three rounds of worker starts on a loaded
  // machine can take over the default minute, and crashes older than the window are forgotten.
  const fx = await startPop3({ workersToml: 'workers = 2', workerCrashWindowMs: 30 * 60_000 });
  try {
    await fx.deliver('k1');
    // Twice the pool's size in crashes are replaced; the fifth within the minute is not.
    for (let round = 0; round < 3; round++) {
      // A connection waits for every worker to be ready: a worker killed before that is a
      // failed start, which pick() handles, not a crash.
      const probe = await RawPop3.connect(fx.pop3);
      assert.match(await probe.cmd('QUIT'), /^\+OK/);
      await probe.closed();
      const gone = workerPids();
      assert.equal(gone.length, 2, `round ${round}: two workers to kill`);
      for (const pid of gone) process.kill(pid, 'SIGKILL');
      const replaced = round < 2 ? 2 : 0;
      await eventually(
        () => {
          const now = workerPids();
          return now.length === replaced && now.every((p) => !gone.includes(p));
        },
        `round ${round}: ${replaced} new workers`,
        60_000,
      );
    }
    const c = await RawPop3.connect(fx.pop3);
    assert.match(await c.login(USER, PASSWORD), /^\+OK .* 1 messages/);
    assert.deepEqual(workerPids(), [], 'served here, no worker started for it');
    await retrieveDeleteQuit(c, /Subject: k1/);
  } finally {
    await fx.stop();
  }
});
