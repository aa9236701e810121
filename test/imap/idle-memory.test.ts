// What a session in IDLE holds (issue 19: 10,000 IDLE connections under 476.8 MiB). The
// server runs in this process; the clients run in a child process, so that only the server's
// objects are in this heap: after a full collection, the heap and Buffer memory per session
// in IDLE (LOGIN, SELECT INBOX, IDLE, then waiting) stays under a bound. Nothing is timed.
// With the ninth session's design (command loop, dispatch, IDLE and read each an async
// function suspended in IDLE) a session held 17.7-18.0 KB here (more than in a server of its
// own, session-heap.ts: the test runner's async hooks make each promise dearer); with IDLE a
// state the callback-driven input loop drives (commands/idle.ts), 11.4-12.7 KB; with the
// connection's read a callback too (Connection.readChunkThen), 9.5-10.0 KB. The bound leaves
// 30% for the runtime's noise (code compiled, hash tables grown).
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { test } from 'node:test';
import v8 from 'node:v8';
import vm from 'node:vm';
import { PASS, startImap, USER } from './session/client.js';

v8.setFlagsFromString('--expose-gc');
const gc = vm.runInNewContext('gc') as () => void;

const WARM = 100;
const SESSIONS = 500;
const BOUND = 13_000;

// The child opens `n` connections, each LOGIN, SELECT INBOX, IDLE (pipelined), prints
// "idling" once every one has its continuation, and holds them until its stdin closes.
const CLIENTS = `
const net = require('node:net');
const [port, n, user, pass] = process.argv.slice(1);
let waiting = Number(n);
const socks = [];
for (let i = 0; i < Number(n); i++) {
  const s = net.connect(Number(port), '127.0.0.1');
  socks.push(s);
  let text = '';
  s.on('data', (b) => {
    if (text === null) return;
    text += b.toString('latin1');
    if (/ NO | BAD |BYE/.test(text)) { console.error(text); process.exit(1); }
    if (text.includes('\\r\\n+ ')) {
      text = null;
      if (--waiting === 0) console.log('idling');
    }
  });
  s.on('error', (e) => { console.error(String(e)); process.exit(1); });
  s.write('L LOGIN ' + user + ' ' + pass + '\\r\\nS SELECT INBOX\\r\\nI IDLE\\r\\n');
}
process.stdin.on('end', () => { for (const s of socks) s.destroy(); process.exit(0); });
process.stdin.resume();
`;

/** Starts `n` IDLE clients in a child; resolves when all are idling, with a way to end them. */
function idleClients(port: number, n: number): Promise<() => void> {
  const child = spawn(process.execPath, ['-e', CLIENTS, String(port), String(n), USER, PASS], {
    stdio: ['pipe', 'pipe', 'inherit'],
  });
  return new Promise((resolve, reject) => {
    child.stdout.on('data', (b: Buffer) => {
      if (b.toString().includes('idling')) resolve(() => child.stdin.end());
    });
    child.on('exit', (code) => reject(new Error(`IDLE clients exited (${code})`)));
  });
}

/**
 * The heap and Buffers in use after full collections. The test runner keeps each async
 * resource a test creates in a map until the resource's destroy hook runs, and those hooks
 * run on a later turn of the event loop than the collection that freed the resource: each
 * collection is followed by a turn, so that the runner's map holds only what is still alive.
 * Without it, its table (grown in doublings) counted as the sessions' own: 11.7-13.8 KB per
 * session over PostgreSQL, whose store creates more promises per LOGIN and SELECT, against
 * 9.7 KB over SQLite.
 */
async function used(): Promise<number> {
  for (let i = 0; i < 4; i++) {
    gc();
    await new Promise((resolve) => setImmediate(resolve));
  }
  const m = process.memoryUsage();
  return m.heapUsed + m.arrayBuffers;
}

test(`a session in IDLE holds under ${BOUND} bytes of heap and Buffers`, {
  timeout: 300_000,
}, async (t) => {
  const env = await startImap({
    extraToml: `[limits]\nmax_connections_per_ip = ${WARM + SESSIONS + 10}`,
  });
  const ends: (() => void)[] = [];
  try {
    ends.push(await idleClients(env.port, WARM));
    const before = await used();
    ends.push(await idleClients(env.port, SESSIONS));
    const after = await used();
    const per = (after - before) / SESSIONS;
    t.diagnostic(`${per.toFixed(0)} bytes per IDLE session`);
    assert.ok(per < BOUND, `${per.toFixed(0)} bytes per IDLE session (bound ${BOUND})`);
  } finally {
    for (const end of ends) end();
    await env.ts.stop();
  }
});
