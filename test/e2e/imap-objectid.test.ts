// OBJECTID (RFC 8474) with a real client over TCP: imapflow reads MAILBOXID from CREATE and
// SELECT, fetches emailId / threadId (it asks for EMAILID on every FETCH once OBJECTID is
// advertised) and searches by them; COPY and MOVE keep the ids, RENAME keeps MAILBOXID.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { ImapFlow } from 'imapflow';
import { imapProtocol } from '../../src/imap/index.js';
import { startTestServer, type TestServer } from '../helpers/server.js';

const USER = 'olga@example.test';
const PASS = 'pw-olga-1';

let ts: TestServer;
let flow: ImapFlow;

before(async () => {
  ts = await startTestServer({
    listeners: ['imap', 'imaps'],
    protocols: { imap: imapProtocol, imaps: imapProtocol },
    allowPlaintext: true,
  });
  await ts.addUser(USER, PASS);
  flow = new ImapFlow({
    host: '127.0.0.1',
    port: ts.port('imaps'),
    secure: true,
    tls: { rejectUnauthorized: false },
    auth: { user: USER, pass: PASS },
    logger: false,
  });
  await flow.connect();
});
after(async () => {
  await flow.logout().catch(() => {});
  await ts.stop();
});

const ID = /^[A-Za-z0-9_-]{1,255}$/;

function mail(id: string, extra = ''): Buffer {
  return Buffer.from(
    `From: a@example.net\r\nTo: ${USER}\r\nSubject: ${id}\r\nMessage-ID: <${id}@e2e>\r\n${extra}\r\n${id} body\r\n`,
  );
}

test('imapflow: MAILBOXID from CREATE and SELECT, kept by RENAME', async () => {
  assert.ok(flow.capabilities.has('OBJECTID'));
  const created = await flow.mailboxCreate('Projects');
  assert.match(String(created.mailboxId), ID);
  const opened = await flow.mailboxOpen('Projects');
  assert.equal(opened.mailboxId, created.mailboxId);
  await flow.mailboxClose();
  await flow.mailboxRename('Projects', 'Work');
  const again = await flow.mailboxOpen('Work');
  assert.equal(again.mailboxId, created.mailboxId);
  const inbox = await flow.mailboxOpen('INBOX');
  assert.match(String(inbox.mailboxId), ID);
  assert.notEqual(inbox.mailboxId, created.mailboxId);
});

test('imapflow: emailId / threadId fetched, searched, and kept by COPY and MOVE', async () => {
  await flow.mailboxCreate('Threads');
  await flow.mailboxCreate('Elsewhere');
  await flow.append('Threads', mail('root'));
  await flow.append(
    'Threads',
    mail('reply', 'In-Reply-To: <root@e2e>\r\nReferences: <root@e2e>\r\n'),
  );
  await flow.append('Threads', mail('other'));
  await flow.mailboxOpen('Threads');
  const msgs = [];
  for await (const m of flow.fetch('1:*', { uid: true, threadId: true })) msgs.push(m);
  assert.equal(msgs.length, 3);
  for (const m of msgs) {
    assert.match(String(m.emailId), ID);
    assert.match(String(m.threadId), ID);
  }
  const [root, reply, other] = msgs as [(typeof msgs)[0], (typeof msgs)[0], (typeof msgs)[0]];
  assert.equal(new Set(msgs.map((m) => m.emailId)).size, 3);
  assert.equal(reply.threadId, root.threadId);
  assert.notEqual(other.threadId, root.threadId);

  assert.deepEqual(await flow.search({ emailId: String(other.emailId) }, { uid: true }), [
    other.uid,
  ]);
  assert.deepEqual(await flow.search({ threadId: String(root.threadId) }, { uid: true }), [
    root.uid,
    reply.uid,
  ]);

  await flow.messageCopy(String(root.uid), 'Elsewhere', { uid: true });
  await flow.messageMove(String(reply.uid), 'Elsewhere', { uid: true });
  await flow.mailboxOpen('Elsewhere');
  const moved = [];
  for await (const m of flow.fetch('1:*', { uid: true, threadId: true })) moved.push(m);
  assert.deepEqual(
    moved.map((m) => [m.emailId, m.threadId]),
    [
      [root.emailId, root.threadId],
      [reply.emailId, reply.threadId],
    ],
  );
});
