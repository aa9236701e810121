/**
 * Live search results (RFC 5267 §4.3, CONTEXT=SEARCH and CONTEXT=SORT): a SEARCH or SORT with
 * RETURN (UPDATE) keeps its result, and the session tells the client how it changes, as
 * `* ESEARCH (TAG "t") [UID] REMOVEFROM (pos set) ADDTO (pos set)`, until CANCELUPDATE or until
 * the mailbox is no longer selected.
 *
 * The session holds one UpdateContexts only while a context exists (null otherwise: nothing
 * per session for the thousands that never ask). It records the store's change events for the
 * selected mailbox (flag changes and expunges, as UIDs) and announces at the two points of
 * ImapSession.sendUpdates:
 *
 *   announceExpunged(s)   before EXPUNGE / VANISHED: REMOVEFROM for expunged results. RFC 5267
 *                         §4.3.4: it MUST come before the expunge notification, so that its
 *                         sequence numbers are still valid; like any ESEARCH it may come at
 *                         any time, also while EXPUNGE itself must wait (RFC 9051 §7.5.1).
 *   announceChanges(s)    after EXISTS and FETCH: messages that are new to the context or
 *                         whose flags changed are evaluated against its search program (only
 *                         those messages: a STORE on a large mailbox costs one small read), and
 *                         the differences go out as REMOVEFROM / ADDTO. §4.3.3: an ADDTO of
 *                         new messages MUST follow their EXISTS.
 *
 * With RFC 5032 OLDER / YOUNGER in the program the result also changes as time passes: the
 * messages that crossed INTERNALDATE + interval are evaluated again, and a timer wakes the
 * session for the next crossing (IDLE then announces at once).
 *
 * SEARCH contexts keep UIDs ascending and use context position 0 (§4.3.3: "MAY be zero").
 * SORT contexts keep UIDs in sort order; sort keys are properties of a message that never
 * change, so a message only enters or leaves, at the position binary search finds. Positions
 * are 1-based and each (position, set) pair is valid when the client applies it, in order
 * (§4.3.2). Message numbers in the sets are sequence numbers or UIDs as the command was.
 *
 * Memory: at most MAX_UPDATE_CONTEXTS per session (beyond, `* NO [NOUPDATE "tag"]`, §4.3.1),
 * each a UID list of its result; the pending sets hold each changed UID once. Output goes
 * through the session's queue and flush, so a client that does not read is cut off as in IDLE.
 */

import { hasSorted } from '../sorted.js';
import type { ChangeEvent, MessageRecord } from '../store/types.js';
import { searchContextOf } from './commands/search-context.js';
import { sendNewFetch } from './notify/fetch-new.js';
import { esearchPrefix, orderedSetToString } from './search/esearch.js';
import { type SearchContext, type SearchMessage, searchMessages } from './search/evaluate.js';
import { type SortCriterion, sortMessages } from './search/sort.js';
import type { ImapSession } from './session.js';
import type { Selected } from './state.js';
import type { MailboxView } from './view.js';
import type { FetchAtt } from './wire/fetch-items.js';
import type { SearchKey } from './wire/search-keys.js';
import {
  normalizeRange,
  numbersToIntervals,
  type SeqNumber,
  type SeqRange,
} from './wire/sequence.js';
import { sequenceSetToString } from './wire/serializer.js';

/** Entering a SORT context at once past this many, the result is sorted again in one go. */
const BULK_INSERT = 32;

/** RFC 5267 §4.3.1: at least one per client; more SHOULD be offered. */
export const MAX_UPDATE_CONTEXTS = 8;

export interface NewContext {
  tag: string;
  uid: boolean;
  /** The search program, frozen with freezeKey when the command was received. */
  key: SearchKey;
  /** null for SEARCH; the criteria for SORT. */
  sort: readonly SortCriterion[] | null;
  /** The result sent to the client, as UIDs in the requested order. */
  result: number[];
  /** The largest UID the search looked at: larger ones are new to the context. */
  seenUid: number;
  /** RFC 5465 §7: UPDATE (fetch-att ...), a FETCH before the ADDTO of a new message. */
  fetch?: readonly FetchAtt[];
  /** The time the result is true for, as far as WITHIN keys go (when the search started). */
  agedTo?: number;
}

interface Context extends NewContext {
  /** Membership, for SORT contexts (their list is not ascending): the UIDs ascending. */
  members: number[] | null;
  /** RFC 5032 intervals (ms) of the program's OLDER / YOUNGER keys: the result ages. */
  ages: number[];
  agedTo: number;
}

