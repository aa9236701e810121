/**
 * The selected mailbox as one session sees it (RFC 9051 §2.3.1.2): message sequence numbers
 * map to UIDs, and changes made by anyone (other sessions, delivery, this session) are queued
 * until the session may announce them.
 *
 * RFC 9051 §7.5.1: EXPUNGE must not be sent while answering FETCH, STORE or SEARCH (sequence
 * numbers would shift under the client); new messages (EXISTS) and flag changes (FETCH) may be
 * sent at any time. So the view keeps expunged messages (with their sequence numbers) until
 * takeUpdates({ allowExpunge: true }); until then a FETCH of such a message finds nothing.
 *
 * All operations are synchronous and pure bookkeeping; the session asks the store for the
 * current flags of the changed messages when it writes the FETCH responses.
 */
import type { ChangeEvent } from '../store/types.js';
import { UidList } from '../store/uid-list.js';
import { type Interval, resolveSequenceSet, type SeqRange } from './wire/sequence.js';

export interface ViewUpdates {
  /** Expunged messages, in the order to announce: `seqs[i]` is correct when sent i-th. */
  expunged: { seqs: number[]; uids: number[] };
  /** The new message count when messages were added, else null. */
  exists: number | null;
  /** UIDs whose flags changed (by another actor), with the modseq of the change. */
  flags: Array<{ uid: number; modseq: number }>;
  /** The lowest and highest of the new UIDs when messages were added, else null. */
  added: [number, number] | null;
}

const RECENT = '\\Recent';

export class MailboxView {
  /**
   * UIDs in ascending order; index + 1 is the message sequence number. Never changed in
   * place (changes make a new list), so it may be shared with the store's cached summary;
   * a range of UIDs is a few numbers, not an array (store/uid-list.ts).
   */
  private uids: UidList;
  /**
   * Changes queued to announce, each null while empty: an empty Set or Map still holds a hash
   * table (about 200 B), and thousands of sessions sit selected in IDLE with nothing queued.
   */
  private pendingNew: Set<number> | null = null;
  private pendingExpunged: Set<number> | null = null;
  private pendingFlags: Map<number, number> | null = null;
  /** The mailbox was deleted under this session. */
  gone = false;
  /** The mailbox was renamed under this session (it stays selected; its name is not the one read). */
  renamed = false;
  /**
   * RFC 3501 §2.3.2: the UIDs that are \Recent in this session, as ascending inclusive
   * ranges `[lo, hi, lo, hi, ...]`; null when there are none (always, in an IMAP4rev2
   * session). Each claim of the store's recent UIDs lies above the ones before, so this is
   * usually one range however many messages arrive: a few numbers per IDLE session.
   */
  private recent: number[] | null = null;
  /**
   * RFC 3501 §7.2.6 / RFC 9051 §7.3.5: the keywords the client was given in FLAGS. Only
   * grows while the mailbox is selected (clients keep the list); shared with the store's
   * summary until then.
   */
  keywords: readonly string[] = [];
  /** Keywords changes brought that `keywords` lacks, to announce; null when none. */
  private newKeywords: string[] | null = null;

  constructor(
    readonly mailboxId: number,
    /** Ascending. */
    uids: UidList | readonly number[],
    /** The HIGHESTMODSEQ the client has been told about. */
    public highestModseq: number,
  ) {
    // Kept as given: the store's summary lists UIDs ascending (see MailboxSummary).
    this.uids = uids instanceof UidList ? uids : UidList.of(uids);
  }

  get exists(): number {
    return this.uids.length;
  }

  /** All UIDs in sequence order (a copy). */
  allUids(): number[] {
    return this.uids.toArray();
  }

  uidAt(seq: number): number | undefined {
    return this.uids.at(seq - 1);
  }

  /** The sequence number of uid, or 0 when the view does not hold it. */
  seqOf(uid: number): number {
    return this.uids.indexOf(uid) + 1;
  }

  /** Marks lo..hi \Recent in this session; lo never goes below an earlier range's lo. */
  addRecent(lo: number, hi: number): void {
    if (lo > hi) return;
    const r = this.recent;
    if (r === null) {
      this.recent = [lo, hi];
      return;
    }
    const last = r.length - 1;
    if (hi <= r[last]!) return;
    if (lo <= r[last]! + 1) r[last] = hi;
    else r.push(lo, hi);
  }

  get hasRecent(): boolean {
    return this.recent !== null;
  }

  isRecent(uid: number): boolean {
    const r = this.recent;
    if (r === null) return false;
    for (let i = r.length - 2; i >= 0; i -= 2) {
      if (uid > r[i + 1]!) return false;
      if (uid >= r[i]!) return true;
    }
    return false;
  }

