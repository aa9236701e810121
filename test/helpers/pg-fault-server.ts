// The server and the SMTP sender of the PostgreSQL fault tests (restart, partition; kill uses
// the sender): SMTP, IMAP and POP3 over the database at a URL, POP3 in the main process, DNS
// failing at once so that a delivery's checks do not wait, and a sender that gives back the
// server's reply, or its refusal, as text.
import nodemailer from 'nodemailer';
import { startTestServer, type TestServer } from './server.js';

/** Starts the server over the database at `url`; `storeToml` adds keys to its [store]. */
export function startFaultServer(url: string, storeToml = ''): Promise<TestServer> {
  return startTestServer({
    listeners: ['smtp', 'imap', 'pop3'],
    allowPlaintext: true,
    storeToml: `\n[store]\nkind = "postgres"\nurl = ${JSON.stringify(url)}\npool_size = 4\n${storeToml}`,
    extraToml:
      '[smtp]\ngreet_delay_ms = 0\nauth_checks_timeout_seconds = 1\n[dns]\nservers = ["127.0.0.1:1"]\n[pop3]\nworkers = 0\n',
  });
}

/** A small message to `to` whose Subject and Message-ID name `id`. */
export function faultMessage(to: string, id: string): Buffer {
  return Buffer.from(
    `From: bob@example.net\r\nTo: ${to}\r\nSubject: ${id}\r\nMessage-ID: <${id}@example.net>\r\n\r\nBody ${id}.\r\n`,
  );
}

/**
 * Sends message `id` to `to` over one SMTP connection to 127.0.0.1 `port`: the reply, or the
 * refusal (a dropped connection's error too), as text.
 */
export async function sendOne(port: number, to: string, id: string): Promise<string> {
  const smtp = nodemailer.createTransport({
    host: '127.0.0.1',
    port,
    secure: false,
    ignoreTLS: true,
  });
  try {
    const info = await smtp.sendMail({
      envelope: { from: 'bob@example.net', to: [to] },
      raw: faultMessage(to, id),
    });
    return info.response;
  } catch (err) {
    return String((err as { response?: string }).response ?? err);
  } finally {
    smtp.close();
  }
}
