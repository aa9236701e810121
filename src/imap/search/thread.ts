/**
 * THREAD (RFC 5256 §3 command, §2.2 ORDEREDSUBJECT, §2.2 REFERENCES algorithm, §4 response).
 *
 *   parseThreadArgs(c)                 ` algorithm charset search-keys`
 *   threadMessages(algorithm, ctx, uids) -> ThreadNode[] (uid null: a dummy parent)
 *   threadResponse(threads, toNumber?) `THREAD (2)(3 6 (4 23)(44 7 96))`; toNumber maps a UID
 *                                      to the number to print (sequence number for THREAD)
 *
 * References come from the stored index when it has them (index.search.references), else
 * from the References / In-Reply-To fields of the blob's header block.
 */
import { parseHeaders } from '../../mime/headers.js';
import type { PartNode } from '../../mime/types.js';
import type { MessageDetail } from '../../store/types.js';
import type { ArgCursor } from '../wire/parser.js';
import { parseCharset, parseSearchKeys, type SearchKey } from '../wire/search-keys.js';
import type { SearchContext } from './evaluate.js';
import { asciiCasemap, baseSubject, sentDate } from './sort.js';

export type ThreadAlgorithm = 'ORDEREDSUBJECT' | 'REFERENCES';
export const THREAD_ALGORITHMS: readonly ThreadAlgorithm[] = ['ORDEREDSUBJECT', 'REFERENCES'];

export interface ThreadNode {
  uid: number | null;
  children: ThreadNode[];
}

export function parseThreadArgs(c: ArgCursor): {
  algorithm: ThreadAlgorithm;
  charset: string;
  key: SearchKey;
} {
  c.space();
  const algorithm = c.word();
  if (!THREAD_ALGORITHMS.includes(algorithm as ThreadAlgorithm))
    c.fail(`Unknown threading algorithm ${algorithm}`);
  c.space();
  const charset = parseCharset(c);
  c.space();
  const key = parseSearchKeys(c);
  c.end();
  return { algorithm: algorithm as ThreadAlgorithm, charset, key };
}

/** What threading needs of one message. */
export interface ThreadInput {
  uid: number;
  seq: number;
  /** Sent date (Date header, else INTERNALDATE), epoch ms. */
  date: number;
  subject: string;
  messageId: string | null;
  /** References, or In-Reply-To's first id when there are none (RFC 5256 §2.2 step 1). */
  references: string[];
}

const MSG_ID = /<[^<>\s]+>/g;

async function inputs(ctx: SearchContext, uids: readonly number[], refs: boolean) {
  const wanted = new Set(uids);
  const msgs = ctx.messages.filter((m) => wanted.has(m.uid));
  const details = await ctx.details(msgs.map((m) => m.uid));
  const out: ThreadInput[] = [];
  for (const m of msgs) {
    const d = details.get(m.uid);
    out.push({
      uid: m.uid,
      seq: m.seq,
      date: sentDate(m, d),
      subject: d?.index.search.subject ?? '',
      messageId: d?.index.search.messageId || null,
      references: refs && d ? await references(ctx, d) : [],
    });
  }
  return out;
}

async function references(ctx: SearchContext, d: MessageDetail): Promise<string[]> {
  const stored = (d.index.search as { references?: unknown }).references;
  let refs: string[];
  let inReplyTo: string;
  if (Array.isArray(stored)) {
    refs = stored.filter((x): x is string => typeof x === 'string');
    inReplyTo = (d.index.envelope as { inReplyTo?: string | null }).inReplyTo ?? '';
  } else {
    const root = d.index.structure as PartNode;
    const raw = await ctx.store.readMessage(d.blobHash, d.size);
    const fields = parseHeaders(raw.subarray(root.headerStart, root.headerEnd));
    const value = (name: string) =>
      fields
        .filter((f) => f.lname === name)
        .map((f) => f.value)
        .join(' ');
    refs = value('references').match(MSG_ID) ?? [];
    inReplyTo = value('in-reply-to');
  }
  if (refs.length > 0) return refs;
  const first = inReplyTo.match(MSG_ID);
  return first ? [first[0]] : [];
}

export async function threadMessages(
  algorithm: ThreadAlgorithm,
  ctx: SearchContext,
  uids: readonly number[],
): Promise<ThreadNode[]> {
  const msgs = await inputs(ctx, uids, algorithm === 'REFERENCES');
  return algorithm === 'REFERENCES' ? threadReferences(msgs) : threadOrderedSubject(msgs);
}

const byDate = (a: ThreadInput, b: ThreadInput) => a.date - b.date || a.seq - b.seq;
const subjectKey = (m: ThreadInput) => asciiCasemap(baseSubject(m.subject).base);

/**
 * ORDEREDSUBJECT: messages grouped by base subject; in each group the earliest is the parent
 * and all others its children (siblings of each other), by sent date; threads ordered by the
 * date of their first message.
 */
export function threadOrderedSubject(msgs: ThreadInput[]): ThreadNode[] {
  const groups = new Map<string, ThreadInput[]>();
  for (const m of [...msgs].sort(byDate)) {
    const k = subjectKey(m);
    const g = groups.get(k);
    if (g) g.push(m);
    else groups.set(k, [m]);
  }
  // Map keeps insertion order, which is the date order of each group's first message.
  return [...groups.values()].map(([first, ...rest]) => ({
    uid: first.uid,
    children: rest.map((m) => ({ uid: m.uid, children: [] })),
  }));
}

interface Container {
  msg: ThreadInput | null;
  parent: Container | null;
  children: Container[];
}

