// MIME structure parsing (RFC 2045, RFC 2046) into a part tree with byte offsets into the raw
// message. Runs once at delivery; attachments are never decoded here, only located.
import { stripComments } from './comments.js';
import { buildEnvelope, buildSearchFields } from './envelope.js';
import { headerBounds } from './header-scan.js';
import { type HeaderField, headerValue, parseHeaderFields } from './headers.js';
import { parseParamValue } from './params.js';
import { extractText, extractTextCut } from './text.js';
import type { Disposition, Envelope, ParsedMessage, PartNode } from './types.js';

export { decodeTransfer } from './transfer.js';

/** Nesting deeper than this is kept as a leaf: real mail never needs it, attacks do. */
export const MAX_DEPTH = 50;
/** Parts beyond this count are not listed (their bytes stay inside their parent's range). */
export const MAX_PARTS = 10_000;

const LF = 0x0a;
const CR = 0x0d;
const TOKEN = /^[a-z0-9!#$%&'*+\-.^_`{|}~]+$/;

interface Ctx {
  raw: Buffer;
  parts: number;
  /** Build an inner message's ENVELOPE (false: parseStructure, which only walks). */
  envelopes: boolean;
}

/** What parseStructure gives an inner message instead of parsing its address fields. */
const NOT_PARSED: Envelope = Object.freeze(buildEnvelope([]));

function countLines(raw: Buffer, start: number, end: number): number {
  if (end <= start) return 0;
  const view = raw.subarray(start, end);
  let n = 0;
  let pos = view.indexOf(LF);
  while (pos >= 0) {
    n++;
    pos = view.indexOf(LF, pos + 1);
  }
  // A last line without a line break (a part before its boundary) still counts.
  return view[view.length - 1] === LF ? n : n + 1;
}

/**
 * RFC 2046 §5.1.1: splits a multipart body into part ranges. A delimiter is "--boundary" at
 * the start of a line, optionally followed by "--" (close) and transport padding (spaces,
 * tabs), then the line end. The line break before a delimiter belongs to the delimiter.
 * Preamble and epilogue are ignored; without a close delimiter the last part runs to `end`.
 */
export function splitMultipart(
  raw: Buffer,
  start: number,
  end: number,
  boundary: string,
  maxParts = Number.POSITIVE_INFINITY,
): [number, number][] {
  const view = raw.subarray(start, end);
  const len = view.length;
  const delim = Buffer.from(`--${boundary}`, 'utf8');
  const ranges: [number, number][] = [];
  let partStart = -1;
  let pos = 0;
  for (;;) {
    const i = view.indexOf(delim, pos);
    if (i < 0) break;
    pos = i + 1;
    if (i > 0 && view[i - 1] !== LF) continue;
    let j = i + delim.length;
    const close = view[j] === 0x2d && view[j + 1] === 0x2d;
    if (close) j += 2;
    while (j < len && (view[j] === 0x20 || view[j] === 0x09)) j++;
    let next: number;
    if (j >= len) next = len;
    else if (view[j] === LF) next = j + 1;
    else if (view[j] === CR && (j + 1 >= len || view[j + 1] === LF)) next = Math.min(j + 2, len);
    else continue; // e.g. a longer boundary that starts with this one
    if (partStart >= 0) {
      const prevEnd = i >= 2 && view[i - 2] === CR ? i - 2 : i - 1;
      ranges.push([start + partStart, start + Math.max(partStart, prevEnd)]);
    }
    if (close || ranges.length >= maxParts) return ranges;
    partStart = next;
    pos = next;
  }
  if (partStart >= 0) ranges.push([start + partStart, end]);
  return ranges;
}

function orNull(v: string | null): string | null {
  return v === null || v === '' ? null : v;
}

function contentType(
  fields: readonly HeaderField[],
  inDigest: boolean,
): [string, string, Record<string, string>] {
  const ct = headerValue(fields, 'content-type');
  if (ct !== null) {
    const { value, params } = parseParamValue(ct);
    const slash = value.indexOf('/');
    const type = value.slice(0, slash).trim();
    const subtype = value.slice(slash + 1).trim();
    if (slash > 0 && TOKEN.test(type) && TOKEN.test(subtype)) return [type, subtype, params];
  }
  // RFC 2046 §5.1.5: in a multipart/digest the default is message/rfc822;
  // RFC 2045 §5.2: elsewhere "text/plain; charset=us-ascii".
  if (inDigest) return ['message', 'rfc822', {}];
  return ['text', 'plain', { charset: 'us-ascii' }];
}

function disposition(fields: readonly HeaderField[]): Disposition | null {
  const v = headerValue(fields, 'content-disposition');
  if (v === null) return null;
  const { value, params } = parseParamValue(v);
  return value === '' ? null : { type: value, params };
}

function language(fields: readonly HeaderField[]): string[] | null {
  const v = headerValue(fields, 'content-language');
  if (v === null) return null;
  const list = stripComments(v)
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return list.length > 0 ? list : null;
}

/**
 * The fields a part's readers ask for: its own (contentType, disposition, language and the
 * content-* values below), and for a message's header ENVELOPE's (buildEnvelope) and the
 * search fields' (buildSearchFields). Only these are made into fields: the trace fields in
 * front of delivered mail (Received, Received-SPF, Authentication-Results, Return-Path),
 * long and folded, were half the header's work for nothing. A reader of another name must
 * add it here (test/mime/part-fields compares with the full list).
 */
const PART_FIELDS: ReadonlySet<string> = new Set([
  'content-type',
  'content-transfer-encoding',
  'content-id',
  'content-description',
  'content-md5',
  'content-disposition',
  'content-language',
  'content-location',
  'date',
  'subject',
  'from',
  'sender',
  'reply-to',
  'to',
  'cc',
  'bcc',
  'in-reply-to',
  'message-id',
  'references',
]);

function parsePart(
  ctx: Ctx,
  start: number,
  end: number,
  depth: number,
  inDigest: boolean,
): { node: PartNode; fields: HeaderField[] } {
  ctx.parts++;
  const { raw } = ctx;
  const { fieldsEnd, bodyStart } = headerBounds(raw, start, end);
  const fields = parseHeaderFields(raw, start, fieldsEnd, PART_FIELDS);
  const [type, subtype, params] = contentType(fields, inDigest);
  const cte = stripComments(headerValue(fields, 'content-transfer-encoding') ?? '').trim();
  const encoding = cte === '' ? '7BIT' : cte.toUpperCase();
  const isMessage = type === 'message' && (subtype === 'rfc822' || subtype === 'global');
  const node: PartNode = {
    headerStart: start,
    headerEnd: bodyStart,
    bodyStart,
    bodyEnd: end,
    type,
    subtype,
    params,
    id: orNull(headerValue(fields, 'content-id')),
    description: orNull(headerValue(fields, 'content-description')),
    encoding,
    size: end - bodyStart,
    lines: type === 'text' || isMessage ? countLines(raw, bodyStart, end) : null,
    md5: orNull(headerValue(fields, 'content-md5')),
    disposition: disposition(fields),
    language: language(fields),
    location: orNull(headerValue(fields, 'content-location')),
    children: [],
    message: null,
  };
  if (depth >= MAX_DEPTH) return { node, fields };
  if (type === 'multipart' && params.boundary) {
    const digest = subtype === 'digest';
    for (const [s, e] of splitMultipart(
      raw,
      bodyStart,
      end,
      params.boundary,
      MAX_PARTS - ctx.parts,
    )) {
      if (ctx.parts >= MAX_PARTS) break;
      node.children.push(parsePart(ctx, s, e, depth + 1, digest).node);
    }
  } else if (isMessage && encoding !== 'BASE64' && encoding !== 'QUOTED-PRINTABLE') {
    // RFC 2046 §5.2.1: message/rfc822 may only be 7bit, 8bit or binary; an encoded one
    // cannot be described by offsets into the raw bytes, so it stays a leaf.
    const inner = parsePart(ctx, bodyStart, end, depth + 1, false);
    node.message = {
      envelope: ctx.envelopes ? buildEnvelope(inner.fields) : NOT_PARSED,
      root: inner.node,
    };
  }
  return { node, fields };
}

/**
 * Parses a whole message. Never throws on any input; offsets index into `raw`. `textCap`
 * bounds the characters of `text` extracted (delivery extracts only what the full-text
 * index keeps).
 */
export function parseMessage(raw: Buffer, opts: { textCap?: number } = {}): ParsedMessage {
  const ctx: Ctx = { raw, parts: 0, envelopes: true };
  const { node, fields } = parsePart(ctx, 0, raw.length, 0, false);
  const envelope = buildEnvelope(fields);
  const { text, cut } = extractTextCut(raw, node, opts.textCap);
  return {
    size: raw.length,
    root: node,
    envelope,
    search: buildSearchFields(fields, envelope),
    text,
    textCut: cut,
  };
}

/**
 * The MIME structure alone: each part's offsets, type, parameters and encoding, for a caller
 * that rewrites bytes (the 8BITMIME downgrade). No ENVELOPE, search fields or text: parsing
 * the address fields is most of parseMessage's work on a message with a long To or Cc, and an
 * inner message's `envelope` is left with every field null. Never throws.
 */
export function parseStructure(raw: Buffer): PartNode {
  return parsePart({ raw, parts: 0, envelopes: false }, 0, raw.length, 0, false).node;
}

/**
 * parseMessage's `text` alone, with the same cap: from the part tree (parseStructure), without
 * the ENVELOPE and search fields a caller that wants only the text would throw away (the
 * full-text index reading stored messages). Never throws.
 */
export function parseText(raw: Buffer, cap?: number): string {
  return extractText(raw, parseStructure(raw), cap);
}

/** parseText, and whether a part's bytes were cut before its end (extractTextCut). */
export function parseTextCut(raw: Buffer, cap?: number): { text: string; cut: boolean } {
  return extractTextCut(raw, parseStructure(raw), cap);
}
