// A process of its own for postgres-blobs.test.ts: appends or reads one large message through
// the PostgreSQL store and reports how far its resident memory rose above where it was just
// before (Linux: /proc/self/status VmHWM, the peak, reset through /proc/self/clear_refs).
// Usage: node --expose-gc --import tsx blob-memory-child.ts URL append|read MAILBOX_ID MIB
// (append: a 1 MiB message, then one of MIB MiB; read: the first message, then the second).
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { PostgresStore } from '../../src/store/postgres/postgres-store.js';
import type { NewMessage } from '../../src/store/types.js';
import { rawMessage, simpleIndex } from '../helpers/messages.js';

function status(key: 'VmHWM' | 'VmRSS'): number {
  const m = new RegExp(`${key}:\\s+(\\d+) kB`).exec(readFileSync('/proc/self/status', 'utf8'));
  if (!m) throw new Error(`no ${key} in /proc/self/status`);
  return Number(m[1]) * 1024;
}

/** Collects garbage and starts the peak over from the memory resident now. */
function baseline(): number {
  (globalThis as { gc?: () => void }).gc?.();
  writeFileSync('/proc/self/clear_refs', '5');
  return status('VmRSS');
}

/** A message of about `mib` MiB: a header and lines of base64-like text. */
function bigMessage(subject: string, mib: number): NewMessage {
  const line = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/\r\n';
  const raw = rawMessage(subject, line.repeat(Math.ceil((mib * 1024 * 1024) / line.length)));
  // As mime/ indexes a large message: its text for search cut, the rest read when needed.
  return { raw, index: { ...simpleIndex(subject, line.repeat(100)), textTruncated: true } };
}

const [url, mode, mailbox, mib] = process.argv.slice(2);
const mailboxId = Number(mailbox);
const store = await PostgresStore.open({ connectionString: url!, max: 2 });
try {
  if (mode === 'append') {
    // Warm up the same code path (connections, prepared statements, compiled code).
    await store.append(bigMessage('warm-up', 1), [{ mailboxId }]);
    const m = bigMessage('large', Number(mib));
    const before = baseline();
    await store.append(m, [{ mailboxId }]);
    const peak = status('VmHWM');
    const hash = createHash('sha256').update(m.raw).digest('hex');
    process.stdout.write(`${JSON.stringify({ before, peak, size: m.raw.length, hash })}\n`);
  } else if (mode === 'read') {
    const [warm, large] = await store.listMessages(mailboxId);
    await store.readMessage(warm!.blobHash, warm!.size);
    const before = baseline();
    const bytes = await store.readMessage(large!.blobHash, large!.size);
    const peak = status('VmHWM');
    const hash = createHash('sha256').update(bytes).digest('hex');
    process.stdout.write(`${JSON.stringify({ before, peak, size: bytes.length, hash })}\n`);
  } else {
    throw new Error(`unknown mode ${mode}`);
  }
} finally {
  await store.close();
}
