// SPF, DKIM, DMARC and ARC for mail received as an MX, with mailauth, recorded in one
// Authentication-Results header (RFC 8601). The whole check has a deadline: when DNS is slow
// or absent, every result becomes temperror (or none) and the mail is still delivered.
import { authenticate } from 'mailauth';
import { hasHeaderField, headerBounds } from '../mime/header-scan.js';
import type { ResolveFn } from './dns.js';
import {
  answerUnsigned,
  keptUnsigned,
  type UnsignedAuthResult,
  unsignedHeader,
  unsignedQuestion,
} from './unsigned-auth.js';

export interface InboundAuthInput {
  raw: Buffer;
  ip: string;
  helo: string;
  /** MAIL FROM, '' for the null sender. */
  sender: string;
  /** Our hostname: the authserv-id of the header. */
  hostname: string;
  resolver: ResolveFn;
  timeoutMs: number;
}

export interface InboundAuthResult {
  /** Header fields to prepend, CRLF-terminated (Received-SPF, Authentication-Results). */
  headers: string;
  spf: string;
  dkim: string;
  dmarc: string;
  /** DMARC failed and the domain's policy is reject. */
  dmarcReject: boolean;
  timedOut: boolean;
}

interface MailauthResult {
  headers: string;
  spf?: { status?: { result?: string } } | false;
  dkim?: { results?: Array<{ status?: { result?: string } }> };
  dmarc?: { status?: { result?: string }; policy?: string; p?: string } | false;
}

function hasDkimSignature(raw: Buffer): boolean {
  return hasHeaderField(raw, 'dkim-signature');
}

/**
 * What mailauth needs to read. The body matters only to body hashes: DKIM-Signature (bh=,
 * RFC 6376 §3.7) and ARC-Message-Signature (RFC 8617 §4.1.2). A message with neither is
 * handed over as its header and the empty line alone; SPF and DMARC use the envelope and
 * the header, so every result is the same, without streaming a large body through the
 * library's parser (most of the CPU of a 1 MB delivery).
 */
export function authInput(raw: Buffer): Buffer {
  // Read CRLF only (mime/header-scan.ts): never shorter than the header mailauth reads.
  const { bodyStart } = headerBounds(raw, 0, raw.length, true);
  if (bodyStart >= raw.length) return raw;
  if (hasHeaderField(raw, 'dkim-signature', 'arc-message-signature', 'arc-seal')) return raw;
  return raw.subarray(0, bodyStart);
}

export function verifyInbound(input: InboundAuthInput): Promise<InboundAuthResult> {
  const authIn = authInput(input.raw);
  const opts = {
    ip: input.ip,
    helo: input.helo,
    sender: input.sender,
    mta: input.hostname,
    resolver: input.resolver,
  };
  // Nothing signed (most mail): the same checks and header without mailauth's DKIM pass.
  const fields = unsignedHeader(authIn);
  if (fields === null) {
    return checkedInTime(input, authenticate(authIn, { ...opts, disableBimi: true }));
  }
  const question = unsignedQuestion(fields, opts);
  // A verdict kept for the same question (a burst from one sender) waits for nothing: no
  // deadline, no race.
  const kept = keptUnsigned(question);
  if (kept !== undefined) return Promise.resolve(verdictOf(kept));
  return checkedInTime(input, answerUnsigned(question, opts));
}

/** The checks' result, or temperror (fallback) when they fail or pass the deadline. */
async function checkedInTime(
  input: InboundAuthInput,
  checks: Promise<MailauthResult | UnsignedAuthResult>,
): Promise<InboundAuthResult> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<'timeout'>((resolve) => {
    timer = setTimeout(() => resolve('timeout'), input.timeoutMs);
  });
  // Keep a late rejection from becoming an unhandled one after the deadline won.
  checks.catch(() => {});
  let r: MailauthResult | 'timeout' | 'error';
  try {
    r = (await Promise.race([checks, deadline])) as MailauthResult | 'timeout';
  } catch {
    r = 'error';
  } finally {
    clearTimeout(timer);
  }
  if (r === 'timeout' || r === 'error') return fallback(input, r === 'timeout');
  return verdictOf(r);
}

/** The verdicts of mailauth's (or authenticateUnsigned's) result. */
function verdictOf(r: MailauthResult): InboundAuthResult {
  const spfResult = r.spf || undefined;
  const dmarcResult = r.dmarc || undefined;
  const spf = spfResult?.status?.result || 'none';
  const dkimResults = r.dkim?.results ?? [];
  const dkim = dkimResults.find((d) => d.status?.result === 'pass')
    ? 'pass'
    : (dkimResults[0]?.status?.result ?? 'none');
  const dmarc = dmarcResult?.status?.result || 'none';
  const policy = dmarcResult?.policy ?? dmarcResult?.p;
  return {
    headers: r.headers,
    spf,
    dkim,
    dmarc,
    dmarcReject: dmarc === 'fail' && policy === 'reject',
    timedOut: false,
  };
}

/** RFC 8601 §2.7: temperror when a check could not finish; none when there was nothing to check. */
function fallback(input: InboundAuthInput, timedOut: boolean): InboundAuthResult {
  const why = timedOut ? 'checks timed out' : 'checks failed';
  const dkim = hasDkimSignature(input.raw) ? 'temperror' : 'none';
  const sender = input.sender.replace(/[\s;()"\\]/g, '') || 'postmaster';
  const header =
    `Authentication-Results: ${input.hostname};\r\n` +
    ` spf=temperror (${why}) smtp.mailfrom=${sender};\r\n` +
    ` dkim=${dkim};\r\n` +
    ` dmarc=temperror (${why})\r\n`;
  return {
    headers: header,
    spf: 'temperror',
    dkim,
    dmarc: 'temperror',
    dmarcReject: false,
    timedOut,
  };
}
