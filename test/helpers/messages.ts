// Test messages for the store: real RFC 5322 bytes with a minimal index (the store treats
// the index as opaque; the MIME parser's own tests cover what goes into it).
import type { Envelope, PartNode } from '../../src/mime/types.js';
import type { MessageIndex, NewMessage } from '../../src/store/types.js';

export function rawMessage(subject: string, body = 'Hello.\r\n', from = 'a@example.net'): Buffer {
  return Buffer.from(
    `From: ${from}\r\nTo: someone@example.test\r\nSubject: ${subject}\r\n` +
      `Date: Tue, 24 Nov 2026 10:00:00 +0000\r\nMessage-ID: <${subject.replace(/\W/g, '')}@t>\r\n` +
      `\r\n${body}`,
  );
}

/** A one-part text/plain message's structure; the offsets do not matter to the store. */
function plainStructure(): PartNode {
  return {
    headerStart: 0,
    headerEnd: 0,
    bodyStart: 0,
    bodyEnd: 0,
    type: 'text',
    subtype: 'plain',
    params: {},
    id: null,
    description: null,
    encoding: '7BIT',
    size: 0,
    lines: 0,
    md5: null,
    disposition: null,
    language: null,
    location: null,
    children: [],
    message: null,
  };
}

export function simpleEnvelope(subject: string): Envelope {
  return {
    date: null,
    subject,
    subjectDecoded: subject,
    from: null,
    sender: null,
    replyTo: null,
    to: null,
    cc: null,
    bcc: null,
    inReplyTo: null,
    messageId: null,
  };
}

export function simpleIndex(subject: string, text: string): MessageIndex {
  return {
    structure: plainStructure(),
    envelope: simpleEnvelope(subject),
    search: {
      from: 'a@example.net',
      to: 'someone@example.test',
      cc: '',
      bcc: '',
      subject,
      messageId: '',
      sentAt: Date.UTC(2026, 10, 24, 10),
    },
    text,
  };
}

export function newMessage(subject: string, body = 'Hello.\r\n'): NewMessage {
  return { raw: rawMessage(subject, body), index: simpleIndex(subject, body) };
}

/**
 * A text/plain message whose UTF-8 body is quoted-printable, every byte outside printable
 * ASCII as `=XX` (so a CJK character takes 9 encoded bytes), lines of at most 73 characters
 * with soft breaks (RFC 2045 §6.7).
 */
export function quotedPrintableMessage(subject: string, text: string): Buffer {
  let qp = '';
  let line = '';
  for (const b of Buffer.from(text, 'utf8')) {
    if (b === 0x0a) {
      qp += `${line}\r\n`;
      line = '';
      continue;
    }
    const token =
      b > 0x20 && b < 0x7f && b !== 0x3d
        ? String.fromCharCode(b)
        : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
    if (line.length + token.length > 72) {
      qp += `${line}=\r\n`;
      line = '';
    }
    line += token;
  }
  return Buffer.from(
    `From: a@example.net\r\nSubject: ${subject}\r\nMIME-Version: 1.0\r\n` +
      'Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: quoted-printable\r\n' +
      `\r\n${qp}${line}`,
    'latin1',
  );
}
