// FETCH and UID FETCH (RFC 9051 §6.4.5, §6.4.9) with CHANGEDSINCE and VANISHED (RFC 7162
// §3.1.4, §3.2.6). The data items are rendered by fetch/render.ts; this file picks the
// messages, loads them in batches, and sets \Seen for non-PEEK body fetches.
import { isStoreError } from '../../store/errors.js';
import type { FlagColumns, MessageDetail, MessageRecord } from '../../store/types.js';
import { fetchLines, type MailboxLines } from '../fetch/line-cache.js';
import { markFetchedSeen, type SeenNow } from '../fetch/mark-seen.js';
import { fetchPlan, headerLine as planLine } from '../fetch/plan.js';
import { ReadAhead } from '../fetch/read-ahead.js';
import {
  columnRenderer,
  type FetchMessage,
  type FetchRenderOptions,
  lightRenderer,
  renderFetch,
  renderHeaderFetch,
} from '../fetch/render.js';
import { bad, ImapError, no, ok } from '../responses.js';
import type { ImapSession } from '../session.js';
import { type FetchArgs, parseFetchArgs } from '../wire/fetch-items.js';
import type { ParsedCommand } from '../wire/parser.js';
import { type Interval, intervalsContain, resolveSequenceSet } from '../wire/sequence.js';
import { sequenceSetToString, serializeLineParts, v } from '../wire/serializer.js';
import { checkFetchPartial, fetchPage } from './fetch-partial.js';
import { command, SELECTED } from './types.js';
import { requireSelected, resolveSet } from './util.js';

const BATCH = 200;
/** Text of a light FETCH gathered before it is queued for the client. */
const LIGHT_CHUNK = 64 * 1024;

/**
 * Light FETCH lines gathered into chunks of LIGHT_CHUNK characters, each queued for the client
 * as one Buffer (latin1: the lines' text is ASCII, their flags' 8-bit text kept as bytes).
 */
class LineChunks {
  private text = '';
  constructor(private readonly s: ImapSession) {}

  /** Adds a line; true when a chunk was queued (the caller then awaits s.maybeFlush()). */
  add(line: string): boolean {
    this.text += line;
    if (this.text.length < LIGHT_CHUNK) return false;
    this.end();
    return true;
  }

  /** Queues what is gathered. */
  end(): void {
    if (this.text !== '') this.s.send(Buffer.from(this.text, 'latin1'));
    this.text = '';
  }
}

