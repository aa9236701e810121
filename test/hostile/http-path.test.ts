// Issue 15 item 1: `GET //` made `new URL()` throw in the HTTP handler and the whole `serve`
// process exit. Against the real server process: 400, and it keeps answering /healthz.
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { after, before, test } from 'node:test';
import { promisify } from 'node:util';
import { onTheLoop, type ServerProcess, startServerProcess } from './spawn.js';

const run = promisify(execFile);
let srv: ServerProcess;

before(async () => {
  srv = await startServerProcess({ listeners: ['http', 'imap'] });
});
after(() => srv.stop());

/** curl's status code for a request target sent exactly as given. */
async function status(target: string, method = 'GET'): Promise<string> {
  const url = `http://127.0.0.1:${srv.port('http')}${target}`;
  const { stdout } = await run('curl', [
    '-s',
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '--max-time',
    '20',
    '--path-as-is',
    '-X',
    method,
    url,
  ]);
  return stdout;
}

test('GET // gets 400 and the server stays up', async () => {
  assert.equal(await status('//'), '400');
  assert.equal(await status('//health'), '400');
  assert.equal(await status('/%'), '404');
  assert.equal(await status('/healthz', 'DELETE'), '405');
  assert.ok(srv.alive(), 'the server process is alive');
  assert.equal(await status('/healthz'), '200');
  // What the server's own loop spent on a probe, not its wall time (load stretches that).
  const probe = await onTheLoop(srv, async () => {
    assert.ok(Number.isFinite(await srv.healthMs()), '/healthz answers 200');
  });
  assert.ok(probe.loopCpuMs < 1000, `/healthz took ${probe.loopCpuMs} ms of the loop's CPU`);
  assert.ok(srv.alive());
});