/** Aging is checked at most this often: messages crossing a WITHIN boundary together. */
const AGING_STEP_MS = 1000;
/** Longest wait of the aging timer (a far boundary is waited for in steps). */
const AGING_MAX_WAIT_MS = 6 * 3600 * 1000;

type Pair = [position: number, uids: number[]];

export class UpdateContexts {
  private readonly list: Context[] = [];
  private readonly flagged = new Set<number>();
  private readonly expunged = new Set<number>();
  /** When the next message crosses a WITHIN boundary of a context (0: to be computed). */
  private nextAge = Number.POSITIVE_INFINITY;
  private timer: NodeJS.Timeout | undefined;

  private constructor(readonly selected: Selected) {}

  /**
   * The session's contexts for the selected mailbox, created (and recording changes from now
   * on) when needed. Contexts of a mailbox no longer selected are dropped (RFC 5267 §4.3).
   */
  static of(s: ImapSession, create: boolean): UpdateContexts | null {
    const sel = s.selected;
    if (s.contexts && s.contexts.selected !== sel) {
      s.contexts.dispose();
      s.contexts = null;
    }
    if (!s.contexts && create && sel) s.contexts = new UpdateContexts(sel);
    return s.contexts;
  }

  get size(): number {
    return this.list.length;
  }

  /** Changed UIDs waiting to be announced: each at most once, whatever the number of events. */
  get pending(): number {
    return this.flagged.size + this.expunged.size;
  }

  has(tag: string): boolean {
    return this.list.some((c) => c.tag === tag);
  }

  add(c: NewContext): void {
    const ages = withinIntervals(c.key);
    this.list.push({
      ...c,
      members: c.sort ? [...c.result].sort((a, b) => a - b) : null,
      ages,
      agedTo: c.agedTo ?? Date.now(),
    });
    if (ages.length > 0) this.nextAge = 0; // computed at the next announcement
  }

  /** RFC 5267 §4.3.5 CANCELUPDATE: false when no context has this tag. */
  cancel(tag: string): boolean {
    const i = this.list.findIndex((c) => c.tag === tag);
    if (i < 0) return false;
    this.list.splice(i, 1);
    return true;
  }

  /** Drops the object when no context is left (the session then costs nothing again). */
  releaseIfEmpty(s: ImapSession): void {
    if (this.list.length > 0 || s.contexts !== this) return;
    this.dispose();
    s.contexts = null;
  }

  /** Stops the aging timer (the contexts are being dropped). */
  dispose(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
  }

  /** A store change of the selected mailbox (called by the session for each event). */
  onEvent(ev: ChangeEvent): void {
    if (ev.mailboxId !== this.selected.mailbox.id) return;
    if (ev.kind === 'flags') {
      for (const uid of ev.uids) this.flagged.add(uid);
    } else if (ev.kind === 'expunge') {
      for (const uid of ev.uids) {
        this.expunged.add(uid);
        this.flagged.delete(uid);
      }
    }
  }

  /** REMOVEFROM for expunged results, in the numbering the client still has. */
  announceExpunged(s: ImapSession): void {
    if (this.expunged.size === 0) return;
    for (const c of this.list) {
      const gone = c.sort
        ? c.result.filter((u) => this.expunged.has(u))
        : [...this.expunged].filter((u) => hasSorted(c.result, u));
      if (gone.length > 0) this.send(s, c, this.remove(c, gone), []);
    }
    this.expunged.clear();
  }

  /**
   * ADDTO / REMOVEFROM for new messages, changed flags, and (RFC 5032 OLDER / YOUNGER) messages
   * that crossed a time boundary of the program since it was last looked at.
   */
  async announceChanges(s: ImapSession): Promise<void> {
    const view = this.selected.view;
    const last = view.uidAt(view.exists) ?? 0;
    const now = Date.now();
    const aging = now >= this.nextAge;
    if (!aging && this.flagged.size === 0 && this.list.every((c) => c.seenUid >= last)) return;
    const changed = [...this.flagged].filter((u) => view.isLive(u));
    this.flagged.clear();
    // New to some context: UIDs above the lowest watermark, found from the end of the view.
    const low = Math.min(...this.list.map((c) => c.seenUid));
    const fresh: number[] = [];
    for (let seq = view.exists; seq > 0; seq--) {
      const uid = view.uidAt(seq)!;
      if (uid <= low) break;
      if (view.isLive(uid)) fresh.push(uid);
    }
    const aged = aging ? await this.aged(s, now) : null;
    if (s.selected !== this.selected) return;
    const agedUids = aged ? [...aged.values()].flatMap((set) => [...set]) : [];
    const candidates = [...new Set([...changed, ...fresh, ...agedUids])]
      .filter((u) => view.isLive(u))
      .sort((a, b) => a - b);
    if (candidates.length === 0) {
      for (const c of this.list) c.seenUid = Math.max(c.seenUid, last);
      return;
    }
    const records = await s.ctx.store.getRecords(this.selected.mailbox.id, candidates);
    // The session may have left the mailbox while the store answered.
    if (s.selected !== this.selected) return;
    const wasChanged = new Set(changed);
    for (const c of [...this.list]) {
      const old = aged?.get(c);
      const mine = records.filter(
        (r) => wasChanged.has(r.uid) || r.uid > c.seenUid || old?.has(r.uid) === true,
      );
      const seenBefore = c.seenUid;
      c.seenUid = Math.max(c.seenUid, last);
      if (mine.length > 0) await this.update(s, c, mine, seenBefore);
    }
  }

