// Line ends between the store (CRLF, RFC 5322 §2.1) and files on disk (Maildir and mbox
// files are written with LF, as their programs write them; read with either or a mix).

const CR = 0x0d;
const LF = 0x0a;

/** Every bare LF made CRLF; bytes that are CRLF already are returned as they are. */
export function toCrlf(data: Buffer): Buffer {
  let bare = 0;
  for (let i = data.indexOf(LF); i >= 0; i = data.indexOf(LF, i + 1)) {
    if (i === 0 || data[i - 1] !== CR) bare++;
  }
  if (bare === 0) return data;
  const out = Buffer.allocUnsafe(data.length + bare);
  let o = 0;
  let from = 0;
  for (let i = data.indexOf(LF); i >= 0; i = data.indexOf(LF, i + 1)) {
    if (i > 0 && data[i - 1] === CR) continue;
    o += data.copy(out, o, from, i);
    out[o++] = CR;
    out[o++] = LF;
    from = i + 1;
  }
  o += data.copy(out, o, from);
  return out.subarray(0, o);
}

/** Every CRLF made LF (a lone CR stays). */
export function toLf(data: Buffer): Buffer {
  const parts: Buffer[] = [];
  let from = 0;
  for (let i = data.indexOf('\r\n'); i >= 0; i = data.indexOf('\r\n', i + 2)) {
    parts.push(data.subarray(from, i));
    from = i + 1;
  }
  if (parts.length === 0) return data;
  parts.push(data.subarray(from));
  return Buffer.concat(parts);
}
