// RFC 1939 §6: QUIT gets +OK (after the UPDATE state's work), then the server closes. The
// client sends nothing after QUIT, so the server lets the socket go as soon as the reply and
// its FIN are with the kernel (Connection.finish), in the main process and in the workers.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { HalfOpenClient, openConnections, untilImmediate } from '../helpers/half-open.js';
import { RawPop3 } from './client.js';
import { PASSWORD, startPop3, USER } from './setup.js';

for (const workers of ['workers = 0', '']) {
  describe(`POP3 QUIT closes without waiting for the client (${workers || 'worker processes'})`, () => {
    test('AUTHORIZATION and TRANSACTION QUIT: +OK, a normal end of stream, the update done', {
      timeout: 120_000,
    }, async () => {
      const fx = await startPop3({ workersToml: workers });
      try {
        await fx.deliver('one', 'two');
        const before = await openConnections(fx.ts, 'pop3');
        // AUTHORIZATION state: no update.
        const a = await HalfOpenClient.connect(fx.pop3);
        await a.waitFor(/^\+OK [^\r]*\r\n/);
        a.send('QUIT');
        await a.ended;
        assert.match(a.text(), /\r\n\+OK Goodbye\r\n$/);
        a.socket.destroy();
        // TRANSACTION state: DELE, then QUIT enters UPDATE and removes the message first.
        const c = await HalfOpenClient.connect(fx.pop3);
        await c.waitFor(/^\+OK [^\r]*\r\n/);
        c.send(`USER ${USER}`);
        await c.waitFor(/^(\+OK[^\r]*\r\n){2}$/);
        c.send(`PASS ${PASSWORD}`);
        await c.waitFor(/^(\+OK[^\r]*\r\n){3}$/);
        c.send('DELE 1');
        await c.waitFor(/^(\+OK[^\r]*\r\n){4}$/);
        c.send('QUIT');
        await c.ended;
        assert.match(c.text(), /\r\n\+OK Goodbye, 1 messages left\r\n$/);
        // Our side is still open: the server let the socket go without waiting for it.
        await untilImmediate(
          async () => (await openConnections(fx.ts, 'pop3')) === before,
          'the server to let go',
        );
        c.socket.destroy();
        const d = await RawPop3.connect(fx.pop3);
        assert.match(await d.login(USER, PASSWORD), /^\+OK /);
        assert.match(await d.cmd('STAT'), /^\+OK 1 /, 'the DELE was carried out at QUIT');
        assert.match(await d.cmd('QUIT'), /^\+OK/);
      } finally {
        await fx.stop();
      }
    });
  });
}