  /**
   * For each context with OLDER / YOUNGER keys, the messages that crossed one of its
   * boundaries (INTERNALDATE + interval) since it was last aged; then the timer is set for
   * the next crossing, to wake the session (an IDLE announces at once; otherwise the next
   * command does, or NOTIFY's push).
   */
  private async aged(s: ImapSession, now: number): Promise<Map<Context, Set<number>>> {
    const out = new Map<Context, Set<number>>();
    const aging = this.list.filter((c) => c.ages.length > 0);
    let next = Number.POSITIVE_INFINITY;
    if (aging.length > 0) {
      const rows = await s.ctx.store.listMessages(this.selected.mailbox.id);
      for (const c of aging) {
        const crossed = new Set<number>();
        for (const r of rows) {
          const t = r.internalDate.getTime();
          for (const ms of c.ages) {
            // RFC 5032: YOUNGER n holds while now <= INTERNALDATE + n (OLDER n is its opposite).
            const at = t + ms;
            if (at >= c.agedTo && at < now) crossed.add(r.uid);
            else if (at >= now) next = Math.min(next, at);
          }
        }
        c.agedTo = now;
        out.set(c, crossed);
      }
    }
    this.nextAge = next;
    this.dispose();
    if (next !== Number.POSITIVE_INFINITY) {
      const wait = Math.min(AGING_MAX_WAIT_MS, Math.max(AGING_STEP_MS, next - now + 1));
      this.timer = s.conn.guard.setTimeout(() => {
        this.timer = undefined;
        if (s.contexts === this) s.wake();
      }, wait);
      this.timer.unref();
    }
    return out;
  }

  private async update(
    s: ImapSession,
    c: Context,
    records: MessageRecord[],
    seenBefore: number,
  ): Promise<void> {
    const ctx = searchContextOf(s, records);
    const matched = new Set(await searchMessages(c.key, ctx));
    const isMember = (u: number) => hasSorted(c.members ?? c.result, u);
    const leaving = ctx.messages.filter((m) => isMember(m.uid) && !matched.has(m.uid));
    const entering = ctx.messages.filter((m) => !isMember(m.uid) && matched.has(m.uid));
    if (leaving.length === 0 && entering.length === 0) return;
    const removed = this.remove(
      c,
      leaving.map((m) => m.uid),
    );
    const added = c.sort
      ? await this.insertSorted(c, c.sort, ctx, entering)
      : this.insert(c, entering);
    // RFC 5465 §7: the FETCH comes before the ESEARCH, and only for messages new to the
    // mailbox (one entering because its flags changed SHOULD NOT get one).
    const fresh = entering.filter((m) => m.uid > seenBefore).map((m) => m.uid);
    if (c.fetch && c.fetch.length > 0 && fresh.length > 0) {
      await sendNewFetch(
        s,
        this.selected.view,
        fresh.sort((a, b) => a - b),
        c.fetch,
      );
    }
    this.send(s, c, removed, added);
  }

  /** Removes uids from the result; the REMOVEFROM pairs (§4.3.4), in the order to apply. */
  private remove(c: Context, uids: readonly number[]): Pair[] {
    const gone = new Set(uids);
    if (!c.sort) {
      c.result = c.result.filter((u) => !gone.has(u));
      return [[0, [...gone].sort((a, b) => a - b)]];
    }
    // Runs of adjacent positions, first to last; each position is where the run starts once
    // the runs before it are gone.
    const pairs: Pair[] = [];
    let removedSoFar = 0;
    for (let i = 0; i < c.result.length; i++) {
      if (!gone.has(c.result[i]!)) continue;
      const run: number[] = [];
      const pos = i + 1 - removedSoFar;
      while (i < c.result.length && gone.has(c.result[i]!)) run.push(c.result[i++]!);
      removedSoFar += run.length;
      pairs.push([pos, run]);
    }
    c.result = c.result.filter((u) => !gone.has(u));
    if (c.members) c.members = c.members.filter((u) => !gone.has(u));
    return pairs;
  }

