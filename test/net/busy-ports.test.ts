// Every port that cannot be bound, named in one error (net/busy-ports.ts).
import assert from 'node:assert/strict';
import net from 'node:net';
import { test } from 'node:test';
import { busyPorts, PortsInUseError, withEveryBusyPort } from '../../src/net/busy-ports.js';
import { ListenError } from '../../src/net/listener.js';

async function hold(): Promise<net.Server> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return s;
}
const portOf = (s: net.Server) => (s.address() as net.AddressInfo).port;

test('busyPorts: held ports found, free ones and port 0 not, in order', async () => {
  const [a, b] = [await hold(), await hold()];
  const free = await hold();
  const freePort = portOf(free);
  await new Promise((r) => free.close(r));
  try {
    const ls = [
      { name: 'imap', host: '127.0.0.1', port: portOf(a) },
      { name: 'pop3', host: '127.0.0.1', port: freePort },
      { name: 'smtp', host: '127.0.0.1', port: 0 },
      { name: 'http', host: '127.0.0.1', port: portOf(b) },
    ];
    assert.deepEqual(
      (await busyPorts(ls)).map((l) => l.name),
      ['imap', 'http'],
    );
    // The failed one first in the config's order, with the others that are held.
    const err = new ListenError('127.0.0.1', portOf(b), 'EADDRINUSE', 'http');
    const all = await withEveryBusyPort(err, ls);
    assert.ok(all instanceof PortsInUseError);
    assert.equal(
      all.message,
      `cannot listen: address already in use: 127.0.0.1:${portOf(a)} (imap), 127.0.0.1:${portOf(b)} (http)`,
    );
  } finally {
    a.close();
    b.close();
  }
});

test('EACCES is gathered the same way; other failures pass unchanged', async () => {
  const denied = new PortsInUseError(
    [
      { name: 'smtp', host: '::', port: 25 },
      { name: 'imaps', host: '::', port: 993 },
    ],
    'EACCES',
  );
  assert.equal(
    denied.message,
    'cannot listen: permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE): [::]:25 (smtp), [::]:993 (imaps)',
  );
  assert.equal(denied.code, 'EACCES');
  const other = new ListenError('192.0.2.1', 25, 'EADDRNOTAVAIL', 'smtp');
  assert.equal(
    await withEveryBusyPort(other, [{ name: 'smtp', host: '192.0.2.1', port: 25 }]),
    other,
  );
});
