// The mail database's WAL checkpoints, on a thread of their own (checkpointer.ts). A
// checkpoint copies the WAL's frames into letterbox.db and fsyncs the WAL before and the
// database after: on the thread that serves connections, those fsyncs stood the event loop
// still for every session (several ms each, once per ~1,000 frames). Here a connection of its
// own runs SQLite's PASSIVE checkpoint, the same work with the same syncs (synchronous =
// NORMAL), while the main thread goes on reading commands and answering them.
import { parentPort, workerData } from 'node:worker_threads';
import Database from 'better-sqlite3';

export interface CheckpointRequest {
  q: number;
}

export type CheckpointReply =
  | { q: number; log: number; checkpointed: number }
  | { q: number; error: string };

const port = parentPort;
if (!port) throw new Error('checkpoint-worker.ts runs as a worker thread');
const db = new Database((workerData as { file: string }).file);
// NORMAL: the checkpoint syncs the WAL before it copies and the database after (as the main
// connection's own checkpoints did); this connection never commits.
db.pragma('synchronous = NORMAL');
const checkpoint = db.prepare('PRAGMA wal_checkpoint(PASSIVE)');

port.on('message', (m: CheckpointRequest | 'close') => {
  if (m === 'close') {
    db.close();
    port.close();
    return;
  }
  let reply: CheckpointReply;
  try {
    // One row: busy, log (frames in the WAL), checkpointed (frames now in the database).
    const row = checkpoint.get() as { busy: number; log: number; checkpointed: number };
    reply = { q: m.q, log: row.log, checkpointed: row.checkpointed };
  } catch (err) {
    reply = { q: m.q, error: String(err) };
  }
  port.postMessage(reply);
});
