// The TLS-ALPN-01 challenges being answered now (RFC 8737): host name -> the self-signed
// certificate carrying the acmeIdentifier extension (built by the ACME manager). Every
// implicit-TLS listener (465, 993, 995, HTTPS on the http listener) asks it at each accept; while
// a challenge is pending it reads the ClientHello first (net/client-hello.ts). A handshake that
// offers `acme-tls/1` (RFC 8737 §4) with the SNI name of a pending challenge (§3) gets that
// certificate, `acme-tls/1` as the negotiated protocol, and nothing else: no greeting, no
// application data, the connection closed once the handshake is done. Every other connection
// (no ALPN, another protocol, another name) goes on to the listener's TLS server untouched.
// Nothing pending: no connection is looked at.
import type net from 'node:net';
import tls from 'node:tls';
import type { Logger } from '../log.js';
import { readClientHello, type TlsInterceptor } from '../net/client-hello.js';
import { HANDSHAKE_MS } from '../net/listener.js';
import { PROTOCOL_OPTIONS } from '../net/tls.js';

/** The ALPN protocol ID of RFC 8737 §6.2. */
export const ACME_TLS_ALPN = 'acme-tls/1';

function normalize(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

export class TlsAlpnChallenges implements TlsInterceptor {
  private readonly byName = new Map<string, tls.SecureContext>();
  private readonly log: Logger;

  constructor(log: Logger) {
    this.log = log.child({ component: 'acme' });
  }

  /** Answer `acme-tls/1` handshakes for `name` with this certificate (PEM) until deleted. */
  set(name: string, cert: string | Buffer, key: string | Buffer): void {
    // TLS 1.2 or later only (RFC 8737 §4), as every other context here.
    this.byName.set(normalize(name), tls.createSecureContext({ cert, key, ...PROTOCOL_OPTIONS }));
  }

  delete(name: string): void {
    this.byName.delete(normalize(name));
  }

  active(): boolean {
    return this.byName.size > 0;
  }

  async intercept(socket: net.Socket): Promise<Buffer | undefined> {
    const read = await readClientHello(socket, HANDSHAKE_MS);
    if (!read) return undefined; // gone, or silent past the handshake deadline: destroyed
    const { head, hello } = read;
    const name = hello?.servername;
    const context =
      name !== undefined && hello!.alpn.includes(ACME_TLS_ALPN) ? this.byName.get(name) : undefined;
    if (!context) return head;
    this.answer(socket, head, context, name!);
    return undefined;
  }

  private answer(socket: net.Socket, head: Buffer, context: tls.SecureContext, name: string) {
    const peer = socket.remoteAddress;
    socket.unshift(head);
    const secure = new tls.TLSSocket(socket, {
      isServer: true,
      secureContext: context,
      // Offered by the client (checked above), so it is the protocol negotiated.
      ALPNProtocols: [ACME_TLS_ALPN],
    });
    // The whole exchange is one handshake; a validator that stalls is cut at the deadline.
    const timer = setTimeout(() => secure.destroy(), HANDSHAKE_MS);
    secure.once('close', () => clearTimeout(timer));
    secure.on('error', (err) => {
      this.log.info(
        { peer, servername: name, reason: err.message },
        'tls-alpn-01 handshake failed',
      );
      secure.destroy();
    });
    // The protocol carries no application data (RFC 8737 §4): anything sent is dropped.
    secure.on('data', () => {});
    secure.once('secure', () => {
      this.log.info(
        { peer, servername: name, alpn: secure.alpnProtocol },
        'tls-alpn-01 challenge certificate served',
      );
      // Nothing is written: close_notify and FIN, the client closes (RFC 8737 §4).
      secure.end();
    });
  }
}
