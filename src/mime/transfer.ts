// Content-Transfer-Encoding decoding (RFC 2045 §6). Used for text extraction at delivery
// and by IMAP BINARY[] (RFC 3516). Tolerant: never throws, junk is skipped or kept.

/** Decodes base64, skipping non-alphabet bytes and accepting missing or inner padding. */
export function decodeBase64(body: Buffer): Buffer {
  // RFC 2045 §6.8: characters outside the alphabet are ignored. Node's decoder stops at the
  // first '=', so a body made of concatenated padded chunks is decoded chunk by chunk.
  const text = body.toString('latin1').replace(/[^A-Za-z0-9+/=]+/g, '');
  const firstPad = text.indexOf('=');
  if (firstPad < 0 || /^=*$/.test(text.slice(firstPad))) return Buffer.from(text, 'base64');
  const chunks = text.split(/=+/).filter((c) => c.length > 0);
  return Buffer.concat(chunks.map((c) => Buffer.from(c, 'base64')));
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Decodes quoted-printable (RFC 2045 §6.7): "=XX" is a byte, "=" at the end of a line (after
 * optional trailing whitespace) is a soft line break, trailing whitespace on a line is
 * removed (rule 3: transports may add it). A malformed "=" is kept literally.
 */
export function decodeQuotedPrintable(body: Buffer): Buffer {
  const out = Buffer.allocUnsafe(body.length);
  let o = 0;
  const len = body.length;
  let i = 0;
  while (i < len) {
    const c = body[i];
    if (c === 0x3d) {
      const h = i + 1 < len ? hexVal(body[i + 1]) : -1;
      const l = i + 2 < len ? hexVal(body[i + 2]) : -1;
      if (h >= 0 && l >= 0) {
        out[o++] = (h << 4) | l;
        i += 3;
        continue;
      }
      // Soft line break: '=' then optional whitespace then CRLF/LF (or end of body).
      let j = i + 1;
      while (j < len && (body[j] === 0x20 || body[j] === 0x09)) j++;
      if (j >= len) break;
      if (body[j] === 0x0a) {
        i = j + 1;
        continue;
      }
      if (body[j] === 0x0d && body[j + 1] === 0x0a) {
        i = j + 2;
        continue;
      }
      out[o++] = c;
      i++;
    } else if (c === 0x20 || c === 0x09) {
      // Drop whitespace that runs up to a line break.
      let j = i;
      while (j < len && (body[j] === 0x20 || body[j] === 0x09)) j++;
      if (j < len && (body[j] === 0x0a || (body[j] === 0x0d && body[j + 1] === 0x0a))) {
        i = j;
        continue;
      }
      while (i < j) out[o++] = body[i++];
    } else {
      out[o++] = c;
      i++;
    }
  }
  return out.subarray(0, o);
}

/**
 * Undoes a Content-Transfer-Encoding. 7bit, 8bit, binary and unknown encodings return the
 * body unchanged (RFC 2045 §6.4: an unrecognized encoding is treated as opaque data).
 */
export function decodeTransfer(body: Buffer, encoding: string): Buffer {
  switch (encoding.trim().toLowerCase()) {
    case 'base64':
      return decodeBase64(body);
    case 'quoted-printable':
      return decodeQuotedPrintable(body);
    default:
      return body;
  }
}
