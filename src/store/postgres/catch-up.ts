// What a node missed while its LISTEN connection was down (events.ts), read back for the
// mailboxes its sessions hold: rows changed and UIDs expunged after the modseq each was known
// up to, and mailboxes deleted meanwhile, as the events that would have been heard. Three
// queries for all held mailboxes together.
import type { ChangeEvent } from '../types.js';
import { type Queryable, rows } from './db.js';
import type { HeldMailbox } from './events.js';

export async function missedEvents(
  q: Queryable,
  held: ReadonlyMap<number, HeldMailbox>,
): Promise<ChangeEvent[]> {
  const ids = [...held.keys()];
  const since = ids.map((id) => held.get(id)!.modseq);
  const present = new Set(
    (await rows<{ id: number }>(q, 'SELECT id FROM mailboxes WHERE id = ANY($1)', [ids])).map(
      (r) => r.id,
    ),
  );
  const changed = await rows<{ mailbox_id: number; uid: number; modseq: number; flags: string[] }>(
    q,
    `SELECT mm.mailbox_id, mm.uid, mm.modseq, mm.flags
     FROM unnest($1::bigint[], $2::bigint[]) AS h(id, since)
     JOIN mailbox_messages mm ON mm.mailbox_id = h.id AND mm.modseq > h.since
     ORDER BY mm.mailbox_id, mm.uid`,
    [ids, since],
  );
  const expunged = await rows<{ mailbox_id: number; uid: number; modseq: number }>(
    q,
    `SELECT e.mailbox_id, e.uid, e.modseq
     FROM unnest($1::bigint[], $2::bigint[]) AS h(id, since)
     JOIN expunged e ON e.mailbox_id = h.id AND e.modseq > h.since
     ORDER BY e.mailbox_id, e.uid`,
    [ids, since],
  );
  const out: ChangeEvent[] = [];
  for (const [mailboxId, h] of held) {
    const base = { accountId: h.accountId, mailboxId };
    if (!present.has(mailboxId)) {
      out.push({ ...base, modseq: 0, kind: 'mailbox-delete', uids: [] });
      continue;
    }
    const gone = expunged.filter((r) => r.mailbox_id === mailboxId);
    if (gone.length > 0) {
      const modseq = Math.max(...gone.map((r) => r.modseq));
      out.push({ ...base, modseq, kind: 'expunge', uids: gone.map((r) => r.uid) });
    }
    const rs = changed.filter((r) => r.mailbox_id === mailboxId);
    if (rs.length === 0) continue;
    const keywords = [...new Set(rs.flatMap((r) => r.flags.filter((f) => !f.startsWith('\\'))))];
    const kw = keywords.length > 0 ? { keywords } : {};
    // New rows (a view ignores those it has), then flags, one event per modseq, ascending.
    const top = Math.max(...rs.map((r) => r.modseq));
    out.push({ ...base, modseq: top, kind: 'append', uids: rs.map((r) => r.uid), ...kw });
    const byModseq = new Map<number, number[]>();
    for (const r of rs) {
      const list = byModseq.get(r.modseq);
      if (list) list.push(r.uid);
      else byModseq.set(r.modseq, [r.uid]);
    }
    for (const modseq of [...byModseq.keys()].sort((a, b) => a - b)) {
      out.push({ ...base, modseq, kind: 'flags', uids: byModseq.get(modseq)!, ...kw });
    }
  }
  return out;
}
