// Issue 15 item 2: LIST turned `*` and `%` into a backtracking regex; with a mailbox named
// `a` x 100, `LIST "" "*a*a*a*a*a*a*b"` took 20 s and froze every session and /health. Against
// the real server process: the LIST is answered, and while it runs another session and
// /healthz answer after less than 1 s of the event loop's CPU (wall time on a loaded machine
// also counts the other work there).
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { RawClient } from '../imap/session/client.js';
import { onTheLoop, type ServerProcess, startServerProcess } from './spawn.js';

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
    let healthMs = 0;
    const [noop, health] = await Promise.all([
      onTheLoop(srv, () => other.cmd(`n${i}`, 'NOOP', 60_000)),
      onTheLoop(srv, async () => {
        healthMs = await srv.healthMs();
      }),
    ]);
    const lines = await list;
    assert.match(lines.at(-1)!, new RegExp(`^x${i} OK`));
    assert.ok(Number.isFinite(healthMs), '/healthz failed');
    assert.ok(
      noop.loopCpuMs < 1000,
      `NOOP of another session waited on ${noop.loopCpuMs} ms of the loop (${noop.ms.toFixed(0)} ms)`,
    );
    assert.ok(
      health.loopCpuMs < 1000,
      `/healthz waited on ${health.loopCpuMs} ms of the loop (${healthMs.toFixed(0)} ms)`,
    );
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
