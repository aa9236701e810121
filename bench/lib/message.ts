// Bench messages: RFC 5322 text of a chosen size with CRLF line ends, prepared once per cell in
// the form it takes on the wire, so generating load costs the client almost nothing.

const WORDS = (
  'the of and to in is that for it as was with be by on not he this are or his from at which ' +
  'but have an they you were her she there been one all we their has would when if so no will ' +
  'more about meeting report quarter budget review attached please find below thanks regards ' +
  'schedule project update team release server delivery message mailbox invoice draft notes ' +
  'tomorrow morning afternoon agenda decision question answer proposal customer contract'
).split(' ');

/** A small deterministic PRNG (mulberry32): the same text on every run, so runs compare. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * Body text of about `bytes` octets: paragraphs of lines up to 72 characters (RFC 5322 §2.1.1
 * recommends at most 78), CRLF line ends, ending with CRLF. Some lines start with a dot, as
 * quoted ellipses do in real mail, so dot-stuffing is exercised on every message.
 */
export function bodyText(bytes: number, seed = 1): Buffer {
  const rnd = prng(seed);
  const lines: string[] = [];
  let size = 0;
  let line = '';
  while (size < bytes) {
    const w = WORDS[Math.floor(rnd() * WORDS.length)]!;
    if (line.length + w.length + 1 > 72) {
      lines.push(line);
      size += line.length + 2;
      line = '';
      const r = rnd();
      if (r < 0.08) {
        lines.push('');
        size += 2;
      } else if (r < 0.1) {
        line = '...';
      }
    }
    line = line ? `${line} ${w}` : w;
  }
  if (line) lines.push(line);
  return Buffer.from(`${lines.join('\r\n')}\r\n`, 'latin1');
}

/** RFC 5321 §4.5.2: a line that starts with "." gets one more "." on the wire. */
export function dotStuff(body: Buffer): Buffer {
  const text = body.toString('latin1');
  const stuffed = (text.startsWith('.') ? '.' : '') + text.replaceAll('\r\n.', '\r\n..');
  return Buffer.from(stuffed, 'latin1');
}

export interface MessageTemplate {
  /** Total size of each message (header and body, before dot-stuffing). */
  size: number;
  /** The body as it goes on the wire: dot-stuffed, ending with CRLF. */
  wireBody: Buffer;
  /** Header block for message number `n` (unique Message-ID), ending with the blank line. */
  header(n: number): Buffer;
}

/**
 * A template whose messages are `size` octets in all. Each message gets its own header
 * (Message-ID, Subject), so no two are identical: a content-addressed store must write each.
 */
export function messageTemplate(opts: {
  size: number;
  from: string;
  to: string;
  tag: string;
}): MessageTemplate {
  const date = new Date().toUTCString().replace('GMT', '+0000');
  const header = (n: number) =>
    Buffer.from(
      `From: Bench Sender <${opts.from}>\r\n` +
        `To: <${opts.to}>\r\n` +
        `Subject: Bench ${opts.tag} message ${String(n).padStart(8, '0')}\r\n` +
        `Date: ${date}\r\n` +
        `Message-ID: <${opts.tag}.${String(n).padStart(8, '0')}@bench.client>\r\n` +
        'MIME-Version: 1.0\r\n' +
        'Content-Type: text/plain; charset=us-ascii; format=flowed\r\n' +
        'Content-Transfer-Encoding: 7bit\r\n' +
        '\r\n',
      'latin1',
    );
  // Every header has the same length (fixed-width number), so the body makes up the rest.
  const headerSize = header(0).length;
  const body = bodyText(Math.max(opts.size - headerSize, 64));
  const trimmed = trimTo(body, opts.size - headerSize);
  return { size: headerSize + trimmed.length, wireBody: dotStuff(trimmed), header };
}

/** Cuts the body at a line end so that it is at most `bytes` long (and still ends in CRLF). */
function trimTo(body: Buffer, bytes: number): Buffer {
  if (body.length <= bytes) return body;
  const cut = body.lastIndexOf('\r\n', bytes - 2);
  return body.subarray(0, cut > 0 ? cut + 2 : body.length);
}
