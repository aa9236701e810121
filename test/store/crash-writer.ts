// Child process for crash.test.ts: appends messages as fast as it can and prints one
// "ACK <uid> <sha256> <n>" line per append the store acknowledged, until it is killed.
import { SqliteStore } from '../../src/store/sqlite/sqlite-store.js';
import { newMessage } from '../helpers/messages.js';

const dir = process.argv[2]!;
const store = await SqliteStore.open({ dir });
await store.addDomain('example.test');
const account = await store.createAccount({ address: 'alice@example.test', passwordHash: 'h' });
const inbox = (await store.getMailbox(account.id, 'INBOX'))!;
// Answered once the index worker has opened fts.db (and left its mark).
await store.searchText(inbox.id, 'anything');
process.stdout.write('READY\n');
let n = 0;
async function worker(): Promise<void> {
  for (;;) {
    const i = n++;
    // Varying sizes so some writes are mid-file when the kill lands.
    // A word of its own first, for the full-text index's check after the crash.
    const msg = newMessage(`crash ${i}`, `w${i}q ${'x'.repeat((i * 7919) % 200_000)}\r\n`);
    const [r] = await store.append(msg, [{ mailboxId: inbox.id, flags: i % 2 ? ['\\Seen'] : [] }]);
    process.stdout.write(
      `ACK ${r!.uid} ${(await import('node:crypto')).createHash('sha256').update(msg.raw).digest('hex')} ${i}\n`,
    );
  }
}
await Promise.all(Array.from({ length: 8 }, worker));
