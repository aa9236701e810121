// Child process for crash.test.ts: appends messages as fast as it can and prints one
// "ACK <uid> <sha256>" line per append the store acknowledged, until it is killed.
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newMessage } from '../helpers/messages.js';

const dir = process.argv[2]!;
const store = await SqliteStore.open({ dir });
await store.addDomain('example.test');
const account = await store.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
process.stdout.write('READY\n');
let n = 0;
async function worker(): Promise<void> {
  for (;;) {
    const i = n++;
    // Varying sizes so some writes are mid-file when the kill lands.
    const msg = newMessage(`crash ${i}`, `${'x'.repeat((i * 7919) % 200_000)}\r\n`);
    const [r] = await store.append(msg, [{ mailboxId: inbox.id, flags: i % 2 ? ['\\Seen'] : [] }]);
    process.stdout.write(
      `ACK ${r!.uid} ${(await import('node:crypto')).createHash('sha256').update(msg.raw).digest('hex')}\n`,
    );
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
