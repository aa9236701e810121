/**
 * FETCH BODY and BODYSTRUCTURE (RFC 9051 §7.5.2, grammar in §9; RFC 3501 §7.4.2) from the
 * part tree mime/ stored at delivery (no re-parse).
 *
 *   bodyStructureValue(root, extended, opts?) -> ImapValue
 *     extended = false: BODY, the non-extensible form (no extension data)
 *     extended = true:  BODYSTRUCTURE, with extension data
 *
 * Conventions (the RFC allows any case; these match the RFC 9051 examples, which most clients
 * and imapflow's parser, which lower-cases everything, accept):
 * - type, subtype, encoding, parameter names and the disposition type are upper-case quoted
 *   strings ("TEXT" "PLAIN" ("CHARSET" "UTF-8") ... "7BIT"); parameter values keep their case.
 * - A text part without a charset parameter gets ("CHARSET" "US-ASCII"): RFC 2045 §5.2 /
 *   RFC 2046 §4.1.2 make it the default, and clients otherwise guess.
 * - A multipart with no parsed children (no boundary found, depth limit) lists one empty
 *   text/plain part, since body-type-mpart needs at least one body.
 * - A message/rfc822 part whose inner message was not parsed (depth limit) gets an all-NIL
 *   envelope and an empty text/plain body, since body-type-msg requires both.
 */
import type { Envelope, PartNode } from '../../mime/types.js';
import { type ImapValue, serialize, v, type WriteOptions } from '../wire/serializer.js';
import { envelopeValue } from './envelope.js';

const EMPTY_TEXT: PartNode = {
  headerStart: 0,
  headerEnd: 0,
  bodyStart: 0,
  bodyEnd: 0,
  type: 'text',
  subtype: 'plain',
  params: {},
  id: null,
  description: null,
  encoding: '7BIT',
  size: 0,
  lines: 0,
  md5: null,
  disposition: null,
  language: null,
  location: null,
  children: [],
  message: null,
};

const EMPTY_ENVELOPE: Envelope = {
  date: null,
  subject: null,
  subjectDecoded: null,
  from: null,
  sender: null,
  replyTo: null,
  to: null,
  cc: null,
  bcc: null,
  inReplyTo: null,
  messageId: null,
};

const up = (s: string): ImapValue => v.str(s.toUpperCase());

/**
 * body-fld-param: ("NAME" "value" ...) or NIL when there are none. mime/ stored values
 * decoded; for a client that did not enable UTF-8 a non-ASCII value goes back out in
 * RFC 2231 §4 form (`NAME*` "utf-8''..."), which MIME-aware clients decode, rather than as raw
 * 8-bit bytes they would have to guess the charset of.
 */
function paramsValue(params: Record<string, string>, opts: WriteOptions): ImapValue {
  const items: ImapValue[] = [];
  for (const [name, value] of Object.entries(params)) {
    if (!opts.utf8 && /[^\x00-\x7f]/.test(value)) items.push(up(`${name}*`), v.str(rfc2231(value)));
    else items.push(up(name), v.str(value));
  }
  return items.length > 0 ? v.list(items) : v.nil;
}

/** RFC 2231 §4 extended-value: charset'language'value, value percent-encoded. */
function rfc2231(value: string): string {
  let out = "utf-8''";
  for (const b of Buffer.from(value, 'utf8')) {
    // attribute-char: printable ASCII except SPACE, *, ', %, and the RFC 2045 tspecials.
    const c = String.fromCharCode(b);
    const plain = b > 0x20 && b < 0x7f && !/[*'%()<>@,;:\\"/[\]?=]/.test(c);
    out += plain ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}

/** body-fld-dsp = "(" string SP body-fld-param ")" / nil. */
function dispositionValue(node: PartNode, opts: WriteOptions): ImapValue {
  const d = node.disposition;
  return d ? v.list([up(d.type), paramsValue(d.params, opts)]) : v.nil;
}

/** body-fld-lang = nstring / "(" string *(SP string) ")". */
function languageValue(node: PartNode): ImapValue {
  const l = node.language;
  return l && l.length > 0 ? v.list(l.map((x) => v.str(x))) : v.nil;
}

function singlePart(node: PartNode, extended: boolean, opts: WriteOptions): ImapValue {
  const params = { ...node.params };
  if (node.type === 'text' && !('charset' in params)) params.charset = 'US-ASCII';
  // body-fields = param id desc enc octets.
  const items: ImapValue[] = [
    up(node.type),
    up(node.subtype),
    paramsValue(params, opts),
    v.nstr(node.id),
    v.nstr(node.description),
    up(node.encoding || '7BIT'),
    v.num(node.size),
  ];
  const isMessage =
    node.type === 'message' && (node.subtype === 'rfc822' || node.subtype === 'global');
  if (isMessage) {
    // body-type-msg: body-fields SP envelope SP body SP body-fld-lines.
    const inner = node.message;
    items.push(envelopeValue(inner ? inner.envelope : EMPTY_ENVELOPE, opts));
    items.push(partValue(inner ? inner.root : EMPTY_TEXT, extended, opts));
    items.push(v.num(node.lines ?? 0));
  } else if (node.type === 'text') {
    // body-type-text: body-fields SP body-fld-lines.
    items.push(v.num(node.lines ?? 0));
  }
  if (extended) {
    // body-ext-1part = md5 [dsp [lang [loc]]]; all four are sent.
    items.push(v.nstr(node.md5), dispositionValue(node, opts), languageValue(node));
    items.push(v.nstr(node.location));
  }
  return v.list(items);
}

function multiPart(node: PartNode, extended: boolean, opts: WriteOptions): ImapValue {
  const children = node.children.length > 0 ? node.children : [EMPTY_TEXT];
  // RFC 9051 §9 body-type-mpart = 1*body SP media-subtype: the bodies follow each other with
  // no space between them, which a 'list' (space-separated) cannot express, so they are
  // serialized here into one raw item.
  const bodies = Buffer.concat(children.map((c) => serialize(partValue(c, extended, opts), opts)));
  const items: ImapValue[] = [v.raw(bodies), up(node.subtype)];
  if (extended) {
    // body-ext-mpart = param [dsp [lang [loc]]].
    items.push(paramsValue(node.params, opts), dispositionValue(node, opts), languageValue(node));
    items.push(v.nstr(node.location));
  }
  return v.list(items);
}

function partValue(node: PartNode, extended: boolean, opts: WriteOptions): ImapValue {
  return node.type === 'multipart'
    ? multiPart(node, extended, opts)
    : singlePart(node, extended, opts);
}

/**
 * `opts.utf8` must match the session's (it decides quoted vs literal for the nested bodies
 * serialized early); the default (no UTF-8 in quoted strings) is valid for every client.
 */
export function bodyStructureValue(
  root: PartNode,
  extended: boolean,
  opts: WriteOptions = {},
): ImapValue {
  return partValue(root, extended, opts);
}
