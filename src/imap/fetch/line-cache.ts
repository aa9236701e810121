// The header FETCH lines written lately, kept by message (issue 19): a mail client that logs in
// asks for the same header fields of every message of the mailbox at each login (FETCH 1:*
// (UID FLAGS BODY.PEEK[HEADER.FIELDS (FROM SUBJECT DATE)])), and each time every message's
// header block was looked up by its blob hash (a hex string made per message) and its line
// written anew, for text that had not changed since the last login. A line here is what
// fetch/header-line.ts wrote after `* n FETCH (`: the sequence number is the session's, the
// rest is the message's.
//
// What a line depends on: the items and the two options the writer was made for (kept by the
// writer, one set of lines each), the message (its UID under the mailbox's UIDVALIDITY names
// the same message bytes for good, RFC 9051 §2.3.1.1; a mailbox id reused after a delete has
// another UIDVALIDITY, and its lines are dropped), its flags as the session shows them and
// its modseq (compared at each use: a flag change or a \Recent of this session writes the
// line again). Nothing else of a row changes. The lines are bounded in bytes over all writers
// and mailboxes, and start over empty past the bound.
import type { HeaderLine } from './header-line.js';

/** Bytes of kept lines at most, over every writer and mailbox; then they start over. */
export const LINE_CACHE_BYTES = 4 * 1024 * 1024;
/** What an entry costs besides its bytes: the Map entry, the object, the Buffer. */
const ENTRY_OVERHEAD = 160;
/** What a writer's mailbox costs empty (counted, so that item sets without lines are bounded). */
const MAILBOX_OVERHEAD = 512;

interface KeptLine {
  readonly flags: readonly string[];
  readonly modseq: number;
  readonly body: Buffer;
}

/** One writer's lines of one mailbox, for one FETCH to use (FetchLineCache.mailbox). */
export class MailboxLines {
  readonly byUid = new Map<number, KeptLine>();
  bytes = MAILBOX_OVERHEAD;

  constructor(
    private readonly cache: FetchLineCache,
    readonly uidValidity: number,
    /** The cache's generation it was made in: once it moved, puts are not kept. */
    readonly generation: number,
  ) {}

  /** The line kept for this message when its flags and modseq are still these. */
  get(uid: number, flags: readonly string[], modseq: number): Buffer | undefined {
    const k = this.byUid.get(uid);
    if (k === undefined || k.modseq !== modseq || !sameFlags(k.flags, flags)) return undefined;
    return k.body;
  }

  /**
   * Keeps the line written for this message. `exists`: the mailbox's message count as the
   * session sees it; lines of expunged messages go with the rest once the lines are twice as
   * many (plus some).
   */
  put(uid: number, flags: readonly string[], modseq: number, body: Buffer, exists: number): void {
    this.cache.put(this, uid, { flags, modseq, body }, exists);
  }
}

function sameFlags(a: readonly string[], b: readonly string[]): boolean {
  if (a === b) return true;
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

export class FetchLineCache {
  private readonly kept = new Map<HeaderLine, Map<number, MailboxLines>>();
  private bytes = 0;
  private generation = 0;

  constructor(private readonly maxBytes = LINE_CACHE_BYTES) {}

  /** The lines `writer` wrote for the mailbox under this UIDVALIDITY (empty at first). */
  mailbox(writer: HeaderLine, mailboxId: number, uidValidity: number): MailboxLines {
    const had = this.kept.get(writer)?.get(mailboxId);
    if (had !== undefined && had.uidValidity === uidValidity) return had;
    if (this.bytes + MAILBOX_OVERHEAD > this.maxBytes) this.clear();
    let byMailbox = this.kept.get(writer);
    if (byMailbox === undefined) {
      byMailbox = new Map();
      this.kept.set(writer, byMailbox);
    }
    const old = byMailbox.get(mailboxId);
    if (old !== undefined) this.bytes -= old.bytes;
    const lines = new MailboxLines(this, uidValidity, this.generation);
    byMailbox.set(mailboxId, lines);
    this.bytes += lines.bytes;
    return lines;
  }

  /** See MailboxLines.put. */
  put(lines: MailboxLines, uid: number, line: KeptLine, exists: number): void {
    if (lines.generation !== this.generation) return;
    if (lines.byUid.size > 2 * exists + 64) {
      this.bytes -= lines.bytes - MAILBOX_OVERHEAD;
      lines.bytes = MAILBOX_OVERHEAD;
      lines.byUid.clear();
    }
    const cost = line.body.length + ENTRY_OVERHEAD;
    const old = lines.byUid.get(uid);
    const was = old === undefined ? 0 : old.body.length + ENTRY_OVERHEAD;
    if (this.bytes + cost - was > this.maxBytes) {
      this.clear();
      return;
    }
    lines.byUid.set(uid, line);
    lines.bytes += cost - was;
    this.bytes += cost - was;
  }

  /** Bytes held, counting each entry's overhead. */
  get size(): number {
    return this.bytes;
  }

  /** Drops every line; a MailboxLines taken before keeps nothing more. */
  clear(): void {
    this.kept.clear();
    this.bytes = 0;
    this.generation++;
  }
}

/** The process's lines (one per process, as the writers are). */
export const fetchLines = new FetchLineCache();
