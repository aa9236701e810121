// The full-text index worker thread: owns fts.db (see fts-db.ts) so that indexing a message's
// text, the costliest part of a delivery, never runs on the thread that serves connections.
// Requests are handled in the order they were posted: a search posted after an index request
// sees that message. Index writes are held in one open transaction across turns, committed
// once it is HOLD_MS old or holds HOLD_TEXTS texts, and before a search, a deletion, the
// reconciliation's next chunk or a close.
//
// Deletions wait for a quiet moment: dropping a document from the trigram index still costs
// about 100 us of CPU for a 10 KB message (a tombstone and merges, see fts-db.ts; less than
// half of what tokenizing its text again cost), and an expunge of thousands (a POP3 QUIT)
// would otherwise compete with the sessions for the machine's cores right when they are
// busy. An entry waiting to be dropped is harmless: a search joins the index with the mailbox
// rows as committed, and a message no mailbox holds has none. What is still waiting when the
// worker stops is found and dropped by the next start's stale-entry pass (FtsDb's constructor).
import { parentPort, receiveMessageOnPort, workerData } from 'node:worker_threads';
import {
  type DocRef,
  FtsDb,
  type FtsPaths,
  type FtsReply,
  type FtsRequest,
  type IndexItem,
  isBusy,
  READ_PAST,
} from './fts-db.js';
import { STEP_MS, StepAside } from './fts-step-aside.js';

/**
 * Quiet time (no request) after which waiting deletions are applied: ten times the time the
 * main thread gathers index requests before posting them (fts.ts INDEX_GATHER_MS, 50 ms), so
 * that mail arriving steadily, posted every 50 ms, never looks quiet.
 */
const DELETE_IDLE_MS = 500;
/** Deletions applied per turn once quiet, so a request arriving meanwhile waits little. */
const DELETE_CHUNK = 500;
/** Waiting deletions beyond which they are applied at once, quiet or not (bounds memory). */
const DELETE_BACKLOG_MAX = 100_000;
/*
 * A turn writes every index request queued in one transaction. Each transaction flushes
 * FTS5's in-memory terms to a new segment that merges rewrite later: with the text's
 * trigrams, 10 KB texts cost 0.65 ms of CPU each when committed one by one, 0.52 ms four at a
 * time and 0.44 ms sixteen at a time; with the word indexes (fts-query.ts) 355, 300, 278 and
 * 271 us for 4, 16, 64 and 256 a transaction (issue 19); with fts.db's rollback journal
 * (fts-marks.ts) 272, 259 us at 64 and 243, 238 at 256, and 43 -> 33 KB written per text. So
 * the main thread gathers index requests for up to 50 ms (fts.ts INDEX_GATHER_MS) and posts
 * them together; the turn runs as soon as they arrive.
 *
 * The posts then bring a few texts each at moderate rates, and each commit flushes FTS5's
 * terms into new segments per table (which merges rewrite), writes its pages and takes and
 * drops the file's locks. So the transaction is held open across posts (FtsDb.index), with
 * no text kept in JavaScript meanwhile: a loop through FtsDb (10 KB texts, 08:45 UTC, load
 * 14) costs smtp-source's text 191 us per text committed every post of 4 and 138 with 32
 * posts a transaction, the bench's prose 396 and 333, and with posts of 24 121 and 114
 * (issue 19). Nothing is lost by holding it: the index is derived data, and a worker that
 * stops with a transaction open leaves its messages to the next worker's reconciliation, as
 * it does the requests posted and not yet handled (fts.ts).
 */
/** A held transaction is committed once it is this old (ms)... */
const HOLD_MS = 200;
/** ...or holds this many texts (its pages stay in memory until then: fts-db.ts cache_spill). */
const HOLD_TEXTS = 256;
/**
 * A write that found fts.db held by a reader past busy_timeout (a backup copying it, see
 * fts-db.ts isBusy) is tried again after this long; the requests behind it wait, in order, so
 * a search still sees every message posted before it.
 */
const BUSY_RETRY_MS = 1000;

