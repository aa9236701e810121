// Python's imaplib as a test client: a test server with IMAP and IMAPS, and a script run
// against the IMAPS port with (port, user, password) as its arguments, whose one line of JSON
// on stdout is the result.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { imapProtocol } from '../../src/imap/index.js';
import { startTestServer, type TestServer } from './server.js';

export async function startImapServerWithUser(user: string, password: string): Promise<TestServer> {
  const ts = await startTestServer({
    listeners: ['imap', 'imaps'],
    protocols: { imap: imapProtocol, imaps: imapProtocol },
    allowPlaintext: true,
  });
  await ts.addUser(user, password);
  return ts;
}

/** The script's JSON, untyped: each test checks its own fields. */
export async function runImaplib(
  ts: TestServer,
  script: string,
  user: string,
  password: string,
): Promise<ReturnType<typeof JSON.parse>> {
  const { stdout } = await promisify(execFile)(
    'python3',
    ['-c', script, String(ts.port('imaps')), user, password],
    { timeout: 60_000 },
  );
  return JSON.parse(stdout);
}
