/**
 * The FETCH that follows a new message when the client asked for attributes in advance: RFC
 * 5465 §5.2 (NOTIFY MessageNew (fetch-att ...)) and §7 (SEARCH / SORT RETURN (UPDATE
 * (fetch-att ...)), before the ESEARCH ADDTO). The UID is always there, so that the client can
 * tell which message it is. The attributes are served as if .PEEK: a notification does not
 * change flags (§5.2: clients SHOULD NOT ask for ones that set \Seen).
 */
import { type FetchMessage, renderFetch } from '../fetch/render.js';
import type { ImapSession } from '../session.js';
import type { MailboxView } from '../view.js';
import type { FetchAtt } from '../wire/fetch-items.js';
import { serialize, v } from '../wire/serializer.js';

const BATCH = 200;

/** `* seq FETCH (UID n ...)` for each of `uids` (ascending) the view numbers. */
export async function sendNewFetch(
  s: ImapSession,
  view: MailboxView,
  uids: readonly number[],
  items: readonly FetchAtt[],
): Promise<void> {
  const store = s.ctx.store;
  const mailboxId = view.mailboxId;
  const opts = { utf8: s.enabled.utf8, condstore: s.enabled.condstore, uidAlways: true };
  for (let i = 0; i < uids.length; i += BATCH) {
    const records = await store.getRecords(mailboxId, uids.slice(i, i + BATCH));
    for (const r of records) {
      const seq = view.seqOf(r.uid);
      if (seq === 0) continue;
      const msg: FetchMessage = {
        seq,
        uid: r.uid,
        flags: view.withRecent(r.uid, r.flags), // RFC 3501 §2.3.2: the session's \Recent
        modseq: r.modseq,
        size: r.size,
        internalDate: r.internalDate,
        internalZone: r.internalZone,
        detail: async () => {
          const [d] = await store.getMessages(mailboxId, [r.uid]);
          if (!d) throw new Error('expunged');
          return d;
        },
        raw: () => store.readMessage(r.blobHash, r.size),
        extras: async () => {
          const e = (await store.getMessageExtras(mailboxId, [r.uid])).get(r.uid);
          if (!e) throw new Error('expunged');
          return e;
        },
        cachePreview: (text) => void store.setPreview(r.messageId, text).catch(() => {}),
      };
      let out: Awaited<ReturnType<typeof renderFetch>>;
      try {
        out = await renderFetch(items, msg, opts);
      } catch {
        continue; // expunged meanwhile: its EXPUNGE follows
      }
      if (out.error) continue;
      s.untagged(
        Buffer.concat([Buffer.from(`${seq} FETCH `), serialize(v.list(out.values), s.writeOpts)]),
      );
      await s.maybeFlush();
    }
  }
}
