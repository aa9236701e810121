// RFC 9051 §6.1.3: LOGOUT gets an untagged BYE, then the tagged OK, then the server closes.
// The client sends nothing after LOGOUT, so the server lets the socket go as soon as the
// replies and its FIN are with the kernel (Connection.finish), without waiting for the
// client's side (issue 19: a client that resets after reading them cost a read error each).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { HalfOpenClient, openConnections, untilImmediate } from '../../helpers/half-open.js';
import { type ImapTestEnv, PASS, startImap, USER } from './client.js';

describe('IMAP LOGOUT closes without waiting for the client', () => {
  let env: ImapTestEnv;
  before(async () => {
    env = await startImap();
  });
  after(() => env.ts.stop());

  test('a client keeping its side open gets BYE, the tagged OK and a normal end of stream; the server lets go', {
    timeout: 90_000,
  }, async () => {
    const open = () => openConnections(env.ts, 'imap');
    const before = await open();
    const c = await HalfOpenClient.connect(env.port);
    await c.waitFor(/^\* OK [^\r]*\r\n/);
    c.send(`a LOGIN ${USER} ${PASS}`);
    await c.waitFor(/\r\na OK [^\r]*\r\n$/);
    await untilImmediate(async () => (await open()) === before + 1, 'the connection counted');
    const seen = c.text().length;
    c.send('b LOGOUT');
    await c.ended;
    // Our side is still open: the server let the socket go without waiting for it.
    await untilImmediate(async () => (await open()) === before, 'the server to let go');
    assert.equal(
      c.text().slice(seen),
      '* BYE Logging out\r\nb OK LOGOUT completed\r\n',
      'all bytes, in order',
    );
    c.socket.destroy();
  });
});