  /** How many messages of the view are \Recent (the `* n RECENT` response). */
  recentCount(): number {
    const r = this.recent;
    if (r === null) return 0;
    let n = 0;
    for (let i = 0; i < r.length; i += 2) {
      n += this.lowerBound(r[i + 1]! + 1) - this.lowerBound(r[i]!);
    }
    return n;
  }

  /** `flags`, with \Recent added when uid is recent in this session (RFC 3501 §2.3.2). */
  withRecent(uid: number, flags: string[]): string[] {
    return this.recent !== null && this.isRecent(uid) ? [...flags, RECENT] : flags;
  }

  /** Index of the first UID of the view that is >= uid. */
  private lowerBound(uid: number): number {
    return this.uids.lowerBound(uid);
  }

  /** Whether uid is announced and not expunged (a FETCH or STORE may act on it). */
  isLive(uid: number): boolean {
    return this.seqOf(uid) > 0 && !this.pendingExpunged?.has(uid);
  }

  /**
   * Of UIDs the view holds (uidsForSeqSet, uidsForUidSet), those a FETCH or STORE may act on:
   * all of them unless an expunge waits to be announced (no lookup per UID then).
   */
  liveAmong(held: number[]): number[] {
    const gone = this.pendingExpunged;
    return gone === null ? held : held.filter((u) => !gone.has(u));
  }

  /** The UIDs whose expunge waits to be announced (a copy), null when none (see liveAmong). */
  pendingExpunges(): ReadonlySet<number> | null {
    return this.pendingExpunged === null ? null : new Set(this.pendingExpunged);
  }

  /**
   * The messages of a sequence set (by UID when `uid`) as runs of sequence numbers
   * [first, last], ascending and disjoint: what uidsForSeqSet / uidsForUidSet give, without
   * an array of its UIDs (`UID FETCH 1:*` of a million messages made one, issue 18 item 6).
   * Costs a lookup per range, not per message.
   */
  seqRuns(ranges: readonly SeqRange[], uid: boolean): Interval[] {
    if (!uid) return resolveSequenceSet({ kind: 'ranges', ranges }, this.uids.length);
    const max = this.uids.last;
    if (max === undefined) return [];
    const out: [number, number][] = [];
    for (const [a, b] of resolveSequenceSet({ kind: 'ranges', ranges }, max)) {
      // lowerBound(x): how many UIDs of the view lie below x.
      const first = this.uids.lowerBound(a) + 1;
      const last = this.uids.lowerBound(b + 1);
      if (first <= last) out.push([first, last]);
    }
    return out;
  }

  /** Sequence-number ranges to UIDs in ascending order (`*` is the last message). */
  uidsForSeqSet(ranges: readonly SeqRange[]): number[] {
    const out: number[] = [];
    for (const [a, b] of resolveSequenceSet({ kind: 'ranges', ranges }, this.uids.length)) {
      for (let s = a; s <= b; s++) out.push(this.uids.at(s - 1)!);
    }
    return out;
  }

  /**
   * UID ranges to the UIDs the view holds, ascending. RFC 9051 §9: `*` is the largest UID in
   * use, and `559:*` includes it even when 559 is larger.
   */
  uidsForUidSet(ranges: readonly SeqRange[]): number[] {
    const max = this.uids.last;
    if (max === undefined) return [];
    const out: number[] = [];
    // The intervals ascend and are disjoint: each is a run of the view from its lower bound,
    // so the cost follows the UIDs given back, not the mailbox.
    for (const [a, b] of resolveSequenceSet({ kind: 'ranges', ranges }, max)) {
      for (let i = this.uids.lowerBound(a); ; i++) {
        const u = this.uids.at(i);
        if (u === undefined || u > b) break;
        out.push(u);
      }
    }
    return out;
  }

  /** Queues a store change for this mailbox (events of other mailboxes are ignored). */
  onEvent(ev: ChangeEvent): void {
    if (ev.mailboxId !== this.mailboxId) return;
    switch (ev.kind) {
      case 'append':
        this.noteAppended(ev.uids);
        if (ev.keywords) this.noteKeywords(ev.keywords);
        break;
      case 'expunge':
        this.noteExpunged(ev.uids);
        break;
      case 'flags':
        for (const uid of ev.uids) {
          if (this.seqOf(uid) === 0 || this.pendingExpunged?.has(uid)) continue;
          if (this.pendingFlags === null) this.pendingFlags = new Map();
          this.pendingFlags.set(uid, Math.max(ev.modseq, this.pendingFlags.get(uid) ?? 0));
        }
        if (ev.keywords) this.noteKeywords(ev.keywords);
        break;
      case 'mailbox-delete':
        this.gone = true;
        break;
      case 'mailbox-rename':
        // A rename keeps the mailbox (and its UIDVALIDITY): the session stays on it.
        this.renamed = true;
        break;
      case 'mailbox-create':
        break;
    }
  }

