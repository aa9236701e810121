/**
 * Modified UTF-7 for mailbox names (RFC 3501 §5.1.3), used by IMAP4rev1 clients that did not
 * enable UTF8=ACCEPT (RFC 6855; RFC 9051 §5.1 keeps it for such clients).
 *
 *   encodeMailboxName('Entwürfe') === 'Entw&APw-rfe'
 *   decodeMailboxName('Entw&APw-rfe') === 'Entwürfe'; decodeMailboxName('&Jjo') === null
 *
 * Printable US-ASCII stands for itself except "&", written "&-"; any other run of characters is
 * "&" + base64 of their UTF-16BE code units, with "," in place of "/" and no padding, + "-".
 * decodeMailboxName only accepts the one canonical form the encoder produces (so the server
 * can answer BAD/NO to anything else and names compare byte for byte): it returns null for
 * 8-bit or control bytes, an unterminated "&", bad base64 or non-zero padding bits, an odd
 * byte count, broken surrogate pairs, printable ASCII inside base64, and two adjacent encoded
 * runs (RFC 3501 §5.1.3 wants one).
 */

const isPrintable = (code: number): boolean => code >= 0x20 && code <= 0x7e;

function encodeRun(units: number[]): string {
  const bytes = Buffer.alloc(units.length * 2);
  units.forEach((u, i) => {
    bytes.writeUInt16BE(u, i * 2);
  });
  return `&${bytes.toString('base64').replace(/=+$/, '').replace(/\//g, ',')}-`;
}

export function encodeMailboxName(name: string): string {
  let out = '';
  let run: number[] = [];
  for (let i = 0; i < name.length; i++) {
    const code = name.charCodeAt(i);
    if (isPrintable(code)) {
      if (run.length > 0) {
        out += encodeRun(run);
        run = [];
      }
      out += code === 0x26 ? '&-' : name[i];
    } else {
      run.push(code);
    }
  }
  if (run.length > 0) out += encodeRun(run);
  return out;
}

export function decodeMailboxName(encoded: string): string | null {
  let out = '';
  let i = 0;
  let lastWasRun = false;
  while (i < encoded.length) {
    const code = encoded.charCodeAt(i);
    if (!isPrintable(code)) return null;
    if (code !== 0x26) {
      out += encoded[i++];
      lastWasRun = false;
      continue;
    }
    const dash = encoded.indexOf('-', i + 1);
    if (dash < 0) return null;
    const b64 = encoded.slice(i + 1, dash);
    i = dash + 1;
    if (b64 === '') {
      out += '&';
      lastWasRun = false;
      continue;
    }
    if (lastWasRun) return null;
    const text = decodeRun(b64);
    if (text === null) return null;
    out += text;
    lastWasRun = true;
  }
  return out;
}

function decodeRun(b64: string): string | null {
  if (!/^[A-Za-z0-9+,]+$/.test(b64)) return null;
  const std = b64.replace(/,/g, '/');
  const bytes = Buffer.from(std, 'base64');
  // Re-encoding must give the same text: this rejects non-zero padding bits and lengths
  // that base64 cannot produce.
  if (bytes.toString('base64').replace(/=+$/, '') !== std) return null;
  if (bytes.length === 0 || bytes.length % 2 !== 0) return null;
  let out = '';
  for (let j = 0; j < bytes.length; j += 2) {
    const unit = bytes.readUInt16BE(j);
    if (isPrintable(unit)) return null; // must have been written directly
    if (unit >= 0xd800 && unit <= 0xdbff) {
      const low = j + 2 < bytes.length ? bytes.readUInt16BE(j + 2) : -1;
      if (low < 0xdc00 || low > 0xdfff) return null;
      out += String.fromCharCode(unit, low);
      j += 2;
    } else if (unit >= 0xdc00 && unit <= 0xdfff) {
      return null;
    } else {
      out += String.fromCharCode(unit);
    }
  }
  return out;
}
