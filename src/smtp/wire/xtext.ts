// RFC 3461 §4: xtext, the encoding of ENVID, ORCPT (and RFC 4954 §5 AUTH=) values.
//   xtext = *( xchar / hexchar )
//   xchar = any ASCII CHAR between "!" (33) and "~" (126) inclusive, except "+" and "="
//   hexchar = "+" 2(%x30-39 / %x41-46)   ; uppercase hex
// Decoding accepts lowercase hex too: the value is the same and old clients send it.

/** Decodes xtext to a string (bytes read as UTF-8), or null when it is not valid xtext. */
export function decodeXtext(s: string): string | null {
  const bytes: number[] = [];
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x2b) {
      const hex = s.slice(i + 1, i + 3);
      if (!/^[0-9A-Fa-f]{2}$/.test(hex)) return null;
      bytes.push(Number.parseInt(hex, 16));
      i += 2;
    } else if (c >= 33 && c <= 126 && c !== 0x3d) {
      bytes.push(c);
    } else {
      return null;
    }
  }
  return Buffer.from(bytes).toString('utf8');
}

/** Encodes a string as xtext (UTF-8 bytes outside xchar become +HH); for the SMTP client. */
export function encodeXtext(s: string): string {
  let out = '';
  for (const b of Buffer.from(s, 'utf8')) {
    out +=
      b >= 33 && b <= 126 && b !== 0x2b && b !== 0x3d
        ? String.fromCharCode(b)
        : '+' + b.toString(16).toUpperCase().padStart(2, '0');
  }
  return out;
}
