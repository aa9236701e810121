// Whether a user logs in over IMAP with implicit TLS (imapflow, a real client), for e2e tests
// of accounts and credentials. The test server's certificate is self-signed.
import { ImapFlow } from 'imapflow';

/** True when `user` logged in (and out again) with `pass` on 127.0.0.1:port. */
export async function imapsLogsIn(port: number, user: string, pass: string): Promise<boolean> {
  const c = new ImapFlow({
    host: '127.0.0.1',
    port,
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user, pass },
    logger: false,
  });
  c.on('error', () => {});
  try {
    await c.connect();
  } catch {
    return false;
  }
  await c.logout();
  return true;
}
