// SPF and DMARC for a message that carries no DKIM or ARC signature, with mailauth's own
// checks and the same Authentication-Results it would write, without running its DKIM
// verifier first. mailauth's `authenticate` always streams the message through that verifier,
// whose header scan allocates a small array for every byte of the header (~35 KB for a
// 200-byte header) and which, with nothing signed, only yields "dkim=none (message not
// signed)" (RFC 8601 §2.7.1: no signature) and the From addresses DMARC aligns with
// (RFC 7489 §3.1). Here the header is read into the rows mailauth's parser gives
// (mailauth-rows.ts, on the bytes) and the rest of `authenticate` is done in the same order;
// anything else (a signature or ARC field, a bare LF, a header without its empty line) goes
// to `authenticate` as before.
// test/delivery/unsigned-auth.test.ts compares both on a table of messages and DNS answers.
// With the inbound checks' caching resolver (dns.ts) a verdict is kept for the next message of
// the same envelope, client and From addresses while its DNS answers are (verdict-memo.ts).
import { createRequire } from 'node:module';
import { isIP } from 'node:net';
import { arc, dmarc, spf } from 'mailauth';
import { type CachingResolveFn, isCaching, type ResolveFn } from './dns.js';
import { type MailauthRow, mailauthRows } from './mailauth-rows.js';
import { VerdictMemo } from './verdict-memo.js';

interface MailauthInternals {
  formatAuthHeaderRow(method: string, status: { result: string; comment?: string }): string;
  foldLines(s: string, width: number): string;
  addressparser(s: string): Array<{ address?: string }>;
}

// The modules `authenticate` itself uses, resolved from mailauth's own place (its nodemailer
// is not ours), so the address parsing and the header's text cannot differ from it.
const internals = ((): MailauthInternals => {
  const fromHere = createRequire(import.meta.url);
  const fromMailauth = createRequire(fromHere.resolve('mailauth'));
  const tools = fromMailauth('./tools.js');
  const libmime = fromMailauth('libmime');
  return {
    formatAuthHeaderRow: tools.formatAuthHeaderRow,
    foldLines: (s, width) => libmime.foldLines(s, width),
    addressparser: fromMailauth('nodemailer/lib/addressparser'),
  };
})();

/** Fields that make mailauth's DKIM verifier or ARC check do more than say "none". */
const SIGNED = new Set([
  'dkim-signature',
  'arc-seal',
  'arc-message-signature',
  'arc-authentication-results',
]);

const CRLF2 = Buffer.from('\r\n\r\n');

export interface UnsignedAuthOptions {
  ip: string;
  helo: string;
  sender: string;
  mta: string;
  resolver: ResolveFn;
}

/** What `authenticate` returns, as far as verifyInbound reads it. */
export interface UnsignedAuthResult {
  headers: string;
  spf: { status?: { result?: string } } | false;
  dkim: { results: Array<{ status: { result: string } }> };
  dmarc: { status?: { result?: string }; policy?: string; p?: string } | false;
}

/**
 * The fields of a header-only input (header and its empty line, as authInput gives), or null
 * when mailauth's DKIM pass could see something else there: then use `authenticate`.
 */
export function unsignedHeader(input: Buffer): MailauthRow[] | null {
  // mailauth finds the header's end at the first empty line, reading bare LF as CRLF: with
  // CRLF only and the one empty line at the end, its header is exactly this block.
  if (input.length < 6 || !input.subarray(-4).equals(CRLF2)) return null;
  if (input.indexOf(CRLF2) !== input.length - 4) return null;
  for (let i = input.indexOf(10); i !== -1; i = input.indexOf(10, i + 1)) {
    if (i === 0 || input[i - 1] !== 13) return null;
  }
  // The rows are views of `input`: read here and in unsignedQuestion, never kept.
  const parsed = mailauthRows(input);
  for (const f of parsed) if (f.key !== null && SIGNED.has(f.key)) return null;
  return parsed;
}

/** `authenticate(input, opts)` with BIMI off, for the fields unsignedHeader returned. */
export function authenticateUnsigned(
  fields: MailauthRow[],
  opts: UnsignedAuthOptions,
): Promise<UnsignedAuthResult> {
  return answerUnsigned(unsignedQuestion(fields, opts), opts);
}

/** What the checks of one message ask: its From addresses, and its verdict memo's key. */
export interface UnsignedQuestion {
  headerFrom: string[];
  /** With a caching resolver only (dns.ts): its memo and the key of this question in it. */
  memo: VerdictMemo<UnsignedAuthResult> | undefined;
  key: string;
}