async function run(s: ImapSession, a: FetchArgs, cmd: ParsedCommand) {
  const sel = requireSelected(s);
  const store = s.ctx.store;
  const view = sel.view;
  checkFetchPartial(a.partial, cmd.uid); // RFC 9394 §3.3
  // RFC 7162 §3.1: FETCH with CHANGEDSINCE (§3.1.4.1) or the MODSEQ item enables CONDSTORE.
  const plan = fetchPlan(a.items);
  if (a.changedSince !== null || plan.asksModseq) s.enableCondstore();
  if (a.vanished && (!cmd.uid || !s.enabled.qresync)) {
    throw bad('VANISHED needs UID FETCH and QRESYNC');
  }
  const opts = { utf8: s.enabled.utf8, condstore: s.enabled.condstore, uidAlways: cmd.uid };
  // Many messages named by ranges, UID / FLAGS / MODSEQ alone: answered from the columns
  // along runs of sequence numbers, without the set's UIDs as an array (seqRuns).
  const wide = columnRuns(s, a, cmd.uid, opts);
  // resolveSet gives UIDs of the view only (a saved result already without the expunged).
  let uids = wide ? [] : view.liveAmong(resolveSet(s, a.set, cmd.uid));
  // RFC 3501 §7.2.6: a keyword another session set since the last update comes first.
  s.announceKeywords();
  if (a.partial) uids = await fetchPage(s, a.partial, a.changedSince, uids);
  if (a.vanished && a.changedSince !== null && a.set.kind === 'ranges') {
    // RFC 7162 §3.2.6: expunged UIDs of the requested set, as VANISHED (EARLIER).
    const asked = resolveSequenceSet(a.set, Number.MAX_SAFE_INTEGER);
    const gone = (await store.expungedSince(sel.mailbox.id, a.changedSince)).filter((u) =>
      intervalsContain(asked, u),
    );
    if (gone.length > 0) s.untagged(`VANISHED (EARLIER) ${sequenceSetToString(gone)}`);
  }
  const markSeen = plan.setsSeen && !sel.readOnly;
  const { asksFlags, asksUid, withExtras, withDetail, withBytes, headersOnly, headerFast } = plan;
  if (wide) {
    await runFetch(
      s,
      wide.runs,
      a.changedSince,
      wide.render,
      await store.flagColumns!(sel.mailbox.id),
    );
    return ok(`${cmd.name} completed`);
  }
  if (plan.allLight) {
    await lightFetch(s, a, uids, opts);
    return ok(`${cmd.name} completed`);
  }
  let expungeIssued = false;
  // What the items need (fetch/plan.ts): the parsed index only for ENVELOPE and the like; a
  // FETCH of flags and header fields (what a mail client asks first, issue 19) reads the rows
  // and the header blocks alone (BlobStore.readHeaders), rendered at once from the bytes read
  // ahead (renderHeaderFetch), its lines as text and the sections' bytes, no value tree per
  // message (fetch/header-line.ts).
  const headerLine = planLine(a.items, plan, opts);
  const listed = !withDetail && isWide(uids, view.exists) ? await listRows(s, null) : null;

  // The lines this writer wrote lately for the mailbox's messages (fetch/line-cache.ts).
  const kept: MailboxLines | null = headerLine
    ? fetchLines.mailbox(headerLine, sel.mailbox.id, sel.mailbox.uidValidity)
    : null;
  for (let i = 0; i < uids.length; i += BATCH) {
    const batch = uids.slice(i, i + BATCH);
    let details: Map<number, MessageDetail> | null = null;
    let records: MessageRecord[];
    if (withDetail) {
      const d = await store.getMessages(sel.mailbox.id, batch);
      details = new Map(d.map((m) => [m.uid, m]));
      records = d;
    } else
      records = listed ? pickRows(listed, batch) : await store.getRecords(sel.mailbox.id, batch);
    if (a.changedSince !== null) {
      const since = a.changedSince;
      records = records.filter((r) => r.modseq > since);
    }
    records.sort((x, y) => x.uid - y.uid);
    const extras = withExtras
      ? await store.getMessageExtras(
          sel.mailbox.id,
          records.map((r) => r.uid),
        )
      : null;
    // RFC 9051 §6.4.5: BODY[...] without .PEEK sets \Seen; the new flags are reported.
    const seenNow: SeenNow = markSeen
      ? await markFetchedSeen(store, view, sel.mailbox.id, records)
      : new Map();
    // The bytes of the next messages in one read where the store can (fetch/read-ahead.ts).
    const ahead = withBytes ? new ReadAhead(store, records, headersOnly) : null;
    for (let k = 0; k < records.length; k++) {
      const r = records[k]!;
      const seq = view.seqOf(r.uid);
      if (seq === 0) continue;
      if (headerFast && ahead) {
        const flags = view.withRecent(r.uid, r.flags);
        const known = kept?.get(r.uid, flags, r.modseq);
        if (known !== undefined) {
          // Unchanged since written: no header block looked up, no text made.
          s.sendParts([`* ${seq} FETCH (`, known]);
          if (s.flushDue) await s.flush();
          continue;
        }
        let bytes = ahead.ready(k);
        if (bytes === undefined) {
          try {
            bytes = await ahead.read(k);
          } catch (err) {
            // Expunged and collected meanwhile: left out as below (RFC 2180 §4.1.2).
            if (!isStoreError(err, 'NOT_FOUND')) throw err;
            expungeIssued = true;
            continue;
          }
        }
        const block = ahead.isBlock(k, bytes);
        const line = headerLine?.(r, flags, bytes, block) ?? null;
        if (line !== null) {
          kept?.put(r.uid, flags, r.modseq, line, view.exists);
          s.sendParts([`* ${seq} FETCH (`, line]);
        } else {
          const values = renderHeaderFetch(a.items, r, flags, bytes, block, opts);
          s.sendParts(serializeLineParts(`* ${seq} FETCH `, v.list(values), s.writeOpts));
        }
        if (s.flushDue) await s.flush();
        continue;
      }
      const changed = seenNow.get(r.uid);
      const msg: FetchMessage = {
        seq,
        uid: r.uid,
        flags: view.withRecent(r.uid, changed?.flags ?? r.flags),
        modseq: changed?.modseq ?? r.modseq,
        size: r.size,
        internalDate: r.internalDate,
        internalZone: r.internalZone,
        detail: async () => {
          const d = details?.get(r.uid) ?? (await store.getMessages(sel.mailbox.id, [r.uid]))[0];
          if (!d) throw no('EXPUNGEISSUED', 'Message was expunged');
          return d;
        },
        raw: () => (ahead ? ahead.read(k) : store.readMessage(r.blobHash, r.size)),
        // Loaded for the whole batch above when the items ask for them (needsExtras).
        extras: async () => {
          const e =
            extras?.get(r.uid) ??
            (await store.getMessageExtras(sel.mailbox.id, [r.uid])).get(r.uid);
          if (!e) throw no('EXPUNGEISSUED', 'Message was expunged');
          return e;
        },
        cachePreview: (text) => {
          store.setPreview(r.messageId, text).catch(() => {});
        },
      };
      let out: Awaited<ReturnType<typeof renderFetch>>;
      try {
        out = await renderFetch(a.items, msg, opts);
      } catch (err) {
        // Expunged by another session since this one last heard: RFC 2180 §4.1.2 lets the
        // server leave it out; the others are still answered (RFC 5530 EXPUNGEISSUED).
        if (!isStoreError(err, 'NOT_FOUND') && !isExpungeIssued(err)) throw err;
        expungeIssued = true;
        continue;
      }
      if (out.error) throw no(out.error.code, out.error.text);
      const values = out.values;
      if (changed && !asksFlags) {
        const flags = view.withRecent(r.uid, changed.flags);
        values.push(v.atom('FLAGS'), v.list(flags.map((f) => v.atom(f))));
      }
      // RFC 7162 §3.1: a FETCH that set \Seen carries UID (and MODSEQ, added by the
      // renderer) once CONDSTORE is enabled.
      if (changed && opts.condstore && !opts.uidAlways && !asksUid) {
        values.push(v.atom('UID'), v.num(r.uid));
      }
      s.sendParts(serializeLineParts(`* ${seq} FETCH `, v.list(values), s.writeOpts));
      await s.maybeFlush();
    }
  }
  return expungeIssued
    ? ok(`${cmd.name} completed; some messages were expunged meanwhile`, 'EXPUNGEISSUED')
    : ok(`${cmd.name} completed`);
}