  /** New UIDs (idempotent: an event and the command's own result may both report them). */
  noteAppended(uids: readonly number[]): void {
    for (const uid of uids) {
      if (this.seqOf(uid) !== 0) continue;
      if (this.pendingNew === null) this.pendingNew = new Set();
      this.pendingNew.add(uid);
    }
  }

  /** Expunged UIDs (idempotent). */
  noteExpunged(uids: readonly number[]): void {
    for (const uid of uids) {
      if (this.pendingNew?.delete(uid)) {
        // Never announced: nothing to say.
        if (this.pendingNew.size === 0) this.pendingNew = null;
        continue;
      }
      if (this.seqOf(uid) === 0) continue;
      if (this.pendingExpunged === null) this.pendingExpunged = new Set();
      this.pendingExpunged.add(uid);
      if (this.pendingFlags?.delete(uid) && this.pendingFlags.size === 0) this.pendingFlags = null;
    }
  }

  /** This session's own STORE already reported these flags: do not repeat them. */
  ackFlags(updates: ReadonlyArray<{ uid: number; modseq: number }>): void {
    const flags = this.pendingFlags;
    if (flags === null) return;
    for (const u of updates) {
      const pending = flags.get(u.uid);
      if (pending !== undefined && pending <= u.modseq) flags.delete(u.uid);
    }
    if (flags.size === 0) this.pendingFlags = null;
  }

  /** Notes keywords now on messages; those the client was not given are to be announced. */
  noteKeywords(keywords: readonly string[]): void {
    for (const k of keywords) {
      if (k.charCodeAt(0) === 0x5c || hasKeyword(this.keywords, k)) continue;
      if (this.newKeywords === null) this.newKeywords = [k];
      else if (!hasKeyword(this.newKeywords, k)) this.newKeywords.push(k);
    }
  }

  /** The whole keyword list when it grew since last asked (to send as FLAGS), else null. */
  takeNewKeywords(): readonly string[] | null {
    const add = this.newKeywords;
    if (add === null) return null;
    this.newKeywords = null;
    this.keywords = [...this.keywords, ...add];
    return this.keywords;
  }

  get hasPending(): boolean {
    return (
      this.newKeywords !== null ||
      this.pendingNew !== null ||
      this.pendingExpunged !== null ||
      this.pendingFlags !== null ||
      this.gone
    );
  }

  /** Applies the queued changes to the numbering and returns what to announce. */
  takeUpdates(opts: { allowExpunge: boolean }): ViewUpdates {
    const expunged = { seqs: [] as number[], uids: [] as number[] };
    const gone = this.pendingExpunged;
    if (opts.allowExpunge && gone !== null) {
      // Highest sequence number first: each EXPUNGE then leaves the numbers still to be
      // announced unchanged (RFC 9051 §7.5.1: each EXPUNGE renumbers the messages after it).
      // Each pending UID is in the view (noteExpunged): looked up, not found by a walk.
      const uids = [...gone].sort((a, b) => b - a);
      for (const uid of uids) {
        expunged.seqs.push(this.seqOf(uid));
        expunged.uids.push(uid);
      }
      this.uids = this.uids.without(gone);
      this.pendingExpunged = null;
      expunged.uids.reverse();
    }
    let exists: number | null = null;
    let added: [number, number] | null = null;
    if (this.pendingNew !== null) {
      const fresh = [...this.pendingNew].sort((a, b) => a - b);
      this.pendingNew = null;
      this.uids = this.uids.with(fresh);
      exists = this.uids.length;
      added = [fresh[0]!, fresh[fresh.length - 1]!];
    }
    const flags: Array<{ uid: number; modseq: number }> = [];
    if (this.pendingFlags !== null) {
      for (const [uid, modseq] of this.pendingFlags) {
        if (this.seqOf(uid) > 0 && !this.pendingExpunged?.has(uid)) flags.push({ uid, modseq });
      }
      this.pendingFlags = null;
    }
    flags.sort((a, b) => a.uid - b.uid);
    return { expunged, exists, flags, added };
  }
}

/** RFC 3501 §2.3.2: keywords compare case-insensitively. */
function hasKeyword(list: readonly string[], k: string): boolean {
  if (list.includes(k)) return true;
  const lower = k.toLowerCase();
  return list.some((x) => x.toLowerCase() === lower);
}
