// The extension keywords listed in the EHLO reply (RFC 5321 §4.1.1.1), one per line after the
// greeting line. The caller decides what is on offer (e.g. no AUTH before STARTTLS on port 587,
// no STARTTLS once TLS is active: RFC 3207 §4.2); this only spells and orders it.

export interface EhloOptions {
  /** Maximum message size in octets; 0 means no fixed maximum (RFC 1870 §3). */
  size: number;
  /** Offer STARTTLS (RFC 3207): only on a cleartext connection with a TLS context. */
  starttls: boolean;
  /** SASL mechanisms to offer (RFC 4954), or null / [] to offer no AUTH. */
  auth: readonly string[] | null;
  /** BDAT (RFC 3030). */
  chunking: boolean;
  /** SMTPUTF8 (RFC 6531). */
  smtputf8: boolean;
  /** DSN parameters NOTIFY, ORCPT, RET, ENVID (RFC 3461). */
  dsn: boolean;
  /** Command pipelining (RFC 2920). */
  pipelining: boolean;
  /** 8BITMIME (RFC 6152). */
  eightBit: boolean;
  /** ENHANCEDSTATUSCODES (RFC 2034). */
  enhanced: boolean;
  /** BINARYMIME (RFC 3030 §3); only offered together with CHUNKING, which it requires. */
  binaryMime?: boolean;
}

/**
 * Keyword lines in a fixed order: transport-level first (PIPELINING, SIZE), then message
 * content (8BITMIME, BINARYMIME, CHUNKING, SMTPUTF8), security (STARTTLS, AUTH), then
 * reporting (ENHANCEDSTATUSCODES, DSN). Clients do not depend on the order; tests do.
 */
export function ehloKeywords(opts: EhloOptions): string[] {
  const out: string[] = [];
  if (opts.pipelining) out.push('PIPELINING');
  // RFC 1870 §3: "SIZE" [SP number]; Number.isSafeInteger keeps "SIZE NaN" out of the wire.
  out.push(Number.isSafeInteger(opts.size) && opts.size >= 0 ? `SIZE ${opts.size}` : 'SIZE');
  if (opts.eightBit) out.push('8BITMIME');
  if (opts.chunking && opts.binaryMime) out.push('BINARYMIME');
  if (opts.chunking) out.push('CHUNKING');
  if (opts.smtputf8) out.push('SMTPUTF8');
  if (opts.starttls) out.push('STARTTLS');
  if (opts.auth !== null && opts.auth.length > 0) {
    // RFC 4954 §3: mechanism names are upper case on the wire.
    out.push(`AUTH ${opts.auth.map((m) => m.toUpperCase()).join(' ')}`);
  }
  if (opts.enhanced) out.push('ENHANCEDSTATUSCODES');
  if (opts.dsn) out.push('DSN');
  return out;
}