/**
 * FETCH of row data only (UID, FLAGS, INTERNALDATE, RFC822.SIZE, MODSEQ; EMAILID, THREADID,
 * SAVEDATE from the rows' extras): no \Seen to set,
 * nothing to load but rows. Many messages read the mailbox's (cached) row list once and walk
 * it beside the UIDs, both ascending; a few read their rows. Responses are rendered as text
 * and queued in large chunks.
 */
async function lightFetch(
  s: ImapSession,
  a: FetchArgs,
  uids: number[],
  opts: FetchRenderOptions,
): Promise<void> {
  const sel = requireSelected(s);
  const view = sel.view;
  const since = a.changedSince;
  const asc = uids.every((u, i) => i === 0 || uids[i - 1]! < u) ? uids : [...uids].sort(byNum);
  const store = s.ctx.store;
  if (isWide(asc, view.exists) && store.flagColumns) {
    const render = columnRenderer(
      a.items,
      opts,
      view.hasRecent ? (uid) => view.isRecent(uid) : undefined,
    );
    if (render) {
      await columnFetch(s, asc, since, render, await store.flagColumns(sel.mailbox.id));
      return;
    }
  }
  const rows = isWide(asc, view.exists)
    ? await listRows(s, since)
    : await s.ctx.store.getRecords(sel.mailbox.id, asc);
  // RFC 3501 §2.3.2: \Recent is this session's, not a stored flag; checked per message only
  // while the session has recent messages at all, and written into FLAGS by the renderer.
  const render = lightRenderer(
    a.items,
    opts,
    view.hasRecent ? (uid) => view.isRecent(uid) : undefined,
  );
  // EMAILID / THREADID / SAVEDATE: read, for the messages answered only, after the rows.
  const picked: Array<{ seq: number; row: MessageRecord }> | null = fetchPlan(a.items).withExtras
    ? []
    : null;
  const lines = new LineChunks(s);
  let j = 0;
  for (const r of rows) {
    while (j < asc.length && asc[j]! < r.uid) j++;
    if (j >= asc.length) break;
    if (asc[j] !== r.uid || (since !== null && r.modseq <= since)) continue;
    const seq = view.seqOf(r.uid);
    if (seq === 0) continue;
    if (picked) {
      picked.push({ seq, row: r });
      continue;
    }
    if (lines.add(`* ${seq} FETCH ${render(r)}\r\n`)) await s.maybeFlush();
  }
  if (picked && picked.length > 0) {
    const extras = await s.ctx.store.getMessageExtras(
      sel.mailbox.id,
      picked.map((p) => p.row.uid),
    );
    for (const { seq, row } of picked) {
      const x = extras.get(row.uid);
      if (!x) continue; // expunged since the rows were read: its EXPUNGE follows
      if (lines.add(`* ${seq} FETCH ${render(row, x)}\r\n`)) await s.maybeFlush();
    }
  }
  lines.end();
}

