// The SearchContext that search/evaluate.ts works on, built from the session's view and the
// store (shared by SEARCH, SORT and THREAD, and by the RFC 5267 update contexts, which
// evaluate only the messages that changed).
import type { MessageDetail, MessageRecord } from '../../store/types.js';
import type { SearchContext, SearchMessage } from '../search/evaluate.js';
import type { ImapSession } from '../session.js';
import { requireSelected } from './util.js';

const DETAIL_BATCH = 500;

export async function searchContext(s: ImapSession): Promise<SearchContext> {
  const sel = requireSelected(s);
  return searchContextOf(s, await s.ctx.store.listMessages(sel.mailbox.id));
}

/**
 * A SearchContext over the mailbox's messages among `uids` (the full-text hits of a BODY every
 * match needs, `needle`): their rows only, read by UID, when they are a small part of the
 * mailbox; the hits go into the context so the search does not ask for them again.
 */
export async function searchContextAmong(
  s: ImapSession,
  needle: string,
  uids: Set<number>,
): Promise<SearchContext> {
  const sel = requireSelected(s);
  const wanted = [...uids].sort((a, b) => a - b);
  const records =
    wanted.length * 4 > sel.view.exists
      ? await s.ctx.store.listMessages(sel.mailbox.id)
      : await s.ctx.store.getRecords(sel.mailbox.id, wanted);
  const ctx = searchContextOf(s, records);
  ctx.bodyHits = new Map([[needle, uids]]);
  return ctx;
}

/** A SearchContext over the given messages (those the view does not hold are left out). */
export function searchContextOf(s: ImapSession, records: readonly MessageRecord[]): SearchContext {
  const sel = requireSelected(s);
  const store = s.ctx.store;
  const view = sel.view;
  const messages: SearchMessage[] = [];
  // The store lists its rows ascending by UID, as the view numbers them: walk both at once
  // (a binary search per row was 20 steps each in a mailbox of a million).
  let ascending = true;
  let seqAt = 1;
  let last = 0;
  for (const r of records) {
    let seq: number;
    if (ascending && r.uid > last) {
      last = r.uid;
      while (seqAt <= view.exists && view.uidAt(seqAt)! < r.uid) seqAt++;
      seq = seqAt <= view.exists && view.uidAt(seqAt) === r.uid ? seqAt : 0;
    } else {
      ascending = false;
      seq = view.seqOf(r.uid);
    }
    if (seq === 0) continue; // delivered but not yet announced: not in this session's view
    messages.push({
      seq,
      uid: r.uid,
      flags: r.flags,
      modseq: r.modseq,
      size: r.size,
      internalDate: r.internalDate,
      internalZone: r.internalZone,
    });
  }
  if (!ascending) messages.sort((a, b) => a.seq - b.seq);
  return {
    mailboxId: sel.mailbox.id,
    messages,
    store,
    async details(uids) {
      const out = new Map<number, MessageDetail>();
      for (let i = 0; i < uids.length; i += DETAIL_BATCH) {
        for (const d of await store.getMessages(sel.mailbox.id, uids.slice(i, i + DETAIL_BATCH)))
          out.set(d.uid, d);
      }
      return out;
    },
    field: (name, uids) => store.getSearchField(sel.mailbox.id, name, uids),
    saved: s.savedSearch,
    maxSeq: view.exists,
    maxUid: view.uidAt(view.exists) ?? 0,
    // RFC 3501 §2.3.2: the session's \Recent messages (never any under IMAP4rev2).
    recent: { has: (uid) => view.isRecent(uid) },
  };
}