const port = parentPort;
if (!port) throw new Error('fts-worker must run in a worker thread');

/** The store's paths and modes, and the counts of the steps aside (fts.ts asideCounts). */
const { asideCounts, ...paths } = workerData as FtsPaths & { asideCounts?: Int32Array };
const fts = new FtsDb(paths);
/** full_text_index = "on-search": a search first indexes its mailbox's new messages. */
const onSearch = paths.fullTextIndex === 'on-search';
const readPast = paths.readPast ?? READ_PAST;
/**
 * Mailboxes a search answered by reading what lies past their mark (on-search): indexed
 * after, one catch-up chunk per turn once the requests queued are done (catchUpBehind).
 */
const behind = new Set<number>();
/** That catch-up's step aside while the main thread is busy (fts-step-aside.ts). */
const aside = new StepAside(asideCounts ?? null);
/** The next catch-up chunk's turn while the catch-up stays aside. */
let asideTimer: NodeJS.Timeout | undefined;
const queue: FtsRequest[] = [];
let scheduled = false;
/** Deletions not yet applied: message id -> the blob hash the entry was made from. */
const deferred = new Map<number, string>();
let lastRequest = 0;
let deleteTimer: NodeJS.Timeout | undefined;
/** A turn put off because fts.db was busy; the warning is sent once per such wait. */
let busyTimer: NodeJS.Timeout | undefined;
let busyWarned = false;
/** Commits a held transaction once HOLD_MS have passed with no turn to do it. */
let holdTimer: NodeJS.Timeout | undefined;

function reply(r: FtsReply): void {
  port!.postMessage(r);
}

function schedule(): void {
  if (busyTimer) return; // the retry's turn comes first
  if (scheduled) return;
  scheduled = true;
  // setImmediate lets every message already delivered to the port join this turn's batch.
  setImmediate(turn);
}

/**
 * Applies queued writes, answers searches, and does one chunk of startup reconciliation.
 * While reconciling, a search reads the text of the messages the index lacks yet (see
 * FtsDb.search). A search reads `mailbox_messages` as committed when it runs, so an index
 * ahead of it only holds entries the join ignores or the search should see.
 */
