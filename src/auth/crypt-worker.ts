// The worker thread of crypt-thread.ts: SHA-crypt verification (unixcrypt, pure JavaScript,
// ~35 ms for Dovecot's default 5,000 rounds), kept off the thread that serves connections.
import { parentPort } from 'node:worker_threads';
import { verify } from 'unixcrypt';
import type { CryptReply, CryptRequest } from './crypt-thread.js';

const port = parentPort;
if (!port) throw new Error('crypt-worker must run in a worker thread');

port.on('message', (m: CryptRequest) => {
  let ok = false;
  try {
    ok = verify(m.password, m.hash);
  } catch {
    // A hash unixcrypt cannot read does not match (foreign-hash.ts checked its form already).
  }
  port.postMessage({ id: m.id, ok } satisfies CryptReply);
});
