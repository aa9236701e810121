// SEARCH / SORT / THREAD end to end with a real client over TCP: Python's imaplib, whose
// sort() and thread() send the commands as written and return the untagged data. Covers the
// ENVELOPE address match (issue 14 item 4), HEADER x "" (item 5), SORT=DISPLAY (RFC 5957),
// WITHIN (RFC 5032) and THREAD=REFERENCES step 1.B (item 7).
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { runImaplib, startImapServerWithUser } from '../helpers/python-imap.js';
import type { TestServer } from '../helpers/server.js';

const USER = 'sam@example.test';
const PASS = 'pw-sam-1';

const PY = String.raw`
import imaplib, ssl, sys, json
port, user, pw = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ctx = ssl.create_default_context(); ctx.check_hostname = False; ctx.verify_mode = ssl.CERT_NONE
M = imaplib.IMAP4_SSL('127.0.0.1', port, ssl_context=ctx)
M.login(user, pw)
out = {'caps': M.capability()[1][0].decode().split()}
M.create('Sorted')
msgs = [
    (b'From: Zoe <zoe@z.example>\r\nTo: grp: a@b.example;\r\nMessage-ID: <a@x>\r\nSubject: a\r\nDate: Mon, 1 Jan 2024 17:06:00 +0000\r\n', '"01-Jan-2020 00:00:00 +0000"'),
    (b'From: <bob (comment)@ (comment) b.example>\r\nMessage-ID: <b@x>\r\nReferences: <a@x> <c@x>\r\nSubject: b\r\nDate: Mon, 1 Jan 2024 16:30:00 +0000\r\n', None),
    (b'From: =?utf-8?q?Andr=C3=A9?= <al@a.example>\r\nMessage-ID: <c@x>\r\nReferences: <b@x>\r\nSubject: c\r\nDate: Mon, 1 Jan 2024 16:06:00 +0000\r\n', None),
]
for raw, date in msgs:
    M.append('Sorted', None, date, raw + b'\r\nbody\r\n')
M.select('Sorted')
def data(r):
    typ, dat = r
    return [typ, [d.decode() if isinstance(d, bytes) else d for d in dat]]
out['from'] = data(M.search(None, 'FROM', 'bob@b.example'))
out['comment'] = data(M.search(None, 'FROM', 'comment'))
out['hdr'] = data(M.search(None, 'HEADER', 'FROM', 'comment'))
out['exists'] = data(M.search(None, 'NOT', 'HEADER', 'TO', '""'))
out['younger'] = data(M.search(None, 'YOUNGER', '3600'))
out['older'] = data(M.uid('SEARCH', 'OLDER', '3600'))
out['display'] = data(M.sort('(DISPLAYFROM)', 'UTF-8', 'ALL'))
out['to'] = data(M.sort('(REVERSE TO)', 'UTF-8', 'ALL'))
out['thread'] = data(M.thread('REFERENCES', 'UTF-8', 'ALL'))
M.logout()
print(json.dumps(out))
`;

describe('IMAP e2e: SEARCH, SORT and THREAD with Python imaplib', () => {
  let ts: TestServer;
  before(async () => {
    ts = await startImapServerWithUser(USER, PASS);
  });
  after(async () => {
    await ts.stop();
  });

  test('addresses, HEADER "", DISPLAYFROM, OLDER/YOUNGER and REFERENCES as a client sees them', async () => {
    const out = await runImaplib(ts, PY, USER, PASS);
    for (const cap of ['SORT', 'SORT=DISPLAY', 'WITHIN', 'THREAD=REFERENCES']) {
      assert.ok(out.caps.includes(cap), cap);
    }
    assert.deepEqual(out.from, ['OK', ['2']]);
    assert.deepEqual(out.comment, ['OK', ['']]);
    assert.deepEqual(out.hdr, ['OK', ['2']]);
    assert.deepEqual(out.exists, ['OK', ['2 3']]);
    assert.deepEqual(out.younger, ['OK', ['2 3']]);
    assert.deepEqual(out.older, ['OK', ['1']]);
    // "André", "bob@b.example" (no name), "Zoe".
    assert.deepEqual(out.display, ['OK', ['3 2 1']]);
    // REVERSE TO: "grp" (a group start is the first address), then the two without To
    // (equal: sequence order).
    assert.deepEqual(out.to, ['OK', ['1 2 3']]);
    assert.deepEqual(out.thread, ['OK', ['(3 2)(1)']]);
  });
});