function turn(): void {
  scheduled = false;
  let items: IndexItem[] = [];
  /**
   * Writes the items gathered so far, and commits what is held when `commitNow` or when it
   * is due; false when fts.db is busy (the items not written are kept).
   */
  const flush = (commitNow: boolean): boolean => {
    if (items.length > 0) {
      // A held transaction that is due is committed before more goes into it: while a reader
      // makes that commit wait, the items stay here, unanswered, so the main thread's backlog
      // bound (fts.ts) holds, instead of growing the transaction's pages in memory.
      if (!commitHeld(false)) return false;
      try {
        reply({ t: 'indexed', chars: fts.index(items), messages: items.length });
      } catch (err) {
        if (!isBusy(err)) throw err;
        return false;
      }
      items = [];
    }
    return commitHeld(commitNow);
  };
  const requests = queue.splice(0);
  for (let k = 0; k < requests.length; k++) {
    const req = requests[k]!;
    if (req.t === 'index') {
      // A reused id's waiting deletion is void: index() replaces an entry made from other
      // bytes, and keeps one made from the same bytes, which the deletion would then drop.
      for (const it of req.items) deferred.delete(it.id);
      items.push(...req.items);
    } else if (req.t === 'delete') {
      for (const d of req.docs) deferred.set(d.id, d.hash);
    } else if (req.t === 'search') {
      if (!flush(true)) {
        retryBusy(items, requests.slice(k));
        return;
      }
      try {
        if (onSearch && fts.behind(req.mailboxId, readPast + 1) > readPast) {
          // Far behind (a mailbox never searched, thousands of messages): those past the mark
          // are read and tested, about a tenth of what indexing them costs, and indexed
          // after, a chunk per turn behind the requests (catchUpBehind), so that the next
          // search of the mailbox reads fewer or none.
          reply({ t: 'result', q: req.q, uids: fts.search(req.mailboxId, req.needle, true) });
          behind.add(req.mailboxId);
          continue;
        }
        if (onSearch) {
          // One chunk of the mailbox's catch-up per turn: a search whose mailbox has more to
          // index goes behind the requests that came meanwhile, so a mailbox with thousands of
          // messages never searched holds up the other mailboxes' searches by one chunk
          // (~256 texts), not by its whole catch-up. It still sees every message posted before
          // it: a search reads the mailbox's rows as committed when it runs.
          const step = fts.catchUp(req.mailboxId, 1);
          // A waiting deletion of an id the mailbox holds now was of an earlier message under
          // that id (deleted before this search was posted): the entry is the live one's.
          for (const id of step.seen) deferred.delete(id);
          if (!step.done) {
            queue.push(req);
            continue;
          }
        }
        reply({ t: 'result', q: req.q, uids: fts.search(req.mailboxId, req.needle) });
      } catch (err) {
        if (onSearch && isBusy(err)) {
          // fts.db held by a reader while catching up: this search and what follows wait.
          retryBusy([], requests.slice(k));
          return;
        }
        reply({ t: 'failed', q: req.q, message: String(err) });
      }
    } else {
      // A search still catching up (put back above) is answered before the close.
      if (queue.length > 0) {
        queue.push(req);
        continue;
      }
      // close: whatever was posted before it is done; reconciliation resumes next start.
      if (!flush(true)) {
        retryBusy(items, requests.slice(k));
        return;
      }
      if (asideTimer) clearTimeout(asideTimer);
      fts.close();
      port!.close();
      return;
    }
  }
  if (!flush(false)) {
    retryBusy(items, []);
    return;
  }
  busyWarned = false;
  // Searches put back with more of their mailbox to index: their next chunk in the next turn.
  if (queue.length > 0) schedule();
  if (deferred.size > DELETE_BACKLOG_MAX) applyDeletions(deferred.size - DELETE_BACKLOG_MAX);
  scheduleDeletions();
  if (queue.length === 0 && behind.size > 0 && !catchUpBehind()) return;
  if (fts.reconciling) {
    try {
      fts.reconcileStep();
    } catch (err) {
      if (isBusy(err)) {
        retryBusy([], []);
        return;
      }
      reply({ t: 'warn', message: `full-text reconciliation: ${String(err)}` });
      throw err;
    }
    schedule();
  }
}

/**
 * One catch-up chunk of a mailbox a search read past its mark (see `behind`), then another
 * turn while any is left. Work the search brought, done at once, not put off to a quiet
 * moment: only the requests that come meanwhile go first. False when fts.db was busy (tried
 * again after BUSY_RETRY_MS).
 */
function catchUpBehind(): boolean {
  if (aside.now()) {
    // The main thread is busy and short of a CPU: the next chunk after a step aside.
    asideTimer ??= setTimeout(() => {
      asideTimer = undefined;
      schedule();
    }, STEP_MS);
    return true;
  }
  const mailboxId = behind.values().next().value as number;
  try {
    // The chunk ends where a request waits, or where the catch-up is to step aside.
    const step = fts.catchUp(mailboxId, 1, requestWaiting, () => aside.now());
    for (const id of step.seen) deferred.delete(id);
    if (step.done) behind.delete(mailboxId);
  } catch (err) {
    if (isBusy(err)) {
      retryBusy([], []);
      return false;
    }
    behind.delete(mailboxId);
    reply({ t: 'warn', message: `full-text catch-up: ${String(err)}` });
  }
  if (behind.size > 0) schedule();
  return true;
}

/**
 * Takes a request posted meanwhile off the port. A search of the mailbox being caught up,
 * with nothing queued before it, is answered at once, between two slices of the chunk
 * (FtsDb.searchInChunk: no wait for the chunk's end, issue 19), and the chunk goes on: false.
 * Any other request goes into the queue, and the chunk ends at once (catchUp's `yieldNow`),
 * so that the request's turn comes next: true. False when none came.
 */
