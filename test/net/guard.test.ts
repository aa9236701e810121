// The last line of defence (src/net/guard.ts): an error escaping one connection's code ends
// that connection and the server keeps serving the others. The process-wide part runs in a
// child process (fixtures/guard-server.ts), as `letterbox serve` installs it: in this process
// the test runner's own handler would take the uncaught error for a failed test.
import assert from 'node:assert/strict';
import { type ChildProcessWithoutNullStreams, spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import net from 'node:net';
import { after, before, describe, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { silentLogger } from '../../src/log.js';
import { ConnectionGuard, guardConnection } from '../../src/net/guard.js';
import { eventually } from '../helpers/eventually.js';

// In this process the test runner's own handlers take an uncaught exception or an unhandled
// rejection for a failed test: each case below fails if the guard lets its error escape.
describe('ConnectionGuard', () => {
  const guarded = () => {
    let ended = 0;
    const guard = new ConnectionGuard(silentLogger(), () => ended++);
    return { guard, ended: () => ended };
  };

  test('a throwing listener of a watched socket ends the connection, once', () => {
    const socket = new EventEmitter();
    const { guard, ended } = guarded();
    guardConnection(guard, socket, async () => {});
    socket.on('data', () => {
      throw new Error('boom');
    });
    assert.doesNotThrow(() => socket.emit('data'));
    assert.doesNotThrow(() => socket.emit('data'));
    // Even an 'error' nobody listens for.
    assert.doesNotThrow(() => socket.emit('error', new Error('unheard')));
    assert.equal(ended(), 1);
  });

  test('listeners of a watched socket get their arguments and emit its result', () => {
    const socket = new EventEmitter();
    const { guard, ended } = guarded();
    guard.watch(socket);
    const seen: unknown[] = [];
    socket.on('data', (a, b) => seen.push(a, b));
    assert.equal(socket.emit('data', 1, 2), true);
    assert.equal(socket.emit('nobody'), false);
    assert.deepEqual(seen, [1, 2]);
    assert.equal(ended(), 0);
  });

  test("a rejection or a throw of the session's code ends the connection; the result resolves", async () => {
    for (const fn of [
      async () => {
        await null;
        throw new Error('boom: async');
      },
      () => {
        throw new Error('boom: sync');
      },
    ]) {
      const { guard, ended } = guarded();
      await guardConnection(guard, null, fn);
      assert.equal(ended(), 1);
    }
  });

  test("a throw in the connection's timer, immediate or microtask ends it", async () => {
    const cases: [string, (g: ConnectionGuard, cb: () => void) => void][] = [
      ['timer', (g, cb) => g.setTimeout(cb, 1)],
      ['immediate', (g, cb) => g.setImmediate(cb)],
      ['microtask', (g, cb) => g.queueMicrotask(cb)],
      ['callback', (g, cb) => setImmediate(g.wrap(cb))],
    ];
    for (const [what, schedule] of cases) {
      const { guard, ended } = guarded();
      let ran = false;
      schedule(guard, () => {
        ran = true;
        throw new Error(`boom: ${what}`);
      });
      await eventually(() => ran && ended() === 1, `${what} ran and ended the connection`);
    }
  });

  test('a detached promise that rejects ends the connection; one that resolves does not', async () => {
    const { guard, ended } = guarded();
    guard.detach(Promise.resolve(1));
    guard.detach(Promise.reject(new Error('boom: detached')));
    await eventually(() => ended() === 1, 'the rejection ended the connection');
    await guard.sleep(1);
    assert.equal(ended(), 1);
  });
});

describe('the process guard, in a server process', () => {
  const FIXTURE = fileURLToPath(new URL('./fixtures/guard-server.ts', import.meta.url));
  let child: ChildProcessWithoutNullStreams;
  let port: number;
  let stdout = '';
  let stderr = '';
  let exitCode: number | null | undefined;

  before(async () => {
    child = spawn(process.execPath, ['--import', 'tsx', FIXTURE], { stdio: 'pipe' });
    child.stdout.on('data', (d) => {
      stdout += d;
    });
    child.on('exit', (code) => {
      exitCode = code;
    });
    port = await new Promise<number>((resolve, reject) => {
      child.stderr.on('data', (d) => {
        stderr += d;
        const m = /port (\d+)/.exec(stderr);
        if (m) resolve(Number(m[1]));
      });
      child.on('exit', () => reject(new Error(`fixture exited: ${stderr}`)));
    });
  });
  after(() => {
    if (exitCode === undefined) child.kill('SIGKILL');
  });

  /** A raw line client. */
  async function connect() {
    const s = net.connect(port, '127.0.0.1');
    let text = '';
    let closed = false;
    s.setEncoding('latin1');
    s.on('data', (d) => {
      text += d;
    });
    s.on('close', () => {
      closed = true;
    });
    s.on('error', () => {});
    const waitFor = (what: string) =>
      eventually(() => text.includes(what), what, 20_000).catch((err: Error) => {
        throw new Error(`${err.message}; server exit ${exitCode}, its log:\n${stdout}\n${stderr}`);
      });
    await waitFor('hello\r\n');
    return { s, waitFor, closed: () => closed };
  }

  const logged = (message: string) =>
    stdout
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l) as { level: number; conn?: string; err?: { message?: string } })
      .find((l) => l.err?.message === message);

  for (const [cmd, message] of [
    ['timer', 'boom: timer'],
    ['reject', 'boom: rejection'],
    ['data', 'boom: data'],
    ['session', 'boom: session'],
  ] as const) {
    test(`a throw in a session's ${cmd} ends that connection; the server answers another`, async () => {
      const a = await connect();
      const b = await connect();
      a.s.write(`${cmd}\r\n`);
      if (cmd === 'data') {
        await a.waitFor('armed\r\n');
        a.s.write('x\r\n');
      }
      await eventually(a.closed, `the ${cmd} connection ended`, 20_000);
      b.s.write('ping\r\n');
      await b.waitFor('pong\r\n');
      const c = await connect();
      c.s.write('ping\r\n');
      await c.waitFor('pong\r\n');
      assert.equal(exitCode, undefined, 'the server process is alive');
      await eventually(() => logged(message) !== undefined, 'the error logged', 20_000);
      const line = logged(message)!;
      assert.equal(line.level, 50); // error
      assert.ok(line.conn, 'logged with the connection id');
      b.s.destroy();
      c.s.destroy();
    });
  }

  test('a throw outside every connection is fatal: exit 70', async () => {
    child.stdin.write('x');
    await eventually(() => exitCode !== undefined, 'the process exited', 20_000);
    assert.equal(exitCode, 70);
    const line = logged('boom: unowned');
    assert.equal(line?.level, 60); // fatal
  });
});
