// Postfix's own SMTP load generator, smtp-source(1), as a bench driver: a tool neither server
// wrote. It speaks HELO (no PIPELINING), sends `-l` bytes of body after From, To, Date and a
// Message-Id unique per message, and by default opens a new connection for every message
// (`-d` keeps it). It comes with Debian's postfix package (bench/smtp/setup-postfix.sh).
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';

const CANDIDATES = ['/usr/sbin/smtp-source', '/usr/lib/postfix/sbin/smtp-source'];

/** The smtp-source binary, or undefined when postfix is not installed. */
export function smtpSourcePath(): string | undefined {
  return CANDIDATES.find((p) => existsSync(p));
}

export interface SmtpSourceResult {
  messages: number;
  /** From the spawn to the exit of smtp-source: every message answered and every QUIT done. */
  elapsedMs: number;
  startedAt: number;
  endedAt: number;
  error?: string;
}

export async function runSmtpSource(o: {
  binary: string;
  host: string;
  port: number;
  sessions: number;
  messages: number;
  /** Body bytes (smtp-source's -l; its header adds about 150 bytes). */
  bodyBytes: number;
  sender: string;
  recipient: string;
  /** Keep each session's connection for all its messages (-d) instead of one per message. */
  keepConnection?: boolean;
}): Promise<SmtpSourceResult> {
  const args = [
    '-s',
    String(o.sessions),
    '-m',
    String(o.messages),
    '-l',
    String(o.bodyBytes),
    '-f',
    o.sender,
    '-t',
    o.recipient,
    '-M',
    'smtp-source.bench-client.test',
    ...(o.keepConnection ? ['-d'] : []),
    `${o.host}:${o.port}`,
  ];
  const startedAt = performance.now();
  const child = spawn(o.binary, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (d: string) => {
    if (stderr.length < 4000) stderr += d;
  });
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (c) => resolve(c));
  });
  const endedAt = performance.now();
  // smtp-source stops at the first reply it did not expect and exits non-zero (no -A).
  const error = code === 0 ? undefined : `smtp-source exit ${code}: ${stderr.trim().slice(0, 300)}`;
  return {
    messages: code === 0 ? o.messages : 0,
    elapsedMs: endedAt - startedAt,
    startedAt,
    endedAt,
    ...(error ? { error } : {}),
  };
}