const byNum = (x: number, y: number) => x - y;

/**
 * A FETCH of UID, FLAGS and MODSEQ over many messages from the mailbox's columns: no record per
 * message, each flag list's text written once (columnRenderer), sequence numbers counted
 * along the view (the asked UIDs, the view and the columns all ascend), lines gathered into
 * large chunks. `asc` holds only UIDs of the view.
 */
async function columnFetch(
  s: ImapSession,
  asc: readonly number[],
  since: number | null,
  render: NonNullable<ReturnType<typeof columnRenderer>>,
  cols: FlagColumns,
): Promise<void> {
  const view = requireSelected(s).view;
  const { n, uid, flags, modseq, lists } = cols;
  const lines = new LineChunks(s);
  let i = 0;
  let seq = 1;
  for (let j = 0; j < asc.length; j++) {
    const u = asc[j]!;
    while (i < n && uid[i]! < u) i++;
    if (i >= n) break;
    if (uid[i] !== u) continue; // expunged since the view heard: its EXPUNGE follows
    const m = modseq[i]!;
    if (since !== null && m <= since) continue;
    while (view.uidAt(seq)! < u) seq++;
    const id = flags[i]!;
    if (lines.add(`* ${seq} FETCH ${render(u, id, lists[id]!, m)}\r\n`)) await s.maybeFlush();
  }
  lines.end();
}

type ColumnRender = NonNullable<ReturnType<typeof columnRenderer>>;

/**
 * The runs of sequence numbers a FETCH names and its column renderer, when it is answered
 * from the columns along them (runFetch): a set of ranges (not `$`, not PARTIAL, whose page
 * needs the UIDs), items the columns hold, and many messages (isWide). Null otherwise.
 */