  private insert(c: Context, entering: readonly SearchMessage[]): Pair[] {
    if (entering.length === 0) return [];
    const add = entering.map((m) => m.uid).sort((a, b) => a - b);
    c.result = mergeAscending(c.result, add);
    return [[0, add]];
  }

  /**
   * Inserts in sort order: the entering messages sorted among themselves, then each placed by
   * binary search (comparing with O(log n) members, read as visited), so that each position
   * is final when the client applies it.
   */
  private async insertSorted(
    c: Context,
    criteria: readonly SortCriterion[],
    ctx: SearchContext,
    entering: readonly SearchMessage[],
  ): Promise<Pair[]> {
    if (entering.length === 0) return [];
    if (entering.length > BULK_INSERT) return this.resort(c, criteria, ctx, entering);
    const ordered = await sortMessages(
      criteria,
      withSeqByUid(ctx, [...entering]),
      entering.map((m) => m.uid),
    );
    const rows = new Map(entering.map((m) => [m.uid, m]));
    const row = async (uid: number): Promise<SearchMessage | undefined> => {
      let m = rows.get(uid);
      if (!m) {
        const [r] = await ctx.store.getRecords(ctx.mailboxId, [uid]);
        if (!r) return undefined;
        m = {
          seq: uid,
          uid,
          flags: r.flags,
          modseq: r.modseq,
          size: r.size,
          internalDate: r.internalDate,
        };
        rows.set(uid, m);
      }
      return m;
    };
    const pairs: Pair[] = [];
    let lo = 0;
    for (const uid of ordered) {
      const m = rows.get(uid)!;
      let hi = c.result.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        const other = await row(c.result[mid]!);
        // A member gone from the store meanwhile compares as "before": its expunge follows.
        if (!other || (await sortsBefore(criteria, ctx, other, m))) lo = mid + 1;
        else hi = mid;
      }
      c.result.splice(lo, 0, uid);
      const prev = pairs[pairs.length - 1];
      if (prev && prev[0] + prev[1].length === lo + 1) prev[1].push(uid);
      else pairs.push([lo + 1, [uid]]);
      lo++;
    }
    c.members = mergeAscending(
      c.members ?? [],
      [...ordered].sort((a, b) => a - b),
    );
    return pairs;
  }

  /**
   * Many at once (a STORE over the whole mailbox): one sort of members and newcomers together
   * instead of a binary search each; positions are read off the new order.
   */
  private async resort(
    c: Context,
    criteria: readonly SortCriterion[],
    ctx: SearchContext,
    entering: readonly SearchMessage[],
  ): Promise<Pair[]> {
    const members = await ctx.store.getRecords(ctx.mailboxId, c.result);
    const all = [
      ...entering,
      ...members.map((r) => ({
        seq: r.uid,
        uid: r.uid,
        flags: r.flags,
        modseq: r.modseq,
        size: r.size,
        internalDate: r.internalDate,
      })),
    ];
    const sorted = await sortMessages(
      criteria,
      withSeqByUid(ctx, all),
      all.map((m) => m.uid),
    );
    const fresh = new Set(entering.map((m) => m.uid));
    // A member gone from the store meanwhile keeps its place after the members that were
    // before it (the client still has it; its REMOVEFROM follows with the expunge).
    const known = new Set(members.map((r) => r.uid));
    const lostAfter = new Map<number, number[]>();
    let k = 0;
    for (const u of c.result) {
      if (known.has(u)) k++;
      else lostAfter.set(k, [...(lostAfter.get(k) ?? []), u]);
    }
    const order: number[] = [...(lostAfter.get(0) ?? [])];
    let seen = 0;
    for (const u of sorted) {
      order.push(u);
      if (!fresh.has(u)) order.push(...(lostAfter.get(++seen) ?? []));
    }
    const pairs: Pair[] = [];
    order.forEach((uid, i) => {
      if (!fresh.has(uid)) return;
      const prev = pairs[pairs.length - 1];
      if (prev && prev[0] + prev[1].length === i + 1) prev[1].push(uid);
      else pairs.push([i + 1, [uid]]);
    });
    c.result = order;
    c.members = mergeAscending(
      c.members ?? [],
      [...fresh].sort((a, b) => a - b),
    );
    return pairs;
  }

  /** One ESEARCH line with the REMOVEFROM and ADDTO pairs, in the client's numbering. */
  private send(s: ImapSession, c: Context, removed: Pair[], added: Pair[]): void {
    const view = this.selected.view;
    const num = (uids: number[]) => (c.uid ? uids : uids.map((u) => view.seqOf(u)));
    const fmt = (pairs: Pair[]) =>
      pairs
        .filter(([, uids]) => uids.length > 0)
        .map(([pos, uids]) => {
          const n = num(uids);
          return `${pos} ${pos === 0 ? sequenceSetToString(n) : orderedSetToString(n)}`;
        })
        .join(' ');
    let text = esearchPrefix(c.tag, c.uid);
    const r = fmt(removed);
    const a = fmt(added);
    if (r) text += ` REMOVEFROM (${r})`;
    if (a) text += ` ADDTO (${a})`;
    if (r || a) s.untagged(text);
  }
}

