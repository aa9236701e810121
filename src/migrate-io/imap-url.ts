// Where `letterbox import imap` reads from: `imaps://user@host[:port]` (TLS from the first
// byte, RFC 8314 §3.3) or `imap://user@host[:port]` (STARTTLS, RFC 9051 §6.2.1, required
// unless the host is this machine). The password never goes in the URL: it would be seen in
// `ps` and shell histories.
import { isIP } from 'node:net';

export interface ImapSourceUrl {
  /** TLS from the first byte (imaps), or STARTTLS (imap). */
  implicitTls: boolean;
  host: string;
  port: number;
  user: string;
  /** Without TLS on a loopback host only: STARTTLS is then not required. */
  loopback: boolean;
  /** The URL as shown in reports and kept in the state file (no password). */
  display: string;
}

export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, '').toLowerCase();
  if (h === 'localhost' || h.endsWith('.localhost')) return true;
  if (isIP(h) === 4) return h.startsWith('127.');
  if (h === '::1') return true;
  return /^::ffff:127\./.test(h);
}

/** Parses the --from URL, or throws an Error saying what is wrong with it. */
export function parseImapSourceUrl(text: string): ImapSourceUrl {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    throw new Error(`not a URL: ${text} (expected imaps://user@host[:port])`);
  }
  const scheme = url.protocol.replace(/:$/, '').toLowerCase();
  if (scheme !== 'imaps' && scheme !== 'imap') {
    throw new Error(`the URL's scheme must be imaps or imap, not ${scheme}`);
  }
  if (url.password !== '') {
    throw new Error(
      'the URL must not carry the password: give it with --password-file, ' +
        'LETTERBOX_IMPORT_PASSWORD or at the prompt',
    );
  }
  if (url.username === '') throw new Error('the URL names no user (imaps://user@host)');
  if (url.hostname === '') throw new Error('the URL names no host');
  if ((url.pathname !== '' && url.pathname !== '/') || url.search !== '' || url.hash !== '') {
    throw new Error('the URL must name only the user, host and port (no folder or query)');
  }
  let user: string;
  try {
    user = decodeURIComponent(url.username);
  } catch {
    throw new Error('the user in the URL is not valid percent-encoding');
  }
  const implicitTls = scheme === 'imaps';
  // RFC 8314 §7.3 / RFC 9051 §2.1: 993 for imaps, 143 for imap.
  const port = url.port === '' ? (implicitTls ? 993 : 143) : Number(url.port);
  if (port < 1) throw new Error('the port must be from 1 to 65535');
  const host = url.hostname.replace(/^\[|\]$/g, '');
  const shownHost = host.includes(':') ? `[${host}]` : host;
  return {
    implicitTls,
    host,
    port,
    user,
    loopback: isLoopbackHost(host),
    display: `${scheme}://${encodeURIComponent(user)}@${shownHost}:${port}`,
  };
}
