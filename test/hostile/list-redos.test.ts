// Issue 15 item 2: LIST turned `*` and `%` into a backtracking regex; with a mailbox named
// `a` x 100, `LIST "" "*a*a*a*a*a*a*b"` took 20 s and froze every session and /health. Against
// the real server process: the LIST is answered, and while it runs another session and
// /healthz answer within 1 s.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RawClient } from '../imap/session/client.js';
import { type ServerProcess, startServerProcess } from './spawn.js';

let srv: ServerProcess;
const A100 = 'a'.repeat(100);

before(async () => {
  srv = await startServerProcess({ listeners: ['http', 'imap'] });
  await srv.addUser('eve@example.test', 'secret-password');
});
after(() => srv.stop());

async function login(): Promise<RawClient> {
  const c = await RawClient.connect(srv.port('imap'));
  const r = await c.cmd('l', 'LOGIN eve@example.test secret-password', 20_000);
  assert.match(r.at(-1)!, /^l OK/);
  return c;
}

/** Milliseconds until `fn` resolved. */
async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

test('a LIST pattern built to backtrack does not freeze the server', async () => {
  const eve = await login();
  for (const [i, name] of [A100, `${A100}/${A100}`, `b${A100}`].entries()) {
    assert.match((await eve.cmd(`c${i}`, `CREATE ${name}`, 20_000)).at(-1)!, /OK/);
  }
  const other = await login();
  for (const [i, pattern] of [
    '*a*a*a*a*a*a*b',
    `${'*a'.repeat(60)}*b`,
    `${'%a'.repeat(60)}%b`,
  ].entries()) {
    // The attack and, while it runs, the probes. The old code answered the first LIST after
    // 20 s; the probes waited as long.
    const list = eve.cmd(`x${i}`, `LIST "" "${pattern}"`, 60_000);
    list.catch(() => {}); // awaited below; a failing probe must not leave it unhandled
    const [noopMs, healthMs] = await Promise.all([
      timed(() => other.cmd(`n${i}`, 'NOOP', 60_000)),
      srv.healthMs(),
    ]);
    const lines = await list;
    assert.match(lines.at(-1)!, new RegExp(`^x${i} OK`));
    assert.ok(noopMs < 1000, `NOOP of another session took ${noopMs.toFixed(0)} ms`);
    assert.ok(healthMs < 1000, `/healthz took ${healthMs} ms`);
  }
  // The matcher still matches what it should.
  const all = await eve.cmd('y', `LIST "" "*a*a*a"`, 20_000);
  assert.equal(all.filter((l) => l.startsWith('* LIST')).length, 3, all.join('\n'));
  const top = await eve.cmd('z', `LIST "" "%a"`, 20_000);
  assert.deepEqual(top.filter((l) => l.startsWith('* LIST')).sort(), [
    `* LIST (\\HasChildren) "/" ${A100}`,
    `* LIST (\\HasNoChildren) "/" b${A100}`,
  ]);
  assert.ok(srv.alive());
});
