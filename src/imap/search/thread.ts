/**
 * THREAD (RFC 5256 §3: the command, ORDEREDSUBJECT and REFERENCES; §4: the response).
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
  /** References, or In-Reply-To's first id when there are none (RFC 5256 REFERENCES step 1). */
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
  const stored = d.index.search.references;
  let refs: string[];
  let inReplyTo: string;
  if (Array.isArray(stored)) {
    refs = stored.filter((x): x is string => typeof x === 'string');
    inReplyTo = d.index.envelope.inReplyTo ?? '';
  } else {
    const root = d.index.structure;
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
  // Most messages have no replies yet when they are linked: no walk up a long chain then.
  if (a.children.length === 0) return a === b;
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
  let cur: Container | undefined = c;
  while (cur && cur.msg === null) cur = cur.children[0];
  return cur?.msg ?? null;
}

/**
 * Every container under `roots`, each after all of its descendants. Trees are as deep as the
 * senders' References chains make them, so they are walked with a stack, never recursion.
 */
function postOrder(roots: readonly Container[]): Container[] {
  const out: Container[] = [];
  const stack = [...roots];
  while (stack.length > 0) {
    const c = stack.pop() as Container;
    out.push(c);
    for (const k of c.children) stack.push(k);
  }
  return out.reverse();
}

const compareContainers = (a: Container, b: Container): number => {
  const x = rep(a);
  const y = rep(b);
  return x && y ? byDate(x, y) : 0;
};

/** Sorts each set of siblings, the deepest first, so that a dummy's first child is known. */
function sortSiblings(roots: Container[]): void {
  for (const c of postOrder(roots)) c.children.sort(compareContainers);
  roots.sort(compareContainers);
}

/**
 * Step (4): a dummy without children is deleted; one with children gives them to its own
 * parent, except at the root, where only a single child is promoted.
 */
function prune(roots: readonly Container[]): Container[] {
  const keep = (list: Container[], parent: Container | null, atRoot: boolean): Container[] => {
    const out: Container[] = [];
    for (const c of list) {
      if (c.msg === null && c.children.length === 0) continue;
      if (c.msg === null && (!atRoot || c.children.length === 1)) {
        for (const k of c.children) {
          k.parent = parent;
          out.push(k);
        }
        continue;
      }
      out.push(c);
    }
    return out;
  };
  // Children before parents: a dummy's children are final when the dummy is looked at.
  for (const c of postOrder(roots)) c.children = keep(c.children, c, false);
  return keep([...roots], null, true);
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
    // (1B) the message's current parent (set by another message's truncated References in
    // 1A) is dropped first; then the last reference becomes the parent, unless that would
    // make a loop: the message is then left without a parent, as with no references.
    unlink(c);
    const last = refs[refs.length - 1];
    if (last && !isAncestor(c, last)) link(last, c);
  }
  // (2) the root set; (3) the id table is no longer needed; (4) prune dummies.
  let roots = prune([...table.values()].filter((c) => c.parent === null));
  // Children sorted now, so that step 5 takes a dummy's subject from its oldest child.
  sortSiblings(roots);
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
  return toNodes(roots);
}

function toNodes(roots: readonly Container[]): ThreadNode[] {
  const node = new Map<Container, ThreadNode>();
  for (const c of postOrder(roots)) {
    node.set(c, {
      uid: c.msg ? c.msg.uid : null,
      children: c.children.map((k) => node.get(k) as ThreadNode),
    });
  }
  return roots.map((c) => node.get(c) as ThreadNode);
}

/**
 * RFC 5256 thread-list: a chain of only children stays flat, branches nest. Written with a
 * stack of pending pieces (a node, or text), as a thread may be thousands of levels deep.
 */
function renderThreads(threads: readonly ThreadNode[], num: (uid: number) => number): string {
  const out: string[] = [];
  const stack: (ThreadNode | string)[] = [...threads].reverse();
  while (stack.length > 0) {
    const item = stack.pop() as ThreadNode | string;
    if (typeof item === 'string') {
      out.push(item);
      continue;
    }
    if (item.uid === null) {
      stack.push(')', ...[...item.children].reverse());
      out.push('(');
      continue;
    }
    const members = [num(item.uid)];
    let cur = item;
    while (cur.children.length === 1 && cur.children[0].uid !== null) {
      cur = cur.children[0];
      members.push(num(cur.uid as number));
    }
    stack.push(')', ...[...cur.children].reverse());
    out.push(`(${members.join(' ')}${cur.children.length > 0 ? ' ' : ''}`);
  }
  return out.join('');
}

export function threadResponse(
  threads: readonly ThreadNode[],
  toNumber: (uid: number) => number = (u) => u,
): string {
  const body = renderThreads(threads, toNumber);
  return body ? `THREAD ${body}` : 'THREAD';
}
