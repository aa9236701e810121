// Shared by the SMTP client tests: a host on loopback, short timeouts, messages, a certificate.
import { generateSelfSigned, type SelfSignedPem } from '../../../src/net/selfsigned.js';
import type { RouteHost, SendRequest } from '../../../src/queue/types.js';
import type { ClientOptions } from '../../../src/smtp/client/connection.js';

/** Generous for a loaded machine; the timeout tests set their own short ones. */
export const OPTS: ClientOptions = {
  helo: 'client.test',
  timeouts: {
    connect: 10_000,
    greeting: 10_000,
    command: 10_000,
    dataInit: 10_000,
    dataBlock: 10_000,
    dataEnd: 10_000,
  },
};

export function loopHost(port: number, extra: Partial<RouteHost> = {}): RouteHost {
  return { name: 'localhost', addresses: ['127.0.0.1'], port, tls: 'opportunistic', ...extra };
}

/** A message with CRLF line ends. */
export function msg(body: string, headers = 'Subject: test\n'): Buffer {
  return Buffer.from(
    `From: sender@client.test\nTo: rcpt@example.test\n${headers}\n${body}`.replace(/\n/g, '\r\n'),
    'utf8',
  );
}

export function request(
  message: Buffer,
  recipients: string[] = ['rcpt@example.test'],
): SendRequest {
  return {
    sender: 'sender@client.test',
    recipients: recipients.map((address) => ({ address })),
    message,
  };
}

let cert: Promise<SelfSignedPem> | null = null;
/** One certificate for localhost / 127.0.0.1 for all tests in a file. */
export function localhostCert(): Promise<SelfSignedPem> {
  cert ??= generateSelfSigned('localhost');
  return cert;
}
