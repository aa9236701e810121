// The main thread's handle on the full-text index worker (fts-worker.ts). Delivery hands it
// the text of each newly stored message after its transaction commits and returns: the
// indexing (most of the CPU of a large delivery) happens on the worker's thread. Requests
// are handled in order, so a search posted after an index request sees that message.
//
// Index requests are gathered here and posted together (INDEX_GATHER_MS, INDEX_GATHER_MAX):
// a message posted to the worker wakes its thread, and each wake-up with its message's
// dispatch cost the worker ~25 us and the main thread ~5-10 us per delivery when mail arrives
// one message per connection (issue 19). Any other request (a search, a deletion, close)
// posts what was gathered first, so the order the worker sees is the order of the calls.
import type { ResourceLimits, Worker } from 'node:worker_threads';
import { startWorker } from '../../worker-thread.js';
import {
  type DocRef,
  type FtsPaths,
  type FtsReply,
  type FtsRequest,
  type IndexItem,
  indexable,
} from './fts-db.js';

/**
 * Characters of text posted and not yet indexed beyond which index requests carry only the
 * message's id and hash: the worker then reads and parses the blob itself. Bounds memory
 * when deliveries outrun the indexer, at the cost of parsing those messages twice.
 */
export const BACKLOG_CHARS = 32 << 20;
/**
 * Index requests wait this long on the main thread for others to be posted with them. The
 * worker indexes what one post brings in one transaction (fts-worker.ts says what a larger
 * transaction saves); 50 ms gathers 15-60 deliveries at this machine's rates. Not longer:
 * texts held 250 ms outlived the young generation's collections (one every ~100 deliveries)
 * and were copied and promoted, which cost V8's threads more than the fewer posts saved
 * (docs/design-notes.md, thirteenth session). Not work put off past an idle server: the
 * worker's turn follows the post at once.
 */
export const INDEX_GATHER_MS = 50;
/** Gathered index items that are posted without waiting. */
export const INDEX_GATHER_MAX = 256;
/** Worker crashes survived before searches fail for good (each restart reconciles). */
const MAX_RESTARTS = 5;

interface Pending {
  resolve: (uids: number[]) => void;
  reject: (err: Error) => void;
}

export class FtsIndex {
  private worker: Worker;
  private readonly pending = new Map<number, Pending>();
  private nextQ = 1;
  private backlog = 0;
  /** Messages posted for indexing and not yet reported indexed. */
  private backlogDocs = 0;
  private restarts = 0;
  private closing: Promise<void> | null = null;
  /** Index items not posted yet (INDEX_GATHER_MS), and the timer that posts them. */
  private gathered: IndexItem[] = [];
  private gatherTimer: NodeJS.Timeout | undefined;
  /** The worker crashed too often: searches fail, the rest of the store works on. */
  private dead = false;
  /**
   * The worker's steps aside for this thread during catch-ups (fts-step-aside.ts): how many,
   * and the ms they lasted; shared memory, read while the worker runs.
   */
  private readonly asideCounts = new Int32Array(new SharedArrayBuffer(8));

  constructor(
    private readonly paths: FtsPaths,
    private readonly onError: (err: unknown) => void = () => {},
    private readonly backlogChars = BACKLOG_CHARS,
    /** V8's heap limits of the worker's thread (none: V8's defaults, as the main thread's). */
    private readonly resourceLimits: ResourceLimits = {},
  ) {
    this.worker = this.spawn();
  }

  private spawn(): Worker {
    const w = startWorker(import.meta.url, 'fts-worker', {
      workerData: { ...this.paths, asideCounts: this.asideCounts },
      resourceLimits: this.resourceLimits,
    });
    w.on('message', (m: FtsReply) => this.onReply(m));
    w.on('error', (err) => this.onError(err));
    w.on('exit', () => this.onExit(w));
    // Idle, the worker must not keep the process alive; close() still waits for it.
    w.unref();
    return w;
  }

  private onReply(m: FtsReply): void {
    if (m.t === 'indexed') {
      this.backlog = Math.max(0, this.backlog - m.chars);
      this.backlogDocs = Math.max(0, this.backlogDocs - m.messages);
    } else if (m.t === 'warn') {
      this.onError(new Error(m.message));
    } else {
      const p = this.pending.get(m.q);
      if (!p) return;
      this.pending.delete(m.q);
      if (m.t === 'result') p.resolve(m.uids);
      else p.reject(new Error(`full-text search failed: ${m.message}`));
    }
  }