function requestWaiting(): boolean {
  const m = receiveMessageOnPort(port!);
  if (m === undefined) return false;
  const req = m.message as FtsRequest;
  if (req.t === 'search' && queue.length === 0 && answeredInChunk(req)) return false;
  received(req);
  return true;
}

/** The search answered between the slices of its mailbox's catch-up chunk, if it can be. */
function answeredInChunk(req: Extract<FtsRequest, { t: 'search' }>): boolean {
  let uids: number[] | null;
  try {
    uids = fts.searchInChunk(req.mailboxId, req.needle);
  } catch {
    // Asked again in its own turn, after the chunk (a busy fts.db waits there, in order).
    return false;
  }
  if (uids === null) return false;
  lastRequest = Date.now();
  reply({ t: 'result', q: req.q, uids });
  return true;
}

/**
 * Commits the held transaction when `now`, or once it is HOLD_MS old or holds HOLD_TEXTS
 * texts; else makes sure a turn comes when it is due. False when the commit was busy (the
 * transaction stays open, everything in it: fts-db.ts commit).
 */
function commitHeld(now: boolean): boolean {
  const held = fts.held;
  if (held === null) {
    // Committed by a search, a deletion or the reconciliation meanwhile.
    if (holdTimer) clearTimeout(holdTimer);
    holdTimer = undefined;
    return true;
  }
  const wait = held.since + HOLD_MS - Date.now();
  if (now || wait <= 0 || held.texts >= HOLD_TEXTS) {
    try {
      fts.commit();
    } catch (err) {
      if (!isBusy(err)) throw err;
      return false;
    }
    if (holdTimer) clearTimeout(holdTimer);
    holdTimer = undefined;
    return true;
  }
  holdTimer ??= setTimeout(() => {
    holdTimer = undefined;
    schedule();
  }, wait);
  return true;
}

/** fts.db was busy: puts the unwritten items and the requests after them back, in order. */
function retryBusy(items: IndexItem[], rest: FtsRequest[]): void {
  queue.unshift(...(items.length > 0 ? [{ t: 'index' as const, items }] : []), ...rest);
  if (!busyWarned) {
    busyWarned = true;
    reply({ t: 'warn', message: 'full-text index: fts.db is held by a reader; writes wait' });
  }
  busyTimer = setTimeout(() => {
    busyTimer = undefined;
    schedule();
  }, BUSY_RETRY_MS);
}

/** Applies up to `n` waiting deletions, oldest first, in one transaction. */
function applyDeletions(n: number): void {
  const docs: DocRef[] = [];
  for (const [id, hash] of deferred) {
    if (docs.length >= n) break;
    docs.push({ id, hash });
    deferred.delete(id);
  }
  try {
    fts.remove(docs);
  } catch (err) {
    if (!isBusy(err)) throw err;
    // Waiting again, for the next quiet moment (a reused id's index request voids its own).
    for (const d of docs) if (!deferred.has(d.id)) deferred.set(d.id, d.hash);
  }
}

/** Once no request came for DELETE_IDLE_MS, applies waiting deletions a chunk per turn. */
function scheduleDeletions(): void {
  if (deferred.size === 0 || deleteTimer) return;
  const wait = Math.max(0, lastRequest + DELETE_IDLE_MS - Date.now());
  deleteTimer = setTimeout(() => {
    deleteTimer = undefined;
    if (Date.now() - lastRequest >= DELETE_IDLE_MS && queue.length === 0) {
      applyDeletions(DELETE_CHUNK);
      // Go on next turn unless a request came in (it reschedules after its own turn).
      if (deferred.size > 0) setImmediate(scheduleDeletions);
      return;
    }
    scheduleDeletions();
  }, wait);
  // Waiting deletions never keep the thread alive: the next start's stale pass does them.
  deleteTimer.unref();
}

function received(req: FtsRequest): void {
  lastRequest = Date.now();
  queue.push(req);
  schedule();
}

port.on('message', received);
schedule(); // start reconciling at once
