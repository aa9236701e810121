// MAIL FROM / RCPT TO parameters (RFC 5321 §4.1.2 esmtp-param) and the extensions that define
// them. Unknown keywords get 555 (RFC 5321 §4.1.1.11); a repeated keyword, a missing or
// malformed value get 501.

import { syntaxError, unknownParameter } from './replies.js';
import type { SmtpReply } from './reply.js';
import { decodeXtext } from './xtext.js';

export type BodyType = '7BIT' | '8BITMIME' | 'BINARYMIME';
export type NotifyType = 'SUCCESS' | 'FAILURE' | 'DELAY';

export interface MailParams {
  /** RFC 1870 §3: declared message size in octets. */
  size?: number;
  /** RFC 6152 (8BITMIME), RFC 3030 §3 (BINARYMIME). */
  body?: BodyType;
  /** RFC 6531 §3.4: the transaction may carry UTF-8 addresses and headers. */
  smtputf8?: boolean;
  /** RFC 3461 §4.3: what a DSN should return. */
  ret?: 'FULL' | 'HDRS';
  /** RFC 3461 §4.4: envelope id, xtext-decoded. */
  envid?: string;
  /** RFC 4954 §5: the authenticated submitter as claimed by a relaying client, decoded. */
  auth?: string;
}

export interface RcptParams {
  /** RFC 3461 §4.1: NEVER alone, or a non-empty set of SUCCESS / FAILURE / DELAY. */
  notify?: NotifyType[] | 'NEVER';
  /** RFC 3461 §4.2: original recipient: address type (e.g. `rfc822`) and decoded address. */
  orcpt?: { type: string; addr: string };
}

export type ParamsResult<T> = { ok: true; params: T } | { ok: false; reply: SmtpReply };

interface RawParam {
  keyword: string;
  value: string | null;
}

// RFC 5321 §4.1.2: esmtp-keyword = (ALPHA / DIGIT) *(ALPHA / DIGIT / "-");
// esmtp-value = 1*(%d33-60 / %d62-126), i.e. printable without "="; RFC 6531 §3.3 adds UTF-8.
const KEYWORD = /^[A-Za-z0-9][A-Za-z0-9-]*$/;
const VALUE = /^[\x21-\x3c\x3e-\x7e\u0080-\uffff]+$/;
// Decoded xtext must not smuggle control characters into a DSN header (Original-Envelope-Id,
// Original-Recipient) and must not be invalid UTF-8 (U+FFFD after decoding).
const UNSAFE_DECODED = /[\x00-\x1f\x7f\ufffd]/;

/** Splits `KEY=value KEY2` (already without the path). Extra spaces are tolerated. */
function split(text: string): ParamsResult<RawParam[]> {
  const out: RawParam[] = [];
  // Most MAIL and RCPT commands carry no parameter.
  if (text === '') return { ok: true, params: out };
  const seen = new Set<string>();
  for (const token of text.split(' ')) {
    if (token === '') continue;
    const eq = token.indexOf('=');
    const keyword = (eq < 0 ? token : token.slice(0, eq)).toUpperCase();
    const value = eq < 0 ? null : token.slice(eq + 1);
    if (!KEYWORD.test(keyword)) return fail(`Malformed parameter ${keyword}`);
    if (value !== null && !VALUE.test(value)) return fail(`Malformed value for ${keyword}`);
    if (seen.has(keyword)) return fail(`Duplicate parameter ${keyword}`);
    seen.add(keyword);
    out.push({ keyword, value });
  }
  return { ok: true, params: out };
}

function fail<T>(text: string): ParamsResult<T> {
  return { ok: false, reply: syntaxError(text) };
}

/**
 * MAIL FROM parameters. `smtputf8Offered` false makes SMTPUTF8 an unknown parameter: RFC 5321
 * §4.1.1.11 answers 555 to a parameter of an extension the server did not announce.
 */
