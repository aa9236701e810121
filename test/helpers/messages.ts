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