  private onExit(w: Worker): void {
    if (w !== this.worker) return;
    for (const p of this.pending.values()) p.reject(new Error('full-text index worker stopped'));
    this.pending.clear();
    // What was posted is lost with the worker; what is still gathered goes to the next one.
    this.backlog = 0;
    for (const it of this.gathered) this.backlog += it.text?.length ?? 0;
    this.backlogDocs = this.gathered.length;
    // Requests lost with a crashed worker are recovered by the new one's reconciliation.
    if (this.closing !== null) return;
    if (this.restarts < MAX_RESTARTS) {
      this.restarts++;
      this.worker = this.spawn();
    } else {
      this.dead = true;
      this.dropGathered();
    }
  }

  /** Posts a request, after the index items gathered before it. */
  private post(req: FtsRequest): void {
    this.postGathered();
    this.worker.postMessage(req);
  }

  private postGathered(): void {
    if (this.gatherTimer !== undefined) {
      clearTimeout(this.gatherTimer);
      this.gatherTimer = undefined;
    }
    if (this.gathered.length === 0) return;
    const items = this.gathered;
    this.gathered = [];
    this.worker.postMessage({ t: 'index', items } satisfies FtsRequest);
  }

  private dropGathered(): void {
    if (this.gatherTimer !== undefined) clearTimeout(this.gatherTimer);
    this.gatherTimer = undefined;
    this.gathered = [];
  }

  /** After the commit that stored these messages. */
  index(items: IndexItem[]): void {
    if (items.length === 0 || this.closing || this.dead) return;
    this.backlogDocs += items.length;
    const out = items.map((it): IndexItem => {
      if (it.text === undefined) return it;
      // Cut here: only what is indexed crosses to the worker (a copy per message).
      const cut = indexable(it.text);
      const n = cut.text.length;
      if (this.backlog + n > this.backlogChars) return { id: it.id, hash: it.hash };
      this.backlog += n;
      const truncated = cut.truncated || it.truncated === true;
      return { id: it.id, hash: it.hash, text: cut.text, truncated };
    });
    this.gathered.push(...out);
    if (this.gathered.length >= INDEX_GATHER_MAX) {
      this.postGathered();
    } else if (this.gatherTimer === undefined) {
      this.gatherTimer = setTimeout(() => {
        this.gatherTimer = undefined;
        this.postGathered();
      }, INDEX_GATHER_MS);
      // Like the idle worker, gathered items do not keep the process alive: a process that
      // ends without close() leaves them to the next start's reconciliation.
      this.gatherTimer.unref();
    }
  }

  /** The worker's steps aside for this thread so far, and the ms they lasted (monitoring). */
  get stepsAside(): { steps: number; ms: number } {
    return { steps: Atomics.load(this.asideCounts, 0), ms: Atomics.load(this.asideCounts, 1) };
  }

  /** Messages waiting to be indexed (monitoring). */
  get pendingMessages(): number {
    return this.backlogDocs;
  }

  /** Their text posted to the worker, in characters (monitoring). */
  get pendingChars(): number {
    return this.backlog;
  }

  /** After the commit that deleted these messages. */
  remove(docs: DocRef[]): void {
    if (docs.length === 0 || this.closing || this.dead) return;
    this.post({ t: 'delete', docs });
  }

  search(mailboxId: number, needle: string): Promise<number[]> {
    if (this.closing) return Promise.reject(new Error('store is closed'));
    if (this.dead) return Promise.reject(new Error('full-text index worker failed'));
    const q = this.nextQ++;
    return new Promise<number[]>((resolve, reject) => {
      this.pending.set(q, { resolve, reject });
      // A pending search keeps the process alive until it is answered.
      this.worker.ref();
      this.post({ t: 'search', mailboxId, needle, q });
    }).finally(() => {
      // Not once closing: close() holds the worker until its exit (a search answered after
      // close() began would otherwise let the process end before that exit).
      if (this.pending.size === 0 && this.closing === null) this.worker.unref();
    });
  }

  /** Lets the worker finish every request posted so far, then stops it. */
  close(): Promise<void> {
    if (!this.closing && this.dead) this.closing = Promise.resolve();
    if (!this.closing) {
      const w = this.worker;
      this.closing = new Promise<void>((resolve) => {
        w.once('exit', () => resolve());
        w.ref();
        this.post({ t: 'close' });
      });
    }
    return this.closing;
  }
}
