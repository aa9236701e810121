// The listener stopping tells every IMAP session still open (shutdown-watch.ts): an untagged
// BYE (RFC 9051 §7.1.5) and the connection closes; an IDLE gets its BYE and the tagged OK.
// A session that ended before is not told again.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { RawClient, startImap } from './client.js';

test('stopping the server says BYE to sessions in every state, IDLE included', {
  timeout: 90_000,
}, async () => {
  const env = await startImap();
  let stopped: Promise<void> | undefined;
  try {
    const fresh = await RawClient.connect(env.port);
    const authed = await env.login();
    const idling = await env.login();
    await idling.cmd('S', 'SELECT INBOX', 30_000);
    idling.write('I IDLE\r\n');
    assert.match(await idling.line(30_000), /^\+ /);
    // Ended before the shutdown: its session left the watch list.
    const gone = await env.login();
    await gone.cmd('O', 'LOGOUT', 30_000);
    stopped = env.ts.stop();
    for (const c of [fresh, authed]) {
      assert.equal(await c.line(30_000), '* BYE Server shutting down');
    }
    assert.equal(await idling.line(30_000), '* BYE Server shutting down');
    assert.equal(await idling.line(30_000), 'I OK IDLE terminated');
    await stopped;
    for (const c of [fresh, authed, idling, gone]) c.close();
  } finally {
    await (stopped ?? env.ts.stop());
  }
});