/** The intervals (ms) of the RFC 5032 OLDER / YOUNGER keys in a program. */
function withinIntervals(key: SearchKey, out: number[] = []): number[] {
  switch (key.key) {
    case 'within':
      if (!out.includes(key.seconds * 1000)) out.push(key.seconds * 1000);
      break;
    case 'not':
      withinIntervals(key.inner, out);
      break;
    case 'or':
      withinIntervals(key.left, out);
      withinIntervals(key.right, out);
      break;
    case 'and':
      for (const k of key.keys) withinIntervals(k, out);
      break;
  }
  return out;
}

/** Two ascending lists merged into one. */
function mergeAscending(list: readonly number[], add: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  for (const u of add) {
    while (i < list.length && list[i]! < u) out.push(list[i++]!);
    out.push(u);
  }
  while (i < list.length) out.push(list[i++]!);
  return out;
}

/**
 * A SearchContext over the given messages with their sequence number set from the UID: SORT
 * breaks ties by mailbox order, and UID order is that order, also for messages the view has
 * not numbered.
 */
function withSeqByUid(ctx: SearchContext, messages: SearchMessage[]): SearchContext {
  return { ...ctx, messages: messages.map((m) => ({ ...m, seq: m.uid })) };
}

/** Whether a sorts before b (RFC 5256 §3, with ties in mailbox order). */
async function sortsBefore(
  criteria: readonly SortCriterion[],
  ctx: SearchContext,
  a: SearchMessage,
  b: SearchMessage,
): Promise<boolean> {
  const order = await sortMessages(criteria, withSeqByUid(ctx, [a, b]), [a.uid, b.uid]);
  return order[0] === a.uid;
}

/**
 * RFC 5267 §4.3 (with the RFC 3501 errata it cites): message sequence numbers in the search
 * program are evaluated when the command is received, and `$` is the saved result of that
 * moment; both become fixed UID sets so that later renumbering does not change the program.
 * In a UID set, `*` (the largest UID in use) is also taken when the command is received, as
 * Dovecot does: `UID 3:*` keeps meaning 3 up to the last UID of then. Other UID ranges stay.
 */
export function freezeKey(key: SearchKey, view: MailboxView, saved: readonly number[]): SearchKey {
  switch (key.key) {
    case 'seq':
      return {
        key: 'uid',
        set: uidRanges(
          key.set.kind === 'saved'
            ? saved.filter((u) => view.isLive(u))
            : view.uidsForSeqSet(key.set.ranges),
        ),
      };
    case 'uid': {
      if (key.set.kind === 'saved') {
        return { key: 'uid', set: uidRanges(saved.filter((u) => view.isLive(u))) };
      }
      if (!key.set.ranges.some(([a, b]) => a === '*' || b === '*')) return key;
      const star = Math.max(1, view.uidAt(view.exists) ?? 0);
      const fix = (n: SeqNumber): number => (n === '*' ? star : n);
      return {
        key: 'uid',
        set: {
          kind: 'ranges',
          ranges: key.set.ranges.map(([a, b]) => normalizeRange(fix(a), fix(b))),
        },
      };
    }
    case 'not':
      return { key: 'not', inner: freezeKey(key.inner, view, saved) };
    case 'or':
      return {
        key: 'or',
        left: freezeKey(key.left, view, saved),
        right: freezeKey(key.right, view, saved),
      };
    case 'and':
      return { key: 'and', keys: key.keys.map((k) => freezeKey(k, view, saved)) };
    default:
      return key;
  }
}

function uidRanges(uids: readonly number[]): { kind: 'ranges'; ranges: SeqRange[] } {
  return { kind: 'ranges', ranges: numbersToIntervals(uids).map(([a, b]) => [a, b] as const) };
}