export function parseMailParams(text: string, smtputf8Offered: boolean): ParamsResult<MailParams> {
  const raw = split(text);
  if (!raw.ok) return raw;
  const params: MailParams = {};
  for (const { keyword, value } of raw.params) {
    const v = value?.toUpperCase() ?? null;
    switch (keyword) {
      case 'SIZE':
        // RFC 1870 §3: size-value = 1*20DIGIT.
        if (value === null || !/^\d{1,20}$/.test(value)) return fail('Malformed SIZE');
        params.size = Number(value);
        break;
      case 'BODY':
        if (v !== '7BIT' && v !== '8BITMIME' && v !== 'BINARYMIME') return fail('Bad BODY');
        params.body = v;
        break;
      case 'SMTPUTF8':
        if (!smtputf8Offered) return { ok: false, reply: unknownParameter(keyword) };
        // RFC 6531 §3.4: the parameter has no value.
        if (value !== null) return fail('SMTPUTF8 takes no value');
        params.smtputf8 = true;
        break;
      case 'RET':
        if (v !== 'FULL' && v !== 'HDRS') return fail('RET must be FULL or HDRS');
        params.ret = v;
        break;
      case 'ENVID': {
        // RFC 3461 §4.4: printable US-ASCII, at most 100 characters (checked decoded).
        const d = value === null ? null : decodeXtext(value);
        if (d === null || d === '' || d.length > 100 || !/^[\x20-\x7e]+$/.test(d)) {
          return fail('Malformed ENVID');
        }
        params.envid = d;
        break;
      }
      case 'AUTH': {
        // RFC 4954 §5: AUTH=<> or AUTH=xtext-encoded mailbox.
        const d = value === null ? null : decodeXtext(value);
        if (d === null || d === '' || UNSAFE_DECODED.test(d)) return fail('Malformed AUTH');
        params.auth = d;
        break;
      }
      default:
        return { ok: false, reply: unknownParameter(keyword) };
    }
  }
  return { ok: true, params };
}

/** RCPT TO parameters (RFC 3461 DSN). */
export function parseRcptParams(text: string): ParamsResult<RcptParams> {
  const raw = split(text);
  if (!raw.ok) return raw;
  const params: RcptParams = {};
  for (const { keyword, value } of raw.params) {
    switch (keyword) {
      case 'NOTIFY': {
        const n = parseNotify(value);
        if (n === null) return fail('NOTIFY must be NEVER or SUCCESS, FAILURE, DELAY');
        params.notify = n;
        break;
      }
      case 'ORCPT': {
        const o = parseOrcpt(value);
        if (o === null) return fail('Malformed ORCPT');
        params.orcpt = o;
        break;
      }
      default:
        return { ok: false, reply: unknownParameter(keyword) };
    }
  }
  return { ok: true, params };
}

// RFC 3461 §4.1: notify-esmtp-value = "NEVER" / 1#notify-list-element.
function parseNotify(value: string | null): NotifyType[] | 'NEVER' | null {
  if (value === null) return null;
  const items = value.toUpperCase().split(',');
  if (items.length === 1 && items[0] === 'NEVER') return 'NEVER';
  const out: NotifyType[] = [];
  for (const item of items) {
    if (item !== 'SUCCESS' && item !== 'FAILURE' && item !== 'DELAY') return null;
    if (out.includes(item)) return null;
    out.push(item);
  }
  return out;
}

// RFC 3461 §4.2: orcpt-value = addr-type ";" xtext; the whole value at most 500 characters.
// addr-type is an atom (RFC 3464 §2.1.2). RFC 6533's utf-8-addr-xtext (`\x{..}`) is left
// undecoded: only the `+HH` of xtext is decoded here.
function parseOrcpt(value: string | null): { type: string; addr: string } | null {
  if (value === null || value.length > 500) return null;
  const semi = value.indexOf(';');
  if (semi <= 0) return null;
  const type = value.slice(0, semi);
  if (!/^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~]+$/.test(type)) return null;
  const addr = decodeXtext(value.slice(semi + 1));
  if (addr === null || addr === '' || UNSAFE_DECODED.test(addr)) return null;
  return { type, addr };
}