function columnRuns(
  s: ImapSession,
  a: FetchArgs,
  uid: boolean,
  opts: FetchRenderOptions,
): { runs: Interval[]; render: ColumnRender } | null {
  if (a.set.kind !== 'ranges' || a.partial || !s.ctx.store.flagColumns) return null;
  if (!fetchPlan(a.items).columnItems) return null;
  const view = requireSelected(s).view;
  const render = columnRenderer(
    a.items,
    opts,
    view.hasRecent ? (u) => view.isRecent(u) : undefined,
  );
  if (!render) return null;
  const runs = view.seqRuns(a.set.ranges, uid);
  let count = 0;
  for (const [first, last] of runs) count += last - first + 1;
  return count > BATCH || count * 2 >= view.exists ? { runs, render } : null;
}

/**
 * columnFetch over runs of sequence numbers of the view (seqRuns): each run's first UID is
 * found in the columns by a binary search, then the view and the columns are walked side by
 * side, both ascending. The same lines as columnFetch over the runs' UIDs: a UID the columns
 * lack (expunged since the view heard) or whose expunge waits to be announced (RFC 9051
 * §7.5.1) is left out, sequence numbers are the view's (RFC 9051 §2.3.1.2).
 */
async function runFetch(
  s: ImapSession,
  runs: readonly Interval[],
  since: number | null,
  render: ColumnRender,
  cols: FlagColumns,
): Promise<void> {
  const view = requireSelected(s).view;
  // As liveAmong: taken now, as the UIDs are taken before the walk on the other paths.
  const gone = view.pendingExpunges();
  const { n, uid, flags, modseq, lists } = cols;
  const lines = new LineChunks(s);
  let i = 0;
  for (const [first, last] of runs) {
    i = lowerBound(uid, i, n, view.uidAt(first)!);
    for (let seq = first; seq <= last; seq++) {
      const u = view.uidAt(seq)!;
      while (i < n && uid[i]! < u) i++;
      // Past the rows taken (the arrays may hold rows appended since beyond n).
      if (i >= n) break;
      if (uid[i] !== u || gone?.has(u)) continue;
      const m = modseq[i]!;
      if (since !== null && m <= since) continue;
      const id = flags[i]!;
      if (lines.add(`* ${seq} FETCH ${render(u, id, lists[id]!, m)}\r\n`)) await s.maybeFlush();
    }
  }
  lines.end();
}

/** The first index in [from, n) of `sorted` (ascending) whose value is at least x. */
function lowerBound(sorted: Uint32Array, from: number, n: number, x: number): number {
  let lo = from;
  let hi = n;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * A FETCH of many messages, or of much of the mailbox (`1:*` right after SELECT, as phones
 * and webmails send it: issue 19), takes the mailbox's row list, which the store keeps in
 * memory for SELECT (sqlite/record-cache.ts), rather than a query for its UIDs.
 */
function isWide(uids: readonly number[], exists: number): boolean {
  return uids.length > BATCH || uids.length * 2 >= exists;
}

function listRows(s: ImapSession, changedSince: number | null): Promise<MessageRecord[]> {
  const mailboxId = requireSelected(s).mailbox.id;
  return s.ctx.store.listMessages(mailboxId, { changedSince: changedSince ?? undefined });
}

/** The rows of these UIDs that `rows` (ascending by UID) holds, in the order of `uids`. */
function pickRows(rows: readonly MessageRecord[], uids: readonly number[]): MessageRecord[] {
  const out: MessageRecord[] = [];
  for (const uid of uids) {
    let lo = 0;
    let hi = rows.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (rows[mid]!.uid < uid) lo = mid + 1;
      else hi = mid;
    }
    const r = rows[lo];
    if (r !== undefined && r.uid === uid) out.push(r);
  }
  return out;
}

function isExpungeIssued(err: unknown): boolean {
  return err instanceof ImapError && err.code === 'EXPUNGEISSUED';
}

export const FETCH = command({
  name: 'FETCH',
  states: SELECTED,
  noExpunge: true,
  parse: parseFetchArgs,
  run,
});

export const UID_FETCH = command({
  name: 'UID FETCH',
  states: SELECTED,
  noExpunge: true,
  parse: parseFetchArgs,
  run,
});
