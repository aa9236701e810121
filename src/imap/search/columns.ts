/**
 * SEARCH over a mailbox's columns (MessageStore.flagColumns) for keys that need nothing but
 * UIDs, sequence numbers, flags and modseqs (ALL, sequence and UID sets, flags and keywords,
 * \Recent, MODSEQ, and NOT / OR / AND of them): no search entry per message (issue 18 item 6,
 * SEARCH UNSEEN over a million messages). The same answers as evaluate.ts's `cheap` keys,
 * by the same rules; each flag key is decided once per distinct flag list.
 */
import type { FlagColumns } from '../../store/types.js';
import type { SearchKey } from '../wire/search-keys.js';
import { type Interval, intervalsContain, resolveSequenceSet } from '../wire/sequence.js';

export interface ColumnView {
  readonly exists: number;
  uidAt(seq: number): number | undefined;
  isRecent(uid: number): boolean;
}

type Test = (i: number, seq: number, uid: number) => boolean;

/** Whether columnSearch can answer the key. */
export function columnKey(key: SearchKey): boolean {
  switch (key.key) {
    case 'all':
    case 'seq':
    case 'uid':
    case 'flag':
    case 'modseq':
      return true;
    case 'not':
      return columnKey(key.inner);
    case 'or':
      return columnKey(key.left) && columnKey(key.right);
    case 'and':
      return key.keys.every(columnKey);
    default:
      return false;
  }
}

/**
 * The matching messages of the view (ascending UIDs, with their sequence numbers and
 * modseqs), for a key
 * columnKey accepts. `saved` is RFC 5182's `$` (UIDs), null when nothing was saved.
 */
export function columnSearch(
  key: SearchKey,
  cols: FlagColumns,
  view: ColumnView,
  saved: readonly number[] | null,
): { uids: number[]; seqs: number[]; modseqs: number[] } {
  const maxSeq = view.exists;
  const maxUid = view.uidAt(maxSeq) ?? 0;
  let savedSet: Set<number> | null = null;
  const compile = (k: SearchKey): Test => {
    switch (k.key) {
      case 'all':
        return () => true;
      case 'seq':
      case 'uid': {
        const bySeq = k.key === 'seq';
        if (k.set.kind === 'saved') {
          savedSet ??= new Set(saved ?? []);
          const s = savedSet;
          return (_i, _seq, uid) => s.has(uid);
        }
        const intervals: Interval[] = resolveSequenceSet(k.set, bySeq ? maxSeq : maxUid);
        return bySeq
          ? (_i, seq) => intervalsContain(intervals, seq)
          : (_i, _seq, uid) => intervalsContain(intervals, uid);
      }
      case 'flag': {
        // \Recent is the session's (RFC 3501 §2.3.2), not a stored flag.
        if (k.flag === '\\Recent') {
          const want = k.set;
          return (_i, _seq, uid) => view.isRecent(uid) === want;
        }
        const want = k.flag.toLowerCase();
        const set = k.set;
        // Per flag list: 0 not decided yet, 1 matches, 2 does not.
        let decided = new Uint8Array(Math.max(16, cols.lists.length));
        return (i) => {
          const id = cols.flags[i]!;
          if (id >= decided.length) {
            const grown = new Uint8Array(Math.max(id + 1, decided.length * 2));
            grown.set(decided);
            decided = grown;
          }
          let d = decided[id]!;
          if (d === 0) {
            const has = cols.lists[id]!.some((f) => f.toLowerCase() === want);
            d = has === set ? 1 : 2;
            decided[id] = d;
          }
          return d === 1;
        };
      }
      case 'modseq': {
        // RFC 7162 §3.1.5: a mod-sequence equal to or greater than the value.
        const min = k.modseq;
        return (i) => cols.modseq[i]! >= min;
      }
      case 'not': {
        const inner = compile(k.inner);
        return (i, seq, uid) => !inner(i, seq, uid);
      }
      case 'or': {
        const l = compile(k.left);
        const r = compile(k.right);
        return (i, seq, uid) => l(i, seq, uid) || r(i, seq, uid);
      }
      case 'and': {
        const all = k.keys.map(compile);
        return (i, seq, uid) => {
          for (const t of all) if (!t(i, seq, uid)) return false;
          return true;
        };
      }
      default:
        throw new Error(`not a column search key: ${k.key}`);
    }
  };
  const test = compile(key);
  const uids: number[] = [];
  const seqs: number[] = [];
  const modseqs: number[] = [];
  const { n, uid } = cols;
  // The view and the columns both ascend: a message of the view the columns no longer have
  // (expunged, not yet announced) matches nothing, as in a search over the listed rows.
  let i = 0;
  for (let seq = 1; seq <= maxSeq; seq++) {
    const u = view.uidAt(seq)!;
    while (i < n && uid[i]! < u) i++;
    if (i >= n) break;
    if (uid[i] !== u) continue;
    if (test(i, seq, u)) {
      uids.push(u);
      seqs.push(seq);
      modseqs.push(cols.modseq[i]!);
    }
  }
  return { uids, seqs, modseqs };
}
