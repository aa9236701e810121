// Lazy child loggers: the same JSON lines as pino children, and no pino child at all for a
// connection that logs nothing at the enabled level.
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import { test } from 'node:test';
import { pino } from 'pino';
import { PRETTY_OPTIONS, wrapLogger } from '../src/log.js';

function capture(level: string) {
  const lines: Record<string, unknown>[] = [];
  const stream = new Writable({
    write(chunk, _enc, done) {
      for (const l of String(chunk).split('\n')) if (l) lines.push(JSON.parse(l));
      done();
    },
  });
  const base = pino({ level }, stream);
  let children = 0;
  const child = base.child.bind(base);
  base.child = ((...a: Parameters<typeof child>) => {
    children++;
    return child(...a);
  }) as typeof base.child;
  return { log: wrapLogger(base), lines, children: () => children };
}

test('a child of a child logs with every binding, the later one winning', async () => {
  const c = capture('info');
  const conn = c.log.child({ conn: 'c1', peer: '127.0.0.1:1' });
  conn.child({ proto: 'imap', conn: 'c2' }).info({ n: 1 }, 'hello %s', 'there');
  conn.warn('plain');
  await new Promise((r) => setImmediate(r));
  assert.equal(c.lines.length, 2);
  assert.deepEqual(
    { conn: c.lines[0]!.conn, peer: c.lines[0]!.peer, proto: c.lines[0]!.proto, n: c.lines[0]!.n },
    { conn: 'c2', peer: '127.0.0.1:1', proto: 'imap', n: 1 },
  );
  assert.equal(c.lines[0]!.msg, 'hello there');
  assert.equal(c.lines[1]!.msg, 'plain');
  assert.equal(c.lines[1]!.proto, undefined);
});

test('no pino child is made while nothing is logged at an enabled level', () => {
  const c = capture('warn');
  const conn = c.log.child({ conn: 'c1' }).child({ proto: 'pop3' });
  conn.info('not shown');
  conn.debug({ x: 1 }, 'not shown');
  assert.equal(c.children(), 0);
  assert.equal(conn.isLevelEnabled('info'), false);
  conn.error({ err: new Error('boom') }, 'shown');
  conn.error('again');
  assert.equal(c.children(), 1);
});

test('pretty lines (a terminal) start with the date and time', async () => {
  const { prettyFactory } = await import('pino-pretty');
  const pretty = prettyFactory({ ...PRETTY_OPTIONS, colorize: false });
  const time = new Date(2026, 11, 4, 18, 40, 12, 345).getTime();
  const out = pretty(
    `${JSON.stringify({ level: 30, time, pid: 1, conn: 'c1', msg: 'connection opened' })}\n`,
  );
  assert.match(out, /^\[2026-12-04 18:40:12\.345 [+-]\d{4}\] INFO \(1\): connection opened\n/);
  assert.match(out, /conn: "c1"/);
});
