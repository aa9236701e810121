/**
 * CATENATE (RFC 4469): an APPEND whose message is built on the server from literal text and
 * the bytes of existing messages or message parts named by IMAP URLs (imap-url.ts).
 *
 *   parseCatenate(c)              `(TEXT {n} URL "..." UTF8 (~{n}) ...)` after `CATENATE SP`
 *   assembleCatenate(s, parts)    the message bytes, or throws NO [BADURL url] / NO [TOOBIG]
 *
 * RFC 4469 §3: a URL part contributes exactly the octets FETCH BODY[section]<partial> would
 * return (fetch/sections.ts renders them), unconverted; reading them does not set \Seen.
 * Sizes are known from the stored part offsets before any message is read, so a message that
 * would exceed limits.max_message_size is refused with [TOOBIG] (RFC 4469 §4.2) without
 * reading its sources, and the assembled bytes are written once into a buffer of their exact
 * size counted against the server's message memory: at most one source message is read at a
 * time besides it.
 */

import { sectionRange } from '../../mime/sections.js';
import { isStoreError } from '../../store/errors.js';
import { normalizeMailboxName } from '../../store/names.js';
import type { Mailbox, MessageDetail } from '../../store/types.js';
import { headerFields } from '../fetch/sections.js';
import { parseImapUrl } from '../imap-url.js';
import { type ImapError, no } from '../responses.js';
import type { ImapSession } from '../session.js';
import { type ArgCursor, ImapParseError } from '../wire/parser.js';
import { decodeMailboxName } from '../wire/utf7.js';
import { requireAccount } from './util.js';

/**
 * Parts of one catenated message. Each TEXT literal is already bounded by the literal limits
 * and the command's size; this bounds the work (one store look-up per URL).
 */
export const MAX_CATENATE_PARTS = 256;

export type CatPart = { kind: 'text'; data: Buffer } | { kind: 'url'; url: string };

/** RFC 4469 §5: "(" cat-part *(SP cat-part) ")", with RFC 6855 §4's UTF8 (literal8). */
export function parseCatenate(c: ArgCursor): CatPart[] {
  const parts = c.list((l): CatPart => {
    const kind = l.word();
    l.space();
    if (kind === 'TEXT') return { kind: 'text', data: l.literal().data };
    if (kind === 'UTF8') {
      l.expect('(');
      const data = l.literal().data;
      l.expect(')');
      return { kind: 'text', data };
    }
    if (kind === 'URL') return { kind: 'url', url: l.astring().toString('latin1') };
    return l.fail('Expected TEXT, URL or UTF8 in CATENATE');
  }, 1);
  if (parts.length > MAX_CATENATE_PARTS) {
    throw new ImapParseError(
      `At most ${MAX_CATENATE_PARTS} CATENATE parts per message`,
      undefined,
      'LIMIT',
      'NO',
    );
  }
  return parts;
}

/** The URL as it may appear in `[BADURL ...]`: url-resp-text is TEXT-CHAR except "]". */
function badUrl(url: string, why: string): ImapError {
  const shown = url.replace(/[^\x20-\x7e]|\]/g, '?').slice(0, 400);
  return no(`BADURL ${shown}`, why);
}

/** One URL part resolved: where its octets are, and how many. */
interface Piece {
  url: string;
  detail: MessageDetail;
  /** [start, end) in the stored message, or the bytes themselves (HEADER.FIELDS). */
  range: [number, number] | null;
  bytes: Buffer | null;
}

async function findMailbox(s: ImapSession, name: string): Promise<Mailbox | null> {
  const account = requireAccount(s);
  const tryName = async (n: string): Promise<Mailbox | null> => {
    try {
      return await s.ctx.store.getMailbox(account.id, normalizeMailboxName(n));
    } catch (err) {
      if (isStoreError(err)) return null;
      throw err;
    }
  };
  const mb = await tryName(name);
  if (mb || !name.includes('&')) return mb;
  // RFC 2192 (before RFC 5092) wrote names in modified UTF-7.
  const decoded = decodeMailboxName(name);
  return decoded === null ? null : tryName(decoded);
}

