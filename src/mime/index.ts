// Public API of the MIME parser: structure with offsets, envelope, search fields, decoders.
export { type Address, parseAddressList } from './address.js';
export { decodeCharset } from './charset.js';
export { parseDate } from './date.js';
export { decodeEncodedWords } from './encoded-words.js';
export { getAll, getHeader, type HeaderField, headerValue, parseHeaders } from './headers.js';
export { parseParamValue } from './params.js';
export { findPart, sectionRange } from './sections.js';
export { MAX_DEPTH, MAX_PARTS, parseMessage, parseText, parseTextCut } from './structure.js';
export { decodeTransfer } from './transfer.js';
export type * from './types.js';
