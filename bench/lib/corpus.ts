// Messages for the IMAP and POP3 benches: the same bytes go into Letterbox's store and into
// Dovecot's Maildir, so both servers hold the same mail. Bodies come from a few precomputed
// variants (generating 100,000 distinct bodies would cost the bench more than the servers);
// every message still has its own header, so no two messages are identical.
import { bodyText } from './message.js';

/** A word present in about 1% of the corpus (every 100th message), for SEARCH BODY. */
export const RARE_WORD = 'zeppelinquartz';

const VARIANTS = 16;

export interface Corpus {
  /** Message `n` (0-based), RFC 5322 with CRLF line ends. */
  message(n: number): Buffer;
  /** Approximate size of each message. */
  size: number;
}

const SENDERS = ['Alice Archer', 'Bob Baker', 'Carol Cooper', 'Dave Dyer', 'Erin Fisher'];

export function corpus(opts: { size: number; to: string; tag: string }): Corpus {
  const bodies: Buffer[] = [];
  const rare: Buffer[] = [];
  const bodySize = Math.max(opts.size - 420, 64);
  for (let v = 0; v < VARIANTS; v++) {
    const b = bodyText(bodySize, v + 1);
    bodies.push(b);
    // The rare word on a line of its own in the middle of the body.
    const mid = b.indexOf('\r\n', b.length >> 1) + 2;
    rare.push(
      Buffer.concat([
        b.subarray(0, mid),
        Buffer.from(`see the ${RARE_WORD} notes\r\n`),
        b.subarray(mid),
      ]),
    );
  }
  const start = Date.UTC(2024, 0, 1);
  return {
    size: bodySize + 420,
    message(n) {
      const date = new Date(start + n * 60_000).toUTCString().replace('GMT', '+0000');
      const who = SENDERS[n % SENDERS.length]!;
      const id = String(n).padStart(8, '0');
      const header = Buffer.from(
        `From: ${who} <${who.split(' ')[0]!.toLowerCase()}@example.org>\r\n` +
          `To: <${opts.to}>\r\n` +
          `Subject: ${opts.tag} report ${id} for the quarterly review\r\n` +
          `Date: ${date}\r\n` +
          `Message-ID: <${opts.tag}.${id}@bench.example.org>\r\n` +
          'MIME-Version: 1.0\r\n' +
          'Content-Type: text/plain; charset=us-ascii\r\n' +
          'Content-Transfer-Encoding: 7bit\r\n' +
          '\r\n',
        'latin1',
      );
      const body = n % 100 === 0 ? rare[n % VARIANTS]! : bodies[n % VARIANTS]!;
      return Buffer.concat([header, body]);
    },
  };
}
