// The full-text index worker thread: owns fts.db (see fts-db.ts) so that indexing a message's
// text, the costliest part of a delivery, never runs on the thread that serves connections.
// Requests are handled in the order they were posted: a search posted after an index request
// sees that message. Consecutive writes are applied in one transaction per turn of the loop.
import { parentPort, workerData } from 'node:worker_threads';
import { FtsDb, type FtsPaths, type FtsReply, type FtsRequest, type IndexItem } from './fts-db.js';

const port = parentPort;
if (!port) throw new Error('fts-worker must run in a worker thread');

const fts = new FtsDb(workerData as FtsPaths);
const queue: FtsRequest[] = [];
let scheduled = false;

function reply(r: FtsReply): void {
  port!.postMessage(r);
}

function schedule(): void {
  if (scheduled) return;
  scheduled = true;
  // setImmediate lets every message already delivered to the port join this turn's batch.
  setImmediate(turn);
}

/**
 * Applies queued writes, answers searches, and does one chunk of startup reconciliation.
 * Searches wait while reconciling (the index may still lack older messages); writes never
 * wait: a search reads `mailbox_messages` as committed when it runs, so an index that is
 * ahead of a waiting search only holds entries the join ignores or the search should see.
 */
function turn(): void {
  scheduled = false;
  let items: IndexItem[] = [];
  const flush = (): void => {
    if (items.length === 0) return;
    reply({ t: 'indexed', chars: fts.index(items) });
    items = [];
  };
  const waiting: FtsRequest[] = [];
  for (const req of queue.splice(0)) {
    if (req.t === 'index') {
      items.push(...req.items);
    } else if (req.t === 'delete') {
      flush(); // keep delete-after-index order for a reused id
      fts.remove(req.docs);
    } else if (req.t === 'search') {
      if (fts.reconciling) {
        waiting.push(req);
        continue;
      }
      flush();
      try {
        reply({ t: 'result', q: req.q, uids: fts.search(req.mailboxId, req.needle) });
      } catch (err) {
        reply({ t: 'failed', q: req.q, message: String(err) });
      }
    } else {
      // close: whatever was posted before it is done; reconciliation resumes next start.
      flush();
      fts.close();
      port!.close();
      return;
    }
  }
  flush();
  queue.unshift(...waiting);
  if (fts.reconciling) {
    try {
      fts.reconcileStep();
    } catch (err) {
      reply({ t: 'warn', message: `full-text reconciliation: ${String(err)}` });
      throw err;
    }
    schedule();
  } else if (waiting.length > 0) {
    schedule();
  }
}

port.on('message', (req: FtsRequest) => {
  queue.push(req);
  schedule();
});
schedule(); // start reconciling at once