export function unsignedQuestion(
  fields: MailauthRow[],
  opts: UnsignedAuthOptions,
): UnsignedQuestion {
  // What the DKIM verifier would have found: no signature, and the From header's addresses.
  const headerFrom: string[] = [];
  for (const f of fields) {
    if (f.key === 'from') for (const a of fromAddresses(f.line)) headerFrom.push(a);
  }
  const { resolver } = opts;
  if (!isCaching(resolver)) return { headerFrom, memo: undefined, key: '' };
  let memo = memos.get(resolver);
  if (memo === undefined) {
    memo = new VerdictMemo(resolver);
    memos.set(resolver, memo);
  }
  // Everything the checks read besides DNS. SPF's %{t} macro is the time in seconds (RFC 7208
  // §7.2): a verdict is reused within the second it was made in.
  const key = JSON.stringify([
    Math.round(Date.now() / 1000),
    opts.ip,
    opts.helo,
    opts.sender,
    opts.mta,
    headerFrom,
  ]);
  return { headerFrom, memo, key };
}

/** The verdict kept for this question (VerdictMemo.peek), at once; undefined: ask. */
export function keptUnsigned(q: UnsignedQuestion): UnsignedAuthResult | undefined {
  return q.memo?.peek(q.key);
}

/** The checks' verdict for the question, kept for the next message that asks it. */
export function answerUnsigned(
  q: UnsignedQuestion,
  opts: UnsignedAuthOptions,
): Promise<UnsignedAuthResult> {
  if (q.memo === undefined) return checkUnsigned(q.headerFrom, opts, opts.resolver);
  return q.memo.get(q.key, (resolve) => checkUnsigned(q.headerFrom, opts, resolve));
}

/** Per resolver (one per configuration: its answers), the verdicts made with it. */
const memos = new WeakMap<CachingResolveFn, VerdictMemo<UnsignedAuthResult>>();

/**
 * A From field's addresses as mailauth's DKIM verifier reads them (nodemailer's
 * addressparser), kept per field text: mail in a burst from one sender repeats its From
 * field, and the parse is a third of the checks' CPU when the verdict is kept. The lists are
 * shared: never changed.
 */
const fromKept = new Map<string, readonly string[]>();
const FROM_KEPT_MAX = 256;

function fromAddresses(line: Buffer): readonly string[] {
  const text = line.toString();
  const hit = fromKept.get(text);
  if (hit !== undefined) return hit;
  const colon = text.indexOf(':');
  const value = colon >= 0 ? text.substring(colon + 1) : text;
  const list: string[] = [];
  for (const a of internals.addressparser(value.trim())) if (a?.address) list.push(a.address);
  if (fromKept.size >= FROM_KEPT_MAX) fromKept.delete(fromKept.keys().next().value as string);
  fromKept.set(text, list);
  return list;
}

/** SPF, ARC and DMARC as `authenticate` runs them, for a message whose From has `headerFrom`. */
async function checkUnsigned(
  headerFrom: string[],
  opts: UnsignedAuthOptions,
  resolver: ResolveFn,
): Promise<UnsignedAuthResult> {
  const dkimStatus = { result: 'none', comment: 'message not signed' };
  const dkimResults = [
    { status: dkimStatus, info: internals.formatAuthHeaderRow('dkim', dkimStatus) },
  ];
  let helo = opts.helo;
  if (!helo && opts.ip) helo = opts.ip;
  if (helo && isIP(helo)) helo = `[${helo}]`;
  const spfResult = (await spf({
    ip: opts.ip,
    helo,
    sender: opts.sender,
    mta: opts.mta,
    resolver,
  } as Parameters<typeof spf>[0])) as unknown as
    | { status: { result: string }; domain?: string; info: string; header: string }
    | false;
  const arcResult = (await arc(
    { chain: false } as unknown as Parameters<typeof arc>[0],
    {
      resolver,
    } as Parameters<typeof arc>[1],
  )) as unknown as { info?: string };
  const fold = (s: string) => internals.foldLines(s, 160);
  const ar = dkimResults.map((r) => fold(r.info));
  const headers: string[] = [];
  if (spfResult) {
    ar.push(fold(spfResult.info));
    headers.push(spfResult.header);
  }
  if (arcResult?.info) ar.push(fold(arcResult.info));
  const dmarcResult = (await dmarc({
    headerFrom,
    spfDomains:
      spfResult && spfResult.status.result === 'pass' && spfResult.domain ? [spfResult.domain] : [],
    dkimDomains: [],
    arcResult,
    resolver,
  } as unknown as Parameters<typeof dmarc>[0])) as unknown as
    | ({ info?: string } & NonNullable<UnsignedAuthResult['dmarc']>)
    | false;
  const dmarcInfo = dmarcResult ? dmarcResult.info : undefined;
  if (dmarcInfo) ar.push(fold(dmarcInfo));
  headers.push(`Authentication-Results: ${opts.mta};\r\n ${ar.join(';\r\n ')}`);
  return {
    headers: `${headers.join('\r\n')}\r\n`,
    spf: spfResult,
    dkim: { results: dkimResults },
    dmarc: dmarcResult || false,
  };
}
