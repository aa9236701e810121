// What a TLS client asks for in its ClientHello, read before the TLS library sees it: the SNI
// host name (RFC 6066 §3) and the ALPN protocols it offers (RFC 7301 §3.1). Node's TLS server
// chooses the certificate before it sees the ALPN list in TLS 1.2 (and never lets an ALPN
// callback decline without an alert), so the ACME tls-alpn-01 responder (acme/tls-alpn.ts),
// which must answer only `acme-tls/1` handshakes with its certificate, looks here first.
import type net from 'node:net';

export interface ClientHelloInfo {
  /** The host_name of the server_name extension, lower case, without a trailing dot. */
  servername?: string;
  /** The protocol names of the application_layer_protocol_negotiation extension, in order. */
  alpn: string[];
}

/** `partial`: no progress before the buffer holds `need` bytes. */
export type ClientHelloParse =
  | { kind: 'partial'; need: number }
  | { kind: 'invalid' }
  | ({ kind: 'hello' } & ClientHelloInfo);

const CONTENT_HANDSHAKE = 22;
const HANDSHAKE_CLIENT_HELLO = 1;
const EXT_SERVER_NAME = 0;
const EXT_ALPN = 16;
/** A ClientHello larger than this is not waited for (RFC 8446 allows 2^24-1; none is near). */
export const MAX_CLIENT_HELLO = 64 * 1024;

/**
 * Parse the ClientHello at the start of `buf` (TLS records, RFC 8446 §5.1; the handshake
 * message may span several records). `partial`: more bytes are needed; `invalid`: not a TLS
 * ClientHello (plaintext, SSLv2, garbage, over MAX_CLIENT_HELLO).
 */
export function parseClientHello(buf: Buffer): ClientHelloParse {
  // Reassemble the handshake bytes carried by the leading handshake records.
  const parts: Buffer[] = [];
  let have = 0;
  let need = -1;
  for (let off = 0; ; ) {
    if (off + 5 > buf.length) return { kind: 'partial', need: off + 5 };
    if (buf[off] !== CONTENT_HANDSHAKE || buf[off + 1] !== 3) return { kind: 'invalid' };
    const len = buf.readUInt16BE(off + 3);
    if (len === 0 || len > 16384 + 2048) return { kind: 'invalid' };
    if (off + 5 + len > buf.length) return { kind: 'partial', need: off + 5 + len };
    parts.push(buf.subarray(off + 5, off + 5 + len));
    have += len;
    off += 5 + len;
    if (need < 0 && have >= 4) {
      const head = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      if (head[0] !== HANDSHAKE_CLIENT_HELLO) return { kind: 'invalid' };
      need = 4 + head.readUIntBE(1, 3);
      if (need > MAX_CLIENT_HELLO) return { kind: 'invalid' };
    }
    if (need >= 0 && have >= need) break;
  }
  const msg = (parts.length === 1 ? parts[0]! : Buffer.concat(parts)).subarray(4, need);
  return readBody(msg) ?? { kind: 'invalid' };
}

/** The ClientHello body (RFC 8446 §4.1.2); undefined if a length runs past its end. */
function readBody(b: Buffer): ClientHelloParse | undefined {
  let p = 2 + 32; // legacy_version, random
  if (p + 1 > b.length) return undefined;
  p += 1 + b[p]!; // legacy_session_id
  if (p + 2 > b.length) return undefined;
  p += 2 + b.readUInt16BE(p); // cipher_suites
  if (p + 1 > b.length) return undefined;
  p += 1 + b[p]!; // legacy_compression_methods
  if (p > b.length) return undefined;
  const info: { kind: 'hello' } & ClientHelloInfo = { kind: 'hello', alpn: [] };
  if (p === b.length) return info; // no extensions (an old client)
  if (p + 2 > b.length) return undefined;
  const end = p + 2 + b.readUInt16BE(p);
  if (end > b.length) return undefined;
  for (p += 2; p < end; ) {
    if (p + 4 > end) return undefined;
    const type = b.readUInt16BE(p);
    const len = b.readUInt16BE(p + 2);
    const data = b.subarray(p + 4, p + 4 + len);
    if (p + 4 + len > end) return undefined;
    p += 4 + len;
    if (type === EXT_SERVER_NAME) {
      const name = readServerName(data);
      if (name === null) return undefined;
      if (name !== undefined) info.servername = name;
    } else if (type === EXT_ALPN) {
      const list = readAlpn(data);
      if (!list) return undefined;
      info.alpn = list;
    }
  }
  return info;
}