async function resolveUrl(s: ImapSession, url: string): Promise<Piece> {
  const parsed = parseImapUrl(url, s.selected?.mailbox.name ?? null);
  if (typeof parsed === 'string') throw badUrl(url, parsed);
  const mb = await findMailbox(s, parsed.mailbox);
  if (!mb) throw badUrl(url, 'No such mailbox');
  if (parsed.uidValidity !== null && parsed.uidValidity !== mb.uidValidity)
    throw badUrl(url, 'UIDVALIDITY does not match');
  const [detail] = await s.ctx.store.getMessages(mb.id, [parsed.uid]);
  if (!detail) throw badUrl(url, 'No such message');
  let range: [number, number] | null = [0, detail.size];
  let bytes: Buffer | null = null;
  const sec = parsed.section;
  if (sec) {
    const msg = { root: detail.index.structure, size: detail.size };
    const kind =
      sec.text === null ? null : sec.text.kind === 'HEADER.FIELDS' ? 'HEADER' : sec.text.kind;
    range = sectionRange(msg, sec.part, kind);
    if (range === null) throw badUrl(url, 'No such body part');
    // Offsets are clamped to the stored size, as FETCH does (a damaged index never reads past).
    const start = Math.min(Math.max(0, range[0]), detail.size);
    range = [start, Math.min(detail.size, Math.max(start, range[1]))];
    if (sec.text?.kind === 'HEADER.FIELDS') {
      // The only section that is not a byte range: the chosen header lines (FETCH renders it so).
      let raw: Buffer;
      try {
        raw = await s.ctx.store.readMessage(detail.blobHash, detail.size);
      } catch (err) {
        if (isStoreError(err, 'NOT_FOUND')) throw badUrl(url, 'The message is gone');
        throw err;
      }
      bytes = headerFields(raw.subarray(range[0], range[1]), sec.text.fields, sec.text.not);
      range = null;
    }
  }
  const p = parsed.partial;
  if (p) {
    if (bytes)
      bytes = bytes.subarray(
        Math.min(p.offset, bytes.length),
        Math.min(bytes.length, p.offset + p.length),
      );
    else if (range) {
      const start = Math.min(range[1], range[0] + p.offset);
      range = [start, Math.min(range[1], start + p.length)];
    }
  }
  return { url, detail, range, bytes };
}

/**
 * Builds the message. Throws ImapError: NO [BADURL url] for the first URL that cannot be
 * resolved (RFC 4469 §4.1), NO [TOOBIG] past limits.max_message_size (§4.2), NO [LIMIT] when
 * the server's message memory is spent for now. `held` bytes were taken from that memory:
 * the caller gives them back once the message is stored (or refused).
 */
export async function assembleCatenate(
  s: ImapSession,
  parts: readonly CatPart[],
): Promise<{ data: Buffer; held: number }> {
  const limit = s.ctx.cfg.limits.max_message_size;
  const pieces: Array<Buffer | Piece> = [];
  let total = 0;
  for (const part of parts) {
    const piece = part.kind === 'text' ? part.data : await resolveUrl(s, part.url);
    total += Buffer.isBuffer(piece)
      ? piece.length
      : piece.bytes
        ? piece.bytes.length
        : piece.range![1] - piece.range![0];
    if (total > limit) throw no('TOOBIG', `The message would be over the limit of ${limit} bytes`);
    pieces.push(piece);
  }
  if (!s.ctx.memory.tryTake(total))
    throw no('LIMIT', 'Server memory for messages is busy; try again later');
  try {
    const out = Buffer.allocUnsafe(total);
    let at = 0;
    let cachedHash = '';
    let cachedRaw: Buffer = Buffer.alloc(0);
    for (const piece of pieces) {
      if (Buffer.isBuffer(piece)) at += piece.copy(out, at);
      else if (piece.bytes) at += piece.bytes.copy(out, at);
      else {
        const { detail } = piece;
        const range = piece.range!;
        if (range[1] === range[0]) continue;
        // Consecutive parts of one message (its header, then its parts) read it once.
        if (cachedHash !== detail.blobHash) {
          cachedRaw = Buffer.alloc(0); // the previous one may go before the next is read
          try {
            cachedRaw = await s.ctx.store.readMessage(detail.blobHash, detail.size);
          } catch (err) {
            if (isStoreError(err, 'NOT_FOUND')) throw badUrl(piece.url, 'The message is gone');
            throw err;
          }
          cachedHash = detail.blobHash;
        }
        at += cachedRaw.copy(out, at, range[0], range[1]);
      }
    }
    // Stored bytes always cover the recorded offsets; never hand on uninitialized memory.
    return { data: at === total ? out : out.subarray(0, at), held: total };
  } catch (err) {
    s.ctx.memory.give(total);
    throw err;
  }
}
