// The search text PostgreSQL keeps of a stored message for SEARCH BODY / TEXT (messages'
// body_text, text_truncated and body_words), made one way wherever it is made: at delivery
// from the parse delivery made (full_text_index = "on-delivery"), by a search catching up a
// mailbox from the message's bytes ("on-search", text-catch-up.ts), and by `store migrate`.
// The text is the decoded text of the text parts (mime/), cut at FTS_TEXT_MAX characters,
// NUL replaced (nul-free.ts), lower-cased whole; the words are its distinct words
// (search-words.ts), both in UTF-8 as they go to PostgreSQL.
import { parseTextCut } from '../../mime/index.js';
import { FTS_TEXT_MAX } from '../types.js';
import { nulFree } from './nul-free.js';
import { searchWordsUtf8 } from './search-words.js';

export interface BodyText {
  /** The folded text, UTF-8. */
  folded: Buffer;
  /** The message has more text than FTS_TEXT_MAX characters (a search reads it whole). */
  truncated: boolean;
  /** Its distinct words, UTF-8 (search-words.ts). */
  words: Buffer;
}

/** The search text of a message's text as delivery's parse gave it (MessageIndex.text). */
export function bodyTextOf(text: string, truncated: boolean): BodyText {
  const folded = Buffer.from(nulFree(text).toLowerCase(), 'utf8');
  return { folded, truncated, words: searchWordsUtf8(folded) };
}

/**
 * The search text of a message from its bytes, as delivery's parse (delivery/local.ts) gives
 * it: the text alone (parseTextCut, parseMessage's text with the same cap, without its
 * ENVELOPE and search fields), truncated when longer than FTS_TEXT_MAX or when a part's bytes
 * were cut before its end (then shorter, yet not whole).
 */
export function bodyTextFromBytes(raw: Buffer): BodyText {
  const { text, cut } = parseTextCut(raw, FTS_TEXT_MAX + 1);
  return bodyTextOf(text.slice(0, FTS_TEXT_MAX), cut || text.length > FTS_TEXT_MAX);
}