function isAncestor(a: Container, b: Container): boolean {
  for (let c: Container | null = b; c; c = c.parent) if (c === a) return true;
  return false;
}

function unlink(c: Container): void {
  if (!c.parent) return;
  const siblings = c.parent.children;
  siblings.splice(siblings.indexOf(c), 1);
  c.parent = null;
}

function link(parent: Container, child: Container): void {
  child.parent = parent;
  parent.children.push(child);
}

/** The message that stands for a container: itself, or a dummy's first child. */
function rep(c: Container): ThreadInput | null {
  return c.msg ?? (c.children[0] ? rep(c.children[0]) : null);
}

function sortSiblings(list: Container[]): void {
  for (const c of list) sortSiblings(c.children);
  list.sort((a, b) => {
    const x = rep(a);
    const y = rep(b);
    return x && y ? byDate(x, y) : 0;
  });
}

/** RFC 5256 §2.2 step (4): remove dummies, promoting their children. */
function prune(list: Container[], atRoot: boolean): Container[] {
  const out: Container[] = [];
  for (const c of list) {
    c.children = prune(c.children, false);
    for (const k of c.children) k.parent = c;
    if (c.msg === null && c.children.length === 0) continue;
    if (c.msg === null && (!atRoot || c.children.length === 1)) {
      for (const k of c.children) k.parent = atRoot ? null : c.parent;
      out.push(...c.children);
      continue;
    }
    out.push(c);
  }
  return out;
}

export function threadReferences(msgs: ThreadInput[]): ThreadNode[] {
  // (1) The id table; a missing or duplicate Message-ID gets a unique one.
  const table = new Map<string, Container>();
  const get = (id: string): Container => {
    let c = table.get(id);
    if (!c) {
      c = { msg: null, parent: null, children: [] };
      table.set(id, c);
    }
    return c;
  };
  for (const m of msgs) {
    const id = m.messageId?.match(MSG_ID)?.[0];
    let c = id ? get(id) : null;
    if (!c || c.msg !== null) {
      c = { msg: null, parent: null, children: [] };
      table.set(`\0${m.uid}`, c);
    }
    c.msg = m;
    // (1A) link the references in order, never changing an existing parent or making a loop.
    const refs = m.references.map(get);
    for (let i = 1; i < refs.length; i++) {
      const [p, k] = [refs[i - 1], refs[i]];
      if (k.parent === null && !isAncestor(k, p)) link(p, k);
    }
    // (1B) the last reference becomes the parent (replacing a parent set by a truncated
    // References line elsewhere), unless that would make a loop.
    const last = refs[refs.length - 1];
    if (!last) unlink(c);
    else if (!isAncestor(c, last)) {
      unlink(c);
      link(last, c);
    }
  }
  // (2) the root set; (3) the id table is no longer needed; (4) prune dummies.
  let roots = prune(
    [...table.values()].filter((c) => c.parent === null),
    true,
  );
  for (const r of roots) sortSiblings(r.children);
  // (5) gather roots with the same base subject.
  const subjects = new Map<string, Container>();
  const threadSubject = (c: Container) => {
    const m = rep(c);
    return m ? subjectKey(m) : '';
  };
  const isReply = (c: Container) => (c.msg ? baseSubject(c.msg.subject).replyOrForward : false);
  for (const c of roots) {
    const s = threadSubject(c);
    if (s === '') continue;
    const old = subjects.get(s);
    if (!old) subjects.set(s, c);
    else if (old.msg !== null && (c.msg === null || (isReply(old) && !isReply(c))))
      subjects.set(s, c);
  }
  const next: Container[] = [...roots];
  for (const c of roots) {
    const s = threadSubject(c);
    if (s === '') continue;
    const t = subjects.get(s) as Container;
    // Already merged under another root (it was the table's entry, then replaced).
    if (t === c || c.parent !== null) continue;
    next.splice(next.indexOf(c), 1);
    if (t.msg === null && c.msg === null) {
      for (const k of c.children) link(t, k);
      c.children = [];
    } else if (t.msg === null) {
      link(t, c);
    } else if (isReply(c) && !isReply(t)) {
      link(t, c);
    } else {
      const dummy: Container = { msg: null, parent: null, children: [] };
      next.splice(next.indexOf(t), 1, dummy);
      link(dummy, t);
      link(dummy, c);
      subjects.set(s, dummy);
    }
  }
  roots = next;
  // (6) sort every sibling set by sent date, children first.
  sortSiblings(roots);
  const toNode = (c: Container): ThreadNode => ({
    uid: c.msg ? c.msg.uid : null,
    children: c.children.map(toNode),
  });
  return roots.map(toNode);
}

/** RFC 5256 §4 thread-list: a chain of only children stays flat, branches nest. */
function renderNode(n: ThreadNode, num: (uid: number) => number): string {
  if (n.uid === null) return `(${n.children.map((k) => renderNode(k, num)).join('')})`;
  const members = [num(n.uid)];
  let cur = n;
  while (cur.children.length === 1 && cur.children[0].uid !== null) {
    cur = cur.children[0];
    members.push(num(cur.uid as number));
  }
  const nested = cur.children.map((k) => renderNode(k, num)).join('');
  return `(${members.join(' ')}${nested ? ` ${nested}` : ''})`;
}

export function threadResponse(
  threads: readonly ThreadNode[],
  toNumber: (uid: number) => number = (u) => u,
): string {
  const body = threads.map((t) => renderNode(t, toNumber)).join('');
  return body ? `THREAD ${body}` : 'THREAD';
}