/** RFC 6066 §3 ServerNameList: the host_name entry; null if malformed. */
function readServerName(d: Buffer): string | undefined | null {
  if (d.length < 2 || 2 + d.readUInt16BE(0) !== d.length) return null;
  for (let p = 2; p < d.length; ) {
    if (p + 3 > d.length) return null;
    const type = d[p]!;
    const len = d.readUInt16BE(p + 1);
    if (p + 3 + len > d.length) return null;
    if (type === 0) {
      return d
        .toString('latin1', p + 3, p + 3 + len)
        .toLowerCase()
        .replace(/\.$/, '');
    }
    p += 3 + len;
  }
  return undefined;
}

/** RFC 7301 §3.1 ProtocolNameList; undefined if malformed. */
function readAlpn(d: Buffer): string[] | undefined {
  if (d.length < 2 || 2 + d.readUInt16BE(0) !== d.length) return undefined;
  const out: string[] = [];
  for (let p = 2; p < d.length; ) {
    const len = d[p]!;
    if (len === 0 || p + 1 + len > d.length) return undefined;
    out.push(d.toString('latin1', p + 1, p + 1 + len));
    p += 1 + len;
  }
  return out;
}

/**
 * Read a freshly accepted socket up to the end of its ClientHello (or proof that it is none),
 * and leave it paused with nothing consumed from its point of view: the caller gets every byte
 * read (`head`) to put back (`socket.unshift`) or hand on. Resolves undefined if the socket
 * closed, failed or sent nothing complete in `timeoutMs`.
 */
export function readClientHello(
  socket: net.Socket,
  timeoutMs: number,
): Promise<{ head: Buffer; hello?: ClientHelloInfo } | undefined> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    // Parsed again only once a whole record is in: a client sending one byte per segment
    // costs one parse per record, not one copy of everything so far per byte.
    let need = 5;
    const finish = (r: { head: Buffer; hello?: ClientHelloInfo } | undefined) => {
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onGone);
      socket.off('close', onGone);
      // An error after this is the TLS socket's (or nobody's: the socket is destroyed).
      socket.off('error', onGone);
      resolve(r);
    };
    const onGone = () => {
      socket.destroy();
      finish(undefined);
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      size += chunk.length;
      if (size < need) return;
      const head = chunks.length === 1 ? chunk : Buffer.concat(chunks, size);
      chunks.length = 0;
      chunks.push(head);
      const parsed = parseClientHello(head);
      if (parsed.kind === 'partial' && parsed.need <= MAX_CLIENT_HELLO + 4096) {
        need = parsed.need;
        return;
      }
      if (parsed.kind === 'hello') {
        const { kind: _, ...hello } = parsed;
        finish({ head, hello });
      } else finish({ head });
    };
    // unguarded: before any connection guard; it only destroys the socket and resolves
    const timer = setTimeout(onGone, timeoutMs);
    socket.on('data', onData);
    socket.once('end', onGone);
    socket.once('close', onGone);
    socket.once('error', onGone);
    // A socket accepted with pauseOnConnect does not flow by itself.
    socket.resume();
  });
}

/**
 * Something that looks at an implicit-TLS connection's first bytes before the TLS server does
 * (the ACME tls-alpn-01 responder, acme/tls-alpn.ts). The listeners ask `active()` at each
 * accept: while it is false, connections go straight to TLS, as without one.
 */
export interface TlsInterceptor {
  active(): boolean;
  /**
   * Serve the connection itself (resolves undefined; the socket is its own or destroyed), or
   * resolve with the bytes it read, for the caller to serve the connection as usual.
   */
  intercept(socket: net.Socket): Promise<Buffer | undefined>;
}
