// The texts a search read past a mailbox's mark (on-search), kept until the worker's catch-up
// indexes them (fts-db.ts FtsDb.kept): the catch-up takes a kept text as it was read, without
// parsing the message's bytes again, and a search before it is done (a client searching again
// while the worker indexes) tests the kept texts without reading them.
//
// Each text is kept twice: as read, for the catch-up, and folded (searchFold), joined with the
// other texts kept by the same search into one string per FOLDED_BLOCK_TEXTS texts, for the
// searches. A search then looks for its folded needle in a few long strings (String.indexOf),
// where it folded each of 20,000 texts again and tested them one by one: for bench/imap's big
// phase, 20,000 2 KB texts (33 M characters), 20-35 ms a search against ~3-6 (issue 19).

import { lowerBound } from '../../sorted.js';
import { TrigramSignatures } from './fts-signatures.js';

/**
 * Texts per joined string: a block is dropped once the catch-up indexed all its texts, so its
 * memory goes back as the catch-up goes on (in UID order), not only at its end.
 */
const FOLDED_BLOCK_TEXTS = 1024;

/** Folded texts of kept messages, one after another in `joined`. */
interface FoldedBlock {
  /** The folded texts, each followed by one separator character (NUL). */
  readonly joined: string;
  /** The UID of each text, in the order joined. */
  readonly uids: number[];
  /** Where each text starts in `joined`; one more entry, past the last text's separator. */
  readonly starts: number[];
  /** Texts of the block still kept (not indexed yet): none left, the block is dropped. */
  live: number;
}

/** A kept text: its bytes' hash (the catch-up indexes it for those bytes only), as read. */
export interface KeptText {
  hash: string;
  text: string;
  block: FoldedBlock;
}

/** The kept texts of one mailbox, of one UIDVALIDITY and MAILBOXID, by UID. */
export class MailboxKept {
  readonly texts = new Map<number, KeptText>();
  private readonly blocks = new Set<FoldedBlock>();
  /** Texts added and not yet joined into a block (seal). */
  private pendingUids: number[] = [];
  private pendingHashes: string[] = [];
  private pendingTexts: string[] = [];
  private pendingFolded: string[] = [];
  /**
   * The last UID a search went over: every UID of the mailbox up to it was seen then (its
   * rows commit in UID order), each kept or in `notKept`.
   */
  seenUpTo = 0;
  /** UIDs read and not kept (cut, too long, no room, bytes gone), ascending: read again. */
  notKept: number[] = [];
  /**
   * The signatures of texts read and not kept for want of room (fts-signatures.ts): a later
   * search reads only those that may hold its needle. Each such UID is here, not in `notKept`.
   */
  readonly signed = new TrigramSignatures();

  constructor(
    readonly uv: number,
    readonly oid: string | null,
  ) {}

  get size(): number {
    return this.texts.size;
  }

  /**
   * Keeps a text read for `uid`, `folded` its searchFold. It is found by `get` and `matches`
   * once `seal` joined it with the others added since.
   */
  add(uid: number, hash: string, text: string, folded: string): void {
    this.pendingUids.push(uid);
    this.pendingHashes.push(hash);
    this.pendingTexts.push(text);
    this.pendingFolded.push(folded);
    if (this.pendingUids.length >= FOLDED_BLOCK_TEXTS) this.seal();
  }

  /** Joins the texts added since the last call into a block; they are kept from now on. */
  seal(): void {
    const n = this.pendingUids.length;
    if (n === 0) return;
    const starts: number[] = new Array(n + 1);
    let at = 0;
    for (let i = 0; i < n; i++) {
      starts[i] = at;
      at += this.pendingFolded[i]!.length + 1;
    }
    starts[n] = at;
    const block: FoldedBlock = {
      // The separator after the last text from join itself: a string added after (a + b)
      // is a rope V8 copies into one string at the first search, ~30 ms of 33 M characters.
      joined: [...this.pendingFolded, ''].join('\0'),
      uids: this.pendingUids,
      starts,
      live: 0,
    };
    for (let i = 0; i < n; i++) {
      const uid = this.pendingUids[i]!;
      // A UID kept again (not expected: a search keeps only what is not kept) replaces it.
      this.remove(uid);
      this.texts.set(uid, { hash: this.pendingHashes[i]!, text: this.pendingTexts[i]!, block });
      block.live++;
    }
    if (block.live > 0) this.blocks.add(block);
    this.pendingUids = [];
    this.pendingHashes = [];
    this.pendingTexts = [];
    this.pendingFolded = [];
  }

  get(uid: number): KeptText | undefined {
    return this.texts.get(uid);
  }

  /** Drops the text of `uid` (indexed now); returns its characters, 0 if none was kept. */
  remove(uid: number): number {
    const k = this.texts.get(uid);
    if (k === undefined) return 0;
    this.texts.delete(uid);
    if (--k.block.live === 0) this.blocks.delete(k.block);
    return k.text.length;
  }

  /** Characters of every text kept (as read). */
  chars(): number {
    let n = 0;
    for (const k of this.texts.values()) n += k.text.length;
    return n;
  }

  /**
   * The UIDs whose kept text contains `folded` (a needle as searchFold makes it), in no
   * particular order. A hit across two texts' ends (the needle holding a NUL) is no hit: each
   * text's own end bounds it.
   */
  matches(folded: string): number[] {
    const found: number[] = [];
    for (const block of this.blocks) {
      const { joined, uids, starts } = block;
      let i = 0; // the text a hit is looked for in, and those after it
      for (let p = joined.indexOf(folded, 0); p >= 0 && i < uids.length; ) {
        // The text holding p: the last start at or before it (starts ascend; p lies before
        // the last entry, past the last text).
        i = lowerBound(starts, p + 1) - 1;
        // The text's end is its separator, at starts[i + 1] - 1.
        if (p + folded.length <= starts[i + 1]! - 1) {
          const uid = uids[i]!;
          // Only a text still kept from this block (one indexed since may be in it).
          if (this.texts.get(uid)?.block === block) found.push(uid);
          i++;
          if (i >= uids.length) break;
          p = joined.indexOf(folded, starts[i]!);
        } else {
          p = joined.indexOf(folded, p + 1);
        }
      }
    }
    return found;
  }
}
